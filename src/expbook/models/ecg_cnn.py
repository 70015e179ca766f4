"""A small 1-D CNN heartbeat classifier (+ RR features) and its imbalance-aware training loop, on the CPU.

What rebalances the classes is configuration (``models.rebalancing``: sampler, class weights with a linear
warm-up 0→1 — epoch 1 uses uniform weights, full weights from ``warmup_epochs`` on — and focal loss), so the
report can switch each lever on its own. Early stopping uses a selectable validation score (``SCORE_LABELS``),
and one training run tracks every score at once (``TrainedClassifier.alternatives``). ``train_grid`` trains
configurations × seeds side by side in worker processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from expbook.data.wfdb_beats import CLASSES, Beats, Splits
from expbook.metrics.classification import confusion, named_scores
from expbook.models.rebalancing import expected_batch_mix, focal_loss, loss_class_weights, sampler_class_weights
from expbook.models.training import EarlyStopping, adam, seed_torch
from expbook.parallel import process_map
from expbook.progress import steps

EarlyStopScore = Literal["macro", "abnormal", "rare", "blend"]
SCORE_LABELS = {"macro": "macro-F1", "abnormal": "abnormal-F1 (S/V/O)", "rare": "rare-F1 (S/V)",
                "blend": "0.2·macro + 0.3·abnormal + 0.5·rare"}  # the blend's weights are BLEND's


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One training configuration; ``None`` for ``sampler`` / ``class_weights`` switches the lever off."""

    sampler: Literal["power", "target_mix"] | None = None
    sampler_power: float = 1.0
    sampler_max_ratio: float | None = None
    target_mix: tuple[float, ...] = (0.4, 0.2, 0.3, 0.1)
    class_weights: bool = False
    weight_power: float = 1.0
    weight_max_ratio: float | None = 20.0
    warmup_epochs: int = 0
    loss: Literal["ce", "focal"] = "ce"
    focal_gamma: float = 2.0
    early_stop: EarlyStopScore = "macro"
    epochs: int = 12
    patience: int = 4
    batch_size: int = 256
    learning_rate: float = 3e-3
    cosine_decay: bool = True  # the learning rate falls to zero over ``epochs`` (half a cosine), so training settles
    seed: int = 0
    num_threads: int = 2

    def with_seed(self, seed: int) -> TrainConfig:
        return replace(self, seed=seed)


class BeatCNN(nn.Module):
    """Three conv blocks over the beat window, global average pooling, concatenated RR features, two dense layers."""

    def __init__(self, n_rr: int = 6, n_classes: int = len(CLASSES), width: int = 12, channels: int = 2):
        super().__init__()
        self.conv = nn.Sequential(
            nn.AvgPool1d(2),  # 360 Hz → 180 Hz: QRS detail survives, half the compute
            nn.Conv1d(channels, width, 7, padding=3), nn.BatchNorm1d(width), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(width, 2 * width, 5, padding=2), nn.BatchNorm1d(2 * width), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(2 * width, 2 * width, 5, padding=2), nn.BatchNorm1d(2 * width), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1))
        self.head = nn.Sequential(nn.Linear(2 * width + n_rr, 32), nn.ReLU(), nn.Linear(32, n_classes))

    def forward(self, x: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.conv(x if x.ndim == 3 else x.unsqueeze(1)).squeeze(-1), rr], dim=1))


BLEND = {"macro": 0.2, "abnormal": 0.3, "rare": 0.5}  # the original report's blended stopping score


SCORE_GROUPS = {"macro": None, "abnormal": ("S", "V", "O"), "rare": ("S", "V")}  # the F1 means of SCORE_LABELS


