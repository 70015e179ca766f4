"""GNN v6 report: turnover and post preference with baselines, real ablations, several seeds and validation thresholds.

Each seed draws its own stratified train/val/test split of the employees and its own model
initialisation; every model of a seed sees the same split, so models are compared *paired* by seed.
The decision threshold of every model is chosen on the validation employees only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score, f1_score, precision_recall_curve, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import train_test_split

from expbook.cache import cache_root
from expbook.data.turnover import EmployeeGraph, load_survey, to_hetero
from expbook.data.turnover_synth import SurveySpec, ensure_synthetic_survey
from expbook.metrics.seeds import mean_ci, paired_test
from expbook.models.gbdt import GBDTConfig, train_binary_classifier
from expbook.models.gnn import GNNConfig, Task, pairwise_accuracy, train_gnn, train_mlp
from expbook.verdicts import Verdict, all_of, threshold_rule

V5 = {"two_stage": False, "hard_negatives": False, "adaptive_margin": False}
ABLATIONS = {"GNN v6": {}, "v6 − hard negatives": {"hard_negatives": False}, "v6 − two-stage": {"two_stage": False},
             "v6 − adaptive margin": {"adaptive_margin": False}}
BASELINES = ("MLP", "GBDT", "GNN v5")
TURNOVER_METRICS = ("aupr", "auroc", "f1", "precision", "recall", "threshold")
PREFERENCE_METRICS = ("pref_acc", "pref_margin")
METRIC_NAMES = {"aupr": "AUPR", "pref_acc": "pairwise accuracy"}


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def stratified_split(label: np.ndarray, *, seed: int, val: float, test: float) -> Split:
    """Stratified train / val / test employee indices (fractions of all employees)."""
    index = np.arange(label.size)
    rest, test_idx = train_test_split(index, test_size=test, stratify=label, random_state=seed)
    train_idx, val_idx = train_test_split(rest, test_size=val / (1 - test), stratify=label[rest], random_state=seed)
    return Split(np.sort(train_idx), np.sort(val_idx), np.sort(test_idx))


def choose_threshold(y_val: np.ndarray, p_val: np.ndarray) -> float:
    """The probability threshold with the best F1 on the *validation* employees (ties: the higher threshold)."""
    precision, recall, thresholds = precision_recall_curve(y_val, p_val)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)[:-1]
    best = np.flatnonzero(f1 == f1.max())
    return float(thresholds[best[-1]])


def turnover_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """AUPR, AUROC and F1 / precision / recall at ``threshold`` (chosen elsewhere: on validation)."""
    predicted = (p >= threshold).astype(int)
    return {"aupr": float(_safe(lambda: average_precision_score(y, p))),
            "auroc": float(_safe(lambda: roc_auc_score(y, p))),
            "f1": float(f1_score(y, predicted, zero_division=0)),
            "precision": float(precision_score(y, predicted, zero_division=0)),
            "recall": float(recall_score(y, predicted, zero_division=0)), "threshold": threshold}


def _safe(metric) -> float:
    try:
        return metric()
    except ValueError:  # a single class in y
        return float("nan")


def _pairs(graph: EmployeeGraph, employees: np.ndarray) -> np.ndarray | None:
    if graph.pairs is None:
        return None
    rows = graph.pairs[np.isin(graph.pairs["employee"].to_numpy(), employees)]
    return np.array(rows[["employee", "chosen", "rejected"]], dtype=np.int64)  # a writable copy (pandas 3 views are not)


def _standardise(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    mean, std = values[rows].mean(axis=0), values[rows].std(axis=0)
    return ((values - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


def model_configs(base: GNNConfig) -> dict[str, GNNConfig]:
    """GNN v5 and v6 with each v6 component switched off on its own."""
    return {"GNN v5": replace(base, **V5), **{name: replace(base, **switch) for name, switch in ABLATIONS.items()}}


def run_seed(graph: EmployeeGraph, seed: int, *, base: GNNConfig, gbdt: GBDTConfig, models: list[str],
             val: float, test: float) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    """Train ``models`` on one seed's split; one result row per model, and each GNN's training curves."""
    split = stratified_split(graph.label, seed=seed, val=val, test=test)
    x = _standardise(graph.features.to_numpy(dtype=float), split.train)
    posts = None if graph.posts is None else torch.from_numpy(_standardise(graph.posts, np.arange(graph.posts.shape[0])))
    task = Task(torch.from_numpy(graph.label.astype(np.float32)), split.train, split.val, posts,
                _pairs(graph, split.train), _pairs(graph, split.val))
    test_pairs = _pairs(graph, split.test)
    data = to_hetero(graph, x)
    configs = model_configs(replace(base, seed=seed))
    rows, curves = [], {}
    for name in models:
        if name == "MLP":
            trained = train_mlp(torch.from_numpy(x), task, replace(base, seed=seed))
            proba, preference, seconds = trained.predict_proba, None, trained.seconds
        elif name == "GBDT":
            start = time.perf_counter()
            booster = train_binary_classifier(x[split.train], graph.label[split.train], x[split.val],
                                              graph.label[split.val], feature_names=list(graph.features.columns),
                                              config=replace(gbdt, seed=seed))
            proba, preference, seconds = booster.predict(x), None, time.perf_counter() - start
        else:
            trained = train_gnn(data, task, configs[name])
            proba, preference, seconds = trained.predict_proba, trained.preference, trained.seconds
            curves[name] = trained.curves
        threshold = choose_threshold(graph.label[split.val], proba[split.val])
        row = {"seed": seed, "model": name, **turnover_metrics(graph.label[split.test], proba[split.test], threshold),
               "test_positives": int(graph.label[split.test].sum()), "seconds": seconds}
        if preference is not None and test_pairs is not None and len(test_pairs):
            row["pref_acc"], row["pref_margin"] = pairwise_accuracy(preference, test_pairs)
        rows.append(row)
    return rows, curves


def summary_table(results: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Per model: ``metric`` as "mean ± 95% CI half-width" over seeds (model order as first seen)."""
    order = list(dict.fromkeys(results["model"]))
    table = {}
    for model in order:
        part = results[results["model"] == model]
        table[model] = {m: mean_ci(part[m]).text() if m in part and part[m].notna().any() else "—" for m in metrics}
    return pd.DataFrame.from_dict(table, orient="index")


