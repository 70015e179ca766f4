"""The diagnosis verdicts follow the measured values (pure functions, no notebook needed)."""

from dataclasses import replace

import numpy as np
import pytest

from expbook.experiments.kuailive_pipeline import HeldOutScores
from expbook.experiments.two_stage import (
    Decomposition,
    LeakageAudit,
    Thresholds,
    decompose,
    evaluate_methods,
    headline,
    hypothesis_verdicts,
    method_scores,
)

THRESHOLDS = Thresholds(main_min_gain=0.10, h1_min_gain=0.10, h2_min_drop=0.02, h3_min_gap=0.05)
CLEAN = LeakageAudit((), 0, 0, 100, (), {})
SEED_LIKE = Decomposition(two_stage=0.358, direct=0.545, stage1_only=0.343, stage2_only=0.30, oracle_p_gain=0.549,
                          oracle_m_gain=0.031, spearman_gift_stage2=0.892, spearman_gift_direct=0.737)


def verdicts(d=SEED_LIKE, audit=CLEAN):
    return {v.id: v.verdict for v in hypothesis_verdicts(d, audit, 0.0, THRESHOLDS)}


def test_seed_numbers_give_the_seed_verdicts_for_h1_h2_h4_and_stage1():
    v = verdicts()
    assert v == {"H1": False, "H2": False, "H3": True, "H4": False, "S1": True}


def test_stage1_verdict_flips_when_a_perfect_classifier_stops_helping():
    d = replace(SEED_LIKE, oracle_p_gain=0.02, oracle_m_gain=0.25)
    v = verdicts(d)
    assert v["S1"] is False and v["H1"] is True


def test_h2_flips_when_multiplying_by_m_loses_to_p_alone():
    assert verdicts(replace(SEED_LIKE, stage1_only=0.40, two_stage=0.30))["H2"] is True


def test_h3_needs_stage2_to_be_better_on_gifts_and_worse_on_all_rows():
    assert verdicts(replace(SEED_LIKE, spearman_gift_stage2=0.5))["H3"] is False
    assert verdicts(replace(SEED_LIKE, stage2_only=0.54))["H3"] is False


def test_h4_flips_on_any_audit_finding():
    assert verdicts(audit=LeakageAudit(("watch_live_time",), 0, 0, 100, (), {}))["H4"] is True
    assert verdicts(audit=LeakageAudit((), 0, 12, 100, (), {}))["H4"] is True


def test_nan_measurements_never_pass():
    v = verdicts(replace(SEED_LIKE, oracle_p_gain=float("nan")))
    assert v["S1"] is False


def test_headline_follows_the_numbers():
    first = headline(SEED_LIKE, hypothesis_verdicts(SEED_LIKE, CLEAN, 0.0, THRESHOLDS))
    assert "trails Direct" in first and "bottleneck is stage 1" in first and "+54.9 pp" in first
    flipped = replace(SEED_LIKE, two_stage=0.6, oracle_p_gain=0.01, oracle_m_gain=0.3)
    second = headline(flipped, hypothesis_verdicts(flipped, CLEAN, 0.0, THRESHOLDS))
    assert "matches or beats" in second and "bottleneck is stage 2" in second


def test_oracles_are_perfect_where_they_should_be():
    rng = np.random.default_rng(0)
    y = np.where(rng.random(5000) < 0.03, rng.exponential(50, 5000), 0.0)
    scores = HeldOutScores(y=y, direct=rng.normal(size=5000), p=rng.random(5000), m=np.log1p(y) + 0.01)
    table, _ = evaluate_methods(y, method_scores(scores), ndcg_k=100, whale_quantile=0.9)
    assert table.loc["Oracle-p", "revcap@5%"] == pytest.approx(1.0)  # gifts first, ordered by the true amount
    assert table.loc["Oracle-p", "spearman_gift"] == pytest.approx(1.0)
    d = decompose(table)
    assert d.oracle_p_gain > 0.5
