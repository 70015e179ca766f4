"""GNN v6 components really switch the training path; thresholds come from validation only; seed statistics."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from expbook.data.turnover import load_survey
from expbook.data.turnover_synth import SurveySpec, generate_survey
from expbook.experiments import gnn_turnover_v6 as gt
from expbook.models import gnn
from expbook.models.gbdt import GBDTConfig
from expbook.models.gnn import GNNConfig

FAST = GNNConfig(hidden=8, stage1_epochs=6, stage2_epochs=6, stage1_patience=50, stage2_patience=50, refresh_every=2)
GBDT = GBDTConfig(num_boost_round=20, num_leaves=4, min_data_in_leaf=5)


@pytest.fixture(scope="module")
def small_graph(tmp_path_factory):
    folder = tmp_path_factory.mktemp("survey")
    generate_survey(folder, SurveySpec(employees=150, seed=1))
    return load_survey(folder)


def _task(graph, seed=0):
    import torch

    split = gt.cv_splits(graph.label, folds=4, repeats=1, val_fraction=0.15, seed=seed)[0]
    x = gt._standardise(graph.features.to_numpy(dtype=float), split.train)
    task = gnn.Task(torch.from_numpy(graph.label.astype(np.float32)), split.train, split.val,
                    torch.from_numpy(gt._standardise(graph.posts, np.arange(14))), gt._pairs(graph, split.train),
                    gt._pairs(graph, split.val))
    return gt.to_hetero(graph, x), task


def test_every_ablation_switch_changes_the_training_path(small_graph):
    """Each switched-off component gives other losses than full v6 from the epoch where it acts.

    (Final metrics can coincide when early stopping keeps an epoch before the component acted;
    the margin band is set here so that the adaptive margin must move after every epoch.)
    """
    data, task = _task(small_graph)
    configs = gt.model_configs(replace(FAST, margin_up_acc=-1.0, lr_patience=1))
    full = gnn.train_gnn(data, task, configs["GNN v6"]).curves
    for ablation in gt.ABLATIONS:
        curves = gnn.train_gnn(data, task, configs[ablation]).curves
        changed = not np.allclose(full["loss"].to_numpy()[:len(curves)], curves["loss"].to_numpy()[:len(full)])
        assert changed or not np.allclose(full["lr"].to_numpy(), curves["lr"].to_numpy()), ablation


def test_the_threshold_is_never_chosen_on_test(small_graph, monkeypatch):
    seen = []
    real = gt.best_f1_threshold

    def spy(y, p):
        seen.append(np.asarray(y).copy())
        return real(y, p)

    monkeypatch.setattr(gt, "best_f1_threshold", spy)
    split = gt.cv_splits(small_graph.label, folds=3, repeats=1, val_fraction=0.15, seed=3)[1]
    gt.run_split(small_graph, split, base=FAST, gbdt=GBDT, models=("MLP", "LightGBM + groups", "GNN v6"))
    assert len(seen) == 3 and all(np.array_equal(y, small_graph.label[split.val]) for y in seen)
    assert not set(split.val) & set(split.test) and not set(split.train) & set(split.test)


def test_permuting_the_test_labels_changes_no_choice_on_any_fold(small_graph):
    """Thresholds, early-stopping epochs and validation curves stay put; only the test metrics may move."""
    rng = np.random.default_rng(0)
    for split in gt.cv_splits(small_graph.label, folds=3, repeats=1, val_fraction=0.15, seed=0):
        label = small_graph.label.copy()
        label[split.test] = rng.permutation(label[split.test])[::-1]
        shuffled = replace(small_graph, label=label)
        models = ("MLP + groups", "LightGBM + groups", "GNN v6")
        a, curves_a = gt.run_split(small_graph, split, base=FAST, gbdt=GBDT, models=models)
        b, curves_b = gt.run_split(shuffled, split, base=FAST, gbdt=GBDT, models=models)
        assert [r["threshold"] for r in a] == [r["threshold"] for r in b]
        pd.testing.assert_frame_equal(curves_a["GNN v6"], curves_b["GNN v6"])


def test_every_employee_is_tested_once_per_repeat_and_validation_comes_from_the_training_fold():
    label = (np.arange(200) % 9 == 0).astype(int)
    splits = gt.cv_splits(label, folds=5, repeats=3, val_fraction=0.15, seed=1)
    assert len(splits) == 15 and len({s.id for s in splits}) == 15
    for repeat in range(3):
        tested = np.concatenate([s.test for s in splits if s.repeat == repeat])
        assert np.array_equal(np.sort(tested), np.arange(200))
    for s in splits:
        assert np.array_equal(np.sort(np.concatenate([s.train, s.val, s.test])), np.arange(200))
        assert label[s.val].sum() >= 1 and label[s.test].sum() == pytest.approx(label.sum() / 5, abs=1)


def test_the_group_features_reach_the_baselines(tmp_path):
    """Turnover carried by the groups alone: LightGBM with the group columns beats LightGBM without, every fold."""
    generate_survey(tmp_path, SurveySpec(employees=600, graph_signal=1.0, turnover_scale=4.0, positive_rate=0.2, seed=2))
    graph = load_survey(tmp_path)
    gbdt = GBDTConfig(num_boost_round=200, num_leaves=7, min_data_in_leaf=10, learning_rate=0.05)
    gains = []
    for split in gt.cv_splits(graph.label, folds=3, repeats=1, val_fraction=0.15, seed=0):
        rows, _ = gt.run_split(graph, split, base=FAST, gbdt=gbdt, models=("LightGBM", "LightGBM + groups"))
        gains.append(rows[1]["aupr"] - rows[0]["aupr"])
    assert min(gains) > 0.1, gains


def _results(v6_gain: float, splits=10, shift: dict[str, float] | None = None):
    rng = np.random.default_rng(0)
    rows = []
    for data, models in (("survey", gt.SURVEY_MODELS), ("ibm_attrition", gt.IBM_MODELS)):
        for split in range(splits):
            base = 0.5 + 0.05 * rng.standard_normal()
            for model in models:
                gain = (v6_gain if model == "GNN v6" else 0.0) + (shift or {}).get(model, 0.0) * (data == "survey")
                rows.append({"data": data, "split": split, "model": model, "n_test": 100, "n_train": 400,
                             "aupr": base + gain + 0.005 * rng.standard_normal(),
                             "pref_acc": 0.6 + 0.01 * rng.standard_normal() + (gain if model == "GNN v6" else 0)})
    return pd.DataFrame(rows)


def test_verdicts_flip_with_the_data():
    family = gt.survey_family() + gt.ibm_family()
    for gain, expected in ((0.05, "holds"), (0.0, "inconclusive"), (-0.05, "does not hold")):
        results = _results(gain)
        table = gt.compare(results, family)
        assert len(table) == len(family) and (table["p (Holm)"] >= table["p (corrected t)"]).all()
        checks = {v.id: v for v in gt.verdicts(table, family, alpha=0.05)}
        assert [checks[i].state for i in ("V1", "V2", "V3", "A2", "I1", "I2")] == [expected] * 6, gain
        assert checks["P1"].holds and checks["G1"].state == "inconclusive"
    results = _results(-0.05)
    family_table = gt.compare(results, family)
    sentence = gt.headline(results, gt.verdicts(family_table, family, alpha=0.05))
    assert "beats none of them and is worse than MLP + groups, LightGBM + groups, GNN v5" in sentence
    assert "two-stage hurts" in sentence and "do not significantly help" in sentence


def test_holm_turns_a_marginal_win_inconclusive():
    """GNN v6 beats MLP + groups by a margin that one test alone calls significant; through the report's own path
    (per-fold results → corrected t-tests → Holm over the family → verdicts) it is inconclusive, and alone it holds."""
    family = gt.survey_family() + gt.ibm_family()
    results = _results(0.0, shift={"MLP + groups": -0.012})
    table = gt.compare(results, family).set_index("id")
    assert 0.005 < table.loc["V1", "p (corrected t)"] < 0.04 and table.loc["V1", "p (Holm)"] >= 0.05
    v1 = next(v for v in gt.verdicts(table.reset_index(), family, alpha=0.05) if v.id == "V1")
    assert v1.state == "inconclusive" and "Holm p" in v1.value_text
    alone = [c for c in family if c.id == "V1"]
    assert gt.verdicts(gt.compare(results, alone), alone, alpha=0.05)[0].state == "holds"


def test_results_do_not_depend_on_the_number_of_worker_processes(small_graph):
    splits = gt.cv_splits(small_graph.label, folds=2, repeats=1, val_fraction=0.15, seed=0)
    kwargs = {"base": FAST, "gbdt": GBDT, "models": ("MLP + groups", "GNN v6")}
    one, _ = gt.run_cv(small_graph, splits, workers=1, **kwargs)
    two, _ = gt.run_cv(small_graph, splits, workers=2, **kwargs)
    pd.testing.assert_frame_equal(one.drop(columns="seconds"), two.drop(columns="seconds"))
