/**
 * The toolkit as a library: deno.json's entry points exist and type-check, the pure ones
 * (metrics, io, references) load no native package, every npm package is imported with one full
 * `npm:name@version` specifier (so a script outside the repository imports it by path with no
 * config), and such a script computes metrics on score files and runs a detector.
 *
 * @module
 */
import assert from "node:assert/strict";
import { writeHead } from "../lib/io/head.ts";
import { TOOL_VERSION } from "../lib/io/manifest.ts";
import { writeNpy } from "../lib/io/npy.ts";
import { createRng } from "../lib/random.ts";
import { assertClose } from "./assert_close.ts";
import { REPO_ROOT } from "./cli_helpers.ts";

const CONFIG = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}/deno.json`));
const EXPORTS: Record<string, string> = CONFIG.exports;
const NATIVE = ["onnxruntime-node", "sharp", "onnx-proto"];
/** Entry points that must load no native package (the issue's "pure" ones). */
const PURE = ["./metrics", "./io", "./references"];

/** npm packages a module loads when run: the graph of `deno info` over code (not type) imports. */
async function runtimeNpmPackages(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  const modules = new Map<string, Record<string, unknown>>();
  for (const m of info.modules) modules.set(m.specifier, m);
  const redirects: Record<string, string> = info.redirects ?? {};
  const seen = new Set<string>();
  const npm = new Set<string>();
  const stack: string[] = [...info.roots];
  while (stack.length > 0) {
    let s = stack.pop()!;
    s = redirects[s] ?? s;
    if (seen.has(s)) continue;
    seen.add(s);
    const m = modules.get(s);
    if (!m) continue;
    if (m.kind === "npm") {
      npm.add(String(m.npmPackage).replace(/@[^@]+$/, ""));
      continue;
    }
    const deps = (m.dependencies ?? []) as { code?: { specifier: string } }[];
    for (const d of deps) if (d.code) stack.push(d.code.specifier);
  }
  return [...npm].sort();
}

Deno.test("library: deno.json names the package, its version and the entry points", async () => {
  assert.match(CONFIG.name, /^@[a-z0-9-]+\/[a-z0-9-]+$/);
  assert.equal(CONFIG.version, TOOL_VERSION, "deno.json version = manifests' tool version");
  for (const key of [".", "./metrics", "./detectors", "./io", "./train", "./extract"]) {
    assert.ok(EXPORTS[key], `exports lacks ${key}`);
  }
  for (const [key, path] of Object.entries(EXPORTS)) {
    const text = await Deno.readTextFile(`${REPO_ROOT}/${path}`);
    assert.match(text, /@example/, `${key} (${path}) has no @example in its module doc`);
  }
});

Deno.test("library: the pure entry points load no native package; the others do", async () => {
  for (const key of PURE) {
    const npm = await runtimeNpmPackages(EXPORTS[key]);
    const native = npm.filter((p) => NATIVE.includes(p));
    assert.deepEqual(native, [], `${key} loads ${native.join(", ")}`);
  }
  // The check can fail: the detectors' entry runs on onnxruntime and must be seen doing so.
  assert.ok((await runtimeNpmPackages(EXPORTS["./detectors"])).includes("onnxruntime-node"));
});

/** Every `.ts` file of the repository outside node_modules and results. */
async function* sourceFiles(dir = REPO_ROOT): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name === "node_modules" || e.name === "results" || e.name.startsWith(".")) continue;
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* sourceFiles(path);
    else if (e.isFile && e.name.endsWith(".ts")) yield path;
  }
}

Deno.test("library: imports are relative, node: or one full npm:name@version per package", async () => {
  const declared = new Map<string, string>();
  for (const spec of Object.values(CONFIG.imports as Record<string, string>)) {
    const m = /^npm:(@?[^@]+)@([^/]+)/.exec(spec)!;
    declared.set(m[1], m[2]);
  }
  const IMPORT =
    /(?:^|\n)\s*(?:import|export)[^"';]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  const bad: string[] = [];
  for await (const file of sourceFiles()) {
    const text = await Deno.readTextFile(file);
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      const where = `${file.slice(REPO_ROOT.length + 1)}: "${spec}"`;
      // A specifier built in a template (this file's scratch script) is not an import here.
      if (spec.startsWith(".") || spec.startsWith("node:") || spec.includes("${")) continue;
      const npm = /^npm:(@?[^@/]+(?:\/[^@/]+)?)@([^/]+)/.exec(spec);
      if (!npm) {
        bad.push(`${where} is not relative, node: or npm:name@version`);
        continue;
      }
      const [name, version] = [npm[1].startsWith("@") ? npm[1] : npm[1].split("/")[0], npm[2]];
      if (declared.get(name) !== version) {
        bad.push(`${where}: deno.json declares ${name}@${declared.get(name) ?? "(nothing)"}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

