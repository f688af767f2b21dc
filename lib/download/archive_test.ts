import assert from "node:assert/strict";
import { withFullDisk } from "../../tests/disk_full.ts";
import { makeTarGz } from "../../tests/http_fixture.ts";
import { DataError } from "../errors.ts";
import { createRng } from "../random.ts";
import {
  countImages,
  DEFAULT_UNPACK_LIMITS,
  removeDeadUnpacks,
  unpackArchive,
  type UnpackLimits,
} from "./archive.ts";
import { DiskWriteError } from "./disk_errors.ts";

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
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes(".unpack"));
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

/** Limits small enough that a few MiB of zeros trip them (a gzip bomb in miniature). */
function small(over: Partial<UnpackLimits>): UnpackLimits {
  return {
    maxBytes: 64 << 20,
    maxEntries: 1000,
    maxEntryBytes: 64 << 20,
    maxExpansion: 0,
    expansionFloor: 0,
    what: "Tiny (12 images)",
    ...over,
  };
}

/** Entries of a .tar.gz as GNU tar lists them (an independent count). */
async function tarEntries(path: string): Promise<number> {
  const r = await new Deno.Command("tar", { args: ["-tzf", path] }).output();
  assert.ok(r.success);
  return new TextDecoder().decode(r.stdout).trim().split("\n").length;
}

Deno.test("unpackArchive: gzip bombs in miniature stop at each cap, before the bytes are written", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "mos_unpack_" });
  try {
    const zeros = (n: number) => new Uint8Array(n);
    const jpg = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 255);
    const run = async (files: Record<string, Uint8Array>, limits: UnpackLimits, re: RegExp) => {
      await Deno.writeFile(`${dir}/bomb.tar.gz`, await makeTarGz(dir, "bomb", files));
      await assert.rejects(
        unpackArchive({
          archive: `${dir}/bomb.tar.gz`,
          dest: `${dir}/out/set`,
          root: "set",
          limits,
        }),
        (e: unknown) =>
          e instanceof DataError && !(e instanceof DiskWriteError) && re.test(e.message) &&
          !e.message.includes("\n"),
      );
      assert.deepEqual(leftovers(`${dir}/out`), [], "no unpack folder is left");
      assert.equal(await Deno.stat(`${dir}/out/set`).then(() => true, () => false), false);
    };
    await t.step("one member above maxEntryBytes: refused from its header", async () => {
      await run(
        { "set/a.jpg": jpg, "set/zero.jpg": zeros(4 << 20) },
        small({ maxEntryBytes: 1 << 20 }),
        /holds "set\/zero\.jpg" of 4\.0 MiB, more than any file of Tiny \(12 images\) can be \(1\.0 MiB\); it is not the published archive/,
      );
    });
    await t.step("members adding up above maxBytes", async () => {
      const files: Record<string, Uint8Array> = {};
      for (let i = 0; i < 10; i++) files[`set/z${i}.jpg`] = zeros(512 << 10);
      await run(
        files,
        small({ maxBytes: 2 << 20 }),
        /unpacks to more than 2\.0 MiB \(at "set\/z\d\.jpg"\), more than Tiny \(12 images\) can hold/,
      );
    });
    await t.step("more entries than maxEntries", async () => {
      const files: Record<string, Uint8Array> = {};
      for (let i = 0; i < 30; i++) files[`set/f${i}.jpg`] = jpg;
      await run(files, small({ maxEntries: 20 }), /holds more than 20 entries, more than Tiny/);
    });
    await t.step("many small zero members: the expansion ratio", async () => {
      const files: Record<string, Uint8Array> = {};
      for (let i = 0; i < 16; i++) files[`set/z${i}.jpg`] = zeros(512 << 10);
      await run(
        files,
        small({ maxExpansion: 8, expansionFloor: 1 << 20 }),
        /inflates more than 8-fold \(\d.* from .*\), which no archive of Tiny \(12 images\) does/,
      );
    });
    await t.step(
      "an archive exactly at every cap unpacks; one entry fewer allowed refuses",
      async () => {
        const files = dtdLike();
        const archive = `${dir}/dtd.tar.gz`;
        await Deno.writeFile(archive, await makeTarGz(dir, "dtd", files));
        const bytes = Object.values(files).reduce((s, b) => s + b.length, 0);
        const largest = Math.max(...Object.values(files).map((b) => b.length));
        const entries = await tarEntries(archive);
        const exact = small({ maxBytes: bytes, maxEntries: entries, maxEntryBytes: largest });
        const r = await unpackArchive({
          archive,
          dest: `${dir}/ok/T`,
          root: "dtd/images",
          limits: exact,
        });
        assert.equal(r.bytes, bytes);
        await assert.rejects(
          unpackArchive({
            archive,
            dest: `${dir}/ok/U`,
            root: "dtd/images",
            limits: { ...exact, maxEntries: entries - 1 },
          }),
          new RegExp(`holds more than ${entries - 1} entries`),
        );
        await assert.rejects(
          unpackArchive({
            archive,
            dest: `${dir}/ok/U`,
            root: "dtd/images",
            limits: { ...exact, maxBytes: bytes - 1 },
          }),
          /unpacks to more than/,
        );
      },
    );
    assert.ok(DEFAULT_UNPACK_LIMITS.maxBytes > 0 && DEFAULT_UNPACK_LIMITS.maxEntries > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unpackArchive: a full disk is a DiskWriteError naming the file, not a corrupt archive", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_unpack_" });
  try {
    const rng = createRng(4);
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 8; i++) {
      files[`set/img_${i}.jpg`] = Uint8Array.from({ length: 20_000 }, () => rng.int(256));
    }
    await Deno.writeFile(`${dir}/set.tar.gz`, await makeTarGz(dir, "set", files));
    await Deno.mkdir(`${dir}/out`);
    await withFullDisk(`${dir}/out`, 50_000, async () => {
      await assert.rejects(
        unpackArchive({ archive: `${dir}/set.tar.gz`, dest: `${dir}/out/set`, root: "set" }),
        (e: unknown) =>
          e instanceof DiskWriteError &&
          /^Cannot write .*\/set\/img_\d\.jpg \(No space left on device \(os error 28\)\)/.test(
            e.message,
          ) && !/corrupt/.test(e.message),
      );
    });
    assert.deepEqual([...Deno.readDirSync(`${dir}/out`)], [], "no unpack folder is left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("removeDeadUnpacks: removes unpack folders of dead processes only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_unpack_" });
  try {
    const child = new Deno.Command("true").spawn();
    await child.status;
    const dead = child.pid;
    const names = [
      `.SUN.unpack.tmp-${dead}-ab12`, // this version's name
      `.Places.unpack-${dead}-cd34`, // the name older versions used
      `.Textures.unpack.tmp-${Deno.pid}-ef56`, // a live run's (this process)
      "iNaturalist", // a set
      `.notes.tmp-${dead}-zz`, // another tool's temp: not an unpack folder
    ];
    for (const n of names) {
      await Deno.mkdir(`${dir}/${n}/x`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${n}/x/a.jpg`, "a");
    }
    await Deno.writeTextFile(`${dir}/.Other.unpack.tmp-${dead}-gh78`, "a file, not a folder");
    assert.deepEqual(await removeDeadUnpacks(dir), [names[1], names[0]].sort());
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      [names[2], names[3], names[4], `.Other.unpack.tmp-${dead}-gh78`].sort(),
    );
    assert.deepEqual(await removeDeadUnpacks(`${dir}/missing`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
