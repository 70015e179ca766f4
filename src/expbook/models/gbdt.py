"""LightGBM models with early stopping on validation data, deterministic on fixed threads; one training helper.

* direct regressor: log1p(y) on every click
* stage 1 classifier: P(y > 0); any 0/1 label (the turnover baselines)
* stage 2 conditional regressor: log1p(y) given y > 0 (trained and early-stopped on gifts only)
* LambdaRank: relevance within query groups (the recommender's re-ranker), early-stopped on validation NDCG
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import lightgbm as lgb
import numpy as np

from expbook.progress import loop


@dataclass(frozen=True, kw_only=True)
class GBDTConfig:
    """The knobs shared by every LightGBM model in expbook."""

    num_boost_round: int = 400
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 50
    feature_fraction: float = 0.8
    early_stopping_rounds: int = 30
    num_threads: int = 2
    seed: int = 0

    def lightgbm_params(self, objective: str, metric: str) -> dict:
        params = asdict(self)
        for key in ("num_boost_round", "early_stopping_rounds"):
            params.pop(key)
        return {**params, "objective": objective, "metric": metric, "verbosity": -1,
                "deterministic": True, "force_row_wise": True, "bagging_seed": self.seed,
                "feature_fraction_seed": self.seed, "data_random_seed": self.seed}


@dataclass(frozen=True)
class TrainedModel:
    """A fitted booster and what it needs to predict: ``predict(X)`` uses the best iteration."""

    booster: lgb.Booster
    feature_names: tuple[str, ...]
    best_iteration: int
    target: str

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.booster.predict(features, num_iteration=self.best_iteration)


def _train(X_train, y_train, X_val, y_val, *, config: GBDTConfig, objective: str, metric: str,
           feature_names: tuple[str, ...], target: str, groups: tuple | None = None,
           extra: dict | None = None) -> TrainedModel:
    """The one place a LightGBM model is fitted: early stopping on the validation set by callback, the booster
    kept at its best iteration (LightGBM's own example). ``groups``: (train, val) query sizes for ranking."""
    names = list(feature_names)
    train_groups, val_groups = groups or (None, None)
    train_set = lgb.Dataset(X_train, y_train, group=train_groups, feature_name=names, free_raw_data=True)
    val_set = lgb.Dataset(X_val, y_val, group=val_groups, feature_name=names, reference=train_set, free_raw_data=True)
    with loop("boosting round", config.num_boost_round) as rounds:
        booster = lgb.train({**config.lightgbm_params(objective, metric), **(extra or {})}, train_set,
                            num_boost_round=config.num_boost_round, valid_sets=[val_set],
                            callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False),
                                       lambda env: rounds.advance(env.iteration + 1)])
    return TrainedModel(booster, tuple(feature_names), booster.best_iteration or config.num_boost_round, target)


def train_direct_regressor(X_train, y_train, X_val, y_val, *, feature_names, config: GBDTConfig) -> TrainedModel:
    """Regress log1p(y) on all rows (L2)."""
    return _train(X_train, np.log1p(y_train), X_val, np.log1p(y_val), config=config, objective="regression",
                  metric="l2", feature_names=feature_names, target="log1p(y)")


def train_binary_classifier(X_train, y_train, X_val, y_val, *, feature_names, config: GBDTConfig,
                            metric: str = "average_precision") -> TrainedModel:
    """Classify a 0/1 label (binary log-loss), early-stopped on ``metric`` of the validation rows."""
    return _train(X_train, np.asarray(y_train, dtype=np.float64), X_val, np.asarray(y_val, dtype=np.float64),
                  config=config, objective="binary", metric=metric, feature_names=feature_names, target="P(y=1)")


def train_stage1_classifier(X_train, y_train, X_val, y_val, *, feature_names, config: GBDTConfig) -> TrainedModel:
    """Classify y > 0 (binary log-loss)."""
    return _train(X_train, (y_train > 0).astype(np.float64), X_val, (y_val > 0).astype(np.float64), config=config,
                  objective="binary", metric="binary_logloss", feature_names=feature_names, target="P(y>0)")


def train_stage2_regressor(X_train, y_train, X_val, y_val, *, feature_names, config: GBDTConfig) -> TrainedModel:
    """Regress log1p(y) on the rows with y > 0 only, early-stopped on the validation gifts."""
    train_gift, val_gift = y_train > 0, y_val > 0
    if train_gift.sum() < 2 or val_gift.sum() < 1:
        raise ValueError(f"stage 2 needs gifts to learn from: {int(train_gift.sum())} in train, "
                         f"{int(val_gift.sum())} in val — use more data (scale/days)")
    return _train(X_train[train_gift], np.log1p(y_train[train_gift]), X_val[val_gift], np.log1p(y_val[val_gift]),
                  config=config, objective="regression", metric="l2", feature_names=feature_names,
                  target="log1p(y) | y>0")


def train_lambdarank(X_train, y_train, train_groups, X_val, y_val, val_groups, *, feature_names, config: GBDTConfig,
                     eval_at: int = 10, min_data_in_leaf: int = 20) -> TrainedModel:
    """LambdaRank on query groups (``*_groups``: the size of each consecutive group of rows), early-stopped on
    validation NDCG@``eval_at``."""
    return _train(X_train, y_train, X_val, y_val, config=config, objective="lambdarank", metric="ndcg",
                  feature_names=feature_names, target="relevance", groups=(train_groups, val_groups),
                  extra={"eval_at": [eval_at], "min_data_in_leaf": min_data_in_leaf})
