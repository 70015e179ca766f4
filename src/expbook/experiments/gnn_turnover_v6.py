"""GNN v6 report: turnover and post preference against same-information baselines, by repeated k-fold CV.

Every employee is tested once per repeat of a stratified k-fold split; each training fold gives up a
stratified validation part for early stopping and thresholds. Every model of a fold sees the same three
parts, so models are compared *paired by fold*, with the corrected resampled t-test (the folds share
training data) and Holm's correction across the report's family of verdicts.

The baselines come twice: on the employee features only, and with the group memberships the GNN sees
as nodes (multi-hot post types, company size and type; on IBM department, job role and education field).
The first pair against the second measures what the extra information adds; the GNN against the second
measures what message passing adds on top.
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
from expbook.metrics.seeds import corrected_resampled_test, holm, mean_ci
from expbook.models.gbdt import GBDTConfig, train_binary_classifier
from expbook.models.gnn import GNNConfig, Task, pairwise_accuracy, train_gnn, train_mlp
from expbook.run.workers import process_map
from expbook.verdicts import Verdict, family_rule

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
SURVEY_MODELS = (*BASELINES, "GNN v5", "GNN v6", *ABLATIONS)
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
        if name.startswith("MLP"):
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
        threshold = best_f1_threshold(graph.label[split.val], proba[split.val])
        row = {"data": graph.name, "split": split.id, "repeat": split.repeat, "fold": split.fold, "model": name,
               **threshold_scores(graph.label[split.test], proba[split.test], threshold),
               "test_positives": int(graph.label[split.test].sum()), "n_test": split.test.size,
               "n_train": split.train.size + split.val.size, "seconds": seconds}
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
    for split, (split_rows, curves) in zip(splits, process_map(work, splits, shared=graph, workers=workers),
                                           strict=True):
        rows += split_rows
        first_curves = first_curves or curves
        if progress is not None:
            progress(split, split_rows)
    return pd.DataFrame(rows), first_curves


BASELINE_GBDT = GBDTConfig(num_boost_round=300, num_leaves=7, min_data_in_leaf=10, learning_rate=0.05)  # small data


def cross_validate(graph: EmployeeGraph, ibm: EmployeeGraph | None, *, base: GNNConfig, folds: int, repeats: int,
                   val_fraction: float, cv_seed: int, workers: int) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], str]:
    """The survey's every model and, when given, IBM attrition's models over the same repeated k-fold design:
    every result row, the first survey split's training curves, and a one-line account of what ran."""
    splits = cv_splits(graph.label, folds=folds, repeats=repeats, val_fraction=val_fraction, seed=cv_seed)
    results, curves = run_cv(graph, splits, base=base, gbdt=BASELINE_GBDT, models=SURVEY_MODELS, workers=workers)
    account = f"{len(splits)} splits × {len(SURVEY_MODELS)} models on {graph.name}"
    if ibm is not None:
        ibm_splits = cv_splits(ibm.label, folds=folds, repeats=repeats, val_fraction=val_fraction, seed=cv_seed)
        ibm_results = run_cv(ibm, ibm_splits, base=base, gbdt=BASELINE_GBDT, models=IBM_MODELS, workers=workers)[0]
        results = pd.concat([results, ibm_results], ignore_index=True)
        account += f", {len(ibm_splits)} × {len(IBM_MODELS)} on {ibm.name}"
    return results, curves, f"{account}; {workers} worker(s)"


