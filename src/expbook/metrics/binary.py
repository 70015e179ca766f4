"""Binary-classification scores, vectorised for use inside training loops (scikit-learn is the reference):
average precision, AUROC, the F1-best threshold chosen on validation data, and scores at a given threshold."""

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


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties counting one half — the
    Mann-Whitney U / (n₊·n₋) from average ranks. Equals ``sklearn.metrics.roc_auc_score``; NaN for one class."""
    from expbook.metrics.ranking import average_ranks

    y = np.asarray(y).astype(bool)
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return math.nan
    ranks = average_ranks(np.asarray(score, dtype=float))
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def best_f1_threshold(y: np.ndarray, score: np.ndarray) -> float:
    """The score threshold (predict 1 when score ≥ it) with the best F1 on ``y``; ties go to the higher threshold.

    Every distinct score is a candidate, as in ``sklearn.metrics.precision_recall_curve``; F1 = 2PR / (P + R)
    computed as scikit-learn does, so the same threshold is chosen. Choose it on validation data, never on test.
    """
    y = np.asarray(y).astype(bool)
    order = np.argsort(-np.asarray(score, dtype=float), kind="mergesort")
    ranked = np.asarray(score, dtype=float)[order]
    last = np.r_[np.flatnonzero(np.diff(ranked)), y.size - 1]  # the last row of each distinct threshold
    true_pos = np.cumsum(y[order])[last]
    precision, recall = true_pos / (last + 1), true_pos / max(int(y.sum()), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    best = np.flatnonzero(f1 == f1.max())
    return float(ranked[last[best[0]]])  # thresholds descend: the first tie is the highest


def threshold_scores(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    """AUPR, AUROC, and F1 / precision / recall of ``score ≥ threshold`` (a threshold chosen elsewhere)."""
    y = np.asarray(y).astype(bool)
    predicted = np.asarray(score) >= threshold
    true_pos, predicted_pos, actual_pos = int((y & predicted).sum()), int(predicted.sum()), int(y.sum())
    precision = true_pos / predicted_pos if predicted_pos else 0.0
    recall = true_pos / actual_pos if actual_pos else 0.0
    f1 = 2 * true_pos / (predicted_pos + actual_pos) if predicted_pos + actual_pos else 0.0
    return {"aupr": average_precision(y, score), "auroc": roc_auc(y, score), "f1": f1, "precision": precision,
            "recall": recall, "threshold": float(threshold)}