def paired_table(results: pd.DataFrame, reference: str, others: list[str], metrics: tuple[str, ...]) -> pd.DataFrame:
    """``reference − other`` per metric over the shared seeds: mean difference, 95% CI and paired t-test p-value."""
    wide = results.pivot(index="seed", columns="model")
    rows = []
    for other in others:
        for metric in metrics:
            if metric not in wide or wide[metric][[reference, other]].isna().any().any():
                continue
            test = paired_test(wide[metric][reference], wide[metric][other])
            rows.append({"comparison": f"{reference} − {other}", "metric": metric, "mean Δ": test.diff.mean,
                         "CI low": test.diff.low, "CI high": test.diff.high, "p (paired t)": test.p_value,
                         "seeds": test.diff.n})
    return pd.DataFrame(rows)


def _row(paired: pd.DataFrame, comparison: str, metric: str) -> pd.Series:
    return paired[(paired["comparison"] == comparison) & (paired["metric"] == metric)].iloc[0]


def verdicts(paired: pd.DataFrame, results: pd.DataFrame, *, alpha: float, chance: float = 0.5) -> list[Verdict]:
    """V1–V3: does v6 beat each baseline on AUPR (mean Δ > 0 and paired p < alpha)? P1: does v6 beat chance on
    pairwise accuracy? A1–A3: does removing each component hurt its target metric significantly?"""
    out = []
    for i, baseline in enumerate(BASELINES, start=1):
        row = _row(paired, f"GNN v6 − {baseline}", "aupr")
        out.append(all_of(f"V{i}", f"Does GNN v6 beat {baseline} on test AUPR, significantly over seeds?", [
            threshold_rule("", "", row["mean Δ"], ">", 0.0, label="mean Δ AUPR", fmt="{:+.3f}"),
            threshold_rule("", "", row["p (paired t)"], "<", alpha, label="paired p", fmt="{:.3f}")],
            evidence=f"Δ {row['mean Δ']:+.3f} [{row['CI low']:+.3f}, {row['CI high']:+.3f}], {row['seeds']} seeds"))
    v6 = results[results["model"] == "GNN v6"]
    if "pref_acc" in v6 and v6["pref_acc"].notna().any():
        test = paired_test(v6["pref_acc"].to_numpy(), np.full(len(v6), chance))
        out.append(all_of("P1", "Does GNN v6 rank the chosen post above the rejected one better than chance?", [
            threshold_rule("", "", test.diff.mean + chance, ">", chance, label="pairwise accuracy", fmt="{:.3f}"),
            threshold_rule("", "", test.p_value, "<", alpha, label="t-test p", fmt="{:.3f}")],
            evidence=f"accuracy {mean_ci(v6['pref_acc']).text()} over {len(v6)} seeds"))
        for j, (name, metric) in enumerate((("v6 − hard negatives", "pref_acc"), ("v6 − two-stage", "aupr"),
                                            ("v6 − adaptive margin", "pref_acc")), start=1):
            row = _row(paired, f"GNN v6 − {name}", metric)
            component = name.removeprefix("v6 − ")
            out.append(all_of(f"A{j}", f"Does the {component} component help ({METRIC_NAMES[metric]})?", [
                threshold_rule("", "", row["mean Δ"], ">", 0.0, label=f"mean Δ {metric}", fmt="{:+.3f}"),
                threshold_rule("", "", row["p (paired t)"], "<", alpha, label="paired p", fmt="{:.3f}")],
                evidence=f"full v6 minus ablation: Δ {row['mean Δ']:+.3f} [{row['CI low']:+.3f}, {row['CI high']:+.3f}]"))
    return out


