"""Recall-rerank construction, the frozen top-K set, fusion, pools, and the gate rule."""

import numpy as np
import pandas as pd
import pytest

from expbook.experiments import recall_rerank as rr
from expbook.metrics.estimates import TEstimate
from expbook.metrics.ranking import k_for_fraction, ndcg_at_k, top_k_capture


def _candidates(seed=0, n=20_000):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.03, rng.exponential(40, n), 0.0)
    direct = np.log1p(y) * 0.5 + rng.normal(0, 1, n)
    m = np.log1p(y) + rng.normal(0, 0.3, n)
    return y, direct, m


def test_head_is_directs_top_m_ordered_by_m_then_the_tail_by_direct():
    direct = np.array([5.0, 4, 3, 2, 1, 0])
    m = np.array([0.0, 1, 9, 8, 7, 6])
    order = np.argsort(-rr.recall_rerank_score(direct, m, top_m=3))
    np.testing.assert_array_equal(order, [2, 1, 0, 3, 4, 5])


@pytest.mark.parametrize("top_m", [10, 50, 200])
def test_when_m_is_at_most_k_the_top_k_set_and_capture_equal_directs(top_m):
    y, direct, m = _candidates()
    k = k_for_fraction(y.size, 0.01)  # 200
    assert top_m <= k
    reranked = rr.recall_rerank_score(direct, m, top_m)
    assert set(np.argsort(-reranked)[:k]) == set(np.argsort(-direct)[:k])
    assert top_k_capture(y, reranked, 0.01) == pytest.approx(top_k_capture(y, direct, 0.01))


def test_when_m_exceeds_k_a_better_m_can_raise_top1_and_ndcg():
    y, direct, m = _candidates()
    reranked = rr.recall_rerank_score(direct, m, 2000)
    assert top_k_capture(y, reranked, 0.01) > top_k_capture(y, direct, 0.01)
    assert ndcg_at_k(y, reranked, 100) > ndcg_at_k(y, direct, 100)


def test_fusion_endpoints_are_the_two_rankings():
    y, direct, m = _candidates(1, 2000)
    assert np.array_equal(np.argsort(rr.fusion_score(direct, m, 1.0), kind="stable"),
                          np.argsort(rr.rank_normalise(direct), kind="stable"))
    assert top_k_capture(y, rr.fusion_score(direct, m, 0.0), 0.05) == pytest.approx(top_k_capture(y, m, 0.05))


def test_per_pool_scores_rank_inside_each_pool_only():
    y, direct, m = _candidates(2, 3000)
    pools = np.repeat([0, 1, 2], 1000)
    score = rr.pooled(rr.recall_rerank_score, y, direct, m, pools, top_m=20)
    for pool in range(3):
        rows = pools == pool
        np.testing.assert_allclose(score[rows], rr.recall_rerank_score(direct[rows], m[rows], 20))


def test_explanation_states_which_case_the_best_m_is_in():
    text = rr.explain_frozen_set(163_000, [50, 100, 200, 500, 1000, 5000], best_m=200).sentence()
    assert "K = 1,630" in text and "M ≤ K case" in text and "{5000} (M > K)" in text
    assert "M > K case" in rr.explain_frozen_set(10_000, [50, 100, 200], best_m=200).sentence()
    assert "no M in this sweep exceeds K" in rr.explain_frozen_set(163_000, [50, 100], best_m=100).sentence()


def _estimates(top1, ndcg, fusion=(0.01, 0.012, 0.011)):
    """Gains over Direct measured over seeds."""
    return {"top1%_capture": TEstimate.of(top1, "seeds"), "ndcg@100": TEstimate.of(ndcg, "seeds"),
            "fusion": TEstimate.of(fusion, "seeds")}


@pytest.mark.parametrize("gate_margin,expected", [(-0.05, "holds"), (0.05, "does not hold")])
def test_gate_flips_when_the_margin_crosses_the_measured_top1_gain(gate_margin, expected):
    parts, gate = rr.gate_verdicts(_estimates([0.001, -0.001, 0.0], [0.15, 0.16, 0.14]), gate_margin=gate_margin,
                                   ndcg_k=100, alpha=0.05)
    assert gate.state == expected and parts[0].state == expected and parts[1].holds
    sentence = rr.decision(gate, parts, "200", 100)
    assert ("Gate passed" in sentence) is (expected == "holds")
    assert ("keep Direct-only" in sentence) is (expected != "holds")


def test_gate_fails_without_an_ndcg_gain_even_with_top1_kept():
    parts, gate = rr.gate_verdicts(_estimates([0.4, 0.41, 0.39], [-0.1, -0.11, -0.09]), gate_margin=0.0, ndcg_k=100,
                                   alpha=0.05)
    assert parts[0].holds and parts[1].state == "does not hold" and gate.state == "does not hold"


@pytest.mark.parametrize("ndcg,state", [([0.03, 0.035, 0.025], "holds"), ([0.05, -0.04, 0.01], "inconclusive"),
                                        ([-0.03, -0.035, -0.025], "does not hold")])
