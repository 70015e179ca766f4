"""The diagnosis verdicts follow the measured values (pure functions, no notebook needed)."""

from dataclasses import replace

import numpy as np
import pytest

from expbook.experiments.kuailive_pipeline import HeldOutScores
from expbook.experiments.two_stage_diagnosis import (
    Thresholds,
    evaluate_methods,
    headline,
    hypothesis_verdicts,
    method_scores,
    resampled_draws,
    smearing_factor,
)
from expbook.features.kuailive_audit import LeakageAudit
from expbook.metrics.estimates import TEstimate
from expbook.metrics.oracle_decomposition import Decomposition, decompose, decomposition_estimates, shapley_split

THRESHOLDS = Thresholds(bottleneck_share=0.6, h2_min_drop=0.02, h3_min_gap=0.05)
CLEAN = LeakageAudit((), 0, 0, 100, (), {})
SEED_LIKE = Decomposition(two_stage=0.358, two_stage_ev=0.35, direct=0.545, stage1_only=0.343, stage2_only=0.30,
                          binary=0.40, oracle_p=0.907, oracle_m=0.389, oracle_both=1.0, spearman_gift_stage2=0.892,
                          spearman_gift_direct=0.737)


def estimates(d=SEED_LIKE, spread=0.001):
    """Every quantity of ``d`` measured over three seeds ``spread`` apart (narrow: decided; wide: undecided)."""
    return {k: TEstimate.of([v - spread, v, v + spread], "seeds") for k, v in d.quantities().items()}


def decided(d=SEED_LIKE, audit=CLEAN, spread=0.001):
    return hypothesis_verdicts(d, audit, 0.0, THRESHOLDS, estimates(d, spread), alpha=0.05)


def verdicts(d=SEED_LIKE, audit=CLEAN, spread=0.001):
    return {v.id: v.verdict for v in decided(d, audit, spread)}


def test_seed_numbers_give_the_seed_verdicts():
    v = verdicts()
    assert v == {"H1": False, "H2": False, "H3": True, "H4": False, "S1": True, "D1": True, "T1": True}


def test_the_family_is_holm_adjusted_and_the_audit_check_is_outside_it():
    checks = {v.id: v for v in decided()}
    assert all(checks[i].p_adjusted is not None for i in ("H1", "H2", "H3", "S1", "D1", "T1"))
    assert checks["H4"].role == "check" and checks["H4"].p_adjusted is None


def test_wide_seed_intervals_leave_the_verdicts_inconclusive_with_what_would_decide_them():
    checks = {v.id: v for v in decided(spread=0.3)}
    assert checks["S1"].state == "inconclusive" and checks["T1"].state == "inconclusive"
    assert checks["T1"].note.startswith("about ") and checks["T1"].decide["unit"] == "seeds"
    assert "cannot be told apart" in headline(SEED_LIKE, list(checks.values()))
    assert "point estimates" in headline(SEED_LIKE, list(checks.values()))


def test_the_shapley_split_shares_the_gap_and_credits_what_the_stages_do_together():
    assert shapley_split(0.3, 0.4, 0.35, 1.0) == pytest.approx((0.375, 0.325))  # sums to the gap 0.7
    d = replace(SEED_LIKE, two_stage=0.3, oracle_p=0.4, oracle_m=0.35, oracle_both=1.0)
    assert d.oracle_p_gain == pytest.approx(2 * d.oracle_m_gain)  # alone, stage 1 looks twice as important
    assert verdicts(d)["S1"] is False and verdicts(d)["H1"] is False  # together the split is 54% / 46%
    assert "neither stage dominates" in headline(d, decided(d))


def test_equally_imperfect_stages_get_about_half_each_where_the_oracle_gains_favour_stage_1():
    rng = np.random.default_rng(0)
    n = 40_000
    gift = rng.random(n) < 0.05
    y = np.where(gift, np.exp(rng.normal(3, 1.2, n)), 0.0)
    p = 1 / (1 + np.exp(-(3 * gift - 1.5 + rng.normal(0, 1.0, n))))  # stage 1: gifts separated, with noise
    m = np.where(gift, np.log1p(y), 3.0) + rng.normal(0, 0.5, n)  # stage 2: the amount, with noise
    table, _ = evaluate_methods(y, method_scores(HeldOutScores(y, np.zeros(n), p, m)), ndcg_k=100, whale_quantile=0.9)
    d = decompose(table)
    assert d.oracle_both == 1.0 and d.oracle_p_gain > 1.3 * d.oracle_m_gain > 0
    share_p, share_m = d.shares
    assert share_p + share_m == pytest.approx(d.gap)
    assert 0.4 < d.quantities()["share_p"] < 0.6


def test_stage1_verdict_flips_when_a_perfect_classifier_stops_helping():
    d = replace(SEED_LIKE, oracle_p=0.38, oracle_m=0.95)
    v = verdicts(d)
    assert v["S1"] is False and v["H1"] is True


def test_intervals_make_the_share_verdicts_three_state():
    states = {v.id: v.state for v in decided(spread=0.3)}
    assert states["S1"] == "inconclusive" and states["H1"] == "inconclusive"
    states = {v.id: v.state for v in decided(spread=0.001)}
    assert states["S1"] == "holds" and states["H1"] == "does not hold"


def test_h2_flips_when_the_expected_value_product_loses_to_p_alone():
    assert verdicts(replace(SEED_LIKE, stage1_only=0.40, two_stage_ev=0.30))["H2"] is True
    assert verdicts(replace(SEED_LIKE, stage1_only=0.36, two_stage=0.30))["H2"] is False  # the log product is not judged


def test_d1_flips_when_the_binary_bound_wins():
    assert verdicts(replace(SEED_LIKE, binary=0.6))["D1"] is False


