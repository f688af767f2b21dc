"""NumPy peer of bench/scoring.ts: the same kernels on the same .npy inputs, timed here.

Usage: python3 scoring_numpy.py DIR
DIR holds what bench/scoring.ts wrote: features.npy (N x D eval features), weight.npy (C x D),
bias.npy (C), templates.npy (C x C), means.npy (C x D), precision.npy (D x D), train.npy
(M x D), train_labels.npy (M int32). Prints one JSON object of milliseconds (and checksums) to
stdout. Run it with OPENBLAS_CORETYPE=SkylakeX so OpenBLAS picks its AVX-512 kernels.
"""
import json
import sys
import time

import numpy as np


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t) * 1000.0


def main(d):
    x = np.load(f"{d}/features.npy")
    w = np.load(f"{d}/weight.npy")
    b = np.load(f"{d}/bias.npy")
    t = np.load(f"{d}/templates.npy")
    means = np.load(f"{d}/means.npy")
    prec = np.load(f"{d}/precision.npy")
    train = np.load(f"{d}/train.npy", mmap_mode="r")
    labels = np.load(f"{d}/train_labels.npy")
    res = {}

    logits, res["linear"] = timed(lambda: x @ w.T + b)

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

    def maha():
        g = means.mean(axis=0, dtype=np.float64).astype(np.float32)
        mc = means - g
        q = mc @ prec
        m = np.sum(mc * q, axis=1)
        out = np.empty(x.shape[0], np.float32)
        for s in range(0, x.shape[0], 8192):
            xc = x[s:s + 8192] - g
            quad = np.sum((xc @ prec) * xc, axis=1, keepdims=True)
            out[s:s + 8192] = -(quad - 2.0 * (xc @ q.T) + m).min(axis=1)
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
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main(sys.argv[1])
