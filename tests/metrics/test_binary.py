"""The vectorised average precision equals scikit-learn's, ties included."""

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from expbook.metrics.binary import average_precision


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
