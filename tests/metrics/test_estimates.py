"""Estimates: the t, corrected-t and bootstrap intervals and p-values, and how many units would decide them."""

import math

import numpy as np
import pytest
from scipy import stats

from expbook.metrics.estimates import BootstrapEstimate, CorrectedTEstimate, CrossedTEstimate, TEstimate, holm


def test_t_estimate_matches_scipy():
    values = np.array([0.03, -0.01, 0.05, 0.02, 0.04])
    e = TEstimate.of(values, "seeds")
    assert e.interval(0.95) == pytest.approx(stats.t.interval(0.95, 4, loc=values.mean(), scale=stats.sem(values)))
    assert e.p_value(0.0) == pytest.approx(stats.ttest_1samp(values, 0.0).pvalue)
    assert e.p_value(0.01) == pytest.approx(stats.ttest_1samp(values, 0.01).pvalue)


@pytest.mark.parametrize("mean, sd, n, level", [(0.003, 0.018, 3, 0.95), (0.006, 0.04, 3, 0.95),
                                                (0.01, 0.05, 20, 0.99), (-0.02, 0.03, 4, 0.9)])
def test_units_to_decide_a_t_interval_is_the_closed_form(mean, sd, n, level):
    """The fewest n with t₍ₙ₋₁₎·sd/√n < |δ|, found by brute force."""
    e = TEstimate(mean, sd, n, "seeds")
    decide = e.units_to_decide(0.0, level)

    def half(m):
        return stats.t.ppf(0.5 + level / 2, m - 1) * sd / math.sqrt(m)

    brute = next(m for m in range(2, 10**6) if half(m) < abs(mean))
    assert decide.needed == brute and decide.have == n and decide.unit == "seeds"
    assert half(brute - 1) >= abs(mean)  # one unit fewer does not decide
    assert decide.text.startswith("about ") and " seeds (has " in decide.text


def test_an_effect_on_the_threshold_is_never_decided():
    assert math.isinf(TEstimate(0.0, 0.1, 5, "users").units_to_decide(0.0, 0.95).needed)
    assert "no number of users" in TEstimate(0.0, 0.1, 5, "users").units_to_decide(0.0, 0.95).text


def test_identical_arms_are_detected_from_the_values():
    assert TEstimate.of(np.zeros(5), "seeds").identical
    assert not TEstimate.of([0.0, 0.0, 1e-9], "seeds").identical


def _corrected(sd: float, splits: int = 25, ratio: float = 0.25, mean: float = -0.02) -> CorrectedTEstimate:
    rng = np.random.default_rng(0)
    values = rng.normal(size=splits)
    values = mean + sd * (values - values.mean()) / values.std(ddof=1)
    return CorrectedTEstimate.of(values, ratio=ratio, rows=500)


def test_corrected_t_is_nadeau_bengio():
    e = _corrected(0.05)
    se = math.sqrt((1 / 25 + 0.25) * 0.05**2)
    assert e.se == pytest.approx(se)
    assert e.p_value(0.0) == pytest.approx(2 * stats.t.sf(0.02 / se, 24))
    assert e.interval(0.95)[1] == pytest.approx(-0.02 + stats.t.ppf(0.975, 24) * se)


def test_corrected_t_says_repeats_cannot_decide_when_the_floor_dominates():
    """With n_test/n_train = 0.25, t·√0.25·σ ≥ |δ| means no number of repeats clears the threshold."""
    e = _corrected(0.09)
    assert stats.t.ppf(0.975, 24) * math.sqrt(0.25) * 0.09 >= 0.02
    decide = e.units_to_decide(0.0, 0.95)
    assert decide.text.startswith("repeats cannot") and decide.unit == "employees"
    # rows: σ² ∝ 1/rows at these repeats, so the half-width at `needed` rows equals |δ|
    assert stats.t.ppf(0.975, 24) * e.se * math.sqrt(500 / decide.needed) == pytest.approx(0.02)


