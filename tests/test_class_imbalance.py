"""Collapse detector, recommendation and verdicts of the class-imbalance report: they follow the predictions."""

import numpy as np
import pandas as pd
import pytest

from expbook.data.ecg_synth import EcgSpec
from expbook.experiments import class_imbalance as ci
from expbook.models.ecg_cnn import TrainConfig

DETECTOR = {"ratio": 3.0, "min_excess": 0.05, "min_fraction": 0.1}


def _truth(n=1000):
    return np.repeat([0, 1, 2, 3], [900, 40, 50, 10])[:n]


def test_a_collapsing_prediction_vector_is_flagged_and_a_balanced_one_is_not():
    y = _truth()
    assert not ci.detect_collapse(y, y.copy(), **DETECTOR).collapsed
    collapsed = y.copy()
    collapsed[:300] = 1  # 300 N beats predicted S: S share 34% against a 4% prior
    finding = ci.detect_collapse(y, collapsed, **DETECTOR)
    assert finding.collapsed and finding.over_predicted == ("S",)
    assert "S predicted 34.0% vs prior 4.0%" in finding.describe()


def test_a_class_never_predicted_is_a_collapse_and_small_drift_is_not():
    y = _truth()
    no_v = np.where(y == 2, 0, y)  # V swallowed by N
    finding = ci.detect_collapse(y, no_v, **DETECTOR)
    assert finding.collapsed and finding.never_predicted == ("V",)
    drift = y.copy()
    drift[:30] = 1  # S predicted 7% vs 4%: not 3×, and an excess of 3 points only
    assert not ci.detect_collapse(y, drift, **DETECTOR).collapsed


def _table(stacked_pred_s_share: float, rec_gen_macro: float = 0.8):
    y = _truth()
    rows = {}
    for name, share, val_blend, gen_macro in (("stacked", stacked_pred_s_share, 0.5, 0.6),
                                              ("repaired", 0.04, 0.9, rec_gen_macro),
                                              ("better on DS2 only", 0.04, 0.7, 0.95)):
        pred = y.copy()
        pred[: max(int(round(share * y.size)) - 40, 0)] = 1
        finding = ci.detect_collapse(y, pred, **DETECTOR)
        rows[name] = {"collapsed": finding.collapsed, "collapse": finding.describe(), "worst ratio": finding.worst_ratio,
                      "val blend": val_blend, "gen macro": gen_macro, "gen recall_S": 0.5, "gen recall_V": 0.9}
    return pd.DataFrame.from_dict(rows, orient="index")


def test_the_recommendation_is_chosen_on_validation_among_healthy_rows_only():
    table = _table(0.4)
    assert ci.recommend(table) == "repaired"  # not "better on DS2 only": DS2 is never used to choose
    table.loc["repaired", "collapsed"] = True
    assert ci.recommend(table) == "better on DS2 only"
    table["collapsed"] = True
    assert ci.recommend(table) is None


def test_c1_flips_with_the_stacked_predictions_and_c3_with_the_generalisation_gain():
    collapsed, healthy = _table(0.4), _table(0.04)
    c1 = {t: ci.verdicts(table, stacked="stacked", recommended="repaired", ratio=3.0, es_table=None, min_gain=0.0)[0]
          for t, table in (("collapsed", collapsed), ("healthy", healthy))}
    assert c1["collapsed"].verdict and not c1["healthy"].verdict
    worse = ci.verdicts(_table(0.4, rec_gen_macro=0.55), stacked="stacked", recommended="repaired", ratio=3.0,
                        es_table=None, min_gain=0.0)
    assert [v.id for v in worse] == ["C1", "C2", "C3"] and not worse[2].verdict
    assert "collapses" in ci.headline(collapsed, stacked="stacked", recommended="repaired", checks=worse)
    assert "does not collapse" in ci.headline(healthy, stacked="stacked", recommended="repaired", checks=worse)


def test_c4_compares_rare_f1_of_blend_and_macro_stopping():
    table = _table(0.4)
    es = pd.DataFrame({"gen rare": {"macro": 0.6, "abnormal": 0.6, "rare": 0.7, "blend": 0.65}})
    c4 = ci.verdicts(table, stacked="stacked", recommended="repaired", ratio=3.0, es_table=es, min_gain=0.0)[-1]
    assert c4.id == "C4" and c4.verdict and c4.value == pytest.approx(0.05)
    es.loc["blend", "gen rare"] = 0.6
    assert not ci.verdicts(table, stacked="stacked", recommended="repaired", ratio=3.0, es_table=es, min_gain=0.0)[-1].verdict


@pytest.mark.slow
def test_on_the_default_generated_data_the_stack_collapses_and_the_sampler_alone_does_not(tmp_path, monkeypatch):
    """The report's main finding at default data size, one seed (the report itself uses three)."""
    monkeypatch.setenv("EXPBOOK_CACHE", str(tmp_path))
    splits = ci.prepare_beats(None, EcgSpec(), lead="MLII", before=90, after=144, val_fraction=0.25, split_seed=0)
    configs = ci.standard_configs(TrainConfig(epochs=10, patience=4), stacked_max_ratio=20.0, sampler_power=0.7,
                                  sampler_max_ratio=6.0, target_mix=(0.4, 0.2, 0.3, 0.1), focal_gamma=2.0,
                                  warmup_epochs=5, combo_weight_power=0.3)
    chosen = {name: configs[name] for name in ("stacked sampler + CE weights", "sampler only")}
    table = ci.summary_table(ci.train_all(splits, chosen, [0]), splits, **DETECTOR)
    assert table.loc["stacked sampler + CE weights", "collapsed"]
    assert not table.loc["sampler only", "collapsed"]
