"""The turnover report's training: every model on every split of a repeated stratified k-fold design.

Every employee is tested once per repeat; each training fold gives up a stratified validation part for early
stopping and thresholds. Every model of a split sees the same three parts, so models are compared paired by split.
The baselines come twice: on the employee features only, and with the group memberships the GNN sees as nodes;
a posts-only model is the preference baseline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split

from expbook.data.turnover import EmployeeGraph, to_hetero
from expbook.features.turnover import group_features
from expbook.metrics.binary import best_f1_threshold, threshold_scores
from expbook.models.gbdt import GBDTConfig, train_binary_classifier
from expbook.models.gnn import GNNConfig, Task, pairwise_accuracy, train_gnn, train_mlp
from expbook.models.post_preference import fit_post_scores
from expbook.parallel import process_map

V5 = {"two_stage": False, "hard_negatives": False, "adaptive_margin": False, "rank_reg": 0.0, "observed_share": 0.0}
# each v6 component switched off on its own, and the metric it is meant to improve
ABLATIONS = {
    "v6 without hard negatives": ({"hard_negatives": False}, "pref_acc"),
    "v6 without two-stage": ({"two_stage": False}, "aupr"),
    "v6 without adaptive margin": ({"adaptive_margin": False}, "pref_acc"),
    "v6 without ranking reg.": ({"rank_reg": 0.0}, "pref_acc"),
    "v6 without observed negatives": ({"observed_share": 0.0}, "pref_acc"),
    "v6 without LR on plateau": ({"lr_plateau": False}, "aupr"),
    "v6 without focal loss": ({"turnover_loss": "weighted_bce"}, "aupr"),
}
FEATURES_ONLY = ("MLP", "LightGBM")
WITH_GROUPS = ("MLP + groups", "LightGBM + groups")
BASELINES = (*FEATURES_ONLY, *WITH_GROUPS)
POSTS_ONLY = "posts only"  # a preference baseline: the posts' attributes, not who chooses
SURVEY_MODELS = (*BASELINES, POSTS_ONLY, "GNN v5", "GNN v6", *ABLATIONS)
IBM_MODELS = (*BASELINES, "GNN v6")
TURNOVER_METRICS = ("aupr", "auroc", "f1", "precision", "recall", "threshold")
PREFERENCE_METRICS = ("pref_acc", "pref_margin")
METRIC_NAMES = {"aupr": "AUPR", "pref_acc": "pairwise accuracy"}
CHANCE = "chance (0.5)"



@dataclass(frozen=True)
class Split:
    repeat: int
    fold: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    @property
    def id(self) -> int:
        return self.repeat * 1000 + self.fold


def cv_splits(label: np.ndarray, *, folds: int, repeats: int, val_fraction: float, seed: int) -> list[Split]:
    """Repeated stratified k-fold: every employee is tested once per repeat; each training fold gives up a
    stratified ``val_fraction`` of itself for early stopping and thresholds."""
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    out = []
    for i, (rest, test) in enumerate(splitter.split(np.zeros(label.size), label)):
        train, val = train_test_split(rest, test_size=val_fraction, stratify=label[rest], random_state=seed + i)
        out.append(Split(i // folds, i % folds, np.sort(train), np.sort(val), np.sort(test)))
    return out


def _pairs(graph: EmployeeGraph, employees: np.ndarray) -> np.ndarray | None:
    if graph.pairs is None:
        return None
    rows = graph.pairs[np.isin(graph.pairs["employee"].to_numpy(), employees)]
    return np.array(rows[["employee", "chosen", "rejected"]], dtype=np.int64)  # a writable copy (pandas 3 views are not)


def _standardise(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    mean, std = values[rows].mean(axis=0), values[rows].std(axis=0)
    return ((values - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


def model_configs(base: GNNConfig) -> dict[str, GNNConfig]:
    """GNN v5, full v6, and v6 with each component switched off on its own."""
    return {"GNN v5": replace(base, **V5), "GNN v6": base,
            **{name: replace(base, **switch) for name, (switch, _) in ABLATIONS.items()}}


def run_split(graph: EmployeeGraph, split: Split, *, base: GNNConfig, gbdt: GBDTConfig,
              models: tuple[str, ...]) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    """Train ``models`` on one split; one result row per model (test metrics), and each GNN's training curves."""
    seed = split.id
    groups = group_features(graph)
    x = _standardise(graph.features.to_numpy(dtype=float), split.train)
    x_groups = np.hstack([x, groups.to_numpy(dtype=np.float32)])  # 0/1 columns stay 0/1
    names = {False: list(graph.features.columns), True: [*graph.features.columns, *groups.columns]}
    posts = None if graph.posts is None else torch.from_numpy(_standardise(graph.posts, np.arange(graph.posts.shape[0])))
    task = Task(torch.from_numpy(graph.label.astype(np.float32)), split.train, split.val, posts,
                _pairs(graph, split.train), _pairs(graph, split.val))
    test_pairs = _pairs(graph, split.test)
    data = to_hetero(graph, x)
    configs = model_configs(replace(base, seed=seed))
    rows, curves = [], {}
    for name in models:
        with_groups = name.endswith("+ groups")
        inputs = x_groups if with_groups else x
        if name == POSTS_ONLY:
            start = time.perf_counter()
            scores = fit_post_scores(posts.numpy(), task.train_pairs)
            proba, preference, seconds = None, np.tile(scores, (graph.n, 1)), time.perf_counter() - start
        elif name.startswith("MLP"):
            trained = train_mlp(torch.from_numpy(inputs), task, replace(base, seed=seed))
            proba, preference, seconds = trained.predict_proba, None, trained.seconds
        elif name.startswith("LightGBM"):
            start = time.perf_counter()
            booster = train_binary_classifier(inputs[split.train], graph.label[split.train], inputs[split.val],
                                              graph.label[split.val], feature_names=names[with_groups],
                                              config=replace(gbdt, seed=seed))
            proba, preference, seconds = booster.predict(inputs), None, time.perf_counter() - start
        else:
            trained = train_gnn(data, task, configs[name])
            proba, preference, seconds = trained.predict_proba, trained.preference, trained.seconds
            curves[name] = trained.curves
        row = {"data": graph.name, "split": split.id, "repeat": split.repeat, "fold": split.fold, "model": name,
               "test_positives": int(graph.label[split.test].sum()), "n_test": split.test.size,
               "n_train": split.train.size + split.val.size, "seconds": seconds}
        if proba is not None:  # the posts-only baseline predicts no turnover
            threshold = best_f1_threshold(graph.label[split.val], proba[split.val])
            row.update(threshold_scores(graph.label[split.test], proba[split.test], threshold))
        if preference is not None and test_pairs is not None and len(test_pairs):
            row["pref_acc"], row["pref_margin"] = pairwise_accuracy(preference, test_pairs)
        rows.append(row)
    return rows, curves


