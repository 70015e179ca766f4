"""Ranking metrics against references: sklearn ndcg_score, scipy spearmanr, brute force over tie-breaks."""

import itertools
import math

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import ndcg_score

from expbook.metrics.ranking import (
    full_ranking_ranks,
    hit_ndcg_recall,
    k_for_fraction,
    ndcg_at_k,
    recall_coverage,
    revenue_capture_at_k,
    spearman,
    top_k,
    top_k_capture,
    topk_membership,
    value_ranking_scores,
    whale_precision_recall_at_k,
)


def _tie_break_orders(values: np.ndarray):
    """Every descending order of ``values`` that differs only in how ties are broken."""
    groups = [np.flatnonzero(values == v) for v in np.unique(values)[::-1]]
    for perms in itertools.product(*(itertools.permutations(g) for g in groups)):
        yield np.concatenate(perms)


def _brute_force(y_true, y_score, k, statistic):
    """Average of ``statistic(pred_top, true_top)`` over every tie-break of both rankings."""
    results = [statistic(set(p[:k]), set(t[:k])) for p in _tie_break_orders(y_score) for t in _tie_break_orders(y_true)]
    return float(np.mean(results))


def _small_cases(seed: int, n: int = 7):
    rng = np.random.default_rng(seed)
    y_true = rng.choice([0.0, 0.0, 0.0, 1.0, 2.0, 5.0], size=n)  # many ties, zeros included
    y_score = rng.choice([0.1, 0.2, 0.2, 0.7, 0.9], size=n)  # ties in scores too
    return y_true, y_score


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fraction", [0.15, 0.3, 0.5, 1.0])
def test_top_k_capture_equals_brute_force_over_tie_breaks(seed, fraction):
    y_true, y_score = _small_cases(seed)
    k = k_for_fraction(y_true.size, fraction)
    expected = _brute_force(y_true, y_score, k, lambda p, t: len(p & t) / k)
    assert top_k_capture(y_true, y_score, fraction) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fraction", [0.15, 0.3, 0.5])
def test_revenue_capture_equals_brute_force_over_tie_breaks(seed, fraction):
    y_true, y_score = _small_cases(seed)
    if y_true.sum() == 0:
        y_true[0] = 3.0
    k = k_for_fraction(y_true.size, fraction)
    expected = np.mean([y_true[list(p[:k])].sum() / y_true.sum() for p in _tie_break_orders(y_score)])
    assert revenue_capture_at_k(y_true, y_score, fraction) == pytest.approx(expected)


def test_revenue_capture_is_one_when_ranking_is_perfect_and_k_holds_every_positive():
    y = np.array([0, 0, 3, 0, 10, 0, 0, 0, 0, 1.0])
    assert revenue_capture_at_k(y, y, 0.3) == pytest.approx(1.0)
    assert top_k_capture(y, y, 0.3) == pytest.approx(1.0)


def test_all_zero_labels_give_chance_capture_and_undefined_revenue():
    y = np.zeros(200)
    score = np.random.default_rng(0).random(200)
    assert top_k_capture(y, score, 0.05) == pytest.approx(0.05)  # K/n: any set is as good as any other
    assert math.isnan(revenue_capture_at_k(y, score, 0.05))
    assert ndcg_at_k(y, score, 10) == 0.0


def test_constant_score_ranks_at_chance_level():
    y = np.random.default_rng(1).exponential(size=1000)
    assert top_k_capture(y, np.ones(1000), 0.1) == pytest.approx(0.1)


def test_topk_membership_sums_to_k_and_handles_k_beyond_n():
    values = np.array([3, 1, 1, 1, 0.5, 2])
    weights = topk_membership(values, 3)
    assert weights.sum() == pytest.approx(3)
    np.testing.assert_allclose(weights, [1, 1 / 3, 1 / 3, 1 / 3, 0, 1])
    assert topk_membership(values, 10).sum() == 6


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [1, 3, 5, 10, 50])
def test_ndcg_matches_sklearn_with_ties(seed, k):
    rng = np.random.default_rng(seed)
    y_true = rng.choice([0, 0, 0, 0, 1, 2, 10, 100], size=40).astype(float)
    y_score = np.round(rng.random(40), 1)  # heavy ties
    expected = ndcg_score(y_true[None, :], y_score[None, :], k=k)
    assert ndcg_at_k(y_true, y_score, k) == pytest.approx(expected)


def test_ndcg_on_a_seven_item_list_equals_the_formula():
    y_true = np.array([3.0, 0, 2, 0, 1, 0, 0])
    y_score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])  # order = as listed
    k = 4
    dcg = sum(y_true[i] / math.log2(i + 2) for i in range(k))
    ideal = sorted(y_true, reverse=True)
    idcg = sum(ideal[i] / math.log2(i + 2) for i in range(k))
    assert ndcg_at_k(y_true, y_score, k) == pytest.approx(dcg / idcg)


@pytest.mark.parametrize("seed", range(5))
def test_spearman_matches_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.choice([0, 0, 0, 1, 5, 20], size=300).astype(float)
    y_score = rng.normal(size=300) + 0.1 * y_true
    y_score[:50] = 0.0  # a block of tied scores
    assert spearman(y_true, y_score) == pytest.approx(spearmanr(y_true, y_score).statistic)


def test_spearman_of_a_constant_is_undefined():
    assert math.isnan(spearman(np.ones(10), np.arange(10.0)))


