"""scikit-learn peer of bench/metrics.ts: the released MOS code's `get_measures` on the same scores.

Usage: python3 metrics_sklearn.py DIR REPS
DIR holds id.npy and ood.npy (float32 scores, higher = more in-distribution) written by
bench/metrics.ts. Times AUROC (roc_auc_score), AUPR-In and AUPR-Out (average_precision_score,
ID positive / OOD positive on negated scores) and FPR95 (Outlier Exposure's
fpr_and_fdr_at_recall in NumPy, the paper's rule), REPS times, and prints one JSON object
{"ms": median milliseconds of the four together, "min_ms", "metrics": {...}, "sklearn": version}.
"""
import json
import sys
import time

import numpy as np
import sklearn
from sklearn.metrics import average_precision_score, roc_auc_score


def stable_cumsum(arr):
    return np.cumsum(arr, dtype=np.float64)


def fpr_at_recall(y_true, y_score, recall_level=0.95):
    # Outlier Exposure / MOS get_measures: positives are ID (label 1).
    desc = np.argsort(y_score, kind="mergesort")[::-1]
    y_score = y_score[desc]
    y_true = y_true[desc]
    distinct = np.where(np.diff(y_score))[0]
    threshold_idxs = np.r_[distinct, y_true.size - 1]
    tps = stable_cumsum(y_true)[threshold_idxs]
    fps = 1 + threshold_idxs - tps
    recall = tps / tps[-1]
    last_ind = tps.searchsorted(tps[-1])
    sl = slice(last_ind, None, -1)
    recall, fps = np.r_[recall[sl], 1], np.r_[fps[sl], 0]
    cutoff = np.argmin(np.abs(recall - recall_level))
    return fps[cutoff] / (np.sum(np.logical_not(y_true)))


def measures(id_s, ood_s):
    scores = np.concatenate([id_s, ood_s]).astype(np.float64)
    labels = np.zeros(scores.size, dtype=np.int32)
    labels[: id_s.size] = 1
    return {
        "auroc": float(roc_auc_score(labels, scores)),
        "fpr95": float(fpr_at_recall(labels, scores)),
        "aupr_in": float(average_precision_score(labels, scores)),
        "aupr_out": float(average_precision_score(1 - labels, -scores)),
    }


def main(d, reps):
    id_s = np.load(f"{d}/id.npy")
    ood_s = np.load(f"{d}/ood.npy")
    times = []
    res = None
    for _ in range(reps):
        t = time.perf_counter()
        res = measures(id_s, ood_s)
        times.append((time.perf_counter() - t) * 1000.0)
    print(json.dumps({
        "ms": float(np.median(times)),
        "min_ms": float(np.min(times)),
        "metrics": res,
        "sklearn": sklearn.__version__,
    }))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
