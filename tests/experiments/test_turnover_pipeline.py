"""The turnover training pipeline: v6 components really switch the training path, thresholds come from validation
only, every employee is tested once per repeat, and results do not depend on the worker count."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from expbook.data.turnover import load_survey
from expbook.data.turnover_synth import SurveySpec, generate_survey
from expbook.experiments import turnover_pipeline as cv
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

    split = cv.cv_splits(graph.label, folds=4, repeats=1, val_fraction=0.15, seed=seed)[0]
    x = cv._standardise(graph.features.to_numpy(dtype=float), split.train)
    task = gnn.Task(torch.from_numpy(graph.label.astype(np.float32)), split.train, split.val,
                    torch.from_numpy(cv._standardise(graph.posts, np.arange(14))), cv._pairs(graph, split.train),
                    cv._pairs(graph, split.val))
    return cv.to_hetero(graph, x), task


def test_every_ablation_switch_changes_the_training_path(small_graph):
    """Each switched-off component gives other losses than full v6 from the epoch where it acts.

    (Final metrics can coincide when early stopping keeps an epoch before the component acted;
    the margin band is set here so that the adaptive margin must move after every epoch.)
    """
    data, task = _task(small_graph)
    configs = cv.model_configs(replace(FAST, margin_up_acc=-1.0, lr_patience=1))
    full = gnn.train_gnn(data, task, configs["GNN v6"]).curves
    for ablation in cv.ABLATIONS:
        curves = gnn.train_gnn(data, task, configs[ablation]).curves
        changed = not np.allclose(full["loss"].to_numpy()[:len(curves)], curves["loss"].to_numpy()[:len(full)])
        assert changed or not np.allclose(full["lr"].to_numpy(), curves["lr"].to_numpy()), ablation


def test_the_threshold_is_never_chosen_on_test(small_graph, monkeypatch):
    seen = []
    real = cv.best_f1_threshold

    def spy(y, p):
        seen.append(np.asarray(y).copy())
        return real(y, p)

    monkeypatch.setattr(cv, "best_f1_threshold", spy)
    split = cv.cv_splits(small_graph.label, folds=3, repeats=1, val_fraction=0.15, seed=3)[1]
    cv.run_split(small_graph, split, base=FAST, gbdt=GBDT, models=("MLP", "LightGBM + groups", "GNN v6"))
    assert len(seen) == 3 and all(np.array_equal(y, small_graph.label[split.val]) for y in seen)
    assert not set(split.val) & set(split.test) and not set(split.train) & set(split.test)


def test_permuting_the_test_labels_changes_no_choice_on_any_fold(small_graph):
    """Thresholds, early-stopping epochs and validation curves stay put; only the test metrics may move."""
    rng = np.random.default_rng(0)
    for split in cv.cv_splits(small_graph.label, folds=3, repeats=1, val_fraction=0.15, seed=0):
        label = small_graph.label.copy()
        label[split.test] = rng.permutation(label[split.test])[::-1]
        shuffled = replace(small_graph, label=label)
        models = ("MLP + groups", "LightGBM + groups", "GNN v6")
        a, curves_a = cv.run_split(small_graph, split, base=FAST, gbdt=GBDT, models=models)
        b, curves_b = cv.run_split(shuffled, split, base=FAST, gbdt=GBDT, models=models)
        assert [r["threshold"] for r in a] == [r["threshold"] for r in b]
        pd.testing.assert_frame_equal(curves_a["GNN v6"], curves_b["GNN v6"])


def test_every_employee_is_tested_once_per_repeat_and_validation_comes_from_the_training_fold():
    label = (np.arange(200) % 9 == 0).astype(int)
    splits = cv.cv_splits(label, folds=5, repeats=3, val_fraction=0.15, seed=1)
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
    for split in cv.cv_splits(graph.label, folds=3, repeats=1, val_fraction=0.15, seed=0):
        rows, _ = cv.run_split(graph, split, base=FAST, gbdt=gbdt, models=("LightGBM", "LightGBM + groups"))
        gains.append(rows[1]["aupr"] - rows[0]["aupr"])
    assert min(gains) > 0.1, gains


def test_results_do_not_depend_on_the_number_of_worker_processes(small_graph):
    splits = cv.cv_splits(small_graph.label, folds=2, repeats=1, val_fraction=0.15, seed=0)
    kwargs = {"base": FAST, "gbdt": GBDT, "models": ("MLP + groups", "GNN v6")}
    one, _ = cv.run_cv(small_graph, splits, workers=1, **kwargs)
    two, _ = cv.run_cv(small_graph, splits, workers=2, **kwargs)
    pd.testing.assert_frame_equal(one.drop(columns="seconds"), two.drop(columns="seconds"))


def test_results_do_not_depend_on_where_the_jobs_ran(small_graph):
    import os

    from expbook.parallel import SCHEDULER_ENV
    from expbook.run.dispatch import shared_cluster

    splits = cv.cv_splits(small_graph.label, folds=2, repeats=1, val_fraction=0.15, seed=0)
    kwargs = {"base": FAST, "gbdt": GBDT, "models": ("MLP + groups", "GNN v6")}
    here, _ = cv.run_cv(small_graph, splits, workers=1, **kwargs)
    with shared_cluster(workers=2) as address:  # sets SCHEDULER_ENV to its address while it runs
        assert os.environ[SCHEDULER_ENV] == address
        there, _ = cv.run_cv(small_graph, splits, workers=1, **kwargs)
    pd.testing.assert_frame_equal(here.drop(columns="seconds"), there.drop(columns="seconds"))
