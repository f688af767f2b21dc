import assert from "node:assert/strict";
import { DataError } from "./errors.ts";
import type { Matrix } from "./matrix.ts";
import { matrixSource } from "./ort/linear.ts";
import { detectorByKey } from "./detectors/registry.ts";
import { randomHead, randomMatrix } from "./detectors/test_util.ts";
import {
  type DetectorSites,
  fixedEvaluate,
  heldoutEvaluate,
  searchOnVal,
  type TunableDetector,
} from "./scoring/heldout.ts";
import { checkFiniteLogits, checkFiniteScores, firstNonFinite, withSite } from "./numerics.ts";

/** The one line a guard throws; fails the test when `fn` does not throw a DataError. */
async function dataErrorOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof DataError, `expected a DataError, got ${e}`);
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    return e.message;
  }
  assert.fail("expected a DataError, nothing was thrown");
}

function includesAll(msg: string, parts: string[]): void {
  for (const p of parts) assert.ok(msg.includes(p), `"${p}" missing from: ${msg}`);
}

Deno.test("firstNonFinite: NaN and +-Infinity, not the float32 extremes", () => {
  assert.equal(firstNonFinite(new Float32Array([3.4e38, -3.4e38, 1e-45, 0])), -1);
  assert.equal(firstNonFinite(new Float32Array([1, 2, NaN, Infinity])), 2);
  assert.equal(firstNonFinite(new Float32Array([1, -Infinity])), 1);
  assert.equal(firstNonFinite(new Float64Array(0)), -1);
});

Deno.test("checkFiniteScores / checkFiniteLogits name method, set, file and the row", async () => {
  const site = { method: "energy", set: "sun", file: "/d/sun/features.npy" };
  checkFiniteScores(new Float32Array([1, -3.4e38, 3.4e38]), site);
  const features: Matrix = { data: new Float32Array([1, 2, 5e30, -7e30]), rows: 2, cols: 2 };
  const msg = await dataErrorOf(() =>
    checkFiniteScores(new Float32Array([0.5, Infinity]), site, features)
  );
  includesAll(msg, ["energy", `"sun"`, "/d/sun/features.npy", "row 1", "Infinity", "7.00e+30"]);

  const logits: Matrix = { data: new Float32Array([1, 2, 3, 4, NaN, 6]), rows: 2, cols: 3 };
  const lsite = { ...site, method: "msp, kl", weights: "/h/weight.npy" };
  const lmsg = await dataErrorOf(() => checkFiniteLogits(logits, lsite, { rowOffset: 40 }));
  // Row 1 of the chunk is row 41 of the file; output 1 of that row is the NaN.
  includesAll(lmsg, ["msp, kl", `"sun"`, "/d/sun/features.npy", "/h/weight.npy", "row 41"]);
  includesAll(lmsg, ["output 1 is NaN"]);
  checkFiniteLogits({ data: new Float32Array([3.4e38, -3.4e38]), rows: 1, cols: 2 }, lsite);
});

Deno.test("withSite: adds method, set and file to DataErrors of a fit, once", async () => {
  const site = { method: "rmds", set: "--train", file: "/t/features.npy" };
  const msg = await dataErrorOf(() =>
    withSite(site, () => {
      throw new DataError("the covariance is not finite");
    })
  );
  assert.equal(msg, `rmds on set "--train" (/t/features.npy): the covariance is not finite`);
  // A message that already names the file is left as it is.
  const named = await dataErrorOf(() =>
    withSite(site, () => Promise.reject(new DataError("/t/features.npy is bad")))
  );
  assert.equal(named, "/t/features.npy is bad");
  // Other errors pass unchanged; results pass through.
  await assert.rejects(() => withSite(site, () => Promise.reject(new RangeError("x"))), RangeError);
  assert.equal(await withSite(site, () => 7), 7);
});

/** Sets of a toy protocol: a name and numbers; the detector scores `value * row` per set. */
interface Toy {
  name: string;
  values: number[];
}

function toySets() {
  const mk = (name: string, values: number[]): Toy => ({ name, values });
  return {
    val: { id: mk("id-val", [3, 4, 5]), ood: mk("ood-val", [0, 1, 2]) },
    test: {
      id: mk("id", [3, 5, 6]),
      ood: [{ name: "sun", data: mk("sun", [1, 2]) }, { name: "big", data: mk("big", [1, 0]) }],
    },
  };
}