def test_the_ndcg_verdict_and_the_gate_follow_the_seed_interval(ndcg, state):
    parts, gate = rr.gate_verdicts(_estimates([0.01, 0.012, 0.011], ndcg), gate_margin=0.0, ndcg_k=100, alpha=0.05)
    assert parts[0].holds and parts[1].state == state and gate.state == state
    sentence = rr.decision(gate, parts, "100", 100)
    assert ("undecided" in sentence) is (state == "inconclusive")
    assert (state != "inconclusive") or ("would take about" in sentence and "seeds" in sentence)


def test_h51_is_not_applicable_when_every_m_is_within_k_and_the_gate_rests_on_ndcg():
    gains = pd.DataFrame({"M": [200, 500, 200], "K": [1636, 1636, 1636]})
    reason = rr.frozen_reason(gains)
    assert "M ≤ K" in reason and "1,636" in reason
    parts, gate = rr.gate_verdicts(_estimates([0.0, 0.0, 0.0], [0.03, 0.035, 0.025]), gate_margin=0.0, ndcg_k=100,
                                   alpha=0.05, frozen=reason)
    assert parts[0].state == "not applicable" and parts[0].reason == reason
    assert gate.holds and "H5.1 is n/a" in gate.evidence and "H5.1 is n/a" in rr.decision(gate, parts, "200", 100)
    assert parts[1].p_adjusted is not None  # H5.2 and H5.3 still form a family
    # with an M beyond K in one seed, the contrast can fail and is decided
    assert rr.frozen_reason(pd.DataFrame({"M": [200, 2000], "K": [1636, 1636]})) is None
    parts, _ = rr.gate_verdicts(_estimates([-0.03, -0.035, -0.025], [0.03, 0.035, 0.025]), gate_margin=0.0,
                                ndcg_k=100, alpha=0.05, frozen=None)
    assert parts[0].state == "does not hold"


def test_the_diagnosis_finding_is_quoted_from_its_stored_verdicts():
    def stored(state, gift_state):
        return {"run_id": "r1", "verdicts": [{"id": "T1", "state": state},
                                             {"id": "H3", "state": "holds", "parts": [{"state": gift_state}]}]}

    assert "the direct regressor captures more" in rr.diagnosis_sentence(stored("holds", "holds"))
    assert "cannot be told apart" in rr.diagnosis_sentence(stored("inconclusive", "holds"))
    assert "two-stage product captures more" in rr.diagnosis_sentence(stored("does not hold", "does not hold"))
    assert "orders the gifts worse" in rr.diagnosis_sentence(stored("holds", "does not hold"))
    assert "no canonical run yet" in rr.diagnosis_sentence(None)


def test_m_and_alpha_are_the_argmax_of_validation_ndcg_only():
    val_sweep = pd.DataFrame({"ndcg@10": [0.1, 0.3, 0.3, 0.2]}, index=pd.Index([10, 20, 50, 100], name="M"))
    val_fusion = pd.DataFrame({"ndcg@10": [0.2, 0.25, 0.1]}, index=pd.Index([0.0, 0.5, 1.0], name="alpha"))
    selection = rr.choose_on_validation(val_sweep, val_fusion, ndcg_k=10)
    assert (selection.m, selection.alpha) == (20, 0.5)  # a tie keeps the smaller M
    assert selection.as_dict()["chosen_on"] == "validation"


def test_user_bootstrap_resamples_whole_users():
    from expbook.metrics.bootstrap import resample_indices

    users = np.array([5, 5, 5, 9, 2, 2])
    for idx in resample_indices(users.size, n_boot=50, seed=0, clusters=users):
        drawn = users[idx]
        for user in np.unique(drawn):  # every drawn user comes with all of its rows, a whole number of times
            copies = (drawn == user).sum() / (users == user).sum()
            assert copies == int(copies) and sorted(idx[drawn == user]) == sorted(
                np.tile(np.flatnonzero(users == user), int(copies)))
        assert sum((drawn == u).sum() / (users == u).sum() for u in np.unique(drawn)) == 3  # as many users as there are


def test_seed_estimates_of_the_gains_decide_the_gate():
    def gains(deltas):
        return pd.DataFrame({"M": [500] * len(deltas), "alpha": 0.5, "K": 1636, "top1%_capture RR": [0.5 + d for d in deltas],
                             "top1%_capture Direct": 0.5, "ndcg@100 RR": [0.3 + d for d in deltas],
                             "ndcg@100 Direct": 0.3, "ndcg@100 fusion": 0.31})

    for deltas, state in (([0.05, 0.06, 0.055], "holds"), ([0.05, -0.04, 0.01], "inconclusive"),
                          ([-0.05, -0.06, -0.055], "does not hold")):
        estimates = rr.seed_estimates(gains(deltas), ndcg_k=100)
        assert estimates["ndcg@100"].value == pytest.approx(np.mean(deltas))
        _, gate = rr.gate_verdicts(estimates, gate_margin=0.0, ndcg_k=100, alpha=0.05)
        assert gate.state == state, deltas
    assert rr.chosen_m_text(gains([0.1, 0.1])) == "500"
    assert rr.chosen_m_text(pd.DataFrame({"M": [500, 1000]})) == "500 / 1000 per seed"
