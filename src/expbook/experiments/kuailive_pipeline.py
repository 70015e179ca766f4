"""The KuaiLive pipeline shared by every gift-value report: data → features → split → models → scores.

Data, features and the models' held-out scores are cached by content (``expbook.run.cache``), so two reports
that ask for the same data parameters and seed read one feature table and one set of model outputs instead
of computing them twice.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from expbook.data import kuailive as kuailive_adapter
from expbook.data.kuailive import load_kuailive
from expbook.data.kuailive_synth import KuaiLiveSpec, ensure_synthetic_kuailive
from expbook.errors import DataError
from expbook.features import kuailive as kuailive_features
from expbook.features.kuailive import assign_split, build_features
from expbook.models import gbdt as gbdt_module
from expbook.models.gbdt import (
    GBDTConfig,
    TrainedModel,
    train_direct_regressor,
    train_stage1_classifier,
    train_stage2_regressor,
)
from expbook.run.cache import cache_root, cached_parquet, fingerprint_folder, stable_hash


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


def prepare(data_dir: str | None, spec: KuaiLiveSpec, *, leaky: bool, val_days: int, test_days: int) -> PreparedData:
    """Load (or generate) the data and build — or read from cache — the split feature table."""
    timings = {}
    start = time.perf_counter()
    folder, fingerprint = resolve_data(data_dir, spec)
    timings["data_s"] = time.perf_counter() - start
    code = inspect.getsource(kuailive_features) + inspect.getsource(kuailive_adapter)
    key = stable_hash(fingerprint, leaky, val_days, test_days, code)

    def build() -> pd.DataFrame:
        table = build_features(load_kuailive(folder), leaky=leaky)
        frame = table.frame
        frame["split"] = assign_split(frame["day"].to_numpy(), val_days=val_days, test_days=test_days)
        frame.attrs["feature_columns"] = list(table.feature_columns)
        return frame

    start = time.perf_counter()
    frame, hit = cached_parquet("kuailive-features", key, build)
    timings["features_s"] = time.perf_counter() - start
    excluded = {"user_id", "streamer_id", "live_id", "timestamp", "day", "label", "is_gift", "split"}
    features = tuple(c for c in frame.columns if c not in excluded)
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


SCORE_COLUMNS = ("y", "direct", "p", "m", "users")


def gift_scores(data_dir: str | None, spec: KuaiLiveSpec, config: GBDTConfig, *, seed: int, leaky: bool,
                val_days: int, test_days: int) -> GiftScores:
    """Data (generated with ``seed``) and the three gift models (trained with ``seed``): their outputs on the
    validation and test rows, cached by feature table, model settings and model code. Real files
    (``data_dir``) are the same for every seed; only the models' seed changes."""
    data = prepare(data_dir, replace(spec, seed=seed), leaky=leaky, val_days=val_days, test_days=test_days)
    config = replace(config, seed=seed)
    key = stable_hash(data.feature_key, asdict(config), inspect.getsource(gbdt_module))

    def build() -> pd.DataFrame:
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

    frame, hit = cached_parquet("kuailive-scores", key, build)
    split = frame["split"].to_numpy()
    val, test = (HeldOutScores(*(frame.loc[split == part, c].to_numpy() for c in SCORE_COLUMNS)) for part in ("val", "test"))
    return GiftScores(seed, data, val, test, dict(frame.attrs["best_iterations"]),
                      float(frame.attrs["train_seconds"]) if not hit else 0.0, hit)


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
