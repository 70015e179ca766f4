"""The KuaiLive pipeline shared by every gift-value report: data → features → split → models → scores.

Data, features and the models' held-out scores go through the one cache (``expbook.cache``), keyed by the code
that computes them (this module and everything it imports), their arguments, the data and the package versions:
two reports that ask for the same data parameters and seed read one feature table and one set of model outputs,
and any change to that code computes them again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from expbook.cache import cache_key, cache_root, cached_frame, fingerprint_folder
from expbook.data.kuailive import load_kuailive
from expbook.data.kuailive_synth import KuaiLiveSpec, ensure_synthetic_kuailive
from expbook.errors import DataError
from expbook.features.kuailive import assign_split, build_features
from expbook.metrics.ranking import top_k_capture
from expbook.models.gbdt import (
    GBDTConfig,
    TrainedModel,
    train_direct_regressor,
    train_stage1_classifier,
    train_stage2_regressor,
)
from expbook.progress import steps

# every ranking method of the two KuaiLive reports, in one order: the same colour for a method in both
METHODS = ("Direct", "Two-Stage", "Two-Stage (EV)", "Stage1-only", "Stage2-only", "Oracle-p", "Oracle-m", "Oracle-both",
           "Binary upper bound")


@dataclass(frozen=True)
class PreparedData:
    """The feature table with a ``split`` column, and where it came from."""

    frame: pd.DataFrame
    feature_columns: tuple[str, ...]
    data_dir: Path
    data_fingerprint: str
    feature_key: str
    feature_cache_hit: bool
    timings: dict[str, float] = field(default_factory=dict)

    def part(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        rows = self.frame["split"].to_numpy() == split
        return (self.frame.loc[rows, list(self.feature_columns)].to_numpy(dtype=np.float32),
                self.frame.loc[rows, "label"].to_numpy(dtype=np.float64))


def resolve_data(data_dir: str | None, spec: KuaiLiveSpec) -> tuple[Path, str]:
    """(folder, fingerprint): the user's real KuaiLive folder, or the generator's cached output for ``spec``."""
    if data_dir:
        folder = Path(data_dir).expanduser()
        if not folder.is_dir():
            raise DataError(f"{folder}: data_dir is not a folder")
        return folder, "files:" + fingerprint_folder(folder)
    folder = ensure_synthetic_kuailive(spec, cache_root())
    return folder, "synthetic:" + folder.name


def feature_frame(folder: Path, *, leaky: bool, val_days: int, test_days: int) -> pd.DataFrame:
    """The feature table of the KuaiLive files in ``folder``, with each row's ``split`` (train, val, test)."""
    table = build_features(load_kuailive(folder), leaky=leaky)
    frame = table.frame
    frame["split"] = assign_split(frame["day"].to_numpy(), val_days=val_days, test_days=test_days)
    return frame


def prepare(data_dir: str | None, spec: KuaiLiveSpec, *, leaky: bool, val_days: int, test_days: int) -> PreparedData:
    """Load (or generate) the data and build — or read from cache — the split feature table."""
    start = time.perf_counter()
    folder, fingerprint = resolve_data(data_dir, spec)
    data_s = time.perf_counter() - start
    return prepare_folder(folder, fingerprint, leaky=leaky, val_days=val_days, test_days=test_days,
                          timings={"data_s": data_s})


def prepare_folder(folder: Path, fingerprint: str, *, leaky: bool, val_days: int, test_days: int,
                   timings: dict[str, float] | None = None) -> PreparedData:
    """The split feature table of the files in ``folder``, from the cache when this code built it before."""
    timings = dict(timings or {})
    start = time.perf_counter()
    arguments = {"leaky": leaky, "val_days": val_days, "test_days": test_days}
    frame, hit = cached_frame("kuailive-features", feature_frame, folder, **arguments)
    timings["features_s"] = time.perf_counter() - start
    excluded = {"user_id", "streamer_id", "live_id", "timestamp", "day", "label", "is_gift", "split"}
    features = tuple(c for c in frame.columns if c not in excluded)
    key = cache_key(feature_frame, folder, **arguments)
    return PreparedData(frame, features, folder, fingerprint, key, hit, timings)


