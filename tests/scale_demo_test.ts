/**
 * End to end: `deno task scale-demo` at tiny settings (the real 21,843-class label space, few
 * samples and steps, the paper's six methods only): Table 1 has the six methods on the four OOD
 * sets, Figure 5's table has MSP and MOS at every requested class count with metrics in [0, 100],
 * the figure is written, and a rerun reuses every stage.
 */
import assert from "node:assert/strict";

const TINY = [
  "--steps",
  "4",
  "--train-per-class",
  "1",
  "--val-classes",
  "200",
  "--val-per-class",
  "1",
  "--ood-count",
  "60",
  "--subsets",
  "50,200,21843",
  "--no-detectors",
];

async function run(out: string): Promise<{ stdout: string; stderr: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../tasks/scale_demo.ts", import.meta.url).pathname,
      "--out",
      out,
      ...TINY,
    ],
    env: { MOS_QUIET: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const r = await cmd.output();
  const dec = new TextDecoder();
  const stdout = dec.decode(r.stdout);
  const stderr = dec.decode(r.stderr);
  assert.deepEqual(r.code, 0, stderr);
  return { stdout, stderr };
}

/** Rows of a CSV without quoted commas (the toolkit's tables quote none here). */
function csvRows(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trim().split("\n");
  const cols = head.split(",");
  return lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i], v])));
}

Deno.test("scale-demo: Table 1 and Figure 5 on the 21k label space, rerun reuses", async () => {
  const out = await Deno.makeTempDir({ prefix: "scale_demo_" });
  try {
    const first = await run(out);
    const table1 = csvRows(await Deno.readTextFile(`${out}/table1.csv`));
    const methods = new Set(table1.map((r) => Object.values(r)[0]));
    for (const m of ["MSP", "ODIN", "Mahalanobis", "Energy", "KL Matching", "MOS"]) {
      assert(methods.has(m), `Table 1 lacks ${m}: ${[...methods].join(", ")}`);
    }
    const meta = JSON.parse(await Deno.readTextFile(`${out}/features/train/meta.json`));
    assert.deepEqual(meta.num_classes, 21843);
    const head = JSON.parse(await Deno.readTextFile(`${out}/heads/group/head.json`));
    assert.deepEqual(head.num_classes, 21843);
    assert.deepEqual(head.groups.flat().length, 21843);

    const fig5 = csvRows(await Deno.readTextFile(`${out}/num_classes.csv`));
    const counts = [...new Set(fig5.map((r) => Number(r["C"])))].sort((a, b) => a - b);
    assert.deepEqual(counts, [50, 200, 21843]);
    for (const c of counts) {
      const methodsAtC = fig5.filter((r) => Number(r["C"]) === c).map((r) => r["Method"]);
      assert.deepEqual(methodsAtC.sort(), ["MOS", "MSP"]);
    }
    for (const r of fig5) {
      for (const [k, v] of Object.entries(r)) {
        if (!/AUROC|FPR95/.test(k) || v === "") continue;
        const x = Number(v);
        assert(x >= 0 && x <= 100, `${k} = ${v} outside [0, 100]`);
      }
    }
    assert((await Deno.stat(`${out}/fig5.png`)).size > 1000);
    assert((await Deno.stat(`${out}/fig5.svg`)).size > 1000);
    assert(first.stdout.includes("SYNTHETIC"));

    const t1 = await Deno.readTextFile(`${out}/table1.csv`);
    const second = await run(out);
    assert(second.stderr.includes("reused (manifest matches)"), second.stderr);
    assert(!/trained, ID accuracy/.test(second.stderr), second.stderr);
    assert.deepEqual(await Deno.readTextFile(`${out}/table1.csv`), t1);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
