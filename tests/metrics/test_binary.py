"""Binary scores against scikit-learn, ties included: average precision, AUROC, the F1-best threshold, scores at a threshold."""

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from expbook.metrics.binary import average_precision, best_f1_threshold


@pytest.mark.parametrize("seed", range(20))
def test_average_precision_matches_scikit_learn_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    y = rng.random(n) < rng.uniform(0.05, 0.6)
    y[:2] = [True, False]
    score = np.round(rng.random(n), int(rng.integers(1, 4)))  # 1 decimal: many ties
    assert average_precision(y, score) == pytest.approx(average_precision_score(y, score), abs=1e-12)


def test_average_precision_of_one_class_is_nan_and_a_perfect_ranking_is_one():
    assert math.isnan(average_precision(np.zeros(5), np.arange(5)))
    assert math.isnan(average_precision(np.ones(5), np.arange(5)))
    assert average_precision(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0


def test_the_f1_threshold_maximises_f1_and_matches_sklearns_curve():
    rng = np.random.default_rng(0)
    y = (rng.random(80) < 0.2).astype(int)
    p = np.clip(0.3 * y + rng.random(80) * 0.7, 0, 1)
    threshold = best_f1_threshold(y, p)
    brute = max(f1_score(y, (p >= t).astype(int)) for t in np.unique(p))
    assert f1_score(y, (p >= threshold).astype(int)) == pytest.approx(brute)


@pytest.mark.parametrize("seed", range(10))
def test_roc_auc_and_the_threshold_scores_match_scikit_learn(seed):
    from sklearn.metrics import precision_recall_curve, precision_score, recall_score, roc_auc_score

    from expbook.metrics.binary import roc_auc, threshold_scores

    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 300))
    y = (rng.random(n) < 0.25).astype(int)
    y[:2] = [1, 0]
    score = np.round(rng.random(n) + 0.3 * y, int(rng.integers(1, 3)))  # ties
    assert roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    threshold = best_f1_threshold(y, score)
    precision, recall, thresholds = precision_recall_curve(y, score)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)[:-1]
    assert threshold == thresholds[np.flatnonzero(f1 == f1.max())[-1]]  # ties: the higher threshold, as sklearn's curve
    predicted = (score >= threshold).astype(int)
    scores = threshold_scores(y, score, threshold)
    assert scores["f1"] == pytest.approx(f1_score(y, predicted)) and scores["recall"] == pytest.approx(
        recall_score(y, predicted)) and scores["precision"] == pytest.approx(precision_score(y, predicted))


def test_one_class_gives_undefined_ranking_scores():
    from expbook.metrics.binary import roc_auc

    assert math.isnan(roc_auc(np.zeros(5), np.arange(5.0)))