@dataclass(frozen=True)
class GiftModels:
    direct: TrainedModel
    stage1: TrainedModel
    stage2: TrainedModel
    train_seconds: float


def fit_gift_models(data: PreparedData, config: GBDTConfig) -> GiftModels:
    """Direct regressor, stage-1 classifier and stage-2 conditional regressor on train, early-stopped on val."""
    start = time.perf_counter()
    X_train, y_train = data.part("train")
    X_val, y_val = data.part("val")
    kwargs = {"feature_names": data.feature_columns, "config": config}
    models = (train_direct_regressor(X_train, y_train, X_val, y_val, **kwargs),
              train_stage1_classifier(X_train, y_train, X_val, y_val, **kwargs),
              train_stage2_regressor(X_train, y_train, X_val, y_val, **kwargs))
    return GiftModels(*models, train_seconds=time.perf_counter() - start)


@dataclass(frozen=True)
class HeldOutScores:
    """Labels and the raw model outputs on the rows of one held-out split (validation or test days)."""

    y: np.ndarray
    direct: np.ndarray  # predicted log1p(y)
    p: np.ndarray  # stage 1: P(y > 0)
    m: np.ndarray  # stage 2: predicted log1p(y) given y > 0
    users: np.ndarray | None = None  # user id of each row: the cluster of a user bootstrap


def score_split(data: PreparedData, models: GiftModels, split: str) -> HeldOutScores:
    """Every model's output on the rows of ``split`` ("val" or "test")."""
    X, y = data.part(split)
    users = data.frame.loc[data.frame["split"].to_numpy() == split, "user_id"].to_numpy()
    return HeldOutScores(y, models.direct.predict(X), models.stage1.predict(X), models.stage2.predict(X), users)


def score_test(data: PreparedData, models: GiftModels) -> HeldOutScores:
    return score_split(data, models, "test")


@dataclass(frozen=True)
class GiftScores:
    """One seed's data and model outputs: validation and test scores, and how the models were fitted."""

    seed: int
    data: PreparedData
    val: HeldOutScores
    test: HeldOutScores
    best_iterations: dict[str, int]
    train_seconds: float
    cache_hit: bool
    config: GBDTConfig


SCORE_COLUMNS = ("y", "direct", "p", "m", "users")


def score_frame(folder: Path, fingerprint: str, config: GBDTConfig, *, leaky: bool, val_days: int,
                test_days: int) -> pd.DataFrame:
    """The three gift models trained on the files in ``folder`` with ``config``: their raw outputs on the
    validation and test rows (one row each, ``split`` naming which), with the training time and best iterations
    in ``attrs``."""
    data = prepare_folder(folder, fingerprint, leaky=leaky, val_days=val_days, test_days=test_days)
    models = fit_gift_models(data, config)
    parts = []
    for split in ("val", "test"):
        scores = score_split(data, models, split)
        parts.append(pd.DataFrame({"split": split, **{c: getattr(scores, c) for c in SCORE_COLUMNS}}))
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs.update(train_seconds=models.train_seconds,
                       best_iterations={"Direct": models.direct.best_iteration, "Stage 1": models.stage1.best_iteration,
                                        "Stage 2": models.stage2.best_iteration})
    return frame


def gift_scores(data_dir: str | None, spec: KuaiLiveSpec, config: GBDTConfig, *, seed: int, leaky: bool,
                val_days: int, test_days: int) -> GiftScores:
    """Data (generated with ``seed``) and the three gift models (trained with ``seed``): their outputs on the
    validation and test rows, cached by the code that computes them, the data and the model settings. Real files
    (``data_dir``) are the same for every seed; only the models' seed changes."""
    data = prepare(data_dir, replace(spec, seed=seed), leaky=leaky, val_days=val_days, test_days=test_days)
    config = replace(config, seed=seed)
    frame, hit = cached_frame("kuailive-scores", score_frame, data.data_dir, data.data_fingerprint, config,
                              leaky=leaky, val_days=val_days, test_days=test_days)
    split = frame["split"].to_numpy()
    val, test = (HeldOutScores(*(frame.loc[split == part, c].to_numpy() for c in SCORE_COLUMNS)) for part in ("val", "test"))
    return GiftScores(seed, data, val, test, dict(frame.attrs["best_iterations"]),
                      float(frame.attrs["train_seconds"]) if not hit else 0.0, hit, config)


