"""GNN v6 components really switch the training path; thresholds come from validation only; seed statistics."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import f1_score

from expbook.data.turnover import load_survey
from expbook.data.turnover_synth import SurveySpec, generate_survey
from expbook.experiments import gnn_turnover_v6 as gt
from expbook.metrics.seeds import corrected_resampled_test, holm, mean_ci, paired_test
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

    split = gt.cv_splits(graph.label, folds=4, repeats=1, val_fraction=0.15, seed=seed)[0]
    x = gt._standardise(graph.features.to_numpy(dtype=float), split.train)
    task = gnn.Task(torch.from_numpy(graph.label.astype(np.float32)), split.train, split.val,
                    torch.from_numpy(gt._standardise(graph.posts, np.arange(14))), gt._pairs(graph, split.train),
                    gt._pairs(graph, split.val))
    return gt.to_hetero(graph, x), task


def test_switching_off_hard_negatives_never_calls_the_hard_sampler(small_graph):
    data, task = _task(small_graph)
    SpySampler.calls = []
    gnn.train_gnn(data, task, gt.model_configs(FAST)["v6 without hard negatives"], sampler_factory=SpySampler)
    assert SpySampler.calls == []
    gnn.train_gnn(data, task, gt.model_configs(FAST)["GNN v6"], sampler_factory=SpySampler)
    assert SpySampler.calls.count("refresh") == 3 and SpySampler.calls.count("hard") == 6  # refresh every 2 epochs


def test_observed_negatives_are_the_rejected_posts_in_their_share():
    pairs = np.array([[e % 7, 1, 4] for e in range(30_000)])
    sampler = NegativeSampler(6, pairs[:, :2], cache_size=1, hard_ratio=0.0, seed=0)
    for share in (0.0, 0.3, 1.0):
        negatives, is_hard = sampler.mix(pairs, hard=False, observed_share=share)
        random_share_of_4 = (1 - share) / 5  # a random negative is one of the 5 other posts
        assert np.mean(negatives == 4) == pytest.approx(share + random_share_of_4, abs=0.01)
        assert 1 not in negatives and not is_hard.any()
    sampler.refresh(np.tile(np.arange(6.0), (7, 1)))  # post 5 is everyone's hardest
    sampler.hard_ratio = 1.0
    negatives, is_hard = sampler.mix(pairs, hard=True, observed_share=0.5)
    assert set(negatives) == {4, 5} and np.mean(negatives == 4) == pytest.approx(0.5, abs=0.01)
    assert (is_hard == (negatives == 5)).all()  # an observed negative is never weighted as hard


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
    configs = gt.model_configs(FAST)
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


def test_group_features_are_the_memberships_the_gnn_sees(small_graph):
    groups = gt.group_features(small_graph)
    employee, post_type, size = small_graph.groups["post_type"]
    post_columns = groups[[f"post_type={k}" for k in range(size)]].to_numpy()
    assert post_columns.sum() == employee.size and post_columns[employee, post_type].all()
    assert groups.filter(like="company_type=").sum(axis=1).eq(1).all()


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


def test_mean_ci_and_paired_test_match_scipy():
    a, b = np.array([0.61, 0.55, 0.70, 0.66, 0.58]), np.array([0.52, 0.54, 0.61, 0.60, 0.50])
    ci = mean_ci(a)
    low, high = stats.t.interval(0.95, 4, loc=a.mean(), scale=stats.sem(a))
    assert (ci.low, ci.high) == pytest.approx((low, high))
    test = paired_test(a, b)
    assert test.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert test.diff.mean == pytest.approx((a - b).mean())
    assert paired_test(a, a).p_value == 1.0


def test_the_corrected_resampled_t_test_by_hand():
    d = np.array([0.02, 0.05, -0.01, 0.04, 0.03])  # differences over J = 5 splits, n_test / n_train = 1/4
    # mean 0.026; deviations −0.006, 0.024, −0.036, 0.014, 0.004 → Σ² = 0.00212, σ̂² = 0.00053
    # corrected variance of the mean (1/5 + 1/4)·0.00053 = 0.0002385 (naive: 0.000106)
    test = corrected_resampled_test(d, np.zeros(5), test_train_ratio=0.25)
    t = 0.026 / np.sqrt(0.0002385)
    assert test.diff.mean == pytest.approx(0.026) and test.diff.std == pytest.approx(np.sqrt(0.00053))
    assert test.p_value == pytest.approx(2 * stats.t.sf(t, 4))
    assert (test.diff.high - test.diff.low) / 2 == pytest.approx(stats.t.ppf(0.975, 4) * np.sqrt(0.0002385))
    naive = corrected_resampled_test(d, np.zeros(5), test_train_ratio=0.0)
    assert naive.p_value == pytest.approx(stats.ttest_1samp(d, 0).pvalue) and naive.p_value < test.p_value
    assert corrected_resampled_test(d, d, test_train_ratio=0.25).p_value == 1.0


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → running max 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # 2·0.5 caps at 1; the running max carries it
    adjusted = holm([0.01, np.nan])
    assert adjusted[0] == pytest.approx(0.01) and np.isnan(adjusted[1])


def _results(v6_gain: float, splits=10):
    rng = np.random.default_rng(0)
    rows = []
    for data, models in (("survey", gt.SURVEY_MODELS), ("ibm_attrition", gt.IBM_MODELS)):
        for split in range(splits):
            base = 0.5 + 0.05 * rng.standard_normal()
            for model in models:
                gain = v6_gain if model == "GNN v6" else 0.0
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
    family = gt.survey_family() + gt.ibm_family()
    table = gt.compare(_results(0.0), family)
    table.loc[table["id"] == "V1", ["mean Δ", "p (corrected t)"]] = [0.02, 0.01]
    table["p (Holm)"] = holm(table["p (corrected t)"])
    v1 = next(v for v in gt.verdicts(table, family, alpha=0.05) if v.id == "V1")
    assert v1.state == "inconclusive" and "Holm p" in v1.value_text  # 0.01 alone would pass at 0.05


def test_results_do_not_depend_on_the_number_of_worker_processes(small_graph):
    splits = gt.cv_splits(small_graph.label, folds=2, repeats=1, val_fraction=0.15, seed=0)
    kwargs = {"base": FAST, "gbdt": GBDT, "models": ("MLP + groups", "GNN v6")}
    one, _ = gt.run_cv(small_graph, splits, workers=1, **kwargs)
    two, _ = gt.run_cv(small_graph, splits, workers=2, **kwargs)
    pd.testing.assert_frame_equal(one.drop(columns="seconds"), two.drop(columns="seconds"))
