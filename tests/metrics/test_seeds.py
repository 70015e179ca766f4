"""Seed statistics: t-interval of the mean, paired t-test, the distribution-free interval of the median."""

import numpy as np
import pytest
from scipy import stats

from expbook.metrics.seeds import mean_ci, median_ci


def test_mean_ci_is_the_t_interval():
    values = np.array([1.0, 2.0, 4.0])
    ci = mean_ci(values)
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    assert (ci.low, ci.high) == pytest.approx((values.mean() - half, values.mean() + half))


def test_median_interval_is_the_range_for_five_seeds_with_its_exact_coverage():
    ci = median_ci([59.6, 334.6, 3.2, 4.6, 7.8])
    assert ci.median == 7.8 and (ci.low, ci.high) == (3.2, 334.6)
    assert ci.coverage == pytest.approx(1 - 2 / 32)


def test_median_interval_narrows_to_order_statistics_with_more_seeds():
    values = np.arange(1.0, 21.0)  # n = 20: ranks 6 and 15 give coverage ≥ 95% (binomial)
    ci = median_ci(values)
    assert (ci.low, ci.high) == (6.0, 15.0) and ci.coverage >= 0.95
    assert 1 - 2 * stats.binom.cdf(6, 20, 0.5) < 0.95  # one rank further in would fall short
