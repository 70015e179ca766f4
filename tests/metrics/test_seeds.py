"""Seed statistics: t-interval of the mean, paired t-test, the distribution-free interval of the median."""


import numpy as np
import pytest
from scipy import stats

from expbook.metrics.seeds import corrected_resampled_test, holm, mean_ci, median_ci, paired_test


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


def test_mean_ci_and_paired_test_match_scipy():
    a, b = np.array([0.61, 0.55, 0.70, 0.66, 0.58]), np.array([0.52, 0.54, 0.61, 0.60, 0.50])
    ci = mean_ci(a)
    low, high = stats.t.interval(0.95, 4, loc=a.mean(), scale=stats.sem(a))
    assert (ci.low, ci.high) == pytest.approx((low, high))
    test = paired_test(a, b)
    assert test.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert test.diff.mean == pytest.approx((a - b).mean())
    assert paired_test(a, a).p_value == 1.0


def test_the_corrected_resampled_t_test_by_hand():
    d = np.array([0.02, 0.05, -0.01, 0.04, 0.03])  # differences over J = 5 splits, n_test / n_train = 1/4
    # mean 0.026; deviations −0.006, 0.024, −0.036, 0.014, 0.004 → Σ² = 0.00212, σ̂² = 0.00053
    # corrected variance of the mean (1/5 + 1/4)·0.00053 = 0.0002385 (naive: 0.000106)
    test = corrected_resampled_test(d, np.zeros(5), test_train_ratio=0.25)
    t = 0.026 / np.sqrt(0.0002385)
    assert test.diff.mean == pytest.approx(0.026) and test.diff.std == pytest.approx(np.sqrt(0.00053))
    assert test.p_value == pytest.approx(2 * stats.t.sf(t, 4))
    assert (test.diff.high - test.diff.low) / 2 == pytest.approx(stats.t.ppf(0.975, 4) * np.sqrt(0.0002385))
    naive = corrected_resampled_test(d, np.zeros(5), test_train_ratio=0.0)
    assert naive.p_value == pytest.approx(stats.ttest_1samp(d, 0).pvalue) and naive.p_value < test.p_value
    assert corrected_resampled_test(d, d, test_train_ratio=0.25).p_value == 1.0


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → running max 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # 2·0.5 caps at 1; the running max carries it
    adjusted = holm([0.01, np.nan])
    assert adjusted[0] == pytest.approx(0.01) and np.isnan(adjusted[1])
