"""Binary-classification scores, vectorised for use inside training loops (scikit-learn is the reference)."""

from __future__ import annotations

import math

import numpy as np


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall step curve, Σ (Rₙ − Rₙ₋₁)·Pₙ over distinct score thresholds.

    Equals ``sklearn.metrics.average_precision_score`` (ties share one threshold) without its per-call
    validation overhead, which dominated a small GNN's epoch. NaN when ``y`` holds one class only.
    """
    y = np.asarray(y).astype(bool)
    positives = int(y.sum())
    if positives == 0 or positives == y.size:
        return math.nan
    order = np.argsort(-np.asarray(score, dtype=float), kind="mergesort")
    ranked, y_sorted = np.asarray(score, dtype=float)[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ranked)), y.size - 1]  # the last row of each distinct threshold
    true_pos = np.cumsum(y_sorted)[last]
    precision = true_pos / (last + 1)
    recall_step = np.diff(np.r_[0, true_pos]) / positives
    return float(np.sum(recall_step * precision))
