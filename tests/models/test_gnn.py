"""The turnover GNN's components: negative sampling, the adaptive margin, two stages, the LR schedule."""

from dataclasses import replace

import numpy as np
import pytest

from expbook.data.turnover import load_survey
from expbook.data.turnover_synth import SurveySpec, generate_survey
from expbook.experiments import turnover_pipeline as cv
from expbook.models import gnn
from expbook.models.gnn import GNNConfig
from expbook.models.negatives import NegativeSampler

FAST = GNNConfig(hidden=8, stage1_epochs=6, stage2_epochs=6, stage1_patience=50, stage2_patience=50, refresh_every=2)


@pytest.fixture(scope="module")
def small_graph(tmp_path_factory):
    folder = tmp_path_factory.mktemp("survey")
    generate_survey(folder, SurveySpec(employees=150, seed=1))
    return load_survey(folder)


class SpySampler(NegativeSampler):
    calls: list[str] = []

    def refresh(self, scores):
        SpySampler.calls.append("refresh")
        super().refresh(scores)

    def hard(self, employees, chosen):
        SpySampler.calls.append("hard")
        return super().hard(employees, chosen)


def _task(graph, seed=0):
    import torch

    split = cv.cv_splits(graph.label, folds=4, repeats=1, val_fraction=0.15, seed=seed)[0]
    x = cv._standardise(graph.features.to_numpy(dtype=float), split.train)
    task = gnn.Task(torch.from_numpy(graph.label.astype(np.float32)), split.train, split.val,
                    torch.from_numpy(cv._standardise(graph.posts, np.arange(14))), cv._pairs(graph, split.train),
                    cv._pairs(graph, split.val))
    return cv.to_hetero(graph, x), task


def test_switching_off_hard_negatives_never_calls_the_hard_sampler(small_graph):
    data, task = _task(small_graph)
    SpySampler.calls = []
    gnn.train_gnn(data, task, cv.model_configs(FAST)["v6 without hard negatives"], sampler_factory=SpySampler)
    assert SpySampler.calls == []
    gnn.train_gnn(data, task, cv.model_configs(FAST)["GNN v6"], sampler_factory=SpySampler)
    assert SpySampler.calls.count("refresh") == 3 and SpySampler.calls.count("hard") == 6  # refresh every 2 epochs


def test_the_adaptive_margin_follows_validation_accuracy_within_its_bounds(small_graph):
    data, task = _task(small_graph)
    grow = gnn.train_gnn(data, task, replace(FAST, margin_up_acc=-1.0)).curves  # accuracy is always above
    shrink = gnn.train_gnn(data, task, replace(FAST, margin_up_acc=2.0, margin_down_acc=2.0)).curves  # always below
    fixed = gnn.train_gnn(data, task, replace(FAST, adaptive_margin=False, margin_up_acc=-1.0)).curves
    stage2 = slice(6, 12)
    assert grow["margin"].iloc[stage2].tolist() == pytest.approx([1.0, 1.25, 1.5625, 1.953125, 2.44140625, 3.0])
    assert shrink["margin"].iloc[stage2].tolist() == pytest.approx([1.0, 0.8, 0.64, 0.512, 0.5, 0.5])
    assert fixed["margin"].eq(1.0).all()


def test_two_stage_switch_changes_the_stages(small_graph):
    data, task = _task(small_graph)
    configs = cv.model_configs(FAST)
    two_stage = gnn.train_gnn(data, task, configs["GNN v6"]).curves
    joint = gnn.train_gnn(data, task, configs["v6 without two-stage"]).curves
    assert two_stage["stage"].tolist() == [1] * 6 + [2] * 6
    assert (two_stage.loc[two_stage["stage"] == 1, "preference_loss"] == 0).all()
    assert joint["stage"].unique().tolist() == [1] and len(joint) == 12 and (joint["preference_loss"] > 0).all()


def test_the_learning_rate_halves_on_a_plateau_and_stays_put_without_the_schedule(small_graph):
    data, task = _task(small_graph)
    flat = replace(FAST, stage1_epochs=12, stage2_epochs=0, preference=False, learning_rate=1e-6, lr_patience=1)
    on = gnn.train_gnn(data, task, flat).curves["lr"]  # a learning rate this small leaves the score (nearly) flat
    off = gnn.train_gnn(data, task, replace(flat, lr_plateau=False)).curves["lr"]
    assert on.iloc[-1] <= 1e-6 / 4 and on.is_monotonic_decreasing and set(on) <= {1e-6 / 2**k for k in range(12)}
    assert off.eq(1e-6).all()
