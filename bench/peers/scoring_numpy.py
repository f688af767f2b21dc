"""NumPy peer of bench/scoring.ts: the same kernels on the same .npy inputs, timed here.

Usage: python3 scoring_numpy.py DIR [TRAIN_NPY]
DIR holds what bench/scoring.ts wrote: features.npy (N x D eval features), weight.npy (C x D),
bias.npy (C), group_weight.npy / group_bias.npy / group_sizes.npy (the MOS head: groups of
consecutive classes, each slice led by its "others" output), id_labels.npy (the first rows' class
labels), templates.npy (C x C), means.npy (C x D), precision.npy (D x D), train.npy (M x D, or
TRAIN_NPY: any float32 / float16 .npy, memory-mapped) and train_labels.npy (M int32). Prints one
JSON object of milliseconds (and checksums) to stdout. Each score is the idiomatic NumPy
formulation of the released MOS code's (softmax via exp / sum, logsumexp with the max shift). bench/peer_env.ts sets OPENBLAS_CORETYPE from the CPU flags (SkylakeX with avx512f, Haswell with avx2).
"""
import json
import sys
import time

import numpy as np


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t) * 1000.0


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main(d, train_path=None):
    x, load_ms = timed(lambda: np.load(f"{d}/features.npy"))
    gw = np.load(f"{d}/group_weight.npy")
    gb = np.load(f"{d}/group_bias.npy")
    sizes = np.load(f"{d}/group_sizes.npy")
    id_labels = np.load(f"{d}/id_labels.npy")
    w = np.load(f"{d}/weight.npy")
    b = np.load(f"{d}/bias.npy")
    t = np.load(f"{d}/templates.npy")
    means = np.load(f"{d}/means.npy")
    prec = np.load(f"{d}/precision.npy")
    train = np.load(train_path or f"{d}/train.npy", mmap_mode="r")
    labels = np.load(f"{d}/train_labels.npy")
    res = {"load": load_ms}

    logits, res["linear"] = timed(lambda: x @ w.T + b)
    glogits, res["group_linear"] = timed(lambda: x @ gw.T + gb)
    msps, res["msp"] = timed(lambda: softmax(logits).max(axis=1))
    _, res["odin"] = timed(lambda: softmax(logits / np.float32(1000)).max(axis=1))

    def energy():
        m = logits.max(axis=1, keepdims=True)
        return (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]

    energies, res["energy"] = timed(energy)

    def mos():
        others = []
        start = 0
        for n in sizes:
            others.append(softmax(glogits[:, start:start + n + 1])[:, 0])
            start += n + 1
        return -np.min(np.stack(others, axis=1), axis=1)

    moss, res["mos"] = timed(mos)

    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    floor = np.float32(1.401298464324817e-45)
    ok = ~np.isnan(t).any(axis=1)
    logt = np.log(np.maximum(t[ok], floor)).T.copy()

    def kl():
        neg = np.sum(p * np.log(np.maximum(p, np.float32(1e-37))), axis=1)
        return (p @ logt).max(axis=1) - neg

    kls, res["kl"] = timed(kl)

    def kl_full():
        # The whole KL-matching score from logits: softmax, class templates from the ID rows
        # (mean probability per label), then the matching itself.
        pr = softmax(logits).astype(np.float32)
        n_id = id_labels.shape[0]
        c = logits.shape[1]
        order = np.argsort(id_labels, kind="stable")
        ls = id_labels[order]
        starts = np.flatnonzero(np.r_[True, ls[1:] != ls[:-1]])
        sums = np.zeros((c, c))
        sums[ls[starts]] = np.add.reduceat(pr[:n_id][order], starts, axis=0, dtype=np.float64)
        counts = np.bincount(id_labels, minlength=c)
        tm = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
        lt = np.log(np.maximum(tm[counts > 0], floor)).T.copy()
        neg = np.sum(pr * np.log(np.maximum(pr, np.float32(1e-37))), axis=1)
        return (pr @ lt).max(axis=1) - neg

    _, res["kl_full"] = timed(kl_full)

    def maha():
        g = means.mean(axis=0, dtype=np.float64).astype(np.float32)
        mc = means - g
        q = mc @ prec
        m = np.sum(mc * q, axis=1)
        out = np.empty(x.shape[0], np.float32)
        for s in range(0, x.shape[0], 8192):
            xc = x[s:s + 8192] - g
            quad = np.sum((xc @ prec) * xc, axis=1, keepdims=True)
            # The released code's scale: -0.5 x the smallest squared distance.
            out[s:s + 8192] = -0.5 * (quad - 2.0 * (xc @ q.T) + m).min(axis=1)
        return out

    ms, res["mahalanobis"] = timed(maha)

    c = means.shape[0]
    dim = train.shape[1]

    def class_means():
        sums = np.zeros((c, dim))
        for s in range(0, train.shape[0], 8192):
            # Sort the chunk by label and sum each run: much faster than np.add.at.
            lab = labels[s:s + 8192]
            order = np.argsort(lab, kind="stable")
            ls = lab[order]
            starts = np.flatnonzero(np.r_[True, ls[1:] != ls[:-1]])
            sums[ls[starts]] += np.add.reduceat(
                np.asarray(train[s:s + 8192])[order], starts, axis=0, dtype=np.float64)
        counts = np.bincount(labels, minlength=c).astype(np.float64)
        return sums / counts[:, None]

    mu, res["class_means"] = timed(class_means)

    def scatter():
        acc = np.zeros((dim, dim))
        mu32 = mu.astype(np.float32)
        for s in range(0, train.shape[0], 8192):
            xc = train[s:s + 8192] - mu32[labels[s:s + 8192]]
            acc += xc.T @ xc
        return acc

    sc, res["scatter"] = timed(scatter)
    cov = sc / train.shape[0]

    def inverse():
        lc = np.linalg.cholesky(cov)
        wi = np.linalg.inv(lc)
        return wi.T @ wi

    _, res["inverse"] = timed(inverse)
    res["checksum"] = {
        "linear": float(np.float64(logits[:4].sum())),
        "kl": float(np.float64(kls[:4].sum())),
        "mahalanobis": float(np.float64(ms[:4].sum())),
        "msp": float(np.float64(msps[:4].sum())),
        "energy": float(np.float64(energies[:4].sum())),
        "mos": float(np.float64(moss[:4].sum())),
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
