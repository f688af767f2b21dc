/**
 * Layering rules of the code base, checked on the source text: lib/ never imports tasks/ or
 * bench/; lib/ code (tests aside) has no console output, no Deno.args and no Deno.exit; every task
 * entry point in tasks/ runs only under `if (import.meta.main)`, and no module in tasks/ imports
 * an entry point (shared code lives in tasks/_shared/ and tasks/_ablation/). Comments and string
 * contents are blanked first, so a JSDoc example such as `console.log(...)` is not a violation;
 * the scanner is itself checked on hand-written snippets.
 */
import assert from "node:assert/strict";
import { REPO_ROOT } from "./cli_helpers.ts";

/** Every .ts file under `dir` (relative to the repo root), sorted. */
async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(`${REPO_ROOT}/${rel}`)) {
      const path = `${rel}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.isFile && e.name.endsWith(".ts")) out.push(path);
    }
  };
  await walk(dir);
  return out.sort();
}

/**
 * Replaces comments by spaces and the contents of string / template literals by "_" (keeping
 * newlines and the quotes), so code tokens can be matched by regex. Template `${...}` bodies are
 * blanked too: no rule here needs to look inside them.
 */
function blankCommentsAndStrings(src: string): string {
  let out = "";
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const next = src[i + 1];
    if (c === "/" && next === "/") {
      while (i < src.length && src[i] !== "\n") {
        out += " ";
        i++;
      }
    } else if (c === "/" && next === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? src.length : end + 2;
      for (; i < stop; i++) out += src[i] === "\n" ? "\n" : " ";
    } else if (c === '"' || c === "'" || c === "`") {
      out += c;
      i++;
      while (i < src.length && src[i] !== c) {
        if (src[i] === "\\") {
          out += "__";
          i += 2;
          continue;
        }
        out += src[i] === "\n" ? "\n" : "_";
        i++;
      }
      if (i < src.length) out += c;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Module specifiers of static imports / re-exports and dynamic `import("...")` calls. */
function importSpecifiers(src: string): string[] {
  const blanked = blankCommentsAndStrings(src);
  const specs: string[] = [];
  // Match on the blanked text (so commented-out imports do not count), read the real specifier.
  const re =
    /\b(?:import|export)\b[^;'"`]*?\bfrom\s*(["'])|\bimport\s*\(\s*(["'])|\bimport\s+(["'])/g;
  for (const m of blanked.matchAll(re)) {
    const quoteAt = (m.index ?? 0) + m[0].length - 1;
    const quote = src[quoteAt];
    const end = src.indexOf(quote, quoteAt + 1);
    specs.push(src.slice(quoteAt + 1, end));
  }
  return specs;
}

/** Resolves a relative specifier of `file` (repo-relative) to a repo-relative path. */
function resolveRelative(file: string, spec: string): string | null {
  if (!spec.startsWith("./") && !spec.startsWith("../")) return null;
  const url = new URL(spec, `file:///repo/${file}`);
  return url.pathname.replace(/^\/repo\//, "");
}

function isLayerViolation(file: string, spec: string): boolean {
  const target = resolveRelative(file, spec);
  if (target === null) return false;
  return target.startsWith("tasks/") || target.startsWith("bench/") || target.startsWith("../");
}

const FORBIDDEN_CALLS = /\bconsole\s*\.\s*\w+|\bDeno\s*\.\s*(?:args|exit)\b/g;

function forbiddenUses(src: string): string[] {
  return [...blankCommentsAndStrings(src).matchAll(FORBIDDEN_CALLS)].map((m) => m[0]);
}

Deno.test("layering: the scanner finds what it must and nothing else", () => {
  const snippet = [
    `import { a } from "../../tasks/x.ts";`,
    `import type { B } from '../io/b.ts';`,
    `export { c } from "./c.ts";`,
    `import "../../bench/side_effect.ts";`,
    `const m = await import("../../tasks/dyn.ts");`,
    `import {`,
    `  d,`,
    `  e,`,
    `} from "npm:yaml@2";`,
    `// import { z } from "../../tasks/commented.ts";`,
    `/* console.log("hidden") */ const s = "console.log(1) Deno.exit(2)";`,
    `const t = \`Deno.args \${x}\`;`,
    `console.error("real"); Deno.exit(1); const argv = Deno.args;`,
  ].join("\n");
  assert.deepEqual(importSpecifiers(snippet), [
    "../../tasks/x.ts",
    "../io/b.ts",
    "./c.ts",
    "../../bench/side_effect.ts",
    "../../tasks/dyn.ts",
    "npm:yaml@2",
  ]);
  const file = "lib/scores/energy.ts";
  assert.deepEqual(
    importSpecifiers(snippet).filter((s) => isLayerViolation(file, s)),
    ["../../tasks/x.ts", "../../bench/side_effect.ts", "../../tasks/dyn.ts"],
  );
  assert.equal(resolveRelative(file, "../io/b.ts"), "lib/io/b.ts");
  assert.deepEqual(forbiddenUses(snippet), ["console.error", "Deno.exit", "Deno.args"]);
});

Deno.test("layering: lib/ never imports tasks/ or bench/", async () => {
  const files = await tsFiles("lib");
  assert.ok(files.length > 20, `expected the lib/ tree, found ${files.length} files`);
  const bad: string[] = [];
  let relative = 0;
  for (const f of files) {
    const src = await Deno.readTextFile(`${REPO_ROOT}/${f}`);
    for (const spec of importSpecifiers(src)) {
      if (resolveRelative(f, spec) !== null) relative++;
      if (isLayerViolation(f, spec)) bad.push(`${f} imports ${spec}`);
    }
  }
  // lib/ is full of relative imports; finding few would mean the scanner missed them.
  assert.ok(relative > files.length, `only ${relative} relative imports in ${files.length} files`);
  assert.deepEqual(bad, []);
});

Deno.test("layering: lib/ code has no console output, Deno.args or Deno.exit", async () => {
  const files = (await tsFiles("lib")).filter((f) => !f.endsWith("_test.ts"));
  const bad: string[] = [];
  for (const f of files) {
    const src = await Deno.readTextFile(`${REPO_ROOT}/${f}`);
    for (const use of forbiddenUses(src)) bad.push(`${f}: ${use}`);
  }
  assert.deepEqual(bad, []);
});

Deno.test("layering: every task entry point is guarded by import.meta.main", async () => {
  const tasks: string[] = [];
  for await (const e of Deno.readDir(`${REPO_ROOT}/tasks`)) {
    if (e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) {
      tasks.push(`tasks/${e.name}`);
    }
  }
  assert.ok(tasks.length >= 4, `expected the task files, found ${tasks}`);
  const bad: string[] = [];
  for (const f of tasks.sort()) {
    const code = blankCommentsAndStrings(await Deno.readTextFile(`${REPO_ROOT}/${f}`));
    if (!/\bif\s*\(\s*import\.meta\.main\s*\)/.test(code)) bad.push(f);
  }
  assert.deepEqual(bad, []);
});

/** Whether `path` (repo-relative) is a task entry point: a .ts file directly in tasks/. */
function isEntryPoint(path: string): boolean {
  return /^tasks\/[^/]+\.ts$/.test(path) && !path.endsWith("_test.ts");
}

Deno.test("layering: no module in tasks/ imports a task entry point", async () => {
  assert.ok(isEntryPoint("tasks/tables.ts"));
  assert.ok(!isEntryPoint("tasks/_shared/paper_tables.ts"));
  assert.ok(!isEntryPoint("tasks/_shared/cli_test.ts"));
  const files = (await tsFiles("tasks")).filter((f) => !f.endsWith("_test.ts"));
  assert.ok(files.some((f) => f.startsWith("tasks/_shared/")), `found ${files.length} files`);
  const bad: string[] = [];
  for (const f of files) {
    const src = await Deno.readTextFile(`${REPO_ROOT}/${f}`);
    for (const spec of importSpecifiers(src)) {
      const target = resolveRelative(f, spec);
      // Shared code lives in tasks/_shared/ and tasks/_ablation/; an entry point runs a task.
      if (target !== null && isEntryPoint(target)) bad.push(`${f} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

/**
 * The string and template literals of `src` with their line numbers, comments skipped. A
 * template's `${...}` bodies are scanned as code (their own literals are reported separately),
 * and the literal text keeps a `${}` placeholder where each body was. Regex literals are not
 * recognised; a quote inside one would start a bogus literal, which lib/ code avoids.
 */
function stringLiterals(src: string): { line: number; text: string }[] {
  const found: { line: number; text: string }[] = [];
  let i = 0;
  let line = 1;
  const step = () => {
    if (src[i] === "\n") line++;
    i++;
  };
  // Scans code until an unmatched "}" (inside a template body) or the end of the source.
  const code = (inTemplate: boolean): void => {
    let depth = 0;
    while (i < src.length) {
      const c = src[i];
      const next = src[i + 1];
      if (c === "/" && next === "/") {
        while (i < src.length && src[i] !== "\n") step();
      } else if (c === "/" && next === "*") {
        const end = src.indexOf("*/", i + 2);
        const stop = end < 0 ? src.length : end + 2;
        while (i < stop) step();
      } else if (c === '"' || c === "'") {
        const start = line;
        let text = "";
        step();
        while (i < src.length && src[i] !== c && src[i] !== "\n") {
          if (src[i] === "\\") {
            text += src[i + 1] ?? "";
            step();
          } else text += src[i];
          step();
        }
        step();
        found.push({ line: start, text });
      } else if (c === "`") {
        template();
      } else if (c === "{") {
        depth++;
        step();
      } else if (c === "}") {
        if (inTemplate && depth === 0) return;
        depth--;
        step();
      } else step();
    }
  };
  const template = (): void => {
    const start = line;
    let text = "";
    step(); // opening backtick
    while (i < src.length && src[i] !== "`") {
      if (src[i] === "\\") {
        text += src[i + 1] ?? "";
        step();
        step();
      } else if (src[i] === "$" && src[i + 1] === "{") {
        step();
        step();
        code(true);
        step(); // closing brace
        text += "${}";
      } else {
        text += src[i];
        step();
      }
    }
    step(); // closing backtick
    found.push({ line: start, text });
  };
  code(false);
  return found;
}

/** A command-line flag in text: `--` and a lower-case word, not part of a longer dash run. */
const FLAG = /(?<![\w-])--[a-z][a-z0-9-]*/;

/** Literals of lib/ code that contain a flag name, as "file:line: text". */
function flagLiterals(file: string, src: string): string[] {
  return stringLiterals(src).filter((s) => FLAG.test(s.text)).map((s) =>
    `${file}:${s.line}: ${s.text}`
  );
}

/**
 * lib/ literals allowed to name a flag, by file and the literal's exact text. Only text that is
 * not a user-facing message of a library call belongs here; each entry says why.
 */
const FLAG_LITERAL_ALLOWLIST: { file: string; text: string; why: string }[] = [];

Deno.test("layering: the string-literal scanner reads literals, not comments", () => {
  const snippet = [
    `// "--commented" is no literal`,
    `/** \`--doc\` in JSDoc */`,
    `const a = "--plain";`,
    `const b = 'it\\'s --single';`,
    'const c = `${label} ${x ? `--nested ${y}` : "--inner"} --outer`;',
    "const d = `multi",
    "line --flag`; const e = '---- rule'; const f = \"a--b\";",
  ].join("\n");
  assert.deepEqual(flagLiterals("x.ts", snippet), [
    "x.ts:3: --plain",
    "x.ts:4: it's --single",
    "x.ts:5: --nested ${}",
    "x.ts:5: --inner",
    "x.ts:5: ${} ${} --outer",
    "x.ts:6: multi\nline --flag",
  ]);
});

Deno.test("layering: lib/ messages describe the data and never name a CLI flag", async () => {
  const files = (await tsFiles("lib")).filter((f) => !f.endsWith("_test.ts"));
  const bad: string[] = [];
  for (const f of files) {
    const src = await Deno.readTextFile(`${REPO_ROOT}/${f}`);
    for (const hit of flagLiterals(f, src)) {
      const text = hit.slice(hit.indexOf(": ") + 2);
      if (FLAG_LITERAL_ALLOWLIST.some((a) => a.file === f && a.text === text)) continue;
      bad.push(hit);
    }
  }
  // Tasks add the flag names: a lib function takes a label (default: a noun for the data).
  assert.deepEqual(bad, []);
});

/** The unit of the folder picture: a folder of lib/ (`lib/io`) or a file directly in lib/. */
function libUnit(path: string): string {
  const parts = path.split("/");
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : path;
}

/** Units on a cycle of `edges` (Tarjan's strongly connected components of size > 1). */
function cyclicUnits(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      for (let w = stack.pop()!;; w = stack.pop()!) {
        onStack.delete(w);
        scc.push(w);
        if (w === v) break;
      }
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return out;
}

Deno.test("layering: the finder of import cycles finds them", () => {
  const edges = new Map([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])], [
    "d",
    new Set(["a"]),
  ]]);
  assert.deepEqual(cyclicUnits(edges), [["a", "b", "c"]]);
});

Deno.test("layering: the folders of lib/ import each other without a cycle", async () => {
  const edges = new Map<string, Set<string>>();
  const example = new Map<string, string>();
  for (const f of await tsFiles("lib")) {
    if (f.endsWith("_test.ts") || f.endsWith("/test_util.ts") || f.endsWith("/test_fixture.ts")) {
      continue;
    }
    for (const spec of importSpecifiers(await Deno.readTextFile(`${REPO_ROOT}/${f}`))) {
      const target = resolveRelative(f, spec);
      if (target === null || !target.startsWith("lib/")) continue;
      const [a, b] = [libUnit(f), libUnit(target)];
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Set());
      edges.get(a)!.add(b);
      example.set(`${a} ${b}`, `${f} -> ${target}`);
    }
  }
  const cycles = cyclicUnits(edges).map((scc) =>
    scc.flatMap((a) => scc.filter((b) => edges.get(a)?.has(b)).map((b) => example.get(`${a} ${b}`)))
      .join("; ")
  );
  assert.deepEqual(cycles, [], "each folder of lib/ should only import folders below it");
});