def summary_table(results: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Per model: ``metric`` as "mean ± 95% t-interval half-width" over the splits (model order as first seen).

    The half-width is the naive one (splits treated as independent); the paired comparisons use the
    corrected variance.
    """
    order = list(dict.fromkeys(results["model"]))
    table = {}
    for model in order:
        part = results[results["model"] == model]
        table[model] = {m: mean_ci(part[m]).text() if m in part and part[m].notna().any() else "—" for m in metrics}
    table = pd.DataFrame.from_dict(table, orient="index")
    table["test evaluations"] = results.groupby("model", sort=False).size()
    return table


@dataclass(frozen=True)
class Comparison:
    """One member of the verdict family: ``a − b`` on ``metric`` of dataset ``data`` (``b`` = CHANCE: 0.5)."""

    id: str
    data: str
    a: str
    b: str
    metric: str
    question: str


def survey_family(data: str = "survey") -> list[Comparison]:
    out = [Comparison(f"V{i}", data, "GNN v6", b, "aupr", f"Does GNN v6 beat {b} on test AUPR?")
           for i, b in enumerate((*WITH_GROUPS, "GNN v5"), start=1)]
    out += [Comparison(f"G{i}", data, a, b, "aupr", f"Do the group features help {b} (test AUPR)?")
            for i, (a, b) in enumerate(zip(WITH_GROUPS, FEATURES_ONLY, strict=True), start=1)]
    out.append(Comparison("P1", data, "GNN v6", CHANCE, "pref_acc",
                          "Does GNN v6 rank the chosen post above the rejected one better than chance?"))
    out += [Comparison(f"A{i}", data, "GNN v6", name, metric,
                       f"Does the {name.removeprefix('v6 without ')} component help ({METRIC_NAMES[metric]})?")
            for i, (name, (_, metric)) in enumerate(ABLATIONS.items(), start=1)]
    return out


def ibm_family(data: str = "ibm_attrition") -> list[Comparison]:
    return [Comparison(f"I{i}", data, "GNN v6", b, "aupr", f"IBM attrition: does the GNN beat {b} on test AUPR?")
            for i, b in enumerate(WITH_GROUPS, start=1)]


def compare(results: pd.DataFrame, family: list[Comparison]) -> pd.DataFrame:
    """Each comparison paired by split: mean Δ, its 95% corrected interval, the corrected resampled t-test p,
    and Holm's adjusted p over the whole family."""
    rows = []
    for c in family:
        part = results[results["data"] == c.data]
        wide = part.pivot(index="split", columns="model", values=c.metric)
        ratio = float((part["n_test"] / part["n_train"]).mean())
        if c.a not in wide or (c.b != CHANCE and c.b not in wide):
            continue
        b = np.full(len(wide), 0.5) if c.b == CHANCE else wide[c.b]
        test = corrected_resampled_test(wide[c.a], b, test_train_ratio=ratio)
        rows.append({"id": c.id, "data": c.data, "comparison": f"{c.a} − {c.b}", "metric": c.metric,
                     "mean Δ": test.diff.mean, "CI low": test.diff.low, "CI high": test.diff.high,
                     "p (corrected t)": test.p_value, "splits": test.diff.n})
    table = pd.DataFrame(rows)
    if len(table):
        table["p (Holm)"] = holm(table["p (corrected t)"])
    return table


def verdicts(table: pd.DataFrame, family: list[Comparison], *, alpha: float) -> list[Verdict]:
    """One three-state verdict per compared member of the family, from its Holm-adjusted p-value."""
    questions = {c.id: c for c in family}
    out = []
    for row in table.to_dict("records"):
        c = questions[row["id"]]
        label = f"mean Δ {METRIC_NAMES[c.metric]}" + (" − 0.5" if c.b == CHANCE else "")
        evidence = f"{row['comparison']} over {row['splits']} folds; unadjusted p {row['p (corrected t)']:.3f}"
        out.append(family_rule(row["id"], c.question, row["mean Δ"], (row["CI low"], row["CI high"]), row["p (Holm)"],
                               alpha, label=label, evidence=evidence))
    return out


def headline(results: pd.DataFrame, checks: list[Verdict]) -> str:
    """One paragraph from the verdicts and the fold means."""
    survey = results[results["data"] == results["data"].iloc[0]]
    means = survey.groupby("model", sort=False)["aupr"].mean()
    best = str(means.idxmax())
    by_id = {v.id: v for v in checks}

    def outcome(ids: list[str], names: list[str]) -> str:
        beaten = [n for i, n in zip(ids, names, strict=True) if by_id.get(i) and by_id[i].holds]
        worse = [n for i, n in zip(ids, names, strict=True) if by_id.get(i) and by_id[i].verdict is False]
        text = f"beats {', '.join(beaten)}" if beaten else "beats none of them"
        return text + (f" and is worse than {', '.join(worse)}" if worse else "")

    sentence = (f"Best mean test AUPR: **{best}** ({means[best]:.3f}). Against the baselines that see the same "
                f"group memberships and GNN v5, GNN v6 ({means['GNN v6']:.3f}) "
                f"{outcome(['V1', 'V2', 'V3'], [*WITH_GROUPS, 'GNN v5'])} after Holm's correction.")
    helped = [b for i, b in (("G1", "MLP"), ("G2", "LightGBM")) if by_id.get(i) and by_id[i].holds]
    sentence += (f" The group features significantly help {' and '.join(helped)}." if helped
                 else " The group features do not significantly help the baselines.")
    p1 = by_id.get("P1")
    if p1 is not None:
        sentence += f" Pairwise preference accuracy is {'above' if p1.holds else 'not significantly above'} chance."
        components = {f"A{i}": name.removeprefix("v6 without ") for i, name in enumerate(ABLATIONS, start=1)}
        found = [f"{components[v.id]} {'helps' if v.holds else 'hurts'}" for v in checks
                 if v.id in components and v.verdict is not None]
        sentence += (" Significant component effects: " + "; ".join(found) + "." if found
                     else " No v6 component has a significant effect on the metric it targets.")
    ibm = [v for v in checks if v.id.startswith("I")]
    if ibm:
        wins = [v for v in ibm if v.holds]
        sentence += (f" On IBM attrition the GNN beats {len(wins)} of {len(ibm)} same-information baselines.")
    return sentence
