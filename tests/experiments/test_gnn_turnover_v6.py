"""GNN v6 verdicts: one Holm family paired by split, intervals that agree with the state, what would decide an
inconclusive comparison, and the positive control outside the family."""

import numpy as np
import pandas as pd

from expbook.experiments import gnn_turnover_v6 as gt
from expbook.experiments import turnover_pipeline as cv


def _results(v6_gain: float, splits=10, shift: dict[str, float] | None = None, data=("survey", "ibm_attrition")):
    rng = np.random.default_rng(0)
    rows = []
    for name, models in (("survey", cv.SURVEY_MODELS), ("ibm_attrition", cv.IBM_MODELS), (gt.CONTROL_DATA, gt.CONTROL_MODELS)):
        if name not in data:
            continue
        for split in range(splits):
            base = 0.5 + 0.05 * rng.standard_normal()
            for model in models:
                gain = (v6_gain if model == "GNN v6" else 0.0) + (shift or {}).get(model, 0.0) * (name != "ibm_attrition")
                rows.append({"data": name, "split": split, "model": model, "n_test": 100, "n_train": 400,
                             "aupr": base + gain + 0.005 * rng.standard_normal(),
                             "pref_acc": 0.6 + 0.01 * rng.standard_normal() + (gain if model == "GNN v6" else 0)})
    return pd.DataFrame(rows)


FAMILY = gt.survey_family() + gt.ibm_family()


def test_verdicts_flip_with_the_data():
    for gain, expected in ((0.05, "holds"), (0.0, "inconclusive"), (-0.05, "does not hold")):
        checks = {v.id: v for v in gt.verdicts(_results(gain), FAMILY, alpha=0.05)}
        assert all(v.p_adjusted >= v.p for v in checks.values())
        assert [checks[i].state for i in ("V1", "V2", "V3", "A2", "I1", "I2")] == [expected] * 6, gain
        assert checks["P1"].holds and checks["G1"].state == "inconclusive"
    results = _results(-0.05)
    sentence = gt.headline(results, gt.verdicts(results, FAMILY, alpha=0.05))
    assert "beats none of them and is worse than MLP + groups, LightGBM + groups and GNN v5" in sentence
    assert "two-stage hurts" in sentence and "do not significantly help" in sentence


def test_holm_turns_a_marginal_win_inconclusive_and_the_shown_interval_agrees():
    """GNN v6 beats MLP + groups by a margin that one test alone calls significant; through the report's own path
    (per-fold results → corrected t-tests → Holm over the family → verdicts) it is inconclusive, its interval (the
    Holm-adjusted one) straddles zero, and alone it holds with a 95% interval above zero."""
    results = _results(0.0, shift={"MLP + groups": -0.012})
    v1 = next(v for v in gt.verdicts(results, FAMILY, alpha=0.05) if v.id == "V1")
    assert 0.001 < v1.p < 0.04 and v1.p_adjusted >= 0.05
    assert v1.state == "inconclusive" and v1.ci[0] < 0 < v1.ci[1] and "Holm p" in v1.value_text
    alone = gt.verdicts(results, [c for c in FAMILY if c.id == "V1"], alpha=0.05)[0]
    assert alone.state == "holds" and alone.ci[0] > 0 and alone.p_adjusted is None


def test_every_inconclusive_comparison_says_what_would_decide_it_in_employees():
    checks = gt.verdicts(_results(0.002), FAMILY, alpha=0.05)
    undecided = [v for v in checks if v.state == "inconclusive"]
    assert undecided and all(v.decide["unit"] == "employees" and "employees" in v.note for v in undecided)
    # 10 splits at n_test/n_train = 0.25: the floor 0.25·σ² is most of (1/10 + 0.25)·σ², so repeats rarely decide
    assert any(v.note.startswith(("repeats cannot", "cannot be settled on this data")) for v in undecided)


def test_the_positive_control_is_outside_the_family_and_flips_with_the_planted_signal():
    family = FAMILY + gt.control_family()
    strong = _results(0.0, shift={"GNN v6": 0.10, "MLP + groups": 0.05}, data=("survey", gt.CONTROL_DATA))
    checks = {v.id: v for v in gt.verdicts(strong, family, alpha=0.05)}
    assert checks["PC1"].holds and checks["PC2"].holds and checks["PC1"].role == "positive control"
    assert checks["PC1"].p_adjusted is None and checks["V1"].p_adjusted is not None
    assert "beats the MLP with the same group features" in gt.headline(strong, list(checks.values()))
    # the groups help, but the GNN adds nothing over the MLP that sees them: PC1 tests message passing, not the groups
    groups_only = _results(0.0, shift={"GNN v6": 0.05, "MLP + groups": 0.05}, data=("survey", gt.CONTROL_DATA))
    checks = {v.id: v for v in gt.verdicts(groups_only, family, alpha=0.05)}
    assert checks["PC1"].state == "inconclusive" and checks["PC2"].holds
    assert "cannot be told from the MLP with the same group features, and the group features help the MLP" in (
        gt.headline(groups_only, list(checks.values())))
    flat = _results(0.0, data=("survey", gt.CONTROL_DATA))
    control = next(v for v in gt.verdicts(flat, family, alpha=0.05) if v.id == "PC1")
    assert control.state == "inconclusive"


def test_the_comparison_table_shows_the_interval_that_decided_each_verdict():
    checks = gt.verdicts(_results(0.05), FAMILY, alpha=0.05)
    table = gt.comparison_table(checks)
    assert list(table[""]) == [v.id for v in checks]
    assert table["interval"].str.contains("Holm-adjusted").all()
