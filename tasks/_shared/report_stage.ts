/**
 * The last stage of demo, table1, table1-extended and the four ablations, and the whole of
 * `deno task report`: build `<out>/report.html` from what the run wrote (lib/report/build.ts) and
 * stage it into place like every other result (tasks/_shared/result_dir.ts), so a failure leaves
 * the previous report as it was. A report.html this toolkit did not write is never replaced.
 *
 * @module
 */
import { DataError } from "../../lib/errors.ts";
import { buildReport, type Report } from "../../lib/report/build.ts";
import { isToolkitReport } from "../../lib/report/page.ts";
import { REPORT_FILE, type ScanLabels } from "../../lib/report/scan.ts";
import type { ResultDir } from "./result_dir.ts";

/**
 * Throws a `DataError` when `<out>/report.html` exists but is not a report this toolkit wrote (a
 * directory, a link, or a file without the generator tag): it is left alone.
 */
export async function assertReplaceableReport(out: string): Promise<void> {
  const path = `${out}/${REPORT_FILE}`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  let ours = false;
  if (info.isFile) {
    const file = await Deno.open(path, { read: true });
    try {
      const buf = new Uint8Array(4096);
      const n = (await file.read(buf)) ?? 0;
      ours = isToolkitReport(new TextDecoder().decode(buf.subarray(0, n)));
    } finally {
      file.close();
    }
  }
  if (!ours) {
    throw new DataError(
      `${path} was not written by this toolkit (no mos-toolkit generator tag); it is left ` +
        "alone: move it away to write the report there",
    );
  }
}

/**
 * Builds the report of `dir.out` and commits it as `report.html`. Returns the report and the
 * path it was written to; every warning (a file left out of the page) is passed to `warn`.
 * `labels` name the directory in errors (e.g. `deno task report`'s `--results`).
 */
export async function writeReport(
  dir: ResultDir,
  warn: (message: string) => void,
  labels?: ScanLabels,
): Promise<{ path: string; report: Report }> {
  await assertReplaceableReport(dir.out);
  const report = await buildReport(dir.out, { labels });
  for (const w of report.warnings) warn(w);
  const [path] = await dir.commit(async (w) => {
    await w.text(REPORT_FILE, report.html);
  }, [REPORT_FILE]);
  return { path, report };
}