def test_whale_precision_and_recall_against_brute_force():
    y_true, y_score = _small_cases(3, n=7)
    y_true[:2] = [10.0, 10.0]
    k = k_for_fraction(7, 0.3)
    whales = set(np.flatnonzero(y_true >= 10))
    precision = np.mean([len(set(p[:k]) & whales) / k for p in _tie_break_orders(y_score)])
    got_precision, got_recall = whale_precision_recall_at_k(y_true, y_score, 0.3, 10.0)
    assert got_precision == pytest.approx(precision)
    assert got_recall == pytest.approx(precision * k / len(whales))


def test_metrics_reject_nan_and_mismatched_shapes():
    with pytest.raises(ValueError, match="NaN"):
        top_k_capture([1.0, 2.0], [np.nan, 1.0], 0.5)
    with pytest.raises(ValueError, match="items"):
        ndcg_at_k([1.0, 2.0, 3.0], [1.0, 2.0], 2)


def _brute_force_full_ranking(scores, targets, k=10, recall_k=50):
    hits, ndcgs, recalls = [], [], []
    for row, target in zip(scores, targets):
        # position of the target when items are sorted by score, ties broken by item index
        order = sorted(range(len(row)), key=lambda i: (-row[i], i))
        rank = order.index(target)
        hits.append(rank < k)
        ndcgs.append(1 / np.log2(rank + 2) if rank < k else 0.0)
        recalls.append(rank < recall_k)
    return {f"hr@{k}": np.mean(hits), f"ndcg@{k}": np.mean(ndcgs), f"recall@{recall_k}": np.mean(recalls)}


def test_full_ranking_metrics_match_a_brute_force_reference():
    scores = np.array([[0.9, 0.5, 0.5, 0.5, 0.3, 0.0],   # target 2 ties with items 1 and 3; item 1 goes first
                       [0.2, 0.8, 0.7, 0.6, 0.5, 0.4],   # target 5: four items above, rank 4
                       [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]])  # target 5: rank 0
    targets = np.array([2, 5, 5])
    assert full_ranking_ranks(scores, targets).tolist() == [2, 4, 0]
    for k, recall_k in ((1, 2), (2, 6), (6, 6)):
        got = hit_ndcg_recall(full_ranking_ranks(scores, targets), k=k, recall_k=recall_k)
        assert got == pytest.approx(_brute_force_full_ranking(scores, targets, k, recall_k))
    rng = np.random.default_rng(0)
    scores, targets = rng.integers(0, 5, (40, 30)).astype(float), rng.integers(0, 30, 40)
    assert hit_ndcg_recall(full_ranking_ranks(scores, targets), k=10, recall_k=20) == pytest.approx(
        _brute_force_full_ranking(scores, targets, 10, 20))


def test_coverage_is_the_share_of_the_true_top_k_in_the_head():
    y = np.array([10.0, 9, 8, 0, 0, 0, 0, 0, 0, 0])
    direct = np.array([1.0, 0, 0, 5, 4, 3, 2, 1.5, 0, 0])  # item 0 ranks 6th, items 1 and 2 last
    assert recall_coverage(y, direct, top_m=5, fraction=0.3) == 0.0
    assert recall_coverage(y, direct, top_m=6, fraction=0.3) == pytest.approx(1 / 3)
    assert recall_coverage(y, direct, top_m=10, fraction=0.3) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 3, 7, 40])
def test_top_k_is_the_stable_sort_ties_to_the_lower_index(seed, k):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 4, 30).astype(float)  # many ties
    expected = sorted(range(30), key=lambda i: (-values[i], i))[:k]
    assert top_k(values, k).tolist() == expected
    grid = rng.integers(0, 3, (5, 12)).astype(float)
    assert top_k(grid, k).tolist() == [sorted(range(12), key=lambda i: (-row[i], i))[:k] for row in grid]


def test_top_k_handles_infinities_and_nothing_asked():
    values = np.array([-np.inf, 2.0, -np.inf, 2.0])
    assert top_k(values, 3).tolist() == [1, 3, 0] and top_k(values, 0).tolist() == []


@pytest.mark.parametrize("seed", range(4))
def test_recall_coverage_with_ties_is_its_mean_over_tie_breaks(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 8).astype(float)
    score = rng.integers(0, 3, 8).astype(float)
    k = k_for_fraction(8, 0.25)
    outcomes = []
    for order_y in _tie_break_orders(y):
        for order_s in _tie_break_orders(score):
            outcomes.append(len(set(order_y[:k]) & set(order_s[:4])) / k)
    assert recall_coverage(y, score, 4, 0.25) == pytest.approx(np.mean(outcomes))


def test_value_ranking_scores_are_the_single_metrics_labelled():
    rng = np.random.default_rng(0)
    y, score = rng.exponential(size=300) * (rng.random(300) < 0.2), rng.random(300)
    out = value_ranking_scores(y, score, fractions=(0.01, 0.1), ndcg_k=20, whale_threshold=1.0)
    assert out["top10%_capture"] == top_k_capture(y, score, 0.1) and out["revcap@1%"] == revenue_capture_at_k(y, score, 0.01)
    assert out["ndcg@20"] == ndcg_at_k(y, score, 20) and out["spearman"] == spearman(y, score)
    assert (out["whale_precision@1%"], out["whale_recall@1%"]) == whale_precision_recall_at_k(y, score, 0.01, 1.0)
