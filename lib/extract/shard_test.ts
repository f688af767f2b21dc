import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { parseShard, shardRange } from "./shard.ts";

Deno.test("shardRange: contiguous, covering, sizes differ by at most one", () => {
  for (const total of [0, 1, 7, 16, 1000]) {
    for (const count of [1, 2, 3, 8, 20]) {
      let pos = 0;
      const sizes: number[] = [];
      for (let i = 0; i < count; i++) {
        const r = shardRange(total, { index: i, count });
        assert.equal(r.start, pos);
        sizes.push(r.end - r.start);
        pos = r.end;
      }
      assert.equal(pos, total);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
    }
  }
  assert.deepEqual(shardRange(10, { index: 1, count: 3 }), { start: 3, end: 6 });
});

Deno.test("parseShard: i/n, errors name the source", () => {
  assert.deepEqual(parseShard("2/5"), { index: 2, count: 5 });
  for (const bad of ["5/5", "1", "a/b", "-1/3", "0/0"]) {
    assert.throws(() => parseShard(bad), UsageError);
  }
  assert.throws(() => parseShard("5/5"), { message: "shard 5/5: need 0 <= i < n and n >= 1" });
  assert.throws(() => parseShard("x", "--shard"), {
    message: '--shard must look like i/n (e.g. 0/8), got "x"',
  });
});
