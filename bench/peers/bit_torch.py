"""PyTorch peer of bench/extract.ts: BiT-R50x1 (any BiT ResNet-v2 layout) CPU inference.

Usage: python3 bit_torch.py WEIGHTS.npz INPUT.npy FEATURES_OUT.npy BATCHES THREADS [ONNX_OUT]

The model follows google-research/big_transfer's bit_pytorch/models.py: StdConv2d standardises
its weight in every forward (mean and biased variance over I, H, W; eps 1e-10), GroupNorm(32,
eps 1e-5), pre-activation bottleneck units with the stride on the 3x3 conv and the projection fed
by the pre-activated input, a root of conv7x7/2 + ConstantPad2d(1, 0) + MaxPool2d(3, 2), and a
head of GroupNorm + ReLU + global average pool (the penultimate features MOS uses). Weights come
from a BiT-layout .npz (HWIO kernels, transposed to OIHW as bit_pytorch's tf2th does).

INPUT.npy is one float32 (N, 3, H, W) batch. The script runs it once to warm up, writes that
batch's features to FEATURES_OUT.npy, then times BATCHES more runs of it. With ONNX_OUT, the same
torch model is also exported there with torch.onnx.export (opset 13, dynamic batch) so the caller
can time it in its own onnxruntime. Prints one JSON object: {"median_ms", "min_ms", "img_s",
"torch", "threads", "onnx": path or null, "onnx_error": message or null}.
Run with OMP_NUM_THREADS = THREADS; bench/peer_env.ts sets OPENBLAS_CORETYPE from the CPU flags.
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class StdConv2d(nn.Conv2d):
    def forward(self, x):
        w = self.weight
        v, m = torch.var_mean(w, dim=[1, 2, 3], keepdim=True, unbiased=False)
        w = (w - m) / torch.sqrt(v + 1e-10)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


def conv3x3(cin, cout, stride=1):
    return StdConv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(cin, cout, stride=1):
    return StdConv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


def tf2th(a):
    if a.ndim == 4:
        a = a.transpose([3, 2, 0, 1])
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


class PreActBottleneck(nn.Module):
    def __init__(self, cin, cout, cmid, stride):
        super().__init__()
        self.gn1 = nn.GroupNorm(32, cin)
        self.conv1 = conv1x1(cin, cmid)
        self.gn2 = nn.GroupNorm(32, cmid)
        self.conv2 = conv3x3(cmid, cmid, stride)
        self.gn3 = nn.GroupNorm(32, cmid)
        self.conv3 = conv1x1(cmid, cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = conv1x1(cin, cout, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        out = self.relu(self.gn1(x))
        residual = self.downsample(out) if self.downsample is not None else x
        out = self.conv1(out)
        out = self.conv2(self.relu(self.gn2(out)))
        out = self.conv3(self.relu(self.gn3(out)))
        return out + residual

    def load_from(self, w, prefix):
        with torch.no_grad():
            self.conv1.weight.copy_(tf2th(w[prefix + "a/standardized_conv2d/kernel"]))
            self.conv2.weight.copy_(tf2th(w[prefix + "b/standardized_conv2d/kernel"]))
            self.conv3.weight.copy_(tf2th(w[prefix + "c/standardized_conv2d/kernel"]))
            self.gn1.weight.copy_(tf2th(w[prefix + "a/group_norm/gamma"]))
            self.gn2.weight.copy_(tf2th(w[prefix + "b/group_norm/gamma"]))
            self.gn3.weight.copy_(tf2th(w[prefix + "c/group_norm/gamma"]))
            self.gn1.bias.copy_(tf2th(w[prefix + "a/group_norm/beta"]))
            self.gn2.bias.copy_(tf2th(w[prefix + "b/group_norm/beta"]))
            self.gn3.bias.copy_(tf2th(w[prefix + "c/group_norm/beta"]))
            if self.downsample is not None:
                self.downsample.weight.copy_(
                    tf2th(w[prefix + "a/proj/standardized_conv2d/kernel"]))


class ResNetV2Features(nn.Module):
    """BiT ResNet-v2 up to the pooled penultimate features (the head's 1x1 conv is not needed)."""

    def __init__(self, units, root):
        super().__init__()
        self.root = nn.Sequential(
            StdConv2d(3, root, kernel_size=7, stride=2, padding=3, bias=False),
            nn.ConstantPad2d(1, 0),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=0),
        )
        blocks = []
        cin = root
        for b, n in enumerate(units):
            cmid = root * 2 ** b
            cout = 4 * cmid
            unit_list = []
            for u in range(n):
                stride = 2 if b > 0 and u == 0 else 1
                unit_list.append(PreActBottleneck(cin, cout, cmid, stride))
                cin = cout
            blocks.append(nn.Sequential(*unit_list))
        self.body = nn.Sequential(*blocks)
        self.head_gn = nn.GroupNorm(32, cin)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.body(self.root(x))
        x = self.relu(self.head_gn(x))
        return x.mean(dim=(2, 3))

    def load_from(self, w, prefix="resnet/"):
        with torch.no_grad():
            self.root[0].weight.copy_(tf2th(w[prefix + "root_block/standardized_conv2d/kernel"]))
            self.head_gn.weight.copy_(tf2th(w[prefix + "group_norm/gamma"]))
            self.head_gn.bias.copy_(tf2th(w[prefix + "group_norm/beta"]))
            for b, block in enumerate(self.body):
                for u, unit in enumerate(block):
                    unit.load_from(w, f"{prefix}block{b + 1}/unit{u + 1:02d}/")


def layout(w, prefix="resnet/"):
    root = w[prefix + "root_block/standardized_conv2d/kernel"].shape[3]
    units = []
    for b in range(1, 5):
        n = 0
        while f"{prefix}block{b}/unit{n + 1:02d}/a/group_norm/gamma" in w:
            n += 1
        units.append(n)
    return units, root


def main():
    weights_path, input_path, features_path = sys.argv[1:4]
    batches, threads = int(sys.argv[4]), int(sys.argv[5])
    onnx_path = sys.argv[6] if len(sys.argv) > 6 else None
    torch.set_num_threads(threads)
    w = dict(np.load(weights_path))
    units, root = layout(w)
    model = ResNetV2Features(units, root).eval()
    model.load_from(w)
    x = torch.from_numpy(np.load(input_path).astype(np.float32))
    with torch.no_grad():
        feats = model(x)
        np.save(features_path, feats.numpy())
        times = []
        for _ in range(batches):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    med = times[len(times) // 2]
    onnx_error = None
    if onnx_path:
        try:
            torch.onnx.export(model, x, onnx_path, opset_version=13, input_names=["images"],
                              output_names=["features"],
                              dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}})
        except Exception as e:  # noqa: BLE001 - any export failure only drops the ORT row
            onnx_error = f"{type(e).__name__}: {e}".splitlines()[0]
            onnx_path = None
    print(json.dumps({
        "median_ms": med,
        "min_ms": times[0],
        "img_s": x.shape[0] / (med / 1000),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "onnx": onnx_path,
        "onnx_error": onnx_error,
    }))


if __name__ == "__main__":
    main()