def test_corrected_t_names_the_repeats_that_would_decide_when_they_can():
    e = _corrected(0.028, ratio=0.1)
    decide = e.units_to_decide(0.0, 0.95)
    assert "splits" in decide.text and "repeats cannot" not in decide.text
    t = stats.t.ppf(0.975, 24)
    assert t * e.se >= 0.02  # undecided at 25 splits
    splits = 1 / ((0.02 / (t * 0.028)) ** 2 - 0.1)
    assert t * math.sqrt((1 / math.ceil(splits) + 0.1)) * 0.028 < 0.02 <= t * math.sqrt(1 / (splits - 1) + 0.1) * 0.028
    assert f"about {math.ceil(splits)} splits" in decide.text


def test_bootstrap_interval_p_and_scaling():
    draws = np.random.default_rng(1).normal(0.01, 0.02, 4000)
    e = BootstrapEstimate(0.01, draws, 48, "records")
    low, high = e.interval(0.95)
    assert (low, high) == pytest.approx(tuple(np.quantile(draws, [0.025, 0.975])))
    assert e.p_value(0.0) == pytest.approx(2 * (1 + np.sum(draws <= 0)) / 4001)
    decide = e.units_to_decide(0.0, 0.95)
    # normal draws: the half-width is 1.96·0.02 at 48 records and shrinks as 1/√n, so it reaches the effect
    # 0.01 at about 48·(1.96·0.02 / 0.01)² ≈ 738 records
    assert decide.needed == pytest.approx(48 * (stats.norm.ppf(0.975) * 0.02 / 0.01) ** 2, rel=0.06)
    assert BootstrapEstimate(0.0, np.zeros(100), 48, "records").identical


@pytest.mark.parametrize("n", [2, 3, 5])
def test_a_bounded_measures_interval_stays_in_its_range_and_holds_the_clipped_t_interval(n):
    """Distances near 0 over ``n`` seeds: the plain t-interval leaves [0, 1], the bounded one never does, holds the
    clipped t-interval and the mean, and agrees with its p-value (the threshold is outside iff p < 0.05)."""
    rng = np.random.default_rng(n)
    for _ in range(200):
        values = rng.beta(1.0, 12.0, size=n)
        plain = TEstimate.of(values, "seeds").interval()
        bounded = TEstimate.of(values, "seeds", bounds=(0.0, 1.0))
        low, high = bounded.interval()
        assert 0.0 <= low <= bounded.value <= high <= 1.0
        assert low <= max(plain[0], 0.0) + 1e-12 and high >= min(plain[1], 1.0) - 1e-12
        for threshold in (0.02, 0.1, 0.3):
            assert (bounded.p_value(threshold) < 0.05) == (not low <= threshold <= high)
    low, high = TEstimate.of([-0.9, -0.5, -0.99], "seeds", bounds=(-1.0, 1.0)).interval()
    assert -1.0 <= low < high <= 1.0


@pytest.mark.parametrize("n", [2, 3, 5])
def test_the_bounded_interval_covers_a_skewed_measures_mean_at_few_seeds(n):
    """Coverage on controlled draws (as bench_interval_coverage --controlled): at least nominal − 5 pp where the plain
    t-interval falls below it."""
    from expbook.metrics.estimates import bounded_t_interval

    draws = np.random.default_rng(10 + n).beta(1.0, 12.0, size=(20_000, n))
    low, high = bounded_t_interval(draws, (0.0, 1.0))
    assert np.mean((low <= 1 / 13) & (1 / 13 <= high)) >= 0.90


def test_t_estimate_text_gives_the_half_width_or_the_clipped_interval():
    half = stats.t.ppf(0.975, 2) * np.std([1.0, 2.0, 4.0], ddof=1) / np.sqrt(3)
    assert TEstimate.of([1.0, 2.0, 4.0], "seeds").text("{:.2f}") == f"2.33\u00a0±\u00a0{half:.2f}"
    assert TEstimate.of([0.01, 0.02], "seeds", bounds=(0.0, 1.0)).text("{:.3f}").startswith("0.015\u00a0[0.000,\u00a0")
    assert TEstimate.of([0.5], "seeds").text() == "0.500"


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → running max 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # 2·0.5 caps at 1; the running max carries it
    adjusted = holm([0.01, np.nan])
    assert adjusted[0] == pytest.approx(0.01) and np.isnan(adjusted[1])


