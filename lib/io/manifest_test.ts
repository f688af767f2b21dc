import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import {
  buildManifest,
  hashFile,
  hashInputs,
  hashPath,
  manifestMatches,
  readManifest,
  TOOL_VERSION,
  writeManifest,
} from "./manifest.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function subtleHex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("manifest: hashFile matches known SHA-256 values and crypto.subtle", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/abc`, "abc");
    assert.equal(
      await hashFile(`${dir}/abc`),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    await Deno.writeFile(`${dir}/empty`, new Uint8Array(0));
    assert.equal(
      await hashFile(`${dir}/empty`),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    // More than one 8 MiB chunk, so the streaming path is exercised.
    const big = new Uint8Array((8 << 20) + 12345).map((_, i) => (i * 31 + (i >> 9)) & 255);
    await Deno.writeFile(`${dir}/big`, big);
    assert.equal(await hashFile(`${dir}/big`), await subtleHex(big));
    await assert.rejects(hashFile(`${dir}/missing`), DataError);
  });
});

Deno.test("manifest: a rewritten file is rehashed despite the cache", async () => {
  await withTempDir(async (dir) => {
    const p = `${dir}/f`;
    await Deno.writeTextFile(p, "one");
    const first = await hashFile(p);
    await Deno.writeTextFile(`${p}.new`, "two");
    await Deno.rename(`${p}.new`, p); // same size, possibly same mtime tick
    assert.notEqual(await hashFile(p), first);
    assert.equal(await hashFile(p), await subtleHex(new TextEncoder().encode("two")));
  });
});

Deno.test("manifest: directory hashes follow content and names, not order or locks", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/a/sub`, { recursive: true });
    await Deno.writeTextFile(`${dir}/a/x.txt`, "x");
    await Deno.writeTextFile(`${dir}/a/sub/y.txt`, "y");
    const h1 = await hashPath(`${dir}/a`);
    // Independent expectation: the documented listing format hashed with crypto.subtle.
    const hx = await subtleHex(new TextEncoder().encode("x"));
    const hy = await subtleHex(new TextEncoder().encode("y"));
    const listing = [`sub/y.txt\0${hy}\n`, `x.txt\0${hx}\n`].sort().join("");
    assert.equal(h1, await subtleHex(new TextEncoder().encode(listing)));

    await Deno.writeTextFile(`${dir}/a/.lock`, "{}");
    await Deno.writeTextFile(`${dir}/a/manifest.json`, "{}");
    await Deno.writeTextFile(`${dir}/a/x.txt.tmp-1-abc`, "partial");
    assert.equal(await hashPath(`${dir}/a`), h1);
    await Deno.writeTextFile(`${dir}/a/sub/y.txt`, "z");
    assert.notEqual(await hashPath(`${dir}/a`), h1);

    const inputs = await hashInputs({ features: `${dir}/a`, file: `${dir}/a/x.txt` });
    assert.deepEqual(Object.keys(inputs), ["features", "file"]);
    assert.equal(inputs.file, `sha256:${hx}`);
    await assert.rejects(hashInputs({ gone: `${dir}/gone` }), /Input .*gone not found/);
  });
});

Deno.test("manifest: build, write, read and match on stage, config and inputs only", async () => {
  await withTempDir(async (dir) => {
    const config = { lr: 0.003, batch: 512, groups: "taxonomy", nested: { a: 1, b: [1, 2] } };
    const inputs = { features: "sha256:00ff", head: "sha256:abcd" };
    const m = buildManifest({
      stage: "score",
      config,
      seed: 0,
      inputs,
      wallSeconds: 12.5,
      created: new Date("2024-01-02T03:04:05Z"),
    });
    assert.deepEqual(m, {
      tool: "mos-toolkit",
      version: TOOL_VERSION,
      deno: Deno.version.deno,
      stage: "score",
      config,
      seed: 0,
      inputs,
      wall_seconds: 12.5,
      created: "2024-01-02T03:04:05.000Z",
    });
    assert.equal(TOOL_VERSION, "0.1.0");

    assert.equal(await readManifest(dir), null);
    assert.equal(await manifestMatches(dir, { stage: "score", config, inputs }), false);
    await writeManifest(dir, m);
    assert.deepEqual(await readManifest(dir), m);

    const reordered = { nested: { b: [1, 2], a: 1 }, groups: "taxonomy", batch: 512, lr: 0.003 };
    assert.equal(await manifestMatches(dir, { stage: "score", config: reordered, inputs }), true);
    assert.equal(await manifestMatches(dir, { stage: "train", config, inputs }), false);
    assert.equal(
      await manifestMatches(dir, { stage: "score", config: { ...config, lr: 0.01 }, inputs }),
      false,
    );
    assert.equal(
      await manifestMatches(dir, {
        stage: "score",
        config: { ...config, nested: { a: 1, b: [2, 1] } },
        inputs,
      }),
      false,
    );
    assert.equal(
      await manifestMatches(dir, {
        stage: "score",
        config,
        inputs: { ...inputs, head: "sha256:0" },
      }),
      false,
    );
    assert.equal(
      await manifestMatches(dir, { stage: "score", config, inputs: { features: inputs.features } }),
      false,
    );

    await Deno.writeTextFile(`${dir}/manifest.json`, "{not json");
    assert.equal(await readManifest(dir), null);
    await Deno.writeTextFile(`${dir}/manifest.json`, "[1]");
    assert.equal(await readManifest(dir), null);
  });
});