def run_cv(graph: EmployeeGraph, splits: list[Split], *, base: GNNConfig, gbdt: GBDTConfig, models: tuple[str, ...],
           workers: int = 1, progress=None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Every split, ``workers`` at a time in spawned processes; the result rows, and the first split's curves.

    Each split trains on one thread with its own seed (``Split.id``), so the results do not depend on
    ``workers``: small full-batch GNNs gain nothing from a second intra-op thread, and a lot from a second process.
    """
    base, gbdt = replace(base, num_threads=1), replace(gbdt, num_threads=1)
    work = partial(run_split, base=base, gbdt=gbdt, models=models)
    rows, first_curves = [], {}
    for split, (split_rows, curves) in zip(splits, process_map(work, splits, shared=graph, workers=workers, label="split"),
                                           strict=True):
        rows += split_rows
        first_curves = first_curves or curves
        if progress is not None:
            progress(split, split_rows)
    return pd.DataFrame(rows), first_curves


BASELINE_GBDT = GBDTConfig(num_boost_round=300, num_leaves=7, min_data_in_leaf=10, learning_rate=0.05)  # small data


def _named_split(graphs: dict[str, EmployeeGraph], job: tuple[str, Split, tuple[str, ...]], *, base: GNNConfig,
                 gbdt: GBDTConfig) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    name, split, models = job
    return run_split(graphs[name], split, base=base, gbdt=gbdt, models=models)


def cross_validate(graph: EmployeeGraph, ibm: EmployeeGraph | None, *, base: GNNConfig, folds: int, repeats: int,
                   val_fraction: float, cv_seed: int, workers: int,
                   models: tuple[str, ...] = SURVEY_MODELS) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], str]:
    """The survey's every model and, when given, IBM attrition's models over the same repeated k-fold design:
    every result row, the first survey split's training curves, and a one-line account of what ran.

    Both data sets' splits are one loop of jobs, alternating survey and IBM, so the step counter counts every
    split of the cell and its rate holds from the first job to the last (as ``run_cv`` would, split for split)."""
    splits = cv_splits(graph.label, folds=folds, repeats=repeats, val_fraction=val_fraction, seed=cv_seed)
    jobs = [(graph.name, split, models) for split in splits]
    account = f"{len(splits)} splits × {len(models)} models on {graph.name}"
    graphs = {graph.name: graph}
    if ibm is not None:
        ibm_splits = cv_splits(ibm.label, folds=folds, repeats=repeats, val_fraction=val_fraction, seed=cv_seed)
        graphs[ibm.name] = ibm
        ibm_jobs = [(ibm.name, split, IBM_MODELS) for split in ibm_splits]
        jobs = [job for pair in zip(jobs, ibm_jobs, strict=False) for job in pair] + jobs[len(ibm_jobs):] \
            + ibm_jobs[len(jobs):]
        account += f", {len(ibm_splits)} × {len(IBM_MODELS)} on {ibm.name}"
    work = partial(_named_split, base=replace(base, num_threads=1), gbdt=replace(BASELINE_GBDT, num_threads=1))
    rows, curves = {name: [] for name in graphs}, {}
    for (name, _, _), (split_rows, split_curves) in zip(jobs, process_map(work, jobs, shared=graphs, workers=workers,
                                                                           label="split"), strict=True):
        rows[name] += split_rows
        if name == graph.name:
            curves = curves or split_curves
    results = pd.concat([pd.DataFrame(r) for r in rows.values()], ignore_index=True)
    return results, curves, f"{account}; {workers} worker(s)"
