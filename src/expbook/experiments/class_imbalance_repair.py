"""Class-imbalance repair: which rebalancing configuration collapses a heartbeat classifier, and which repairs it.

Every configuration is trained with the same seeds on the same inter-patient split and early-stopped on the
same validation score. The collapse detector runs per seed; the recommendation is chosen on validation patients
only; DS2 intervals resample whole records (patients), because a few patients carry most S beats.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from expbook.data.ecg_synth import EcgSpec, ensure_synthetic_ecg
from expbook.data.wfdb_beats import CLASSES, Beats, inter_patient_records, load_beats, split_train_val
from expbook.metrics.bootstrap import cluster_resample_counts, percentile_interval
from expbook.metrics.seeds import median_ci
from expbook.models.ecg_cnn import (
    SCORE_LABELS,
    TrainConfig,
    TrainedClassifier,
    early_stop_scores,
    effective_class_tilt,
    expected_batch_mix,
    loss_class_weights,
    train_classifier,
)
from expbook.run.cache import cache_root, fingerprint_folder
from expbook.run.workers import process_map
from expbook.verdicts import Verdict, not_applicable, threshold_rule


@dataclass(frozen=True)
class Splits:
    train: Beats
    val: Beats
    gen: Beats
    records: dict[str, list[str]]
    data_dir: Path
    data_fingerprint: str

    def counts(self) -> pd.DataFrame:
        return pd.DataFrame({name: getattr(self, name).class_counts() for name in ("train", "val", "gen")},
                            index=list(CLASSES)).T


def prepare_beats(data_dir: str | None, spec: EcgSpec, *, lead: str, before: int, after: int,
                  val_fraction: float, split_seed: int) -> Splits:
    """Read (or generate, then read) the records; DS1 → train/val by record, DS2 → generalisation set."""
    if data_dir:
        folder = Path(data_dir).expanduser()
        fingerprint = "files:" + fingerprint_folder(folder)
    else:
        folder = ensure_synthetic_ecg(spec, cache_root())
        fingerprint = "synthetic:" + folder.name
    ds1, ds2 = inter_patient_records(folder)
    development = load_beats(folder, records=ds1, lead=lead, before=before, after=after)
    by_record = {r: development.y[development.record == r] for r in ds1}
    train_records, val_records = split_train_val(ds1, by_record, val_fraction=val_fraction, seed=split_seed)
    in_val = np.isin(development.record, val_records)
    gen = load_beats(folder, records=ds2, lead=lead, before=before, after=after)
    return Splits(development.take(~in_val), development.take(in_val), gen,
                  {"train": train_records, "val": val_records, "gen": ds2}, folder, fingerprint)


# --- the configurations -------------------------------------------------------------------------------------------

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
        weights, mix = loss_class_weights(counts, config), expected_batch_mix(counts, config)
        tilt = effective_class_tilt(counts, config)
        rows[name] = {**{f"weight {c}": w for c, w in zip(CLASSES, weights, strict=True)},
                      **{f"batch {c}": m for c, m in zip(CLASSES, mix, strict=True)},
                      **{f"effective {c}": t for c, t in zip(CLASSES, tilt, strict=True)}}
    return pd.DataFrame.from_dict(rows, orient="index")


# --- evaluation ---------------------------------------------------------------------------------------------------

def class_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Macro-F1 (classes present in ``y_true``), per-class precision / recall / F1 and predicted share."""
    labels = np.arange(len(CLASSES))
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    share = np.bincount(y_pred, minlength=len(CLASSES)) / max(y_pred.size, 1)
    out = {f"{kind}_{name}": value for kind, values in (("precision", precision), ("recall", recall), ("f1", f1),
                                                         ("pred_share", share))
           for name, value in zip(CLASSES, values, strict=True)}
    return {**early_stop_scores(y_true, y_pred), **out}


@dataclass(frozen=True)
class Collapse:
    """The collapse detector's finding on one prediction vector."""

    collapsed: bool
    over_predicted: tuple[str, ...]
    never_predicted: tuple[str, ...]
    worst_ratio: float
    shares: np.ndarray
    prior: np.ndarray

    def describe(self) -> str:
        parts = [f"{c} predicted {self.shares[CLASSES.index(c)]:.1%} vs prior {self.prior[CLASSES.index(c)]:.1%}"
                 for c in self.over_predicted]
        parts += [f"{c} never predicted (prior {self.prior[CLASSES.index(c)]:.1%})" for c in self.never_predicted]
        return "; ".join(parts) or "every class predicted near its prior"


