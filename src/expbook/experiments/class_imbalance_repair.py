"""Class-imbalance repair: which rebalancing configuration collapses a heartbeat classifier, and which repairs it.

Every configuration is trained with the same seeds on the same inter-patient split and early-stopped on the
same validation score. The collapse detector runs per seed; the recommendation is chosen on validation patients
only; DS2 intervals resample whole records (patients), because a few patients carry most S beats.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from expbook.data.ecg_synth import LITERATURE
from expbook.data.wfdb_beats import CLASSES, Beats, Splits
from expbook.metrics import classification as cls
from expbook.metrics.bootstrap import cluster_sums, percentile_interval
from expbook.metrics.classification import Collapse, detect_collapse
from expbook.metrics.seeds import median_ci
from expbook.models.ecg_cnn import (
    SCORE_LABELS,
    ConfigResult,
    TrainConfig,
    early_stop_scores,
    early_stopping_results,
)
from expbook.models.rebalancing import effective_class_tilt, expected_batch_mix, loss_class_weights
from expbook.verdicts import Verdict, not_applicable, threshold_rule

K = len(CLASSES)
STACKED = "stacked sampler + CE weights"
SEED_FINAL = "seed's final configuration"


def standard_configs(base: TrainConfig, *, stacked_max_ratio: float, sampler_power: float, sampler_max_ratio: float,
                     target_mix: tuple[float, ...], focal_gamma: float, warmup_epochs: int,
                     final_mix: tuple[float, ...]) -> dict[str, TrainConfig]:
    """The report's rows: the seed's stacked collapse, each lever alone, each repair, and the seed's final configuration.

    Every row early-stops on ``base.early_stop``, so no configuration is tuned for the score it is judged on.
    The seed's final configuration: a target batch mix, focal loss with square-root class weights as α.
    """
    ce = replace(base, class_weights=True, weight_power=1.0, weight_max_ratio=stacked_max_ratio)
    return {
        STACKED: replace(ce, sampler="power", sampler_power=1.0, sampler_max_ratio=None),
        "sampler only": replace(base, sampler="power", sampler_power=1.0, sampler_max_ratio=None),
        "CE weights only": ce,
        f"sampler power {sampler_power:g} + cap {sampler_max_ratio:g}": replace(
            base, sampler="power", sampler_power=sampler_power, sampler_max_ratio=sampler_max_ratio),
        "target batch mix": replace(base, sampler="target_mix", target_mix=tuple(target_mix)),
        f"focal loss (γ={focal_gamma:g})": replace(base, loss="focal", focal_gamma=focal_gamma),
        f"CE weights + warm-up ({warmup_epochs} epochs)": replace(ce, warmup_epochs=warmup_epochs),
        SEED_FINAL: replace(base, sampler="target_mix", target_mix=tuple(final_mix), loss="focal",
                            focal_gamma=focal_gamma, class_weights=True, weight_power=0.5,
                            weight_max_ratio=stacked_max_ratio),
        "no rebalancing": base,
    }


def lever_table(configs: dict[str, TrainConfig], counts: np.ndarray) -> pd.DataFrame:
    """Per configuration: loss class weights, expected batch mix, and the class prior the loss effectively optimises."""
    rows = {}
    for name, config in configs.items():
        parts = {"weight": loss_class_weights(counts, config), "batch": expected_batch_mix(counts, config),
                 "effective": effective_class_tilt(counts, config)}
        rows[name] = {f"{part} {c}": v for part, values in parts.items() for c, v in zip(CLASSES, values, strict=True)}
    return pd.DataFrame.from_dict(rows, orient="index")


def class_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """The early-stopping scores, per-class precision / recall / F1 and predicted share of one prediction vector."""
    matrix = cls.confusion(y_true, y_pred, K)
    parts = {"precision": cls.precision(matrix), "recall": cls.recall(matrix), "f1": cls.f1(matrix),
             "pred_share": cls.predicted_shares(y_pred, K)}
    return {**early_stop_scores(y_true, y_pred),
            **{f"{kind}_{c}": v for kind, values in parts.items() for c, v in zip(CLASSES, values, strict=True)}}


def seed_collapses(result: ConfigResult, y_val: np.ndarray, **detector: float) -> list[Collapse]:
    """The detector on each seed's validation predictions (a finding must hold seed by seed, not on a pool)."""
    return [detect_collapse(y_val, pred, CLASSES, **detector) for pred in result.val_pred]


