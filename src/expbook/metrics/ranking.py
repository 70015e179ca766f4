"""Ranking metrics for value prediction: who lands in the top K%, how much revenue they carry.

Every function is pure numpy, O(n) time and memory (``np.partition`` / ``np.argpartition``
select the top k without sorting everything), and handles ties deterministically:
items tied at the top-k boundary get *fractional membership*, which equals the expected
value of the metric under uniformly random tie-breaking. So a constant score ranks no
better than chance, and no result depends on the order of rows in the input.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "k_for_fraction",
    "top_k",
    "topk_membership",
    "recall_coverage",
    "top_k_capture",
    "revenue_capture_at_k",
    "ndcg_at_k",
    "spearman",
    "average_ranks",
    "whale_precision_recall_at_k",
    "value_ranking_scores",
]


def _as_1d(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_score = np.asarray(y_score, dtype=np.float64).ravel()
    if y_true.shape != y_score.shape:
        raise ValueError(f"y_true has {y_true.size} items but y_score has {y_score.size}")
    if y_true.size == 0:
        raise ValueError("cannot rank an empty list")
    if np.isnan(y_score).any() or np.isnan(y_true).any():
        raise ValueError("scores and labels must not contain NaN")
    return y_true, y_score


def k_for_fraction(n: int, fraction: float) -> int:
    """Number of items in the top ``fraction`` of ``n``: ``max(1, floor(fraction * n))``."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return max(1, int(math.floor(fraction * n + 1e-9)))


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values along the last axis, best first; ties go to the lower index.

    ``values`` is (n,) or (rows, n); the result is (k,) or (rows, k) with ``k = min(k, n)``. The boundary value
    is found with ``np.partition`` (O(n)); of the items tied at it, the lowest indices fill the remaining places,
    so the selection never depends on how ``np.argpartition`` breaks ties. Only the k selected are sorted
    (descending value, then ascending index).
    """
    values = np.asarray(values)
    squeeze = values.ndim == 1
    grid = np.atleast_2d(values)
    n = grid.shape[1]
    k = int(min(max(k, 0), n))
    if k == 0:
        return np.zeros((0,) if squeeze else (grid.shape[0], 0), dtype=np.int64)
    kth = np.partition(grid, n - k, axis=1)[:, n - k][:, None]
    above = grid > kth
    tied = grid == kth
    needed = k - above.sum(axis=1, keepdims=True)
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= needed))
    rows, columns = np.nonzero(chosen)  # row-major: each row's k columns, in index order
    columns = columns.reshape(grid.shape[0], k)
    order = np.argsort(-np.take_along_axis(grid, columns, axis=1), axis=1, kind="stable")
    selected = np.take_along_axis(columns, order, axis=1)
    return selected[0] if squeeze else selected


def topk_membership(values: np.ndarray, k: int) -> np.ndarray:
    """Weight in [0, 1] of each item's membership in the top ``k`` by ``values``.

    Items strictly above the k-th largest value get 1, items below get 0, and the
    ``t`` items tied at the k-th largest value share the remaining ``s`` slots: s/t each.
    The weights sum to exactly ``min(k, n)``.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if k >= n:
        return np.ones(n)
    if k <= 0:
        return np.zeros(n)
    kth_largest = np.partition(values, n - k)[n - k]
    above = values > kth_largest
    tied = values == kth_largest
    weights = above.astype(np.float64)
    weights[tied] = (k - np.count_nonzero(above)) / np.count_nonzero(tied)
    return weights


def top_k_capture(y_true, y_score, fraction: float) -> float:
    """Set overlap of the predicted and the true top K%: ``|pred_topK ∩ true_topK| / K``.

    ``K = k_for_fraction(n, fraction)``. Ties on either side are resolved by fractional
    membership (expected overlap under random tie-breaking), so when the labels are all
    equal the result is the chance level ``K / n``.
    """
    y_true, y_score = _as_1d(y_true, y_score)
    k = k_for_fraction(y_true.size, fraction)
    overlap = topk_membership(y_score, k) @ topk_membership(y_true, k)
    return float(overlap / k)


def recall_coverage(y_true, recall_score, top_m: int, fraction: float) -> float:
    """Share of the true top ``fraction`` (by value) that the top ``top_m`` by ``recall_score`` contains:
    ``Σ membership_M(score) · membership_K(y) / K``, an upper bound on what re-ranking those M can capture.

    Both sides use fractional membership at their boundary (``topk_membership``), as ``top_k_capture`` does: the
    expected coverage under random tie-breaking.
    """
    y_true, recall_score = _as_1d(y_true, recall_score)
    k = k_for_fraction(y_true.size, fraction)
    return float(topk_membership(recall_score, top_m) @ topk_membership(y_true, k) / k)


def revenue_capture_at_k(y_true, y_score, fraction: float) -> float:
    """Share of the total value that lands in the predicted top K%: ``Σ_{i∈pred_topK} y_i / Σ_i y_i``.

    Returns NaN when ``Σ y = 0`` (no revenue to capture). ``y_true`` must be non-negative.
    """
    y_true, y_score = _as_1d(y_true, y_score)
    if (y_true < 0).any():
        raise ValueError("revenue capture needs non-negative values")
    total = y_true.sum()
    if total == 0:
        return float("nan")
    k = k_for_fraction(y_true.size, fraction)
    return float(topk_membership(y_score, k) @ y_true / total)


