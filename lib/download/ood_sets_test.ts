import assert from "node:assert/strict";
import { snapshotTree } from "../../tests/cli_helpers.ts";
import { withFullDisk } from "../../tests/disk_full.ts";
import { closedPort, makeTarGz, serveFiles } from "../../tests/http_fixture.ts";
import { DataError } from "../errors.ts";
import { DiskWriteError } from "./disk_errors.ts";
import { NetworkError } from "./http_download.ts";
import {
  findOodSet,
  installOodSet,
  OOD_SETS,
  oodArchiveCap,
  oodSetLimits,
  type OodSetSpec,
} from "./ood_sets.ts";

/** A set like the published ones, scaled down to 12 images. */
const TINY: OodSetSpec = {
  key: "tiny",
  name: "Tiny",
  url: "unused",
  file: "Tiny.tar.gz",
  root: "Tiny/images",
  images: 12,
  source: "test",
};

function tinyFiles(n: number): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < n; i++) {
    files[`Tiny/images/${String(i).padStart(3, "0")}.jpg`] = Uint8Array.from(
      { length: 3000 + i },
      (_, j) => (i * 31 + j * 7) & 255,
    );
  }
  return files;
}

Deno.test("OOD_SETS: the paper's four sets and counts", () => {
  assert.deepEqual(OOD_SETS.map((s) => [s.name, s.images]), [
    ["iNaturalist", 10000],
    ["SUN", 10000],
    ["Places", 10000],
    ["Textures", 5640],
  ]);
  assert.equal(findOodSet("TEXTURES")?.root, "dtd/images");
  assert.equal(findOodSet("inaturalist")?.file, "iNaturalist.tar.gz");
  assert.equal(findOodSet("imagenet"), undefined);
});