def detect_collapse(y_true: np.ndarray, y_pred: np.ndarray, *, ratio: float, min_excess: float,
                    min_fraction: float) -> Collapse:
    """Collapsed when a class is predicted more than ``ratio`` × its prior *and* by ``min_excess`` of all predictions,
    or a class present in ``y_true`` gets fewer than ``min_fraction`` × its prior of the predictions.

    ``worst_ratio`` is the largest predicted share / prior over the classes that are over-predicted by at least
    ``min_excess`` of all predictions (1 when none is): an O class predicted 5× its 0.3% prior moves no one.
    """
    prior = np.bincount(y_true, minlength=len(CLASSES)) / y_true.size
    shares = np.bincount(y_pred, minlength=len(CLASSES)) / y_pred.size
    over = (shares > ratio * prior) & (shares - prior > min_excess)
    never = (prior > 0) & (shares < min_fraction * prior)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(prior > 0, shares / prior, np.where(shares > 0, np.inf, 1.0))
    material = shares - prior > min_excess
    worst = float(ratios[material].max()) if material.any() else 1.0
    return Collapse(bool(over.any() or never.any()), tuple(np.array(CLASSES)[over]), tuple(np.array(CLASSES)[never]),
                    worst, shares, prior)


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


def train_all(splits: Splits, configs: dict[str, TrainConfig], seeds: list[int], *, workers: int = 1,
              echo=None) -> dict[str, ConfigResult]:
    """Train every configuration with every seed; predictions on validation and generalisation.

    Each run trains on one thread with its own seed, ``workers`` runs side by side in spawned processes, so the
    results do not depend on ``workers``. Each run also tracks every other early-stopping score
    (``early_stopping_results`` reads them: no retraining).
    """
    jobs = [replace(config.with_seed(seed), num_threads=1) for config in configs.values() for seed in seeds]
    done = iter(process_map(_train_job, jobs, shared=splits, workers=workers))
    results = {}
    for name, config in configs.items():
        runs, val_pred, gen_pred = zip(*[next(done) for _ in seeds], strict=True)
        if echo:
            echo(f"[{name}] {runs[0].log[0]}; " + "; ".join(f"seed {s}: {r.log[-1]}" for s, r in zip(seeds, runs, strict=True)))
        results[name] = ConfigResult(name, config, list(runs), list(val_pred), list(gen_pred))
    return results


def seed_collapses(result: ConfigResult, y_val: np.ndarray, **detector: float) -> list[Collapse]:
    """The detector on each seed's validation predictions (a finding must hold seed by seed, not on a pool)."""
    return [detect_collapse(y_val, pred, **detector) for pred in result.val_pred]


# --- DS2 by record: the sampling unit is the patient ----------------------------------------------------------------

def record_confusions(beats: Beats, predictions: list[np.ndarray]) -> np.ndarray:
    """(records, K, K) confusion counts per record (rows: true class), every seed's predictions summed."""
    k = len(CLASSES)
    _, record_index = np.unique(beats.record, return_inverse=True)
    n_records = int(record_index.max()) + 1
    flat = np.zeros(n_records * k * k)
    for pred in predictions:
        flat += np.bincount((record_index * k + beats.y) * k + pred, minlength=n_records * k * k)
    return flat.reshape(n_records, k, k)


def f1_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Per-class F1 = 2·TP / (2·TP + FP + FN) of confusion matrices (..., K, K); NaN for a class absent from the truth."""
    tp = np.diagonal(confusion, axis1=-2, axis2=-1)
    truth, predicted = confusion.sum(axis=-1), confusion.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = 2 * tp / (truth + predicted)
    return np.where(truth > 0, np.nan_to_num(f1), np.nan)


def confusion_scores(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Macro-F1 (present classes), rare-F1 (S, V), per-class F1, S and V recall from confusion matrices (..., K, K)."""
    f1 = f1_from_confusion(confusion)
    truth = confusion.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.diagonal(confusion, axis1=-2, axis2=-1) / truth
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a replicate without S and V beats: NaN, dropped later
        scores = {"macro": np.nanmean(f1, axis=-1), "rare": np.nanmean(f1[..., 1:3], axis=-1)}
    scores.update({f"f1_{c}": f1[..., i] for i, c in enumerate(CLASSES)})
    scores.update({"recall_S": recall[..., 1], "recall_V": recall[..., 2]})
    return scores


