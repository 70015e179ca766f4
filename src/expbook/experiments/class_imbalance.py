"""Class-imbalance repair: which rebalancing configuration collapses a heartbeat classifier, and which repairs it.

Every configuration is trained with the same seeds on the same inter-patient split; the
collapse detector and the recommendation are computed from the predictions, never written in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from expbook.cache import cache_root, fingerprint_folder
from expbook.data.ecg_synth import EcgSpec, ensure_synthetic_ecg
from expbook.data.wfdb_beats import CLASSES, Beats, inter_patient_records, load_beats, split_train_val
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
from expbook.verdicts import Verdict, threshold_rule


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

def standard_configs(base: TrainConfig, *, stacked_max_ratio: float, sampler_power: float, sampler_max_ratio: float,
                     target_mix: tuple[float, ...], focal_gamma: float, warmup_epochs: int,
                     combo_weight_power: float) -> dict[str, TrainConfig]:
    """The report's rows: the seed's stacked collapse, each lever alone, each repair, and the seed's final combination."""
    ce = replace(base, class_weights=True, weight_power=1.0, weight_max_ratio=stacked_max_ratio)
    return {
        "stacked sampler + CE weights": replace(ce, sampler="power", sampler_power=1.0, sampler_max_ratio=None),
        "sampler only": replace(base, sampler="power", sampler_power=1.0, sampler_max_ratio=None),
        "CE weights only": ce,
        f"sampler power {sampler_power:g} + cap {sampler_max_ratio:g}": replace(
            base, sampler="power", sampler_power=sampler_power, sampler_max_ratio=sampler_max_ratio),
        "target batch mix": replace(base, sampler="target_mix", target_mix=tuple(target_mix)),
        f"focal loss (γ={focal_gamma:g})": replace(base, loss="focal", focal_gamma=focal_gamma),
        f"CE weights + warm-up ({warmup_epochs} epochs)": replace(ce, warmup_epochs=warmup_epochs),
        "seed's combination": replace(base, sampler="power", sampler_power=sampler_power,
                                      sampler_max_ratio=sampler_max_ratio, class_weights=True,
                                      weight_power=combo_weight_power, weight_max_ratio=stacked_max_ratio,
                                      warmup_epochs=warmup_epochs, early_stop="blend"),
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
    or a class present in ``y_true`` gets fewer than ``min_fraction`` × its prior of the predictions."""
    prior = np.bincount(y_true, minlength=len(CLASSES)) / y_true.size
    shares = np.bincount(y_pred, minlength=len(CLASSES)) / y_pred.size
    over = (shares > ratio * prior) & (shares - prior > min_excess)
    never = (prior > 0) & (shares < min_fraction * prior)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(prior > 0, shares / prior, np.where(shares > 0, np.inf, 1.0))
    return Collapse(bool(over.any() or never.any()), tuple(np.array(CLASSES)[over]), tuple(np.array(CLASSES)[never]),
                    float(ratios.max()), shares, prior)


@dataclass
class ConfigResult:
    """One configuration trained with every seed: pooled predictions and per-seed models' histories."""

    name: str
    config: TrainConfig
    runs: list[TrainedClassifier]
    val_pred: list[np.ndarray]
    gen_pred: list[np.ndarray]


def train_all(splits: Splits, configs: dict[str, TrainConfig], seeds: list[int], *, echo=None) -> dict[str, ConfigResult]:
    """Train every configuration with every seed; predictions on validation and generalisation."""
    results = {}
    for name, config in configs.items():
        runs = [train_classifier(splits.train, splits.val, config.with_seed(seed)) for seed in seeds]
        if echo:
            echo(f"[{name}] {runs[0].log[0]}; " + "; ".join(f"seed {s}: {r.log[-1]}" for s, r in zip(seeds, runs, strict=True)))
        results[name] = ConfigResult(name, config, runs, [r.predict(splits.val) for r in runs],
                                     [r.predict(splits.gen) for r in runs])
    return results


def summary_table(results: dict[str, ConfigResult], splits: Splits, *, ratio: float, min_excess: float,
                  min_fraction: float) -> pd.DataFrame:
    """One row per configuration: seed-mean metrics on val and gen, and the collapse detector on pooled val predictions."""
    rows = {}
    for name, result in results.items():
        row = {}
        for part, beats, preds in (("val", splits.val, result.val_pred), ("gen", splits.gen, result.gen_pred)):
            reports = pd.DataFrame([class_report(beats.y, p) for p in preds])
            row.update({f"{part} {k}": v for k, v in reports.mean().items()})
            row[f"{part} macro std"] = float(reports["macro"].std(ddof=1)) if len(preds) > 1 else float("nan")
        val_collapse = detect_collapse(np.tile(splits.val.y, len(result.val_pred)), np.concatenate(result.val_pred),
                                       ratio=ratio, min_excess=min_excess, min_fraction=min_fraction)
        row.update({"collapsed": val_collapse.collapsed, "collapse": val_collapse.describe(),
                    "worst ratio": val_collapse.worst_ratio,
                    "best epoch": float(np.mean([r.best_epoch for r in result.runs])),
                    "s/epoch": float(np.mean([r.seconds_per_epoch for r in result.runs]))})
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def recommend(table: pd.DataFrame, *, score: str = "val blend") -> str | None:
    """The non-collapsed configuration with the best validation ``score`` (never chosen on the generalisation set)."""
    healthy = table[~table["collapsed"].astype(bool)]
    return None if healthy.empty else str(healthy[score].idxmax())


def pooled_confusion(y_true: np.ndarray, predictions: list[np.ndarray]) -> np.ndarray:
    """Row-normalised confusion matrix of every seed's predictions pooled (rows: true class)."""
    matrix = confusion_matrix(np.tile(y_true, len(predictions)), np.concatenate(predictions),
                              labels=np.arange(len(CLASSES))).astype(float)
    return matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)


