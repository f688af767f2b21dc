import assert from "node:assert/strict";
import { withFullDisk } from "../../tests/disk_full.ts";
import { closedPort, serveFiles } from "../../tests/http_fixture.ts";
import { createRng } from "../random.ts";
import { DataError } from "../errors.ts";
import { DiskWriteError } from "./disk_errors.ts";
import { downloadFile, NetworkError, STALLED, TIME_LIMIT } from "./http_download.ts";

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

async function withServer(
  files: Parameters<typeof serveFiles>[0],
  fn: (s: ReturnType<typeof serveFiles>, dir: string) => Promise<void>,
): Promise<void> {
  const s = serveFiles(files);
  const dir = await Deno.makeTempDir({ prefix: "mos_dl_" });
  try {
    await fn(s, dir);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function exists(p: string): Promise<boolean> {
  return await Deno.stat(p).then(() => true, () => false);
}

Deno.test("downloadFile: whole file, then reused without a request", async () => {
  const bytes = randomBytes(50_000, 1);
  await withServer(new Map([["/a.bin", { bytes }]]), async (s, dir) => {
    const seen: number[] = [];
    const r = await downloadFile({
      url: `${s.base}/a.bin`,
      dest: `${dir}/a.bin`,
      expectedSize: bytes.length,
      onProgress: (d) => seen.push(d),
    });
    assert.deepEqual(await Deno.readFile(`${dir}/a.bin`), bytes);
    assert.equal(r.bytes, bytes.length);
    assert.equal(r.resumedFrom, 0);
    assert.equal(seen[seen.length - 1], bytes.length);
    assert.equal(await exists(`${dir}/a.bin.part`), false);
    assert.equal(await exists(`${dir}/a.bin.part.json`), false);
    const again = await downloadFile({ url: `${s.base}/a.bin`, dest: `${dir}/a.bin` });
    assert.equal(again.reused, true);
    assert.equal(s.requests.length, 1);
  });
});

Deno.test("downloadFile: a connection cut mid-way resumes with Range from the bytes on disk", async () => {
  const bytes = randomBytes(300_000, 2);
  const file = { bytes, cutAfter: 123_456, cuts: 1 };
  await withServer(new Map([["/b.tar.gz", file]]), async (s, dir) => {
    const dest = `${dir}/b.tar.gz`;
    await assert.rejects(
      downloadFile({ url: `${s.base}/b.tar.gz`, dest }),
      (e: unknown) =>
        e instanceof NetworkError && /broke off|ended after/.test(e.message) &&
        /rerun the same command to resume/.test(e.message),
    );
    assert.equal(await exists(dest), false, "an interrupted download never appears as dest");
    const partSize = (await Deno.stat(`${dest}.part`)).size;
    assert.equal(partSize, 123_456);
    const r = await downloadFile({ url: `${s.base}/b.tar.gz`, dest, expectedSize: bytes.length });
    assert.equal(r.resumedFrom, 123_456);
    assert.deepEqual(await Deno.readFile(dest), bytes);
    assert.equal(s.requests.length, 2);
    assert.equal(s.requests[1].range, "bytes=123456-");
    assert.equal(s.requests[1].ifRange, '"v1"', "resume is conditional on the same ETag");
    assert.equal(s.requests[1].status, 206);
    assert.equal(await exists(`${dest}.part`), false);
  });
});

Deno.test("downloadFile: a server that ignores Range, or a changed file, restarts from zero", async () => {
  const bytes = randomBytes(80_000, 3);
  const file = { bytes, cutAfter: 30_000, cuts: 1, ignoreRange: true };
  await withServer(new Map([["/c.bin", file]]), async (s, dir) => {
    const dest = `${dir}/c.bin`;
    await assert.rejects(downloadFile({ url: `${s.base}/c.bin`, dest }), NetworkError);
    const r = await downloadFile({ url: `${s.base}/c.bin`, dest });
    assert.equal(s.requests[1].status, 200);
    assert.equal(r.resumedFrom, 0);
    assert.deepEqual(await Deno.readFile(dest), bytes);
  });
  const v2 = randomBytes(90_000, 4);
  const changing = { bytes, cutAfter: 20_000, cuts: 1, etag: '"old"' };
  await withServer(new Map([["/d.bin", changing]]), async (s, dir) => {
    const dest = `${dir}/d.bin`;
    await assert.rejects(downloadFile({ url: `${s.base}/d.bin`, dest }), NetworkError);
    Object.assign(changing, { bytes: v2, etag: '"new"' });
    const r = await downloadFile({ url: `${s.base}/d.bin`, dest });
    assert.equal(s.requests[1].ifRange, '"old"');
    assert.equal(s.requests[1].status, 200, "If-Range with a stale ETag gets the whole new file");
    assert.equal(r.resumedFrom, 0);
    assert.deepEqual(await Deno.readFile(dest), v2);
  });
});

Deno.test("downloadFile: a part that is already whole finishes on 416", async () => {
  const bytes = randomBytes(10_000, 5);
  await withServer(new Map([["/e.bin", { bytes }]]), async (s, dir) => {
    const dest = `${dir}/e.bin`;
    await Deno.writeFile(`${dest}.part`, bytes);
    await Deno.writeTextFile(`${dest}.part.json`, JSON.stringify({ url: `${s.base}/e.bin` }));
    const r = await downloadFile({ url: `${s.base}/e.bin`, dest });
    assert.equal(s.requests[0].status, 416);
    assert.equal(r.bytes, bytes.length);
    assert.deepEqual(await Deno.readFile(dest), bytes);
  });
});

Deno.test("downloadFile: HTTP errors and size mismatches are DataErrors; nothing is kept", async () => {
  const bytes = randomBytes(5_000, 6);
  await withServer(new Map([["/f.bin", { bytes }]]), async (s, dir) => {
    await assert.rejects(
      downloadFile({ url: `${s.base}/missing.bin`, dest: `${dir}/m.bin` }),
      (e: unknown) => e instanceof DataError && /HTTP 404/.test(e.message),
    );
    await assert.rejects(
      downloadFile({ url: `${s.base}/f.bin`, dest: `${dir}/f.bin`, expectedSize: 4_999 }),
      (e: unknown) => e instanceof DataError && /5000 bytes but 4999/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("downloadFile: an unreachable host is one clear NetworkError line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_dl_" });
  try {
    const port = closedPort();
    await assert.rejects(
      downloadFile({ url: `http://127.0.0.1:${port}/x.tar.gz`, dest: `${dir}/x.tar.gz` }),
      (e: unknown) =>
        e instanceof NetworkError &&
        e.message === `cannot reach 127.0.0.1:${port} (connection refused)` &&
        e.host === `127.0.0.1:${port}`,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("downloadFile: more than maxBytes, announced or sent, stops with one line; nothing kept", async () => {
  const bytes = randomBytes(300_000, 7);
  const files = new Map([
    ["/claims.bin", { bytes: bytes.subarray(0, 1000), claimLength: 50_000_000_000 }],
    ["/chunked.bin", { bytes, noLength: true, trickle: { bytes: 16_384, everyMs: 0 } }],
    ["/exact.bin", { bytes }],
  ]);
  await withServer(files, async (s, dir) => {
    await assert.rejects(
      downloadFile({
        url: `${s.base}/claims.bin`,
        dest: `${dir}/c.bin`,
        maxBytes: 100_000,
        what: "the test file",
      }),
      (e: unknown) =>
        e instanceof DataError &&
        e.message ===
          `${s.base}/claims.bin announces 46.6 GiB, more than the 97.7 KiB the test file can ` +
            "be; it is not the published file (check the URL); nothing was kept",
    );
    await assert.rejects(
      downloadFile({
        url: `${s.base}/chunked.bin`,
        dest: `${dir}/k.bin`,
        maxBytes: 100_000,
        sourceHint: "the URL or the mirror",
      }),
      (e: unknown) =>
        e instanceof DataError && /chunked\.bin sent more than 97\.7 KiB, more than the file/
          .test(e.message) &&
        /\(check the URL or the mirror\); the partial file was deleted/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no part, no side file");
    // Exactly at the cap is fine.
    const r = await downloadFile({
      url: `${s.base}/exact.bin`,
      dest: `${dir}/e.bin`,
      maxBytes: bytes.length,
    });
    assert.equal(r.bytes, bytes.length);
    // A file already at dest that is larger than the cap is refused and left alone.
    await assert.rejects(
      downloadFile({ url: `${s.base}/exact.bin`, dest: `${dir}/e.bin`, maxBytes: 1000 }),
      (e: unknown) => e instanceof DataError && /e\.bin is 293\.0 KiB, more than/.test(e.message),
    );
    assert.deepEqual(await Deno.readFile(`${dir}/e.bin`), bytes);
  });
});

Deno.test("downloadFile: the time limit stops a slow transfer; the part resumes", async () => {
  const bytes = randomBytes(200_000, 8);
  const slow = { bytes, trickle: { bytes: 2_000, everyMs: 40 } };
  await withServer(new Map([["/slow.bin", slow]]), async (s, dir) => {
    const dest = `${dir}/slow.bin`;
    const t0 = performance.now();
    await assert.rejects(
      downloadFile({ url: `${s.base}/slow.bin`, dest, timeLimitMs: 500 }),
      (e: unknown) =>
        e instanceof NetworkError && e.reason === TIME_LIMIT &&
        /^download of .*slow\.bin broke off after \d+ of 200000 bytes \(time limit reached\); rerun the same command to resume$/
          .test(e.message),
    );
    const took = performance.now() - t0;
    assert.ok(took < 5000, `stopped after ${took} ms`);
    const kept = (await Deno.stat(`${dest}.part`)).size;
    assert.ok(kept > 0 && kept < bytes.length, `part of ${kept} bytes`);
    delete (slow as { trickle?: unknown }).trickle;
    const r = await downloadFile({ url: `${s.base}/slow.bin`, dest, timeLimitMs: 10_000 });
    assert.equal(r.resumedFrom, kept);
    assert.deepEqual(await Deno.readFile(dest), bytes);
  });
});

Deno.test("downloadFile: a stalled server stops after the idle timeout with one line", async () => {
  const bytes = randomBytes(100_000, 9);
  await withServer(new Map([["/stall.bin", { bytes, stallAfter: 30_000 }]]), async (s, dir) => {
    await assert.rejects(
      downloadFile({ url: `${s.base}/stall.bin`, dest: `${dir}/s.bin`, idleTimeoutMs: 300 }),
      (e: unknown) =>
        e instanceof NetworkError && e.reason === STALLED &&
        /broke off after 30000 of 100000 bytes \(no data for 0\.3 s\); rerun/.test(e.message),
    );
    assert.equal((await Deno.stat(`${dir}/s.bin.part`)).size, 30_000);
  });
});

Deno.test("downloadFile: a full disk names the .part and keeps it; a foreign .part is left alone", async () => {
  const bytes = randomBytes(120_000, 10);
  await withServer(new Map([["/f.bin", { bytes }]]), async (s, dir) => {
    const dest = `${dir}/f.bin`;
    await withFullDisk(dir, 50_000, async () => {
      await assert.rejects(
        downloadFile({ url: `${s.base}/f.bin`, dest }),
        (e: unknown) =>
          e instanceof DiskWriteError && e.path === `${dest}.part` &&
          /^Cannot write .*f\.bin\.part \(No space left on device \(os error 28\)\).*partial download is kept and resumes/
            .test(e.message),
      );
    });
    const kept = (await Deno.stat(`${dest}.part`)).size;
    assert.ok(kept > 0 && kept <= 50_000);
    const r = await downloadFile({ url: `${s.base}/f.bin`, dest });
    assert.equal(r.resumedFrom, kept);
    assert.deepEqual(await Deno.readFile(dest), bytes);
    // A .part without the side file this code always writes first is not ours.
    await Deno.writeTextFile(`${dir}/g.bin.part`, "someone else's");
    await assert.rejects(
      downloadFile({ url: `${s.base}/f.bin`, dest: `${dir}/g.bin` }),
      (e: unknown) =>
        e instanceof DataError && /g\.bin\.part exists but no .*\.json shows/.test(e.message),
    );
    assert.equal(await Deno.readTextFile(`${dir}/g.bin.part`), "someone else's");
  });
});
