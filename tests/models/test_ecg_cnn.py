"""The heartbeat CNN's training: early-stopping scores, determinism, warm-up, the sampling path, one run for
every stopping score, and the same runs on any number of worker processes."""

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from expbook.data.wfdb_beats import Beats
from expbook.models.ecg_cnn import TrainConfig, early_stop_scores, train_classifier


def test_early_stop_scores_match_sklearn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    per_class = f1_score(y_true, y_pred, average=None, labels=[0, 1, 2, 3])
    scores = early_stop_scores(y_true, y_pred)
    assert scores["macro"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert scores["abnormal"] == pytest.approx(per_class[1:].mean())
    assert scores["rare"] == pytest.approx(per_class[1:3].mean())
    assert scores["blend"] == pytest.approx(0.2 * scores["macro"] + 0.3 * scores["abnormal"] + 0.5 * scores["rare"])
    # a class absent from the truth does not count: predicting it is an error on the others, not a 0 F1 of its own
    assert early_stop_scores(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1]))["macro"] == 1.0


def _toy_beats(n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(4, size=n, p=[0.85, 0.05, 0.08, 0.02])
    x = rng.standard_normal((n, 64)).astype(np.float32) * 0.3
    x[:, 30:34] += y[:, None].astype(np.float32)  # learnable: the class is the bump height
    rr = np.column_stack([1 - 0.1 * y, np.ones(n), 1 - 0.1 * y, np.ones(n)]).astype(np.float32)
    return Beats(x, rr, y.astype(np.int64), np.array(["r"] * n, dtype=object), 360.0)


def test_training_is_deterministic_and_logs_weights_and_batch_mix():
    train, val = _toy_beats(seed=0), _toy_beats(n=200, seed=1)
    config = TrainConfig(class_weights=True, sampler="power", epochs=2, batch_size=64)
    first, second = train_classifier(train, val, config), train_classifier(train, val, config)
    assert np.array_equal(first.predict(val), second.predict(val))
    assert first.history["train_loss"].tolist() == second.history["train_loss"].tolist()
    assert first.log[0].startswith("class weights (loss): N=") and "expected batch mix: N=0.25" in first.log[0]


def test_warmup_ramps_the_class_weights_linearly_from_uniform():
    config = TrainConfig(class_weights=True, warmup_epochs=3, epochs=4, patience=10, batch_size=128)
    history = train_classifier(_toy_beats(), _toy_beats(n=200, seed=1), config).history
    assert history["weight_alpha"].tolist() == [0.0, 0.5, 1.0, 1.0]


def test_the_sampler_lever_really_switches_the_sampling_path(monkeypatch):
    calls = []
    real = torch.multinomial

    def spy(weights, *args, **kwargs):
        calls.append(weights.clone())
        return real(weights, *args, **kwargs)

    monkeypatch.setattr(torch, "multinomial", spy)
    train, val = _toy_beats(), _toy_beats(n=200, seed=1)
    train_classifier(train, val, TrainConfig(epochs=2))
    assert calls == []
    train_classifier(train, val, TrainConfig(sampler="power", epochs=2))
    assert len(calls) == 2
    rare = calls[0][torch.from_numpy(train.y) == 3][0]
    common = calls[0][torch.from_numpy(train.y) == 0][0]
    assert float(rare / common) == pytest.approx(np.bincount(train.y)[0] / np.bincount(train.y)[3], rel=1e-6)


def test_early_stopping_keeps_the_best_epoch_of_the_chosen_score():
    result = train_classifier(_toy_beats(), _toy_beats(n=200, seed=1), TrainConfig(epochs=6, patience=2, early_stop="rare"))
    history = result.history
    assert result.best_epoch == int(history.loc[history["rare"].idxmax(), "epoch"])
    assert len(history) == min(6, result.best_epoch + 2)  # stops two epochs (the patience) after its best, or at 6


def test_a_validation_set_without_rare_classes_still_keeps_a_model():
    val = _toy_beats(n=200, seed=1)
    only_normal = val.take(val.y == 0)  # rare-F1 is NaN on every epoch
    result = train_classifier(_toy_beats(), only_normal, TrainConfig(epochs=2, early_stop="rare"))
    assert result.best_epoch == 1 and len(result.predict(only_normal)) == len(only_normal)  # the first model is kept


@pytest.mark.parametrize("other", ["macro", "abnormal", "rare"])
def test_one_run_tracking_several_stopping_scores_equals_separate_runs(other):
    train, val = _toy_beats(), _toy_beats(n=200, seed=1)
    config = TrainConfig(epochs=6, patience=2, early_stop="blend", sampler="power")
    shared = train_classifier(train, val, config, also_stop_on=("macro", "abnormal", "rare", "blend"))
    alone = train_classifier(train, val, TrainConfig(**{**config.__dict__, "early_stop": other}))
    tracked = shared.alternatives[other]
    assert tracked.best_epoch == alone.best_epoch and len(tracked.history) == len(alone.history)
    assert np.array_equal(tracked.predict(val), alone.predict(val))
    assert shared.best_epoch == train_classifier(train, val, config).best_epoch


def test_train_grid_gives_the_same_runs_on_one_or_two_worker_processes():
    from pathlib import Path

    from expbook.data.wfdb_beats import Splits
    from expbook.models.ecg_cnn import train_grid

    splits = Splits(_toy_beats(seed=0), _toy_beats(n=200, seed=1), _toy_beats(n=200, seed=2), {}, Path("."), "toy")
    configs = {"weights": TrainConfig(class_weights=True, epochs=2, batch_size=64),
               "sampler": TrainConfig(sampler="power", epochs=2, batch_size=64)}
    one = train_grid(splits, configs, [0, 1], workers=1)
    two = train_grid(splits, configs, [0, 1], workers=2)
    for name in configs:
        for a, b in zip(one[name].runs, two[name].runs, strict=True):
            assert np.allclose(a.history["train_loss"], b.history["train_loss"], rtol=1e-5)
        agreement = np.mean(np.concatenate(one[name].gen_pred) == np.concatenate(two[name].gen_pred))
        assert agreement >= 0.99