# --- verdicts -----------------------------------------------------------------------------------------------------

def verdicts(table: pd.DataFrame, *, stacked: str, recommended: str | None, ratio: float,
             es_table: pd.DataFrame | None, min_gain: float) -> list[Verdict]:
    """C1 the stack collapses; C2 the recommendation does not; C3 it generalises better; C4 rare-aware stopping helps."""
    row = table.loc[stacked]
    out = [Verdict("C1", "Does stacking the sampler with inverse-frequency CE weights collapse the predictions?",
                   float(row["worst ratio"]), f"collapse detector (a class > {ratio:g}× its prior, or never predicted)",
                   bool(row["collapsed"]), str(row["collapse"]), f"worst predicted/prior {row['worst ratio']:.1f}×")]
    if recommended is None:
        out.append(Verdict("C2", "Is there a configuration that does not collapse?", float("nan"), "some row not flagged",
                           False, "every configuration was flagged by the detector", "none"))
        return out
    rec = table.loc[recommended]
    out.append(Verdict("C2", f"Is the recommended configuration ({recommended}) free of collapse?",
                       float(rec["worst ratio"]), "collapse detector does not flag it", not bool(rec["collapsed"]),
                       str(rec["collapse"]), f"worst predicted/prior {rec['worst ratio']:.1f}×"))
    gain = float(rec["gen macro"] - row["gen macro"])
    out.append(threshold_rule("C3", "Does the recommendation generalise better than the stack (DS2 macro-F1)?", gain, ">",
                              min_gain, label="Δ DS2 macro-F1", fmt="{:+.3f}",
                              evidence=f"{rec['gen macro']:.3f} vs {row['gen macro']:.3f}"))
    if es_table is not None:
        rare_gain = float(es_table.loc["blend", "gen rare"] - es_table.loc["macro", "gen rare"])
        out.append(threshold_rule(
            "C4", "Does early stopping on the rare-aware blend beat macro-F1 stopping on DS2 rare-F1 (S/V)?", rare_gain, ">",
            min_gain, label="Δ DS2 rare-F1", fmt="{:+.3f}",
            evidence=f"blend {es_table.loc['blend', 'gen rare']:.3f} vs macro {es_table.loc['macro', 'gen rare']:.3f}"))
    return out


def headline(table: pd.DataFrame, *, stacked: str, recommended: str | None, checks: list[Verdict]) -> str:
    row = table.loc[stacked]
    first = (f"Stacking the sampler with CE weights {'collapses' if row['collapsed'] else 'does not collapse'} the "
             f"predictions ({row['collapse']}; DS2 macro-F1 {row['gen macro']:.3f}).")
    if recommended is None:
        return first + " No configuration escaped the collapse detector."
    rec = table.loc[recommended]
    gain = next(v for v in checks if v.id == "C3")
    return (first + f" The best non-collapsed configuration on validation is **{recommended}**: DS2 macro-F1 "
            f"{rec['gen macro']:.3f} ({'better' if gain.verdict else 'not clearly better'} than the stack, "
            f"{gain.value_text}), S recall {rec['gen recall_S']:.1%}, V recall {rec['gen recall_V']:.1%}.")


def early_stopping_results(splits: Splits, base: ConfigResult, seeds: list[int], *, echo=None) -> dict[str, ConfigResult]:
    """``base``'s configuration stopped on each validation score (reusing ``base`` for its own score)."""
    variants = {score: replace(base.config, early_stop=score) for score in SCORE_LABELS if score != base.config.early_stop}
    results = train_all(splits, variants, seeds, echo=echo)
    results[base.config.early_stop] = base
    return {score: results[score] for score in SCORE_LABELS}