def beat_scores(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """The heartbeat scores of confusion matrices (..., K, K): macro-, abnormal- and rare-F1 (``SCORE_GROUPS``) and
    per-class precision, recall and F1 (``precision_S``, ``recall_V``, ...)."""
    return named_scores(matrix, CLASSES, SCORE_GROUPS)


def early_stop_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Macro-F1 over the classes present in ``y_true``, abnormal-F1 (S/V/O), rare-F1 (S/V) and their ``BLEND``."""
    matrix = confusion(y_true, y_pred, len(CLASSES))
    scores = {name: float(value) for name, value in named_scores(matrix, CLASSES, SCORE_GROUPS, per_class=()).items()}
    scores["blend"] = sum(weight * scores[name] for name, weight in BLEND.items())
    return scores


@dataclass
class Standardiser:
    """RR features standardised with training statistics."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, rr: np.ndarray) -> Standardiser:
        return cls(rr.mean(axis=0), rr.std(axis=0) + 1e-6)

    def __call__(self, rr: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((rr - self.mean) / self.std).astype(np.float32))


@dataclass
class TrainedClassifier:
    model: BeatCNN
    standardiser: Standardiser
    config: TrainConfig
    history: pd.DataFrame
    best_epoch: int
    loss_weights: np.ndarray
    batch_mix: np.ndarray
    seconds_per_epoch: float
    log: list[str] = field(default_factory=list)
    alternatives: dict[str, TrainedClassifier] = field(default_factory=dict)  # the same run stopped on other scores

    def predict(self, beats: Beats, batch_size: int = 2048) -> np.ndarray:
        return predict(self.model, self.standardiser, beats, batch_size)


def predict(model: BeatCNN, standardiser: Standardiser, beats: Beats, batch_size: int = 2048) -> np.ndarray:
    """Class index per beat (argmax of the logits)."""
    model.eval()
    x, rr = torch.from_numpy(beats.x), standardiser(beats.rr)
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + batch_size], rr[i:i + batch_size]) for i in range(0, len(beats), batch_size)])
    return logits.argmax(dim=1).numpy()


def train_classifier(train: Beats, val: Beats, config: TrainConfig, *,
                     also_stop_on: tuple[str, ...] = ()) -> TrainedClassifier:
    """Train with ``config``; keep the epoch with the best validation ``early_stop`` score (patience in epochs).

    ``also_stop_on`` adds other stopping scores to the *same* training run: with the same seed the path is
    identical until a criterion stops, so one run yields every criterion's model exactly as separate runs
    would (training goes on until every criterion has stopped). They are in ``TrainedClassifier.alternatives``.
    """
    generator = seed_torch(config.seed, config.num_threads)
    counts = train.class_counts()
    full_weights = loss_class_weights(counts, config)
    per_sample = torch.from_numpy(sampler_class_weights(counts, config)[train.y]).double()
    standardiser = Standardiser.fit(train.rr)
    x, rr, y = torch.from_numpy(train.x), standardiser(train.rr), torch.from_numpy(train.y)
    model = BeatCNN(n_rr=rr.shape[1], channels=train.x.shape[1] if train.x.ndim == 3 else 1)
    optimiser = adam(model.parameters(), config.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=config.epochs) if config.cosine_decay else None
    batch_mix = expected_batch_mix(counts, config)
    log = [f"class weights (loss): {_fmt(full_weights)}; expected batch mix: {_fmt(batch_mix)}"]
    stoppers = {score: EarlyStopping(config.patience) for score in dict.fromkeys((config.early_stop, *also_stop_on))}
    rows = []
    start = time.perf_counter()
    for epoch in steps(range(1, config.epochs + 1), "epoch"):
        alpha = 1.0 if config.warmup_epochs <= 1 else min(1.0, (epoch - 1) / (config.warmup_epochs - 1))
        weights = torch.from_numpy((1 + alpha * (full_weights - 1)).astype(np.float32))
        if config.sampler is None:
            order = torch.randperm(len(train), generator=generator)
        else:
            # what WeightedRandomSampler draws, without its Python list of every index
            order = torch.multinomial(per_sample, len(train), replacement=True, generator=generator)
        model.train()
        total = 0.0
        for i in range(0, len(train), config.batch_size):
            batch = order[i:i + config.batch_size]
            logits = model(x[batch], rr[batch])
            gamma = config.focal_gamma if config.loss == "focal" else 0.0
            loss = focal_loss(logits, y[batch], gamma, weights if config.class_weights else None)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * batch.numel()
        if schedule is not None:
            schedule.step()
        scores = early_stop_scores(val.y, predict(model, standardiser, val))
        rows.append({"epoch": epoch, "train_loss": total / len(train), "weight_alpha": alpha, **scores})
        if all([stopper.update(scores[score], model, epoch) for score, stopper in stoppers.items()]):
            break
    seconds = (time.perf_counter() - start) / len(rows)
    history = pd.DataFrame(rows)

    def finished(score: str, stopper: EarlyStopping) -> TrainedClassifier:
        kept = stopper.restore(BeatCNN(n_rr=rr.shape[1], channels=train.x.shape[1] if train.x.ndim == 3 else 1))
        ran = int(min(len(rows), stopper.epoch + config.patience))  # where a run stopping on this score ends
        note = (f"stopped after epoch {ran}; best {SCORE_LABELS[score]} {stopper.best:.3f} at epoch "
                f"{stopper.epoch}")
        return TrainedClassifier(kept, standardiser, replace(config, early_stop=score), history.iloc[:ran],
                                 stopper.epoch, full_weights, batch_mix, seconds, [log[0], note])

    main = finished(config.early_stop, stoppers[config.early_stop])
    main.alternatives = {score: finished(score, stopper) for score, stopper in stoppers.items()
                         if score != config.early_stop}
    return main


