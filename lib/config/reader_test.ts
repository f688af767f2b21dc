/**
 * The config reader: YAML parsing, unknown keys, types and ranges, every mistake one ConfigError
 * (a DataError, exit 1) naming the file and the key path.
 */
import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { ConfigError, ConfigReader, parseConfigYaml } from "./reader.ts";

function fails(f: () => unknown, message: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${e}`);
    assert.ok(e instanceof DataError);
    assert.equal(e.exitCode, 1);
    assert.equal(e.source, "c.yaml");
    assert.equal(e.message, message);
    return true;
  });
}

const r = new ConfigReader("c.yaml");

Deno.test("parseConfigYaml: mappings, empty documents, invalid YAML", () => {
  assert.deepEqual(parseConfigYaml("a: 1\nb: [2, 3]\n", "c.yaml"), { a: 1, b: [2, 3] });
  const empty = {};
  assert.equal(parseConfigYaml("", "c.yaml", empty), empty);
  fails(() => parseConfigYaml("", "c.yaml"), 'c.yaml: "(top level)" must be a mapping');
  fails(() => parseConfigYaml("- 1\n- 2\n", "c.yaml"), 'c.yaml: "(top level)" must be a mapping');
  assert.throws(() => parseConfigYaml("a: [\n", "c.yaml"), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /^c\.yaml is not valid YAML: \S/);
    assert.doesNotMatch(e.message, /:\s*$/);
    return true;
  });
});

Deno.test("ConfigReader: keys, strings, booleans and choices", () => {
  r.onlyKeys({ a: 1, b: 2 }, ["a", "b", "c"], "");
  fails(() => r.onlyKeys({ a: 1, x: 2 }, ["a"], ""), 'c.yaml: unknown key "x"; allowed: a');
  fails(
    () => r.onlyKeys({ y: 1 }, ["a", "b"], "train"),
    'c.yaml: unknown key "train.y"; allowed: a, b',
  );
  assert.equal(r.str({ p: "x" }, "p", "sets."), "x");
  assert.equal(r.str({}, "p", "sets.", "dflt"), "dflt");
  fails(() => r.str({ p: "" }, "p", "sets."), 'c.yaml: "sets.p" must be a non-empty string');
  fails(() => r.str({ p: 3 }, "p", ""), 'c.yaml: "p" must be a non-empty string');
  assert.equal(r.bool({}, "b", "", true), true);
  assert.equal(r.bool({ b: false }, "b", "", true), false);
  fails(() => r.bool({ b: "no" }, "b", "g.", true), 'c.yaml: "g.b" must be true or false');
  assert.equal(r.choice({}, "v", "score.", ["paper", "clean"], "paper"), "paper");
  assert.equal(r.choice({ v: "clean" }, "v", "score.", ["paper", "clean"], "paper"), "clean");
  fails(
    () => r.choice({ v: "x" }, "v", "score.", ["paper", "clean"], "paper"),
    'c.yaml: "score.v" must be paper or clean, got "x"',
  );
  fails(() => r.object([1], "sets"), 'c.yaml: "sets" must be a mapping');
});

Deno.test("ConfigReader: numbers within their rule", () => {
  assert.equal(r.num({}, "n", "train.", {}), undefined);
  assert.equal(r.num({ n: 0.5 }, "n", "train.", {}), 0.5);
  assert.equal(r.num({ n: 7 }, "n", "train.", { integer: true, min: 1, max: 7 }), 7);
  fails(
    () => r.num({ n: 0 }, "n", "train.", { integer: true, min: 1 }),
    'c.yaml: "train.n" must be an integer >= 1, got 0',
  );
  fails(
    () => r.num({ n: 1.5 }, "n", "train.", { integer: true }),
    'c.yaml: "train.n" must be an integer >= 0, got 1.5',
  );
  fails(() => r.num({ n: -1 }, "n", "", {}), 'c.yaml: "n" must be a number >= 0, got -1');
  fails(() => r.num({ n: "5" }, "n", "", {}), 'c.yaml: "n" must be a number >= 0, got "5"');
  fails(
    () => r.num({ n: 9 }, "n", "", { max: 8 }),
    'c.yaml: "n" must be a number >= 0 and <= 8, got 9',
  );
});

Deno.test("ConfigReader: integer and choice lists, sets", () => {
  assert.deepEqual(r.intList({ l: [3, 1] }, "l", "d.", 1), [3, 1]);
  fails(
    () => r.intList({ l: [] }, "l", "d.", 1),
    'c.yaml: "d.l" must be a non-empty list of integers',
  );
  fails(() => r.intList({ l: [0] }, "l", "d.", 1), 'c.yaml: "d.l" has 0; give integers >= 1');
  fails(() => r.intList({ l: [2, 2] }, "l", "d.", 1), 'c.yaml: "d.l" lists 2 twice');
  assert.deepEqual(r.choiceList({ l: ["a", "b", "a"] }, "l", "", ["a", "b"]), ["a", "b"]);
  fails(
    () => r.choiceList({ l: ["c"] }, "l", "", ["a", "b"]),
    'c.yaml: "l" has "c"; choose from a, b',
  );
  const sets = r.sets({ train: "tr", id: "val", ood: { sun: "SUN", places: "Places" } });
  assert.deepEqual(sets, {
    train: "tr",
    id: "val",
    ood: [{ name: "sun", dir: "SUN" }, { name: "places", dir: "Places" }],
  });
  fails(
    () => r.sets({ train: "t", id: "i", ood: {} }),
    'c.yaml: "sets.ood" is empty; name at least one OOD set',
  );
  fails(
    () => r.sets({ train: "t", id: "i", ood: { sun: 1 } }),
    'c.yaml: "sets.ood.sun" must be a directory name',
  );
  fails(
    () => r.sets({ train: "t", ood: { a: "b" }, x: 1 }),
    'c.yaml: unknown key "sets.x"; allowed: train, id, ood',
  );
});