def seed_list(seed: int, seeds: list[int] | None) -> list[int]:
    """The seeds a KuaiLive report runs: ``seeds`` as given, else ``[seed, seed + 1, seed + 2]``."""
    return list(seeds) if seeds else [seed, seed + 1, seed + 2]


def gift_score_runs(data_dir: str | None, *, seeds: list[int], scale: float, days: int, gift_rate: float,
                    gift_predictability: float, gift_logit_scale: float, amount_predictability: float,
                    num_boost_round: int, learning_rate: float, num_threads: int, leaky: bool, val_days: int,
                    test_days: int) -> list[GiftScores]:
    """The setup both KuaiLive reports share, from their parameters: every seed's data and model outputs."""
    spec = KuaiLiveSpec(scale=scale, days=days, gift_rate=gift_rate, gift_predictability=gift_predictability,
                        gift_logit_scale=gift_logit_scale, amount_predictability=amount_predictability, seed=seeds[0])
    config = GBDTConfig(num_boost_round=num_boost_round, learning_rate=learning_rate, num_threads=num_threads,
                        seed=seeds[0])
    return [gift_scores(data_dir, spec, config, seed=s, leaky=leaky, val_days=val_days, test_days=test_days)
            for s in steps(seeds, "seed")]


def candidate_pools(data: PreparedData, pool: str, split: str = "test") -> np.ndarray | None:
    """Pool id of each row of ``split``: ``None`` for one pool (the whole split), else the row's day or day-hour."""
    rows = data.frame.loc[data.frame["split"].to_numpy() == split]
    if pool == "test":
        return None
    if pool == "day":
        return rows["day"].to_numpy()
    if pool == "hour":
        return rows["day"].to_numpy() * 24 + rows["hour"].to_numpy()
    raise ValueError(f"pool must be 'test', 'day' or 'hour', got {pool!r}")


def leakage_inflation(run: GiftScores, *, main_leaky: bool, main_direct_top1: float, val_days: int,
                      test_days: int) -> tuple[float, float]:
    """(leaky Top-1%, past-only Top-1%) of the direct model: retrain it under the protocol not used as main, on the
    same files and with the same settings as ``run`` (its feature table cached like the main one)."""
    other = prepare(str(run.data.data_dir), KuaiLiveSpec(), leaky=not main_leaky, val_days=val_days, test_days=test_days)
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = (other.part(s) for s in ("train", "val", "test"))
    model = train_direct_regressor(X_train, y_train, X_val, y_val, feature_names=other.feature_columns, config=run.config)
    other_top1 = top_k_capture(y_test, model.predict(X_test), 0.01)
    return (main_direct_top1, other_top1) if main_leaky else (other_top1, main_direct_top1)


def split_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per split: click rows, days, gift rows, revenue and gift rate."""
    summary = frame.groupby("split", sort=False).agg(rows=("label", "size"), days=("day", "nunique"),
                                                     gift_rows=("is_gift", "sum"), revenue=("label", "sum"))
    summary["gift_rate"] = summary["gift_rows"] / summary["rows"]
    return summary


def source_sentence(data: PreparedData, data_dir: str | None, *, seed: int, leaky: bool) -> str:
    """Markdown: where the data came from (the folder escaped: it is the user's text) and the feature protocol."""
    from expbook.escape import md_code

    source = f"real files in {md_code(data.data_dir)}" if data_dir else "generated KuaiLive-format files"
    return (f"Source: **{source}** (seed {seed} shown; fingerprint {md_code(data.data_fingerprint)}), "
            f"{len(data.feature_columns)} features ({'leaky full-period' if leaky else 'past-only'}).")
