"""Multi-class scores from confusion matrices, vectorised over any leading axes (records, bootstrap replicates).

A confusion matrix has the true class on its rows and the predicted class on its columns. Every score here is a
function of it, so a cluster bootstrap can resample per-record matrices (``metrics.bootstrap.cluster_sums``) and
score thousands of replicates at once. scikit-learn's ``confusion_matrix`` and ``precision_recall_fscore_support``
are the reference (tested).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, *, groups: np.ndarray | None = None) -> np.ndarray:
    """(K, K) counts of (true, predicted) class pairs, or (G, K, K) per group (``groups``: 0..G-1 per row).

    One ``np.bincount`` over the flattened (group, true, predicted) index: no loop over rows or groups.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if groups is None:
        return np.bincount(y_true * n_classes + y_pred, minlength=n_classes**2).reshape(n_classes, n_classes)
    groups = np.asarray(groups, dtype=np.int64)
    n_groups = int(groups.max()) + 1 if groups.size else 0
    flat = (groups * n_classes + y_true) * n_classes + y_pred
    return np.bincount(flat, minlength=n_groups * n_classes**2).reshape(n_groups, n_classes, n_classes)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)


def precision(matrix: np.ndarray, *, zero_division: float = 0.0) -> np.ndarray:
    """(..., K) TP / predicted; ``zero_division`` for a class never predicted (scikit-learn's default 0; NaN where
    an undefined PPV must not count as a zero)."""
    predicted = matrix.sum(axis=-2)
    return np.where(predicted > 0, _divide(np.diagonal(matrix, axis1=-2, axis2=-1), predicted), zero_division)


def recall(matrix: np.ndarray) -> np.ndarray:
    """(..., K) TP / true; NaN for a class absent from the truth (its recall is undefined, not zero)."""
    truth = matrix.sum(axis=-1)
    return np.where(truth > 0, _divide(np.diagonal(matrix, axis1=-2, axis2=-1), truth), np.nan)


def f1(matrix: np.ndarray) -> np.ndarray:
    """(..., K) F1 = 2·TP / (2·TP + FP + FN) = 2·TP / (true + predicted); NaN for a class absent from the truth,
    0 for a present class never predicted correctly."""
    truth, predicted = matrix.sum(axis=-1), matrix.sum(axis=-2)
    return np.where(truth > 0, _divide(2 * np.diagonal(matrix, axis1=-2, axis2=-1), truth + predicted), np.nan)