def _fmt(values: np.ndarray) -> str:
    return " ".join(f"{name}={value:.2f}" for name, value in zip(CLASSES, values, strict=True))


@dataclass
class ConfigResult:
    """One configuration trained with every seed: per-seed predictions on validation and DS2, and the models."""

    name: str
    config: TrainConfig
    runs: list[TrainedClassifier]
    val_pred: list[np.ndarray]
    gen_pred: list[np.ndarray]


def _train_job(splits: Splits, config: TrainConfig) -> tuple[TrainedClassifier, np.ndarray, np.ndarray]:
    run = train_classifier(splits.train, splits.val, config, also_stop_on=tuple(SCORE_LABELS))
    return run, run.predict(splits.val), run.predict(splits.gen)


def train_grid(splits: Splits, configs: dict[str, TrainConfig], seeds: list[int], *, workers: int = 1,
               echo=None) -> dict[str, ConfigResult]:
    """Train every configuration with every seed; predictions on validation and generalisation.

    Each run trains on one thread with its own seed, ``workers`` runs side by side in spawned processes, so the
    results do not depend on ``workers``. Each run also tracks every other early-stopping score
    (``early_stopping_results`` reads them: no retraining).
    """
    jobs = [replace(config.with_seed(seed), num_threads=1) for config in configs.values() for seed in seeds]
    done = iter(process_map(_train_job, jobs, shared=splits, workers=workers, label="configuration × seed"))
    results = {}
    for name, config in configs.items():
        runs, val_pred, gen_pred = zip(*[next(done) for _ in seeds], strict=True)
        if echo:
            echo(f"[{name}] {runs[0].log[0]}; " + "; ".join(f"seed {s}: {r.log[-1]}" for s, r in zip(seeds, runs, strict=True)))
        results[name] = ConfigResult(name, config, list(runs), list(val_pred), list(gen_pred))
    return results


def early_stopping_results(splits: Splits, base: ConfigResult) -> dict[str, ConfigResult]:
    """``base``'s configuration stopped on each validation score: the same training runs, other kept epochs."""
    results = {}
    for score in SCORE_LABELS:
        runs = [r if score == base.config.early_stop else r.alternatives[score] for r in base.runs]
        results[score] = ConfigResult(f"{base.name} · {score}", replace(base.config, early_stop=score), runs,
                                      [r.predict(splits.val) for r in runs], [r.predict(splits.gen) for r in runs])
    return results
