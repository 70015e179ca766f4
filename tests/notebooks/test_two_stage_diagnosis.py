"""The two-stage diagnosis notebook at smoke size: its verdicts are computed, and the generator flips them."""

import pytest

from expbook.run.runner import run_experiment

pytestmark = pytest.mark.slow
QUIET = {"progress": False, "echo": lambda *_: None}


def test_the_tiny_run_records_every_verdict(tiny_store):
    results = run_experiment("two_stage_diagnosis", {}, store=tiny_store, **QUIET).record.results
    assert [v["id"] for v in results["verdicts"]] == ["H1", "H2", "H3", "H4", "S1", "D1", "T1"]
    assert len(results["figures"]) == 3


def test_verdicts_are_computed_a_near_perfect_stage1_flips_them(tiny_store):
    """Generator settings where gifting is a sharp, persistent user trait make stage 1 nearly perfect: stage 1's
    share of the gap shrinks, and S1 no longer holds (at tiny size its interval may leave it inconclusive)."""
    tiny_run = run_experiment("two_stage_diagnosis", {}, store=tiny_store, **QUIET).record
    flipped = run_experiment("two_stage_diagnosis", {"gift_predictability": 1.0, "gift_logit_scale": 8.0},
                             store=tiny_store, **QUIET).record
    before = {v["id"]: v["state"] for v in tiny_run.results["verdicts"]}
    after = {v["id"]: v["state"] for v in flipped.results["verdicts"]}
    assert before["S1"] == "holds" and after["S1"] != "holds"
    before_share, after_share = (run.results["metrics"]["shapley"]["share_p"] for run in (tiny_run, flipped))
    assert after_share < before_share - 0.1, (before_share, after_share)
