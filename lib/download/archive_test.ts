import assert from "node:assert/strict";
import { makeTarGz } from "../../tests/http_fixture.ts";
import { DataError } from "../errors.ts";
import { createRng } from "../random.ts";
import { countImages, unpackArchive } from "./archive.ts";

const enc = new TextEncoder();

/** A DTD-like tree: images under dtd/images/<class>/, plus labels/ that must not be kept. */
function dtdLike(): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const c of ["banded", "zigzagged"]) {
    for (let i = 1; i <= 3; i++) files[`dtd/images/${c}/${c}_${i}.jpg`] = enc.encode(`${c}${i}`);
  }
  files["dtd/labels/train1.txt"] = enc.encode("banded/banded_1.jpg\n");
  return files;
}

function leftovers(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes(".unpack-"));
}

Deno.test("unpackArchive: the root folder becomes dest, byte for byte; the rest is dropped", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_unpack_" });
  try {
    const files = dtdLike();
    await Deno.writeFile(`${dir}/dtd.tar.gz`, await makeTarGz(dir, "dtd", files));
    let last = 0;
    const r = await unpackArchive({
      archive: `${dir}/dtd.tar.gz`,
      dest: `${dir}/out/Textures`,
      root: "dtd/images",
      onProgress: (read) => last = read,
    });
    assert.equal(r.files, 7);
    assert.equal(last, (await Deno.stat(`${dir}/dtd.tar.gz`)).size);
    for (const [rel, bytes] of Object.entries(files)) {
      if (!rel.startsWith("dtd/images/")) continue;
      const got = await Deno.readFile(`${dir}/out/Textures/${rel.slice("dtd/images/".length)}`);
      assert.deepEqual(got, bytes, rel);
    }
    // "banded1".."banded3": 7 bytes each; "zigzagged1".."zigzagged3": 10 bytes each.
    assert.deepEqual(await countImages(`${dir}/out/Textures`), {
      images: 6,
      empty: 0,
      bytes: 3 * 7 + 3 * 10,
      other: 0,
    });
    assert.deepEqual([...Deno.readDirSync(`${dir}/out`)].map((e) => e.name), ["Textures"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unpackArchive: plain .tar works and the archive root can be dest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_unpack_" });
  try {
    await Deno.mkdir(`${dir}/src/x`, { recursive: true });
    await Deno.writeTextFile(`${dir}/src/x/a.png`, "png");
    await Deno.writeTextFile(`${dir}/src/b.txt`, "text");
    const t = await new Deno.Command("tar", {
      args: ["-cf", `${dir}/p.tar`, "-C", `${dir}/src`, "x", "b.txt"],
    })
      .output();
    assert.ok(t.success);
    await unpackArchive({ archive: `${dir}/p.tar`, dest: `${dir}/all` });
    assert.equal(await Deno.readTextFile(`${dir}/all/x/a.png`), "png");
    assert.deepEqual(await countImages(`${dir}/all`), { images: 1, empty: 0, bytes: 3, other: 1 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unpackArchive: truncated or corrupted gzip is a DataError and leaves nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_unpack_" });
  try {
    // Incompressible content so the damage lands inside the deflate stream, not in padding.
    const files: Record<string, Uint8Array> = {};
    const rng = createRng(9);
    for (let i = 0; i < 20; i++) {
      files[`set/img_${i}.jpg`] = Uint8Array.from({ length: 4000 }, () => rng.int(256));
    }
    const good = await makeTarGz(dir, "set", files);
    const cases: [string, Uint8Array][] = [
      ["truncated", good.subarray(0, Math.floor(good.length * 0.6))],
      ["flipped", good.slice()],
      ["not gzip", enc.encode("<html>404 page from a proxy</html>")],
    ];
    cases[1][1][Math.floor(good.length / 2)] ^= 0xff;
    for (const [what, bytes] of cases) {
      await Deno.writeFile(`${dir}/bad.tar.gz`, bytes);
      await assert.rejects(
        unpackArchive({ archive: `${dir}/bad.tar.gz`, dest: `${dir}/out/set`, root: "set" }),
        (e: unknown) =>
          e instanceof DataError &&
          /bad\.tar\.gz (is corrupt or truncated|has no folder)/.test(e.message),
        what,
      );
      assert.equal(await Deno.stat(`${dir}/out/set`).then(() => true, () => false), false, what);
      assert.deepEqual(leftovers(`${dir}/out`), [], what);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unpackArchive: a rejecting verify, a missing root and unsafe paths leave nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_unpack_" });
  try {
    await Deno.writeFile(`${dir}/dtd.tar.gz`, await makeTarGz(dir, "dtd", dtdLike()));
    await assert.rejects(
      unpackArchive({
        archive: `${dir}/dtd.tar.gz`,
        dest: `${dir}/out/T`,
        root: "dtd/images",
        verify: async (d) => {
          const c = await countImages(d);
          if (c.images !== 5640) throw new DataError(`holds ${c.images} images, expected 5640`);
        },
      }),
      /holds 6 images, expected 5640/,
    );
    await assert.rejects(
      unpackArchive({ archive: `${dir}/dtd.tar.gz`, dest: `${dir}/out/T`, root: "images" }),
      (e: unknown) =>
        e instanceof DataError && /has no folder "images".*top level holds dtd/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(`${dir}/out`)], []);
    // A member named ../evil.jpg (GNU tar keeps it with --absolute-names).
    await Deno.mkdir(`${dir}/w/inner`, { recursive: true });
    await Deno.writeTextFile(`${dir}/w/evil.jpg`, "x");
    const t = await new Deno.Command("tar", {
      args: ["-czPf", `${dir}/evil.tar.gz`, "../evil.jpg"],
      cwd: `${dir}/w/inner`,
    }).output();
    assert.ok(t.success, new TextDecoder().decode(t.stderr));
    await assert.rejects(
      unpackArchive({ archive: `${dir}/evil.tar.gz`, dest: `${dir}/out/E` }),
      (e: unknown) =>
        e instanceof DataError && /unsafe member path "\.\.\/evil\.jpg"/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(`${dir}/out`)], []);
    assert.equal(await Deno.stat(`${dir}/evil.jpg`).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