def ndcg_at_k(y_true, y_score, k: int) -> float:
    """Normalised discounted cumulative gain of the top ``k`` with linear gains.

    ``DCG@k = Σ_{r=1..k} y_(r) / log2(r + 1)`` in predicted order, ``NDCG = DCG / IDCG``.
    Tied scores get the average gain of their group spread over the group's positions
    (scikit-learn's ``ndcg_score`` convention, ``ignore_ties=False``). All-zero labels give 0.
    Only items scoring at least the k-th largest score are sorted: O(n + m log m), m ≈ k.
    """
    y_true, y_score = _as_1d(y_true, y_score)
    n = y_true.size
    k = min(int(k), n)
    if k <= 0:
        raise ValueError("k must be positive")
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.sort(np.partition(y_true, n - k)[n - k:])[::-1]
    idcg = float(ideal @ discount)
    if idcg == 0:
        return 0.0
    kth_score = np.partition(y_score, n - k)[n - k]
    head = np.flatnonzero(y_score >= kth_score)  # the top k plus every tie at the boundary
    scores, gains = y_score[head], y_true[head]
    _, group, counts = np.unique(-scores, return_inverse=True, return_counts=True)
    mean_gain = np.bincount(group, weights=gains) / counts
    cum_discount = np.concatenate([[0.0], np.cumsum(np.pad(discount, (0, head.size - k)))])
    ends = np.cumsum(counts)
    group_discount = cum_discount[ends] - cum_discount[ends - counts]
    return float(mean_gain @ group_discount / idcg)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties get the mean of the ranks they span (scipy ``rankdata(method='average')``)."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts_group = np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]])
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    counts = np.diff(np.append(starts, values.size))
    ranks = np.empty(values.size)
    ranks[order] = (starts + (counts + 1) / 2.0)[group]
    return ranks


def spearman(y_true, y_score) -> float:
    """Spearman rank correlation: Pearson correlation of average ranks. NaN if either side is constant."""
    y_true, y_score = _as_1d(y_true, y_score)
    rank_true = average_ranks(y_true) - (y_true.size + 1) / 2.0
    rank_score = average_ranks(y_score) - (y_true.size + 1) / 2.0
    denominator = math.sqrt(float(rank_true @ rank_true) * float(rank_score @ rank_score))
    if denominator == 0:
        return float("nan")
    return float(rank_true @ rank_score / denominator)


def whale_precision_recall_at_k(y_true, y_score, fraction: float, whale_threshold: float) -> tuple[float, float]:
    """Precision and recall of "whales" (``y ≥ whale_threshold``) in the predicted top K%.

    ``precision = whales in pred_topK / K``; ``recall = whales in pred_topK / all whales``
    (NaN when there is no whale).
    """
    y_true, y_score = _as_1d(y_true, y_score)
    k = k_for_fraction(y_true.size, fraction)
    is_whale = (y_true >= whale_threshold).astype(np.float64)
    hits = float(topk_membership(y_score, k) @ is_whale)
    n_whales = is_whale.sum()
    recall = hits / n_whales if n_whales else float("nan")
    return hits / k, recall


def full_ranking_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of each row's target among all columns: items scored higher, plus tied items of a lower column.

    Ties are broken by column index, an order fixed before any score exists, so a tie neither favours nor
    penalises the target (count-based scores tie often). Callers that exclude items set their scores to
    ``-inf`` first. O(users × items), no sort.
    """
    target_scores = scores[np.arange(scores.shape[0]), targets][:, None]
    before_target = np.arange(scores.shape[1])[None, :] < targets[:, None]
    return ((scores > target_scores) | ((scores == target_scores) & before_target)).sum(axis=1)


def per_user_ndcg(ranks: np.ndarray, k: int = 10) -> np.ndarray:
    """NDCG@k of each user's one held-out target at 0-based ``ranks``: 1 / log2(rank + 2) inside the top k, else 0."""
    ranks = np.asarray(ranks)
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def hit_ndcg_recall(ranks: np.ndarray, *, k: int = 10, recall_k: int = 50) -> dict[str, float]:
    """HR@k, NDCG@k and Recall@recall_k for one held-out target per user (Recall@K = HR@K with one target)."""
    ranks = np.asarray(ranks)
    return {f"hr@{k}": float(np.mean(ranks < k)),
            f"ndcg@{k}": float(np.mean(per_user_ndcg(ranks, k))),
            f"recall@{recall_k}": float(np.mean(ranks < recall_k))}


def value_ranking_scores(y_true, y_score, *, fractions: tuple[float, ...] = (0.01, 0.05), ndcg_k: int = 100,
                         whale_threshold: float | None = None) -> dict[str, float]:
    """The standard scores of one ranking of values, labelled: Top-K% capture and RevCap@K% for each fraction,
    NDCG@k, Spearman, and (with ``whale_threshold``) whale precision and recall in the top 1%."""
    out = {}
    for fraction in fractions:
        out[f"top{fraction:.0%}_capture"] = top_k_capture(y_true, y_score, fraction)
        out[f"revcap@{fraction:.0%}"] = revenue_capture_at_k(y_true, y_score, fraction)
    out[f"ndcg@{ndcg_k}"] = ndcg_at_k(y_true, y_score, ndcg_k)
    out["spearman"] = spearman(y_true, y_score)
    if whale_threshold is not None:
        out["whale_precision@1%"], out["whale_recall@1%"] = whale_precision_recall_at_k(y_true, y_score, 0.01,
                                                                                          whale_threshold)
    return out
