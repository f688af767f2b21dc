import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import {
  bitKeyOf,
  bitWeightsFromStateDict,
  findStateDict,
  headFromStateDict,
  oihwToHwio,
} from "./bit_state_dict.ts";
import { torchHeadInfo } from "./import_model.ts";
import type { TorchTensor } from "./tensor.ts";

/** A contiguous float32 tensor over `values`. */
function tensor(shape: number[], values?: number[]): TorchTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(values ?? Array.from({ length: n }, (_, i) => i));
  const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return {
    kind: "tensor",
    storage: {
      kind: "storage",
      key: "0",
      type: { kind: "storage_type", name: "FloatStorage", dtype: "float32", itemSize: 4 },
      numel: n,
      bytes: new Uint8Array(data.buffer),
      littleEndian: true,
    },
    offset: 0,
    shape,
    stride,
  };
}

Deno.test("bitKeyOf: the authors' names map to BiT's npz keys", () => {
  assert.equal(bitKeyOf("root.conv.weight"), "resnet/root_block/standardized_conv2d/kernel");
  assert.equal(
    bitKeyOf("body.block3.unit17.downsample.weight"),
    "resnet/block3/unit17/a/proj/standardized_conv2d/kernel",
  );
  assert.equal(bitKeyOf("body.block1.unit01.gn2.bias"), "resnet/block1/unit01/b/group_norm/beta");
  assert.equal(
    bitKeyOf("body.block4.unit03.conv3.weight"),
    "resnet/block4/unit03/c/standardized_conv2d/kernel",
  );
  assert.equal(bitKeyOf("before_head.gn.weight"), "resnet/group_norm/gamma");
  assert.equal(bitKeyOf("head.conv.bias"), "resnet/head/conv2d/bias");
  assert.equal(bitKeyOf("body.block5.unit01.conv1.weight"), null);
  assert.equal(bitKeyOf("fc.weight"), null);
});

Deno.test("oihwToHwio: a 2x3x1x2 kernel by hand", () => {
  // src[o][i][0][x] = 100 o + 10 i + x
  const src: number[] = [];
  for (let o = 0; o < 2; o++) {
    for (let i = 0; i < 3; i++) for (let x = 0; x < 2; x++) src.push(100 * o + 10 * i + x);
  }
  const out = oihwToHwio(new Float32Array(src), [2, 3, 1, 2]);
  // out[0][x][i][o]
  const want: number[] = [];
  for (let x = 0; x < 2; x++) {
    for (let i = 0; i < 3; i++) for (let o = 0; o < 2; o++) want.push(100 * o + 10 * i + x);
  }
  assert.deepEqual([...out], want);
});

Deno.test("findStateDict: {step, model, optim}, module. prefixes, bare dicts", () => {
  const t = tensor([2]);
  const model = new Map<string, unknown>([["module.head.conv.bias", t]]);
  const ckpt = new Map<string, unknown>([["step", 5], ["model", model], ["optim", new Map()]]);
  assert.deepEqual([...findStateDict(ckpt, "c.pth").keys()], ["head.conv.bias"]);
  assert.deepEqual([...findStateDict(new Map([["a", t]]), "c.pth").keys()], ["a"]);
  const both = new Map<string, unknown>([["module.a", t], ["a", t]]);
  assert.throws(() => findStateDict(both, "c.pth"), /'a' appears both with and without/);
  assert.throws(() => findStateDict([1, 2], "c.pth"), /holds no state dict/);
  assert.throws(() => findStateDict(new Map([["a", 3]]), "c.pth"), /'a' is not a tensor/);
});

Deno.test("bitWeightsFromStateDict: OIHW kernels become HWIO, foreign names are refused", () => {
  const sd = new Map([
    ["root.conv.weight", tensor([4, 3, 7, 7])],
    ["before_head.gn.bias", tensor([4], [1, 2, 3, 4])],
  ]);
  const w = bitWeightsFromStateDict(sd, "c.pth");
  const root = w.get("resnet/root_block/standardized_conv2d/kernel")!;
  assert.deepEqual(root.shape, [7, 7, 3, 4]);
  // HWIO [y=1][x=2][i=1][o=3] = OIHW [3][1][1][2] = ((3 * 3 + 1) * 7 + 1) * 7 + 2
  assert.equal(
    (root.data as Float32Array)[((1 * 7 + 2) * 3 + 1) * 4 + 3],
    ((3 * 3 + 1) * 7 + 1) * 7 + 2,
  );
  assert.deepEqual([...(w.get("resnet/group_norm/beta")!.data as Float32Array)], [1, 2, 3, 4]);
  sd.set("layer1.0.conv1.weight", tensor([1]));
  assert.throws(() => bitWeightsFromStateDict(sd, "c.pth"), (e: Error) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /'layer1\.0\.conv1\.weight' is not part of the MOS authors' ResNetV2/);
    return true;
  });
});

Deno.test("headFromStateDict and torchHeadInfo: flat 1000, group 1008, others refused", () => {
  const sd = new Map([["head.conv.weight", tensor([3, 2, 1, 1])], [
    "head.conv.bias",
    tensor([3], [7, 8, 9]),
  ]]);
  const h = headFromStateDict(sd, "c.pth")!;
  assert.deepEqual([h.rows, h.cols, [...h.weight], [...h.bias]], [3, 2, [0, 1, 2, 3, 4, 5], [
    7,
    8,
    9,
  ]]);
  assert.equal(headFromStateDict(new Map(), "c.pth"), null);
  sd.delete("head.conv.bias");
  assert.throws(() => headFromStateDict(sd, "c.pth"), /only one of head\.conv\.weight/);

  const groups = [[0, 2], [1]];
  assert.deepEqual(torchHeadInfo(3, groups, 3, "c"), { kind: "flat", num_classes: 3, groups: [] });
  assert.deepEqual(torchHeadInfo(5, groups, 3, "c"), { kind: "group", num_classes: 3, groups });
  assert.throws(() => torchHeadInfo(4, groups, 3, "c"), /4 outputs.*import it without a head/);
  assert.throws(() => torchHeadInfo(4, groups, 3, "c", "pass --head none"), /; pass --head none$/);
});