Deno.test("installOodSet: interrupted download resumes, unpacks, verifies, then is reused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_ood_" });
  const bytes = await makeTarGz(dir, "tiny", tinyFiles(12));
  const served = { bytes, cutAfter: Math.floor(bytes.length / 3), cuts: 1 };
  const s = serveFiles(new Map([["/Tiny.tar.gz", served]]));
  try {
    const dest = `${dir}/ood`;
    await assert.rejects(installOodSet(TINY, { dest, mirror: s.base }), NetworkError);
    assert.equal(await Deno.stat(`${dest}/Tiny`).then(() => true, () => false), false);
    const r = await installOodSet(TINY, { dest, mirror: `${s.base}/` });
    assert.equal(r.images, 12);
    assert.equal(r.download?.resumedFrom, Math.floor(bytes.length / 3));
    assert.equal(s.requests[1].range, `bytes=${Math.floor(bytes.length / 3)}-`);
    assert.deepEqual(
      await Deno.readFile(`${dest}/Tiny/005.jpg`),
      tinyFiles(12)["Tiny/images/005.jpg"],
    );
    assert.deepEqual([...Deno.readDirSync(dest)].map((e) => e.name), ["Tiny"], "archive removed");
    const again = await installOodSet(TINY, { dest, mirror: s.base });
    assert.equal(again.present, true);
    assert.equal(s.requests.length, 2, "a verified copy is not downloaded again");
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("installOodSet: wrong count or corrupt archive leaves nothing and deletes the archive", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_ood_" });
  const short = await makeTarGz(dir, "short", tinyFiles(11));
  const good = await makeTarGz(dir, "good", tinyFiles(12));
  const s = serveFiles(new Map([["/Tiny.tar.gz", { bytes: short }]]));
  try {
    const dest = `${dir}/ood`;
    await assert.rejects(
      installOodSet(TINY, { dest, mirror: s.base }),
      (e: unknown) =>
        e instanceof DataError && /holds 11 image files, expected 12/.test(e.message) &&
        /archive was deleted/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(dest)], []);
    const corrupt = good.slice(0, good.length - 100);
    s.files.set("/Tiny.tar.gz", { bytes: corrupt });
    await assert.rejects(
      installOodSet(TINY, { dest, mirror: s.base }),
      (e: unknown) => e instanceof DataError && /is corrupt or truncated/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(dest)], [], "no set, no temp dir, no archive");
    s.files.set("/Tiny.tar.gz", { bytes: good });
    assert.equal((await installOodSet(TINY, { dest, mirror: s.base })).images, 12);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("installOodSet: offline is a NetworkError and leaves nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_ood_" });
  try {
    const port = closedPort();
    await assert.rejects(
      installOodSet(TINY, { dest: `${dir}/ood`, mirror: `http://127.0.0.1:${port}` }),
      (e: unknown) => e instanceof NetworkError && /connection refused/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(`${dir}/ood`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("oodSetLimits: caps derived from the image count", () => {
  const inat = oodSetLimits(findOodSet("inaturalist")!);
  // 10,000 images x 2 MiB + 64 MiB of extras; 2 x 10,000 + 1,000 entries; 64 MiB per member.
  assert.equal(inat.maxBytes, 10_000 * 2 * 2 ** 20 + 64 * 2 ** 20);
  assert.equal(inat.maxEntries, 21_000);
  assert.equal(inat.maxEntryBytes, 64 * 2 ** 20);
  assert.equal(inat.what, "iNaturalist (10,000 images)");
  const tex = oodSetLimits(findOodSet("textures")!);
  assert.equal(tex.maxBytes, 5640 * 2 * 2 ** 20 + 64 * 2 ** 20);
  assert.equal(tex.maxEntries, 12_280);
  assert.equal(oodArchiveCap(findOodSet("textures")!), tex.maxBytes + 12_280 * 8192);
  // The audit's bomb, 1 GiB in one member, is refused by the member cap of every set.
  for (const spec of OOD_SETS) assert.ok(oodSetLimits(spec).maxEntryBytes < 2 ** 30, spec.name);
});

Deno.test("installOodSet: a full disk while unpacking keeps the archive; the rerun uses it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_ood_" });
  const bytes = await makeTarGz(dir, "tiny", tinyFiles(12));
  const s = serveFiles(new Map([["/Tiny.tar.gz", { bytes }]]));
  try {
    const dest = `${dir}/ood`;
    await Deno.mkdir(`${dest}/Other/a`, { recursive: true });
    await Deno.writeTextFile(`${dest}/Other/a/1.jpg`, "another set, not ours to touch");
    const other = await snapshotTree(`${dest}/Other`);
    // Room for the archive and its side files, not for the 36 KB of images.
    await withFullDisk(dest, bytes.length + 4096, async () => {
      await assert.rejects(
        installOodSet(TINY, { dest, mirror: s.base }),
        (e: unknown) =>
          e instanceof DiskWriteError &&
          /^Cannot write .*\.jpg \(No space left on device \(os error 28\)\).*the archive is kept/
            .test(e.message),
      );
    });
    assert.deepEqual(await Deno.readFile(`${dest}/.downloads/Tiny.tar.gz`), bytes, "archive kept");
    assert.deepEqual(
      [...Deno.readDirSync(dest)].map((e) => e.name).sort(),
      [".downloads", "Other"],
      "no set, no unpack folder",
    );
    const r = await installOodSet(TINY, { dest, mirror: s.base });
    assert.equal(r.images, 12);
    assert.equal(r.download?.reused, true);
    assert.equal(s.requests.length, 1, "the kept archive is used, not downloaded again");
    assert.deepEqual(
      [...Deno.readDirSync(dest)].map((e) => e.name).sort(),
      ["Other", "Tiny"],
      "the archive this code downloaded is removed after the install",
    );
    assert.deepEqual(await snapshotTree(`${dest}/Other`), other);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("installOodSet: an archive this code did not download is never deleted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_ood_" });
  try {
    const dest = `${dir}/ood`;
    await Deno.mkdir(`${dest}/.downloads`, { recursive: true });
    // A user's own copy: damaged (truncated), then a good one.
    const good = await makeTarGz(dir, "good", tinyFiles(12));
    const bad = good.slice(0, good.length - 100);
    await Deno.writeFile(`${dest}/.downloads/Tiny.tar.gz`, bad);
    await assert.rejects(
      installOodSet(TINY, { dest, mirror: "http://127.0.0.1:9" }),
      (e: unknown) =>
        e instanceof DataError && /is corrupt or truncated/.test(e.message) &&
        /was not downloaded by fetch-ood and is left alone/.test(e.message),
    );
    assert.deepEqual(await Deno.readFile(`${dest}/.downloads/Tiny.tar.gz`), bad);
    await Deno.writeFile(`${dest}/.downloads/Tiny.tar.gz`, good);
    const r = await installOodSet(TINY, { dest, mirror: "http://127.0.0.1:9" });
    assert.equal(r.images, 12);
    assert.deepEqual(
      await Deno.readFile(`${dest}/.downloads/Tiny.tar.gz`),
      good,
      "kept after the install too",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("installOodSet: a bomb beyond the set's bounds is refused and its download deleted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_ood_" });
  const files = tinyFiles(12);
  files["Tiny/images/zero.jpg"] = new Uint8Array(3 << 20);
  const bytes = await makeTarGz(dir, "bomb", files);
  const s = serveFiles(new Map([["/Tiny.tar.gz", { bytes }]]));
  try {
    const dest = `${dir}/ood`;
    const limits = { ...oodSetLimits(TINY), maxEntryBytes: 1 << 20 };
    await assert.rejects(
      installOodSet(TINY, { dest, mirror: s.base, limits }),
      (e: unknown) =>
        e instanceof DataError &&
        /holds "Tiny\/images\/zero\.jpg" of 3\.0 MiB, more than any file of Tiny \(12 images\)/
          .test(e.message) &&
        /the archive was deleted/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(dest)], []);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});