def record_bootstrap(per_record: dict[str, np.ndarray], *, n_boot: int, seed: int,
                     level: float = 0.95) -> pd.DataFrame:
    """Point value and record-bootstrap interval of every confusion score for each named set of predictions.

    Every set is scored on the same resampled records (paired), so ``paired_difference`` can use the same draws.
    """
    n_records = next(iter(per_record.values())).shape[0]
    counts = cluster_resample_counts(n_records, n_boot, seed)
    rows = []
    for name, confusion in per_record.items():
        point = confusion_scores(confusion.sum(axis=0))
        draws = confusion_scores(np.einsum("br,rij->bij", counts, confusion))
        for metric, value in point.items():
            low, high = percentile_interval(draws[metric], level)
            rows.append({"configuration": name, "metric": metric, "value": float(value), "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def paired_difference(a: np.ndarray, b: np.ndarray, metric: str, *, n_boot: int, seed: int,
                      level: float = 0.95) -> tuple[float, tuple[float, float]]:
    """``metric(a) − metric(b)`` for per-record confusions of two configurations, with its paired record-bootstrap interval."""
    counts = cluster_resample_counts(a.shape[0], n_boot, seed)
    point = confusion_scores(a.sum(axis=0))[metric] - confusion_scores(b.sum(axis=0))[metric]
    draws = (confusion_scores(np.einsum("br,rij->bij", counts, a))[metric]
             - confusion_scores(np.einsum("br,rij->bij", counts, b))[metric])
    return float(point), percentile_interval(draws, level)


def per_record_recall(beats: Beats, predictions: list[np.ndarray]) -> pd.DataFrame:
    """Per DS2 record: S and V beats, and the S and V recall of every seed's predictions pooled."""
    records = np.unique(beats.record)
    confusion = record_confusions(beats, predictions) / max(len(predictions), 1)
    truth = confusion.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.diagonal(confusion, axis1=-2, axis2=-1) / truth
    return pd.DataFrame({"S beats": truth[:, 1], "S recall": recall[:, 1], "V beats": truth[:, 2],
                         "V recall": recall[:, 2]}, index=pd.Index(records, name="record"))


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
    matrix = confusion_matrix(np.tile(y_true, len(predictions)), np.concatenate(predictions),
                              labels=np.arange(len(CLASSES))).astype(float)
    return matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)


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


def early_stopping_results(splits: Splits, base: ConfigResult) -> dict[str, ConfigResult]:
    """``base``'s configuration stopped on each validation score: the same training runs, other kept epochs."""
    results = {}
    for score in SCORE_LABELS:
        runs = [r if score == base.config.early_stop else r.alternatives[score] for r in base.runs]
        results[score] = ConfigResult(f"{base.name} · {score}", replace(base.config, early_stop=score), runs,
                                      [r.predict(splits.val) for r in runs], [r.predict(splits.gen) for r in runs])
    return results


# --- the literature, for scale --------------------------------------------------------------------------------------

LITERATURE = pd.DataFrame(
    {"S sensitivity": [0.76, 0.83, 0.79], "S PPV": [0.38, 0.34, 0.36], "V sensitivity": [0.78, 0.87, 0.86],
     "V PPV": [0.82, 0.76, 0.93]},
    index=pd.Index(["de Chazal et al. 2004 (IEEE TBME 51:1196)", "Mar et al. 2011 (IEEE TBME 58:2168)",
                    "Zhang et al. 2014 (Comput. Biol. Med. 48:133)"], name="inter-patient DS2, MIT-BIH"))


def literature_comparison(confusion: np.ndarray, *, label: str, n_boot: int, seed: int) -> pd.DataFrame:
    """The published inter-patient DS2 figures beside ours (per-record confusions → point and record-bootstrap interval)."""
    counts = cluster_resample_counts(confusion.shape[0], n_boot, seed)

    def rates(c: np.ndarray) -> dict[str, np.ndarray]:
        tp = np.diagonal(c, axis1=-2, axis2=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sens, ppv = tp / c.sum(axis=-1), tp / c.sum(axis=-2)
        return {"S sensitivity": sens[..., 1], "S PPV": ppv[..., 1], "V sensitivity": sens[..., 2], "V PPV": ppv[..., 2]}

    point, draws = rates(confusion.sum(axis=0)), rates(np.einsum("br,rij->bij", counts, confusion))
    ours = {name: f"{float(point[name]):.2f} [{low:.2f}, {high:.2f}]"
            for name in point for low, high in [percentile_interval(draws[name])]}
    table = LITERATURE.map(lambda v: f"{v:.2f}")
    table.loc[label] = ours
    return table