/** A detector whose score of set `big` is NaN (as an overflowed kernel would return). */
function toyDetector(candidates: number[]): TunableDetector<number, number, Toy> {
  return {
    candidates,
    fit: (p) => p,
    score: (m, d) =>
      Float32Array.from(d.values, (v) => (d.name === "big" && v === 0 ? NaN : v * m)),
  };
}

const sites: DetectorSites<Toy> = {
  method: "toy",
  describe: (d) => ({ set: d.name, file: `/data/${d.name}/features.npy` }),
};

Deno.test("detector runners: a NaN score of a test set is one error naming it", async () => {
  const { val, test } = toySets();
  for (
    const run of [
      () => heldoutEvaluate(toyDetector([1, 2]), val, test, sites),
      () => fixedEvaluate(toyDetector([1]), 1, val, test, sites),
    ]
  ) {
    const msg = await dataErrorOf(run);
    includesAll(msg, ["toy", `"big"`, "/data/big/features.npy", "row 1", "NaN"]);
  }
  // Without sites the guard still runs and names the set by its protocol role.
  const msg = await dataErrorOf(() => heldoutEvaluate(toyDetector([1]), val, test));
  includesAll(msg, ["big", "row 1"]);
  // Finite scores pass and are returned unchanged.
  const okTest = { id: test.id, ood: [test.ood[0]] };
  const r = await fixedEvaluate(toyDetector([1]), 2, val, okTest, sites);
  assert.deepEqual(Array.from(r.scores.id), [6, 10, 12]);
  assert.deepEqual(Array.from(r.scores.ood.get("sun")!), [2, 4]);
});

Deno.test("detector runners: a NaN score during the search and fit errors are named", async () => {
  const { val } = toySets();
  const badVal = { id: val.id, ood: { name: "big", values: [0, 1] } };
  const msg = await dataErrorOf(() => searchOnVal(toyDetector([1, 2]), badVal, sites));
  includesAll(msg, ["toy", `"big"`, "/data/big/features.npy"]);

  const failing: TunableDetector<number, number, Toy> = {
    ...toyDetector([1]),
    fit: () => {
      throw new DataError("the covariance is not finite");
    },
  };
  const fitSites = { ...sites, fit: { set: "--train", file: "/data/train/features.npy" } };
  const fmsg = await dataErrorOf(() =>
    fixedEvaluate(failing, 1, val, { id: val.id, ood: [] }, fitSites)
  );
  assert.equal(
    fmsg,
    `toy on set "--train" (/data/train/features.npy): the covariance is not finite`,
  );
});

Deno.test("detector runners: registry detectors on features of 1e30 stop with one named error", async () => {
  // RMDS: squared distances of 1e30 features overflow float32, so its scores are NaN; MLS reads
  // logits that overflowed. Both must stop in the runner, not reach a metric.
  const D = 8;
  const C = 4;
  const head = randomHead(5, C, D, 0.5);
  const train = randomMatrix(6, 80, D, { relu: true });
  const labels = Int32Array.from({ length: 80 }, (_, i) => i % C);
  const val = randomMatrix(7, 20, D, { relu: true });
  const huge = randomMatrix(8, 10, D, { relu: true, scale: 1e30 });
  const set = (name: string, features: Matrix, logits: Matrix) => ({ name, features, logits });
  const zeros = (rows: number, cols: number): Matrix => ({
    data: new Float32Array(rows * cols),
    rows,
    cols,
  });
  // Logits as a float32 GEMM leaves them: the huge rows' are infinite.
  const infLogits: Matrix = { ...zeros(10, C), data: new Float32Array(10 * C).fill(Infinity) };
  const setSites: DetectorSites<ReturnType<typeof set>> = {
    method: "",
    describe: (d) => ({ set: d.name, file: `/data/${d.name}/features.npy` }),
  };
  for (const key of ["rmds", "mls"]) {
    const det = detectorByKey(key);
    const tunable = {
      candidates: [{}],
      fit: () =>
        det.fit({
          head,
          train: { features: matrixSource(train), labels },
          chunk: { chunkRows: 32 },
        }),
      score: (m: unknown, d: ReturnType<typeof set>) => det.score(m, d.features, d.logits),
    };
    const v = set("id-val", val, zeros(20, C));
    const msg = await dataErrorOf(() =>
      fixedEvaluate(tunable, {}, { id: v, ood: v }, {
        id: v,
        ood: [{ name: "huge", data: set("huge", huge, infLogits) }],
      }, { ...setSites, method: key })
    );
    includesAll(msg, [key, `"huge"`, "/data/huge/features.npy"]);
  }
});
