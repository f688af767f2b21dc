import assert from "node:assert/strict";
import { DETECTORS } from "../detectors/registry.ts";
import { PAPER_METHODS } from "../scoring/methods.ts";
import { OOD_SET_NAMES } from "./benchmark.ts";
import {
  type AurocRow,
  inversionNotes,
  OOD_MECHANISMS,
  SCORE_FAMILIES,
  type ScoreFamily,
} from "./mechanisms.ts";

const FAMILIES: ScoreFamily[] = ["confidence", "logit", "feature", "group"];
const mech = (set: string) => OOD_MECHANISMS.find((m) => m.set === set)!;

Deno.test("OOD_MECHANISMS: one documented mechanism per OOD set, a reason for every family", () => {
  assert.deepEqual(OOD_MECHANISMS.map((m) => m.set), [...OOD_SET_NAMES]);
  for (const m of OOD_MECHANISMS) {
    for (const text of [m.like, m.effect, m.source]) {
      assert.ok(text.length > 5, `${m.set}: ${text}`);
    }
    // A source names a venue and a year (or the paper itself), not just an idea.
    assert.match(m.source, /(19|20)\d\d|MOS paper|the paper's/, `${m.set} cites a source`);
    for (const f of FAMILIES) assert.ok(m.inverts[f].length > 20, `${m.set} / ${f} has a reason`);
  }
});

Deno.test("SCORE_FAMILIES: every paper method and every registered detector has a family", () => {
  const keys = [...PAPER_METHODS, "mahalanobis-multilayer", ...DETECTORS.map((d) => d.key)];
  for (const k of keys) {
    assert.ok(FAMILIES.includes(SCORE_FAMILIES[k]), `detector ${k} needs a score family`);
  }
});

Deno.test("inversionNotes: a line only for sets with a method below 50% AUROC", () => {
  const rows: AurocRow[] = [
    { method: "msp", dataset: "novel-groups", auroc: 50 }, // exactly chance: not inverted
    { method: "energy", dataset: "novel-groups", auroc: 80 },
    { method: "mahalanobis", dataset: "novel-classes", auroc: NaN },
    { method: "msp", dataset: "real-set", auroc: 10 }, // no mechanism: not explained
  ];
  assert.deepEqual(inversionNotes(rows), []);
  assert.deepEqual(inversionNotes([]), []);
});

Deno.test("inversionNotes: one line per set, methods with their AUROC, one reason per family", () => {
  const rows: AurocRow[] = [
    { method: "energy", dataset: "diffuse-texture", auroc: 47.25 },
    { method: "msp", dataset: "group-mixtures", auroc: 49.99 },
    { method: "mls", dataset: "diffuse-texture", auroc: 45 },
    { method: "knn", dataset: "diffuse-texture", auroc: 40.04 },
    { method: "msp", dataset: "diffuse-texture", auroc: 70 },
    { method: "new-score", dataset: "novel-classes", auroc: 12 },
  ];
  const label = (k: string) => k.toUpperCase();
  const lines = inversionNotes(rows, { label });
  // Mechanism order (novel-classes, group-mixtures, diffuse-texture), not row order.
  assert.equal(lines.length, 3);
  assert.ok(lines[0].startsWith("novel-classes: "));
  assert.ok(lines[0].includes("NEW-SCORE 12.00%"));
  assert.ok(lines[0].includes(mech("novel-classes").effect), "unknown key: the effect");
  assert.equal(
    lines[1],
    `group-mixtures: below chance, MSP 49.99% AUROC: ${mech("group-mixtures").inverts.confidence}.`,
  );
  const tex = mech("diffuse-texture");
  assert.equal(
    lines[2],
    `diffuse-texture: below chance, ENERGY 47.25%, MLS 45.00% AUROC: ${tex.inverts.logit}; ` +
      `KNN 40.04% AUROC: ${tex.inverts.feature}.`,
  );
  assert.ok(!lines[2].includes("MSP"), "MSP is above 50 on diffuse-texture");
});

Deno.test("inversionNotes: other mechanisms can be given", () => {
  const custom = [{ ...mech("novel-groups"), set: "x" }];
  const lines = inversionNotes([{ method: "mos", dataset: "x", auroc: 3 }], {
    mechanisms: custom,
  });
  assert.deepEqual(lines, [`x: below chance, mos 3.00% AUROC: ${custom[0].inverts.group}.`]);
});