/** What the scratch project does, written where no deno.json can be found. */
function scratchScript(): string {
  const root = new URL("..", import.meta.url).href;
  return `import { evaluate } from "${root}lib/metrics/mod.ts";
import {
  detectorByKey,
  detectorHead,
  linearLogits,
  readFeatureSet,
  readHead,
  readScoreVector,
} from "${root}mod.ts";

const dir = Deno.args[0];
// Scores made elsewhere: ours (higher = ID) and pytorch-ood's sign (higher = OOD).
const id = await readScoreVector(dir + "/id_scores.npy");
const ood = await readScoreVector(dir + "/ood_scores.npy", "higher-is-ood");
const metrics = evaluate(id, ood);
// A detector on a bare feature set (features.npy alone) with a head: fit, then score.
const head = detectorHead(await readHead(dir + "/head"));
const set = await readFeatureSet(dir + "/features");
const energy = detectorByKey("energy");
const model = await energy.fit({ head });
const logits = await linearLogits(set.features, head.weight, head.bias);
const scores = await energy.score(model, set.features, logits);
console.log(JSON.stringify({ metrics, energy: Array.from(scores) }));
`;
}

Deno.test("library: a script outside the repository imports it by path and runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mos_scratch_" });
  try {
    const rng = createRng(7);
    const id = Float32Array.from({ length: 40 }, () => rng.normal() + 1);
    const oodOurSign = Float32Array.from({ length: 30 }, () => rng.normal());
    await writeNpy(`${dir}/id_scores.npy`, { dtype: "<f4", shape: [40], data: id });
    const oodFile = oodOurSign.map((v) => -v); // stored as higher = OOD
    await writeNpy(`${dir}/ood_scores.npy`, { dtype: "<f4", shape: [30], data: oodFile });
    const [n, d, c] = [5, 4, 3];
    const weight = Float32Array.from({ length: c * d }, () => rng.normal());
    const bias = Float32Array.from({ length: c }, () => rng.normal());
    const feats = Float32Array.from({ length: n * d }, () => rng.normal() * 2);
    await writeHead(`${dir}/head`, {
      info: { kind: "flat", num_classes: c, groups: [] },
      weight: { rows: c, cols: d, data: weight },
      bias,
    });
    await Deno.mkdir(`${dir}/features`);
    await writeNpy(`${dir}/features/features.npy`, { dtype: "<f4", shape: [n, d], data: feats });
    await Deno.writeTextFile(`${dir}/scratch.ts`, scratchScript());

    const run = async (args: string[]) => {
      const o = await new Deno.Command(Deno.execPath(), {
        args,
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(o.stdout);
      assert.equal(o.code, 0, `deno ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
      return text;
    };
    await run(["check", "scratch.ts"]);
    const got = JSON.parse(await run(["run", "-A", "scratch.ts", dir]));

    // AUROC by counting pairs: P(id score > ood score) + ties / 2.
    let wins = 0;
    for (const a of id) for (const b of oodOurSign) wins += a > b ? 1 : a === b ? 0.5 : 0;
    assertClose(got.metrics.auroc, wins / (id.length * oodOurSign.length), {
      atol: 1e-12,
      reason: "the same ranking counted two ways",
    });
    // Energy = logsumexp of x W^T + b in float64.
    const expected = Array.from({ length: n }, (_, i) => {
      const z = Array.from({ length: c }, (_, k) => {
        let s = bias[k];
        for (let j = 0; j < d; j++) s += feats[i * d + j] * weight[k * d + j];
        return s;
      });
      const m = Math.max(...z);
      return m + Math.log(z.reduce((acc, v) => acc + Math.exp(v - m), 0));
    });
    assertClose(got.energy, expected, { atol: 1e-4, rtol: 1e-5, reason: "float32 GEMM" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
