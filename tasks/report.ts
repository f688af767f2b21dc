/**
 * `deno task report --results DIR`: one self-contained HTML page, `DIR/report.html`, with the
 * tables, the figures, ROC / precision-recall curves and score histograms computed from the score
 * files, and the provenance of the run in DIR (see lib/report/build.ts). demo, table1,
 * table1-extended and the four ablations write the same page at the end of every run; this task
 * rebuilds it, e.g. for a results directory made before the report existed.
 *
 * @module
 */
import { DataError } from "../lib/errors.ts";
import { defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";
import { writeReport } from "./_shared/report_stage.ts";
import { withResultDir } from "./_shared/result_dir.ts";

export const SPEC = defineTask({
  name: "report",
  summary: "Write DIR/report.html: tables, figures, ROC / PR curves, score histograms and " +
    "provenance of one results directory, as one offline HTML page.",
  usage: "deno task report --results DIR",
  flags: {
    results: {
      type: "string",
      required: true,
      help: "DIR   a results directory (the --out of demo, table1, table1-extended, an " +
        "ablation, score or tables)",
    },
  },
  notes: [
    "The page needs no network and runs no script; open it in any browser.",
    "DIR is locked while the page is built; while a task still writes there, report stops with",
    "an error naming it. A report.html in DIR that this toolkit did not write is left alone.",
  ],
});

async function main(values: FlagValuesOf<typeof SPEC.flags>): Promise<void> {
  const t0 = performance.now();
  const dir = values.results.replace(/(.)\/+$/, "$1");
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch {
    throw new DataError(`--results ${dir} not found; pass the --out of a finished task`);
  }
  if (!info.isDirectory) {
    throw new DataError(`--results ${dir} is not a directory; pass the --out of a finished task`);
  }
  // The page is the result and DIR its output directory: locked and staged like any other.
  const { path, report } = await withResultDir(
    dir,
    { purpose: SPEC.name, inputs: [], flag: "--results" },
    (d) =>
      writeReport(d, (w) => console.error(`warning: ${w}`), {
        label: "--results",
        hint: "pass the --out of one finished task",
      }),
  );
  const c = report.counts;
  console.log(
    `wrote ${path}: ${c.tables} table files, ${c.figures} figures, curves and histograms of ` +
      `${c.methods} methods, ${c.manifests} manifests (${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s)`,
  );
}

if (import.meta.main) await runTask(SPEC, main);
