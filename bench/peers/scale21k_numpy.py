"""NumPy / PyTorch peer of bench/scale21k.ts: one computation of the ImageNet-21k case per process.

Usage: python3 scale21k_numpy.py NAME DIR THREADS
NAME: msp | odin | energy | mos | kl | mahalanobis (NumPy, features streamed in 2048-row chunks
from DIR/features.npy, memory-mapped; logits per chunk as in ours), floor (the training step's two
products X W^T and G^T X in NumPy's OpenBLAS), step (one PyTorch SGD step of the group head:
mixup, per-group log-softmax, soft-target cross-entropy, momentum 0.9). KL templates are seeded
softmax rows made here (21,843 x 21,843 float32, 1.9 GB; their log once more, as the released code
keeps both). Prints one JSON line: {"ms": ..., "rss_mb": ...} (VmHWM, see peak_rss_mb).
"""
import json
import sys
import time

import numpy as np

CHUNK = 2048
B = 512


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def chunks(d):
    x = np.load(f"{d}/features.npy", mmap_mode="r")
    for s in range(0, x.shape[0], CHUNK):
        yield np.ascontiguousarray(x[s:s + CHUNK])


def per_chunk(d, weight, fn):
    w = np.load(f"{d}/{weight}.npy")
    t = time.perf_counter()
    for x in chunks(d):
        fn(x @ w.T)
    return (time.perf_counter() - t) * 1000.0


def mos(d):
    sizes = np.load(f"{d}/group_sizes.npy")

    def score(z):
        others, start = [], 0
        for n in sizes:
            others.append(softmax(z[:, start:start + n + 1])[:, 0])
            start += n + 1
        return -np.min(np.stack(others, axis=1), axis=1)

    return per_chunk(d, "group_weight", score)


def kl(d):
    c = np.load(f"{d}/weight.npy", mmap_mode="r").shape[0]
    rng = np.random.default_rng(2)
    t = np.empty((c, c), dtype=np.float32)
    for s in range(0, c, 1024):
        r = np.exp(3 * rng.random((min(1024, c - s), c), dtype=np.float32))
        r[np.arange(r.shape[0]), s + np.arange(r.shape[0])] *= np.float32(np.exp(8))
        t[s:s + r.shape[0]] = r / r.sum(axis=1, keepdims=True)
    logt = np.log(np.maximum(t, np.float32(1.401298464324817e-45))).T.copy()

    def score(z):
        p = softmax(z).astype(np.float32)
        neg = np.sum(p * np.log(np.maximum(p, np.float32(1e-37))), axis=1)
        return (p @ logt).max(axis=1) - neg

    return per_chunk(d, "weight", score)


def mahalanobis(d):
    means = np.load(f"{d}/means.npy")
    prec = np.load(f"{d}/precision.npy")
    t = time.perf_counter()
    mp = means @ prec
    mq = np.sum(mp * means, axis=1)
    for x in chunks(d):
        quad = np.sum((x @ prec) * x, axis=1)
        dist = quad[:, None] - 2 * (x @ mp.T) + mq[None, :]
        dist.min(axis=1)
    return (time.perf_counter() - t) * 1000.0


def floor(d):
    w = np.load(f"{d}/group_weight.npy")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((B, w.shape[1]), dtype=np.float32)
    gt = rng.standard_normal((w.shape[0], B), dtype=np.float32) * np.float32(0.001)
    times = []
    for i in range(8):
        t = time.perf_counter()
        x @ w.T
        gt @ x
        if i >= 2:
            times.append((time.perf_counter() - t) * 1000.0)
    return float(np.median(times))


def step(d, threads):
    import torch
    torch.set_num_threads(threads)
    sizes = [int(n) for n in np.load(f"{d}/group_sizes.npy")]
    w0 = np.load(f"{d}/group_weight.npy")
    o, dim = w0.shape
    head = torch.nn.Linear(dim, o)
    opt = torch.optim.SGD(head.parameters(), lr=0.003, momentum=0.9)
    g = torch.Generator().manual_seed(5)
    x = torch.relu(torch.randn(B, dim, generator=g))
    targets = torch.zeros(B, o)
    targets[:, 0] = 1.0
    times = []
    for i in range(8):
        t = time.perf_counter()
        lam = 0.9
        perm = torch.randperm(B, generator=g)
        xm = lam * x + (1 - lam) * x[perm]
        z = head(xm)
        loss, start = 0.0, 0
        for n in sizes:
            ls = torch.log_softmax(z[:, start:start + n + 1], dim=1)
            tg = lam * targets[:, start:start + n + 1] + (1 - lam) * targets[perm, start:start + n + 1]
            loss = loss - (tg * ls).sum() / B
            start += n + 1
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append((time.perf_counter() - t) * 1000.0)
    return float(np.median(times))


def peak_rss_mb():
    """VmHWM of this process, as ours reports it. Not ru_maxrss: Linux carries a process's
    maxrss across exec, so a child forked from the bench would report the bench's own RSS."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main(name, d, threads):
    if name == "msp":
        ms = per_chunk(d, "weight", lambda z: softmax(z).max(axis=1))
    elif name == "odin":
        ms = per_chunk(d, "weight", lambda z: softmax(z / np.float32(1000)).max(axis=1))
    elif name == "energy":
        def energy(z):
            m = z.max(axis=1, keepdims=True)
            return m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
        ms = per_chunk(d, "weight", energy)
    elif name == "mos":
        ms = mos(d)
    elif name == "kl":
        ms = kl(d)
    elif name == "mahalanobis":
        ms = mahalanobis(d)
    elif name == "floor":
        ms = floor(d)
    elif name == "step":
        ms = step(d, threads)
    else:
        raise SystemExit(f"unknown computation {name}")
    print(json.dumps({"ms": ms, "rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