# --- DS2 by record: the sampling unit is the patient ----------------------------------------------------------------

def record_confusions(beats: Beats, predictions: list[np.ndarray]) -> np.ndarray:
    """(records, K, K) confusion counts per record (rows: true class), every seed's predictions summed."""
    _, record_index = np.unique(beats.record, return_inverse=True)
    return sum(cls.confusion(beats.y, pred, K, groups=record_index) for pred in predictions)


def confusion_scores(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """The report's scores of confusion matrices (..., K, K): macro-F1, rare-F1 (S, V), per-class F1, S and V recall."""
    f1, recall = cls.f1(matrix), cls.recall(matrix)
    scores = {"macro": cls.mean_f1(matrix), "rare": cls.mean_f1(matrix, [1, 2])}
    scores.update({f"f1_{c}": f1[..., i] for i, c in enumerate(CLASSES)})
    scores.update({"recall_S": recall[..., 1], "recall_V": recall[..., 2]})
    return scores


def ds2_intervals(per_record: dict[str, np.ndarray], *, n_boot: int, seed: int, level: float = 0.95) -> pd.DataFrame:
    """Point value and record-bootstrap interval of every confusion score for each named set of predictions.

    Every set is scored on the same resampled records (paired), so ``paired_difference`` can use the same draws.
    """
    rows = []
    for name, confusion in per_record.items():
        point, draws = confusion_scores(confusion.sum(axis=0)), confusion_scores(cluster_sums(confusion, n_boot=n_boot,
                                                                                                seed=seed))
        for metric, value in point.items():
            low, high = percentile_interval(draws[metric], level)
            rows.append({"configuration": name, "metric": metric, "value": float(value), "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def paired_difference(a: np.ndarray, b: np.ndarray, metric: str, *, n_boot: int, seed: int,
                      level: float = 0.95) -> tuple[float, tuple[float, float]]:
    """``metric(a) − metric(b)`` for per-record confusions of two configurations, with its paired record-bootstrap
    interval (both resampled with the same records)."""
    point = confusion_scores(a.sum(axis=0))[metric] - confusion_scores(b.sum(axis=0))[metric]
    both = cluster_sums(np.stack([a, b], axis=1), n_boot=n_boot, seed=seed)
    draws = confusion_scores(both[:, 0])[metric] - confusion_scores(both[:, 1])[metric]
    return float(point), percentile_interval(draws, level)


def per_record_recall(beats: Beats, predictions: list[np.ndarray]) -> pd.DataFrame:
    """Per DS2 record: S and V beats, and the S and V recall of every seed's predictions pooled."""
    matrix = record_confusions(beats, predictions) / max(len(predictions), 1)
    truth, recall = matrix.sum(axis=-1), cls.recall(matrix)
    return pd.DataFrame({"S beats": truth[:, 1], "S recall": recall[:, 1], "V beats": truth[:, 2],
                         "V recall": recall[:, 2]}, index=pd.Index(np.unique(beats.record), name="record"))


# --- the summary, the recommendation --------------------------------------------------------------------------------

def summary_table(results: dict[str, ConfigResult], splits: Splits, *, ratio: float, min_excess: float,
                  min_fraction: float) -> pd.DataFrame:
    """One row per configuration: seed-mean metrics on val and DS2, and the collapse detector seed by seed
    (median worst predicted/prior ratio with its order-statistic interval over seeds, and how many seeds it flagged)."""
    rows = {}
    for name, result in results.items():
        row = {}
        for part, beats, preds in (("val", splits.val, result.val_pred), ("gen", splits.gen, result.gen_pred)):
            reports = pd.DataFrame([class_report(beats.y, p) for p in preds])
            row.update({f"{part} {k}": v for k, v in reports.mean().items()})
            row[f"{part} macro std"] = float(reports["macro"].std(ddof=1)) if len(preds) > 1 else float("nan")
        collapses = seed_collapses(result, splits.val.y, ratio=ratio, min_excess=min_excess, min_fraction=min_fraction)
        worst = median_ci([c.worst_ratio for c in collapses])
        flagged = [c for c in collapses if c.collapsed]
        row.update({"flagged seeds": len(flagged), "seeds": len(collapses), "collapsed": bool(flagged),
                    "collapse": "; ".join(sorted({c.describe() for c in flagged})[:1]) or "every class near its prior",
                    "worst ratio": worst.median, "worst ratio low": worst.low, "worst ratio high": worst.high,
                    "worst ratios": [c.worst_ratio for c in collapses],
                    "best epoch": float(np.mean([r.best_epoch for r in result.runs])),
                    "s/epoch": float(np.mean([r.seconds_per_epoch for r in result.runs]))})
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def recommend(table: pd.DataFrame, *, score: str = "val blend") -> str | None:
    """The configuration flagged in no seed with the best validation ``score`` (never chosen on DS2)."""
    healthy = table[table["flagged seeds"] == 0]
    return None if healthy.empty else str(healthy[score].idxmax())


def pooled_confusion(y_true: np.ndarray, predictions: list[np.ndarray]) -> np.ndarray:
    """Row-normalised confusion matrix of every seed's predictions pooled (rows: true class)."""
    matrix = sum(cls.confusion(y_true, pred, K) for pred in predictions).astype(float)
    return matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)


def prediction_shares(results: dict[str, ConfigResult], y_val: np.ndarray) -> pd.DataFrame:
    """Long table (configuration, class, share) of every seed's validation predictions pooled."""
    rows = [{"configuration": name, "class": c, "share": s} for name, result in results.items()
            for c, s in zip(CLASSES, cls.predicted_shares(np.concatenate(result.val_pred), K), strict=True)]
    return pd.DataFrame(rows)


def early_stopping_rows(splits: Splits, results: dict[str, ConfigResult], names: list[str]
                        ) -> tuple[dict[tuple[str, str], ConfigResult], dict[str, np.ndarray]]:
    """Each of ``names`` stopped on every score: the results by (configuration, score label), and their per-record
    DS2 confusions by "<configuration> · stop on <score>"."""
    rows, per_record = {}, {}
    for name in names:
        for score, result in early_stopping_results(splits, results[name]).items():
            rows[(name, SCORE_LABELS[score])] = result
            per_record[f"{name} · stop on {score}"] = record_confusions(splits.gen, result.gen_pred)
    return rows, per_record


# --- verdicts -----------------------------------------------------------------------------------------------------

def collapse_verdict(id: str, question: str, ratios: list[float], *, threshold: float, collapses: bool,
                     flagged: int) -> Verdict:
    """Three-state over seeds: the median of the per-seed worst predicted/prior ratios and its distribution-free
    interval (order statistics; ratios are heavy-tailed) against ``threshold``. ``collapses=True`` asks "does it
    collapse?" (ratio > threshold), False asks "is it free of collapse?" (ratio ≤ threshold).

    With five seeds the interval is their range (93.75% coverage): every seed above the threshold → holds,
    every seed at or below → does not hold, seeds on both sides → inconclusive.
    """
    ci = median_ci(ratios)
    return threshold_rule(id, question, ci.median, ">" if collapses else "<=", threshold,
                          ci=(ci.low, ci.high) if ci.n > 1 else None,
                          label="median worst predicted/prior over seeds", fmt="{:.2f}×",
                          evidence=f"flagged by the detector in {flagged} of {ci.n} seeds; interval: order statistics "
                                   f"over seeds ({ci.coverage:.1%} coverage)")


def verdicts(table: pd.DataFrame, *, stacked: str, recommended: str | None, ratio: float, gain: tuple | None,
             es_gain: tuple | None, min_gain: float) -> list[Verdict]:
    """C1 the stack collapses; C2 the recommendation does not; C3 it generalises better; C4 blend stopping helps.

    ``gain`` and ``es_gain`` are (point, (low, high)) record-bootstrap differences on DS2; the same four ids
    are returned whatever the outcome (a verdict without its premise is *not applicable*).
    """
    row = table.loc[stacked]
    out = [collapse_verdict("C1", "Does stacking the sampler with inverse-frequency CE weights collapse the predictions?",
                            list(row["worst ratios"]), threshold=ratio, collapses=True, flagged=int(row["flagged seeds"]))]
    if recommended is None:
        reason = "every configuration was flagged in at least one seed"
        return out + [not_applicable("C2", "Is the recommended configuration free of collapse?", reason),
                      not_applicable("C3", "Does the recommendation generalise better than the stack (DS2 macro-F1)?",
                                     reason),
                      not_applicable("C4", "Does blend early stopping beat macro-F1 stopping on DS2 rare-F1 (S/V)?",
                                     reason)]
    rec = table.loc[recommended]
    out.append(collapse_verdict("C2", f"Is the recommended configuration ({recommended}) free of collapse?",
                                list(rec["worst ratios"]), threshold=ratio, collapses=False,
                                flagged=int(rec["flagged seeds"])))
    out.append(threshold_rule("C3", "Does the recommendation generalise better than the stack (DS2 macro-F1)?",
                              gain[0], ">", min_gain, ci=gain[1], label="Δ DS2 macro-F1", fmt="{:+.3f}",
                              evidence=f"{rec['gen macro']:.3f} vs {row['gen macro']:.3f} (seed means); interval: "
                                       "DS2 records resampled"))
    if es_gain is None:
        out.append(not_applicable("C4", "Does blend early stopping beat macro-F1 stopping on DS2 rare-F1 (S/V)?",
                                  "the early-stopping comparison was not run"))
    else:
        out.append(threshold_rule("C4", f"Does blend early stopping beat macro-F1 stopping on DS2 rare-F1 (S/V), "
                                  f"for {recommended}?", es_gain[0], ">", min_gain, ci=es_gain[1], label="Δ DS2 rare-F1",
                                  fmt="{:+.3f}", evidence="interval: DS2 records resampled"))
    return out


def headline(table: pd.DataFrame, *, stacked: str, recommended: str | None, checks: list[Verdict]) -> str:
    row = table.loc[stacked]
    c1 = checks[0]
    says = {"holds": "collapses", "does not hold": "does not collapse", "inconclusive": "may or may not collapse"}
    first = (f"Stacking the sampler with CE weights {says[c1.state]} the predictions (detector flags it in "
             f"{int(row['flagged seeds'])} of {int(row['seeds'])} seeds; worst predicted/prior {c1.value_text}; "
             f"DS2 macro-F1 {row['gen macro']:.3f}).")
    if recommended is None:
        return first + " No configuration escaped the collapse detector in every seed."
    rec = table.loc[recommended]
    gain = next(v for v in checks if v.id == "C3")
    better = {"holds": "better than", "does not hold": "not better than", "inconclusive": "not clearly better than",
              "not applicable": "not comparable with"}[gain.state]
    return (first + f" The best configuration on validation that no seed flags is **{recommended}**: DS2 macro-F1 "
            f"{rec['gen macro']:.3f}, {better} the stack ({gain.value_text}), DS2 S-F1 {rec['gen f1_S']:.3f}, "
            f"V-F1 {rec['gen f1_V']:.3f}.")


def literature_comparison(confusion: np.ndarray, *, label: str, n_boot: int, seed: int) -> pd.DataFrame:
    """The published inter-patient DS2 figures beside ours (per-record confusions → point and record-bootstrap interval)."""
    def rates(matrix: np.ndarray) -> dict[str, np.ndarray]:
        sensitivity, ppv = cls.recall(matrix), cls.precision(matrix, zero_division=np.nan)
        return {"S sensitivity": sensitivity[..., 1], "S PPV": ppv[..., 1], "V sensitivity": sensitivity[..., 2],
                "V PPV": ppv[..., 2]}

    point, draws = rates(confusion.sum(axis=0)), rates(cluster_sums(confusion, n_boot=n_boot, seed=seed))
    ours = {name: f"{float(point[name]):.2f} [{low:.2f}, {high:.2f}]"
            for name in point for low, high in [percentile_interval(draws[name])]}
    table = LITERATURE.map(lambda v: f"{v:.2f}")
    table.loc[label] = ours
    return table