def test_one_seed_gives_no_interval_and_asks_for_a_second():
    e = CrossedTEstimate.of(np.random.default_rng(0).normal(0.01, 0.05, size=(1, 300)))
    assert math.isnan(e.interval(0.95)[0]) and math.isnan(e.p_value(0.0)) and e.sampling == "1 seed × 300 users"
    decide = e.units_to_decide(0.0, 0.95)
    assert decide.needed == 2 and "training luck" in decide.text


def test_the_degrees_of_freedom_do_not_jump_when_the_seed_component_crosses_zero():
    rng = np.random.default_rng(7)
    base = rng.normal(0, 0.05, (1, 400)) + rng.normal(0, 0.01, (3, 400))
    dfs = [CrossedTEstimate.of(base + np.array([[-shift], [0.0], [shift]])).df for shift in np.linspace(0, 0.004, 41)]
    assert max(abs(np.diff(np.log(dfs)))) < 0.5  # smooth in the seed shift: no pre-test switching terms off


def test_crossed_estimate_is_the_two_way_anova_variance_of_the_grand_mean():
    rng = np.random.default_rng(1)
    d = 0.01 + rng.normal(0, 0.01, (3, 1)) + rng.normal(0, 0.05, (1, 400)) + rng.normal(0, 0.02, (3, 400))
    e = CrossedTEstimate.of(d)
    s, u = d.shape
    m = d.mean()
    ms_s = u * np.sum((d.mean(axis=1) - m) ** 2) / (s - 1)
    ms_u = s * np.sum((d.mean(axis=0) - m) ** 2) / (u - 1)
    ms_e = np.sum((d - d.mean(axis=1, keepdims=True) - d.mean(axis=0, keepdims=True) + m) ** 2) / ((s - 1) * (u - 1))
    assert e.se == pytest.approx(math.sqrt((ms_s + ms_u - ms_e) / (s * u)))
    assert 2 <= e.df < 400  # the seed term, with 2 degrees of freedom, carries weight
    low, high = e.interval(0.95)
    assert (e.p_value(0.0) < 0.05) == (low > 0 or high < 0)


def test_a_seed_effect_widens_the_interval_past_the_paired_test_over_users():
    rng = np.random.default_rng(2)
    users = rng.normal(0, 0.05, (1, 500))
    quiet = CrossedTEstimate.of(0.01 + users + rng.normal(0, 0.01, (3, 500)))
    lucky = CrossedTEstimate.of(0.01 + users + rng.normal(0, 0.01, (3, 500)) + np.array([[0.0], [0.02], [-0.02]]))
    assert lucky.se > 2 * quiet.se
    decide = lucky.units_to_decide(0.0, 0.95)
    assert decide.unit == "seeds" and math.isfinite(decide.needed) and decide.needed > 3  # seeds can clear luck


def test_more_seeds_cannot_lower_the_users_floor():
    rng = np.random.default_rng(3)
    e = CrossedTEstimate.of(0.0005 + rng.normal(0, 0.05, (1, 200)) + rng.normal(0, 0.001, (3, 200)))
    decide = e.units_to_decide(0.0, 0.95)
    assert math.isinf(decide.needed) and "more seeds cannot" in decide.text


def test_crossed_interval_stays_in_its_range():
    e = CrossedTEstimate.of(np.full((3, 50), 0.99) + np.random.default_rng(4).normal(0, 0.05, (3, 50)),
                            bounds=(-1.0, 1.0))
    low, high = e.interval(0.95)
    assert -1.0 <= low <= high <= 1.0