def mean_f1(matrix: np.ndarray, classes: list[int] | None = None) -> np.ndarray:
    """(...) mean F1 over ``classes`` (default: all) that are present in the truth; NaN when none is.

    Macro-F1 is ``mean_f1(m)``; the class-imbalance report's rare-F1 is ``mean_f1(m, [S, V])``.
    """
    scores = f1(matrix)
    if classes is not None:
        scores = scores[..., list(classes)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a replicate without any of the classes: NaN, dropped later
        return np.nanmean(scores, axis=-1)


def predicted_shares(y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(K,) share of the predictions in each class."""
    return np.bincount(np.asarray(y_pred, dtype=np.int64), minlength=n_classes) / max(np.size(y_pred), 1)


@dataclass(frozen=True)
class Collapse:
    """The collapse detector's finding on one prediction vector: how far the predicted class shares are from the
    prior (total-variation distance, in [0, 1]), the classes over-predicted and the classes (almost) never predicted."""

    collapsed: bool
    distance: float
    over_predicted: tuple[str, ...]
    never_predicted: tuple[str, ...]
    shares: np.ndarray
    prior: np.ndarray
    classes: tuple[str, ...]

    @property
    def least_ratio(self) -> float:
        """The smallest predicted share ÷ prior share over the classes present: 0 when one is never predicted."""
        present = self.prior > 0
        return float(np.min(self.shares[present] / self.prior[present])) if present.any() else float("nan")

    def describe(self) -> str:
        index = self.classes.index
        parts = [f"{c} predicted {self.shares[index(c)]:.1%} vs prior {self.prior[index(c)]:.1%}"
                 for c in self.over_predicted]
        parts += [f"{c} never predicted (prior {self.prior[index(c)]:.1%})" for c in self.never_predicted]
        return "; ".join(parts) or "every class predicted near its prior"


def share_distance(shares: np.ndarray, prior: np.ndarray) -> float:
    """Total-variation distance ½·Σ|predicted share − prior share|: 0 when the predictions keep the prior, 1 when
    they put everything on classes the prior gives no mass. Bounded, and it sees over- and under-prediction alike
    (the share a class gains is the share others lose)."""
    return float(0.5 * np.abs(np.asarray(shares) - np.asarray(prior)).sum())


def measurable_count(min_fraction: float, expected: float = 5.0) -> int:
    """The fewest true beats of a class for "never predicted" to mean something at ``min_fraction``: ⌈5 / f⌉."""
    return int(np.ceil(expected / min_fraction)) if min_fraction > 0 else 1


def detect_collapse(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...], *, max_distance: float,
                    min_fraction: float) -> Collapse:
    """Collapsed when the predicted shares are more than ``max_distance`` (total variation) from the prior of
    ``y_true``, or a class with enough beats to tell gets fewer than ``min_fraction`` × its prior of the predictions.

    "Enough to tell": a model that predicted the class at ``min_fraction`` × its prior would be expected to predict
    it at least 5 times, i.e. at least ``measurable_count(min_fraction)`` true beats. A rarer class (39 fusion
    beats in a validation split) can be missed by chance alone; it still counts in the distance. The over-predicted
    classes are those whose share exceeds the prior by more than ``max_distance / 2``.
    """
    prior, shares = predicted_shares(y_true, len(classes)), predicted_shares(y_pred, len(classes))
    distance = share_distance(shares, prior)
    over = shares - prior > max_distance / 2
    counts = np.bincount(np.asarray(y_true, dtype=np.int64), minlength=len(classes))
    never = (prior > 0) & (counts >= measurable_count(min_fraction)) & (shares < min_fraction * prior)
    return Collapse(bool(distance > max_distance or never.any()), distance, tuple(np.array(classes)[over]),
                    tuple(np.array(classes)[never]), shares, prior, tuple(classes))


# --- by record: the patient is the sampling unit ---------------------------------------------------------------------

def record_confusions(y_true: np.ndarray, records: np.ndarray, predictions: list[np.ndarray],
                      n_classes: int) -> np.ndarray:
    """(records, K, K) confusion counts per record (sorted record names; rows: true class), every seed's
    predictions summed."""
    _, record_index = np.unique(records, return_inverse=True)
    return sum(confusion(y_true, pred, n_classes, groups=record_index) for pred in predictions)


def named_scores(matrix: np.ndarray, classes: tuple[str, ...], groups: dict[str, tuple[str, ...] | None], *,
                 per_class: tuple[str, ...] = ("precision", "recall", "f1")) -> dict[str, np.ndarray]:
    """Scores of confusion matrices (..., K, K) by name: the mean F1 of each group of classes (None: every class
    present), and ``<kind>_<class>`` for each per-class kind. Classes are looked up by name, never by index."""
    index = {c: i for i, c in enumerate(classes)}
    scores = {name: mean_f1(matrix, None if members is None else [index[c] for c in members])
              for name, members in groups.items()}
    kinds = {"precision": precision, "recall": recall, "f1": f1}
    for kind in per_class:
        values = kinds[kind](matrix)
        scores.update({f"{kind}_{c}": values[..., i] for c, i in index.items()})
    return scores


def share_distance_estimate(y_true: np.ndarray, records: np.ndarray, predictions: list[np.ndarray], n_classes: int,
                            *, n_boot: int, seed: int, population: int | None = None):
    """The total-variation distance of the predicted shares from the prior (``share_distance``), the mean over
    seeds, with a bootstrap over records within and across seeds: each replicate draws the records (the same for
    every seed, as the seeds predict the same patients) and the seeds, both with replacement. Each replicate's
    distance is in [0, 1], so its percentile interval is too. A ``BootstrapEstimate`` in "records"."""
    from expbook.metrics.bootstrap import cluster_resample_counts
    from expbook.metrics.estimates import BootstrapEstimate

    names, record_index = np.unique(records, return_inverse=True)
    y_true = np.asarray(y_true, dtype=np.int64)
    truth = np.zeros((names.size, n_classes))
    np.add.at(truth, (record_index, y_true), 1.0)
    predicted = np.zeros((len(predictions), names.size, n_classes))
    for s, pred in enumerate(predictions):
        np.add.at(predicted[s], (record_index, np.asarray(pred, dtype=np.int64)), 1.0)

    def distances(t: np.ndarray, p: np.ndarray) -> np.ndarray:
        prior = t / np.maximum(t.sum(axis=-1, keepdims=True), 1)
        shares = p / np.maximum(p.sum(axis=-1, keepdims=True), 1)
        return 0.5 * np.abs(shares - prior[..., None, :]).sum(axis=-1)  # (..., seeds)

    point = float(distances(truth.sum(axis=0), predicted.sum(axis=1)).mean())
    counts = cluster_resample_counts(names.size, n_boot, seed).astype(float)  # (B, records)
    each = distances(counts @ truth, np.einsum("br,srk->bsk", counts, predicted))  # (B, seeds)
    picks = np.random.default_rng([seed, 1]).integers(0, len(predictions), size=(n_boot, len(predictions)))
    draws = np.take_along_axis(each, picks, axis=1).mean(axis=1)
    return BootstrapEstimate(point, draws, int(names.size), "records", population=population)
