import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { OOD_SET_NAMES } from "../synthetic/benchmark.ts";
import { parseDemoExperiment } from "./demo_experiment.ts";
import { oodGroupsProblem, parseOodGroups } from "./ood_groups.ts";
import { parsePaperExperiment } from "./paper_experiment.ts";

const SETS = ["inaturalist", "sun", "places", "textures"];

function fails(f: () => unknown, message: RegExp): void {
  assert.throws(f, (e) => e instanceof DataError && message.test(e.message), String(message));
}

Deno.test("parseOodGroups: valid groups, absent key", () => {
  assert.deepEqual(parseOodGroups({ near: ["sun"], far: ["textures", "inaturalist"] }, SETS, "c"), {
    near: ["sun"],
    far: ["textures", "inaturalist"],
  });
  assert.equal(parseOodGroups(undefined, SETS, "c"), undefined);
  // A set in neither group is allowed (it still counts in the overall Average).
  assert.equal(oodGroupsProblem({ near: ["sun"], far: ["places"] }, SETS), null);
});

Deno.test("parseOodGroups: one clear error per mistake, naming the file and key", () => {
  fails(() => parseOodGroups(["sun"], SETS, "x.yaml"), /^x\.yaml: "ood_groups" must be a mapping/);
  fails(() => parseOodGroups({ near: ["sun"] }, SETS, "x.yaml"), /"ood_groups\.far" is missing/);
  fails(
    () => parseOodGroups({ near: ["sun"], far: ["places"], mid: [] }, SETS, "x.yaml"),
    /unknown key "ood_groups\.mid"; allowed: near, far/,
  );
  fails(
    () => parseOodGroups({ near: "sun", far: ["places"] }, SETS, "x.yaml"),
    /"ood_groups\.near" must be a list of OOD set names, got "sun"/,
  );
  fails(
    () => parseOodGroups({ near: [], far: ["places"] }, SETS, "x.yaml"),
    /ood_groups: "near" is empty/,
  );
  fails(
    () => parseOodGroups({ near: ["sun"], far: ["imagenet-o"] }, SETS, "x.yaml"),
    /"far" names "imagenet-o", which is not one of the OOD sets \(inaturalist, sun, places, /,
  );
  fails(
    () => parseOodGroups({ near: ["sun", "sun"], far: ["places"] }, SETS, "x.yaml"),
    /"near" names "sun" twice/,
  );
  fails(
    () => parseOodGroups({ near: ["sun", "places"], far: ["places"] }, SETS, "x.yaml"),
    /"places" is in both near and far/,
  );
});

Deno.test("the shipped configs: table1.yaml and demo.yaml name their groups", async () => {
  const root = new URL("../../experiments/", import.meta.url);
  const t1 = parsePaperExperiment(await Deno.readTextFile(new URL("table1.yaml", root)), "t1");
  assert.deepEqual(t1.oodGroups, { near: ["sun", "places"], far: ["inaturalist", "textures"] });
  const demo = parseDemoExperiment(
    await Deno.readTextFile(new URL("demo.yaml", root)),
    OOD_SET_NAMES,
    "demo.yaml",
  );
  const named = [...demo.oodGroups!.near, ...demo.oodGroups!.far].sort();
  assert.deepEqual(named, [...OOD_SET_NAMES].sort(), "every demo set in one group");
});

Deno.test("parsePaperExperiment: ood_groups checked against sets.ood", () => {
  const base = "data_root: d\nsets: {train: t, id: i, ood: {a: a, b: b}}\nout: o\n";
  assert.equal(parsePaperExperiment(base, "c.yaml").oodGroups, undefined);
  assert.deepEqual(
    parsePaperExperiment(base + "ood_groups: {near: [a], far: [b]}\n", "c.yaml").oodGroups,
    { near: ["a"], far: ["b"] },
  );
  fails(
    () => parsePaperExperiment(base + "ood_groups: {near: [a], far: [c]}\n", "c.yaml"),
    /^c\.yaml: ood_groups: "far" names "c", which is not one of the OOD sets \(a, b\)/,
  );
});

Deno.test("parseDemoExperiment: empty file, unknown keys, bad YAML", () => {
  assert.deepEqual(parseDemoExperiment("", OOD_SET_NAMES, "d.yaml"), {});
  fails(
    () => parseDemoExperiment("groups: {}\n", OOD_SET_NAMES, "d.yaml"),
    /d\.yaml: unknown key "groups"; allowed: ood_groups/,
  );
  fails(() => parseDemoExperiment("a: [\n", OOD_SET_NAMES, "d.yaml"), /d\.yaml is not valid YAML/);
  fails(
    () => parseDemoExperiment("ood_groups: {near: [sun], far: [x]}\n", OOD_SET_NAMES, "d.yaml"),
    /d\.yaml: ood_groups: "near" names "sun", which is not one of the OOD sets/,
  );
});
