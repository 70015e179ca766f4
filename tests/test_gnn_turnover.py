"""GNN v6 components really switch the training path; thresholds come from validation only; seed statistics."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import f1_score

from expbook.data.turnover import load_survey
from expbook.data.turnover_synth import SurveySpec, generate_survey
from expbook.experiments import gnn_turnover as gt
from expbook.metrics.seeds import mean_ci, paired_test
from expbook.models import gnn
from expbook.models.gbdt import GBDTConfig
from expbook.models.gnn import GNNConfig, NegativeSampler

FAST = GNNConfig(hidden=8, stage1_epochs=6, stage2_epochs=6, stage1_patience=50, stage2_patience=50, refresh_every=2)
GBDT = GBDTConfig(num_boost_round=20, num_leaves=4, min_data_in_leaf=5)


@pytest.fixture(scope="module")
def small_graph(tmp_path_factory):
    folder = tmp_path_factory.mktemp("survey")
    generate_survey(folder, SurveySpec(employees=150, seed=1))
    return load_survey(folder)


def test_random_negatives_are_uniform_over_the_other_posts():
    sampler = NegativeSampler(5, np.array([[0, 2]]), cache_size=2, hard_ratio=0.7, seed=0)
    draws = sampler.random(np.full(20_000, 2))
    assert 2 not in draws and set(draws) == {0, 1, 3, 4}
    assert np.allclose(np.bincount(draws, minlength=5)[[0, 1, 3, 4]] / draws.size, 0.25, atol=0.02)


def test_hard_negative_cache_holds_the_top_scored_never_chosen_posts():
    chosen = np.array([[0, 0], [0, 1], [1, 3]])  # employee 0 chose posts 0 and 1, employee 1 chose 3
    sampler = NegativeSampler(6, chosen, cache_size=2, hard_ratio=1.0, seed=0)
    scores = np.array([[9.0, 8.0, 1.0, 5.0, 4.0, 0.0], [0.0, 1.0, 2.0, 9.0, 3.0, 8.0]])
    sampler.refresh(scores)
    assert [set(row) for row in sampler.cache] == [{3, 4}, {5, 4}]
    negatives, is_hard = sampler.hard(np.array([0] * 50), np.array([0] * 50))
    assert is_hard.all() and set(negatives) <= {3, 4}
    sampler.hard_ratio = 0.0
    negatives, is_hard = sampler.hard(np.array([0] * 50), np.array([0] * 50))
    assert not is_hard.any() and 0 not in negatives


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

    split = gt.stratified_split(graph.label, seed=seed, val=0.12, test=0.2)
    x = gt._standardise(graph.features.to_numpy(dtype=float), split.train)
    task = gnn.Task(torch.from_numpy(graph.label.astype(np.float32)), split.train, split.val,
                    torch.from_numpy(gt._standardise(graph.posts, np.arange(14))), gt._pairs(graph, split.train),
                    gt._pairs(graph, split.val))
    return gt.to_hetero(graph, x), task


def test_switching_off_hard_negatives_never_calls_the_hard_sampler(small_graph):
    data, task = _task(small_graph)
    SpySampler.calls = []
    gnn.train_gnn(data, task, gt.model_configs(FAST)["v6 − hard negatives"], sampler_factory=SpySampler)
    assert SpySampler.calls == []
    gnn.train_gnn(data, task, gt.model_configs(FAST)["GNN v6"], sampler_factory=SpySampler)
    assert SpySampler.calls.count("refresh") == 3 and SpySampler.calls.count("hard") == 6  # refresh every 2 epochs


def test_two_stage_switch_changes_the_stages_and_adaptive_margin_moves_the_margin(small_graph):
    data, task = _task(small_graph)
    configs = gt.model_configs(FAST)
    two_stage = gnn.train_gnn(data, task, configs["GNN v6"]).curves
    joint = gnn.train_gnn(data, task, configs["v6 − two-stage"]).curves
    assert two_stage["stage"].tolist() == [1] * 6 + [2] * 6
    assert (two_stage.loc[two_stage["stage"] == 1, "preference_loss"] == 0).all()
    assert joint["stage"].unique().tolist() == [1] and len(joint) == 12 and (joint["preference_loss"] > 0).all()
    fixed = gnn.train_gnn(data, task, configs["v6 − adaptive margin"]).curves
    assert fixed["margin"].eq(1.0).all()
    adaptive = two_stage.loc[two_stage["stage"] == 2, "margin"]
    assert adaptive.nunique() > 1 or adaptive.iloc[0] == 1.0  # moves unless accuracy stays inside the band
    assert adaptive.between(0.5, 3.0).all()


def test_every_ablation_switch_changes_the_training_path(small_graph):
    """Each switched-off component gives other losses than full v6 from the epoch where it acts.

    (Final metrics can coincide when early stopping keeps an epoch before the component acted;
    the margin band is set here so that the adaptive margin must move after every epoch.)
    """
    data, task = _task(small_graph)
    configs = gt.model_configs(replace(FAST, margin_up_acc=0.0))
    full = gnn.train_gnn(data, task, configs["GNN v6"]).curves
    for ablation in list(gt.ABLATIONS)[1:]:
        curves = gnn.train_gnn(data, task, configs[ablation]).curves
        assert not np.allclose(full["loss"].to_numpy()[:len(curves)], curves["loss"].to_numpy()[:len(full)]), ablation
    assert full.loc[full["stage"] == 2, "margin"].is_monotonic_increasing


def test_choose_threshold_maximises_validation_f1():
    rng = np.random.default_rng(0)
    y = (rng.random(80) < 0.2).astype(int)
    p = np.clip(0.3 * y + rng.random(80) * 0.7, 0, 1)
    threshold = gt.choose_threshold(y, p)
    brute = max(f1_score(y, (p >= t).astype(int)) for t in np.unique(p))
    assert f1_score(y, (p >= threshold).astype(int)) == pytest.approx(brute)


def test_the_threshold_is_never_chosen_on_test(small_graph, monkeypatch):
    seen = []
    real = gt.choose_threshold

    def spy(y, p):
        seen.append(np.asarray(y).copy())
        return real(y, p)

    monkeypatch.setattr(gt, "choose_threshold", spy)
    gt.run_seed(small_graph, 3, base=FAST, gbdt=GBDT, models=["MLP", "GBDT", "GNN v6"], val=0.12, test=0.2)
    split = gt.stratified_split(small_graph.label, seed=3, val=0.12, test=0.2)
    assert len(seen) == 3 and all(np.array_equal(y, small_graph.label[split.val]) for y in seen)
    assert not set(split.val) & set(split.test) and not set(split.train) & set(split.test)


def test_the_threshold_does_not_depend_on_test_scores():
    y_val, p_val = np.array([0, 0, 1, 1, 0, 1]), np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    threshold = gt.choose_threshold(y_val, p_val)
    y_test = np.array([0, 1, 1, 0])
    for p_test in (np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.9, 0.8, 0.7, 0.6])):
        assert gt.turnover_metrics(y_test, p_test, threshold)["threshold"] == threshold


def test_mean_ci_and_paired_test_match_scipy():
    a, b = np.array([0.61, 0.55, 0.70, 0.66, 0.58]), np.array([0.52, 0.54, 0.61, 0.60, 0.50])
    ci = mean_ci(a)
    low, high = stats.t.interval(0.95, 4, loc=a.mean(), scale=stats.sem(a))
    assert (ci.low, ci.high) == pytest.approx((low, high))
    test = paired_test(a, b)
    assert test.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert test.diff.mean == pytest.approx((a - b).mean())
    assert paired_test(a, a).p_value == 1.0


def _results(v6_gain: float, seeds=5):
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(seeds):
        base = 0.5 + 0.05 * rng.standard_normal()
        for model in ("MLP", "GBDT", "GNN v5", *gt.ABLATIONS):
            gain = v6_gain if model == "GNN v6" else 0.0
            rows.append({"seed": seed, "model": model, "aupr": base + gain + 0.005 * rng.standard_normal(),
                         "pref_acc": 0.6 + 0.01 * rng.standard_normal() + (gain if model == "GNN v6" else 0)})
    return pd.DataFrame(rows)


def test_verdicts_flip_with_the_data():
    others = [*gt.BASELINES, *list(gt.ABLATIONS)[1:]]
    for gain, expected in ((0.05, True), (0.0, False), (-0.05, False)):
        results = _results(gain)
        checks = {v.id: v for v in gt.verdicts(gt.paired_table(results, "GNN v6", others, ("aupr", "pref_acc")),
                                               results, alpha=0.05)}
        assert all(checks[i].verdict is expected for i in ("V1", "V2", "V3", "A2")), gain
        assert checks["P1"].verdict  # 0.6 ± 0.01 is above chance every time
    results = _results(-0.05)
    paired = gt.paired_table(results, "GNN v6", others, ("aupr", "pref_acc"))
    sentence = gt.headline(results, gt.verdicts(paired, results, alpha=0.05), paired, alpha=0.05)
    assert "two-stage hurts AUPR" in sentence and "none of the baselines" in sentence