def test_h3_needs_stage2_to_be_better_on_gifts_and_worse_on_all_rows():
    assert verdicts(replace(SEED_LIKE, spearman_gift_stage2=0.5))["H3"] is False
    assert verdicts(replace(SEED_LIKE, stage2_only=0.54))["H3"] is False


def test_h4_flips_on_any_audit_finding():
    assert verdicts(audit=LeakageAudit(("watch_live_time",), 0, 0, 100, (), {}))["H4"] is True
    assert verdicts(audit=LeakageAudit((), 0, 12, 100, (), {}))["H4"] is True


def test_nan_measurements_never_pass_they_settle_nothing():
    v = verdicts(replace(SEED_LIKE, oracle_p=float("nan")))
    assert v["S1"] is None  # inconclusive: a measure without an interval settles no verdict either way


def test_headline_follows_the_verdicts():
    first = headline(SEED_LIKE, decided())
    assert "Two-Stage trails Direct" in first and "bottleneck is stage 1" in first and "stage 1 carries 90%" in first
    flipped = replace(SEED_LIKE, two_stage=0.6, oracle_p=0.61, oracle_m=0.9)
    second = headline(flipped, decided(flipped))
    assert "Two-Stage beats Direct" in second and "bottleneck is stage 2" in second


def test_oracles_are_perfect_where_they_should_be():
    rng = np.random.default_rng(0)
    y = np.where(rng.random(5000) < 0.03, rng.exponential(50, 5000), 0.0)
    scores = HeldOutScores(y=y, direct=rng.normal(size=5000), p=rng.random(5000), m=np.log1p(y) + 0.01)
    table, _ = evaluate_methods(y, method_scores(scores), ndcg_k=100, whale_quantile=0.9)
    assert table.loc["Oracle-p", "revcap@5%"] == pytest.approx(1.0)  # gifts first, ordered by the true amount
    assert table.loc["Oracle-p", "spearman_gift"] == pytest.approx(1.0)
    assert table.loc["Oracle-both", "top1%_capture"] == 1.0 and table.loc["Oracle-both", "ndcg@100_gift"] == pytest.approx(1.0)
    d = decompose(table)
    assert d.oracle_p_gain > 0.5


def test_the_smearing_factor_back_transforms_the_log_scale_mean():
    rng = np.random.default_rng(1)
    m = rng.normal(3, 1, 200_000)
    y = np.expm1(m + rng.normal(0, 0.8, m.size))  # log-normal errors: E[exp(ε)] = exp(0.32)
    assert smearing_factor(y, m) == pytest.approx(np.exp(0.32), rel=0.01)


def test_user_intervals_of_the_decomposition_are_wider_than_row_intervals():
    rng = np.random.default_rng(2)
    n, users = 20_000, rng.integers(0, 200, 20_000)
    whale = rng.random(200) < 0.05  # a few users carry the revenue
    gift = rng.random(n) < np.where(whale[users], 0.3, 0.01)
    y = np.where(gift, np.exp(rng.normal(3 + 2 * whale[users], 1)), 0.0)
    p = np.clip(gift * 0.5 + rng.random(n) * 0.6, 0, 1)
    scores = HeldOutScores(y, np.log1p(y) + rng.normal(0, 1, n), p, np.log1p(y) + rng.normal(0, 1, n), users)
    methods = method_scores(scores)
    point = decompose(evaluate_methods(y, methods, ndcg_k=100, whale_quantile=0.9)[0])
    by_user = decomposition_estimates(resampled_draws(y, methods, ndcg_k=100, users=users, n_boot=200, seed=0), point, 200)
    by_row = decomposition_estimates(resampled_draws(y, methods, ndcg_k=100, users=None, n_boot=200, seed=0), point, n)

    def width(e):
        low, high = e["direct − binary"].interval(0.95)
        return high - low

    assert width(by_user) > width(by_row)


def _table(d: Decomposition):
    """A method table carrying ``d``'s Top-1% captures (what ``decompose`` reads)."""
    import pandas as pd

    from expbook.metrics.oracle_decomposition import DECOMPOSITION_METHODS

    top1 = {method: getattr(d, field) for field, method in DECOMPOSITION_METHODS.items()}
    table = pd.DataFrame({"top1%_capture": top1, "spearman_gift": 0.5})
    return table


def test_seed_intervals_decide_the_stage_verdicts():
    from scipy import stats

    from expbook.experiments.two_stage_diagnosis import across_seeds

    steady = {s: _table(replace(SEED_LIKE, oracle_p=0.90 + 0.005 * s)) for s in range(3)}
    across = across_seeds(steady)
    shares = [decompose(t).quantities()["share_p"] for t in steady.values()]
    assert across.intervals["share_p"] == pytest.approx(
        stats.t.interval(0.95, 2, loc=np.mean(shares), scale=stats.sem(shares)))
    states = {v.id: v.state for v in hypothesis_verdicts(across.decomposition, CLEAN, 0.0, THRESHOLDS, across.estimates,
                                                         alpha=0.05)}
    assert states["S1"] == "holds"
    # the same mean with one seed where a perfect classifier barely helps: the seeds disagree, S1 is undecided
    unsteady = {0: _table(replace(SEED_LIKE, oracle_p=0.99)), 1: _table(replace(SEED_LIKE, oracle_p=0.99)),
                2: _table(replace(SEED_LIKE, oracle_p=0.40, oracle_m=0.95))}
    across = across_seeds(unsteady)
    states = {v.id: v.state for v in hypothesis_verdicts(across.decomposition, CLEAN, 0.0, THRESHOLDS, across.estimates,
                                                         alpha=0.05)}
    assert states["S1"] == "inconclusive"
    with pytest.raises(ValueError, match="at least two seeds"):
        across_seeds({0: _table(SEED_LIKE)})


