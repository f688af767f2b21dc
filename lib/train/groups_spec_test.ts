/** resolveGroups: flat, taxonomy and JSON choices; errors describe the data or the given label. */
import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import { resolveGroups } from "./groups_spec.ts";

function fails(f: () => unknown, message: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("resolveGroups: flat is null, a JSON file gives its groups", () => {
  assert.equal(resolveGroups("flat", 3, {}), null);
  assert.deepEqual(resolveGroups("g.json", 3, { fileText: "[[0, 2], [1]]" }), [[0, 2], [1]]);
});

Deno.test("resolveGroups: errors name the groups, or the flag a task passes as label", () => {
  fails(
    () => resolveGroups("taxonomy", 10, {}),
    /^groups "taxonomy": the taxonomy grouping .* needs 1000 classes, but the features have 10; give a JSON file/,
  );
  fails(
    () => resolveGroups("taxonomy", 10, { label: "--groups taxonomy" }),
    /^--groups taxonomy: the taxonomy grouping/,
  );
  // JSON.parse quotes the text, newlines included: collapsed to one line.
  fails(
    () => resolveGroups("g.txt", 3, { fileText: "ant bee\nwolf" }),
    /^groups file g\.txt is not valid JSON \([^\n]*\); expected \[\[class ids of group 0\]/,
  );
  fails(
    () => resolveGroups("g.json", 3, { fileText: "[[0], [5]]", label: "--groups g.json" }),
    /^--groups g\.json: group 1 has class id 5 outside \[0, 3\)/,
  );
});