def headline(results: pd.DataFrame, checks: list[Verdict], paired: pd.DataFrame, *, alpha: float) -> str:
    """One paragraph from the verdicts, the seed means and the paired ablation table."""
    means = results.groupby("model", sort=False)["aupr"].mean()
    best = str(means.idxmax())
    beaten = [v.question.split("beat ")[1].split(" on")[0] for v in checks if v.id.startswith("V") and v.verdict]
    sentence = (f"Best mean test AUPR: **{best}** ({means[best]:.3f}); GNN v6 ({means['GNN v6']:.3f}) significantly "
                f"beats {', '.join(beaten) if beaten else 'none of the baselines'}.")
    p1 = next((v for v in checks if v.id == "P1"), None)
    if p1 is not None:
        sentence += f" Pairwise preference accuracy {p1.value_text.split(';')[0]} is " \
                    f"{'above' if p1.verdict else 'not significantly above'} chance."
        ablations = paired[paired["comparison"].str.startswith("GNN v6 − v6 − ")]
        found = []
        for _, row in ablations[ablations["p (paired t)"] < alpha].iterrows():
            component = row["comparison"].removeprefix("GNN v6 − v6 − ")
            effect = "helps" if row["mean Δ"] > 0 else "hurts"
            found.append(f"{component} {effect} {METRIC_NAMES[row['metric']]} ({row['mean Δ']:+.3f})")
        sentence += (" Significant component effects: " + "; ".join(found) + "." if found
                     else " No v6 component changes AUPR or pairwise accuracy significantly.")
    return sentence


def load_survey_graph(data_dir: str | None, spec: SurveySpec) -> EmployeeGraph:
    """The user's survey folder, or the generator's cached tables for ``spec``."""
    return load_survey(Path(data_dir).expanduser() if data_dir else ensure_synthetic_survey(spec, cache_root()))


def describe_graph(graph: EmployeeGraph) -> dict[str, str]:
    """A column of the data summary table."""
    out = {"employees": f"{graph.n:,}", "intend to leave": f"{graph.label.mean():.1%} ({int(graph.label.sum())})"}
    for group, (employee, _, size) in graph.groups.items():
        out[f"{group} nodes"] = f"{size} ({employee.size / graph.n:.2f} edges per employee)"
    out["employee features"] = str(graph.features.shape[1])
    if graph.posts is not None:
        out["hypothetical posts × attributes"] = f"{graph.posts.shape[0]} × {graph.posts.shape[1]}"
        out["preference pairs"] = f"{len(graph.pairs):,} ({graph.pairs['task'].nunique()} tasks per employee)"
    return out


def ibm_verdicts(paired: pd.DataFrame, *, alpha: float) -> list[Verdict]:
    """I1/I2: does the turnover-only GNN beat MLP / LightGBM on the IBM table's test AUPR, significantly?"""
    out = []
    for i, baseline in enumerate(("MLP", "GBDT"), start=1):
        row = _row(paired, f"GNN (turnover only) − {baseline}", "aupr")
        out.append(all_of(f"I{i}", f"IBM attrition: does the GNN beat {baseline} on test AUPR, significantly?", [
            threshold_rule("", "", row["mean Δ"], ">", 0.0, label="mean Δ AUPR", fmt="{:+.3f}"),
            threshold_rule("", "", row["p (paired t)"], "<", alpha, label="paired p", fmt="{:.3f}")],
            evidence=f"Δ {row['mean Δ']:+.3f} [{row['CI low']:+.3f}, {row['CI high']:+.3f}], {row['seeds']} seeds"))
    return out
