import assert from "node:assert/strict";
import { closedPort, makeTarGz, serveFiles } from "../../tests/http_fixture.ts";
import { DataError } from "../errors.ts";
import { NetworkError } from "./http_download.ts";
import { findOodSet, installOodSet, OOD_SETS, type OodSetSpec } from "./ood_sets.ts";

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
