"""Class-imbalance repair: which rebalancing configuration collapses a heartbeat classifier, and which repairs it.

Every configuration is trained with the same seeds on the same inter-patient split and early-stopped on the
same validation score. The collapse detector runs per seed; the recommendation is chosen on validation patients
only; DS2 intervals resample whole records (patients), because a few patients carry most S beats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from expbook.claims import all_of, decide, test
from expbook.data.ecg_synth import LITERATURE
from expbook.data.wfdb_beats import CLASSES, DS1, DS2, Beats, Splits
from expbook.features.ecg import load_features
from expbook.metrics import classification as cls
from expbook.metrics.bootstrap import cluster_sums, percentile_interval
from expbook.metrics.classification import Collapse, detect_collapse
from expbook.metrics.estimates import BootstrapEstimate, TEstimate
from expbook.models.ecg_cnn import (
    SCORE_LABELS,
    ConfigResult,
    TrainConfig,
    beat_scores,
    early_stop_scores,
    early_stopping_results,
)
from expbook.models.ecg_reference import fit_reference
from expbook.verdicts import Verdict, not_applicable, say

K = len(CLASSES)
STACKED = "stacked sampler + CE weights"
SEED_FINAL = "original report's final configuration"


def standard_configs(base: TrainConfig, *, stacked_max_ratio: float, sampler_power: float, sampler_max_ratio: float,
                     target_mix: tuple[float, ...], focal_gamma: float, warmup_epochs: int,
                     final_mix: tuple[float, ...]) -> dict[str, TrainConfig]:
    """The report's rows: the original report's stacked collapse, each lever alone, each repair, and its final configuration.

    Every row early-stops on ``base.early_stop``, so no configuration is tuned for the score it is judged on.
    The original report's final configuration: a target batch mix, focal loss with square-root class weights as α.
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


def class_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """The early-stopping scores, per-class precision / recall / F1 and predicted share of one prediction vector."""
    scores = {k: float(v) for k, v in beat_scores(cls.confusion(y_true, y_pred, K)).items()}
    shares = {f"pred_share_{c}": float(v) for c, v in zip(CLASSES, cls.predicted_shares(y_pred, K), strict=True)}
    return {**early_stop_scores(y_true, y_pred), **{k: v for k, v in scores.items() if "_" in k}, **shares}


def seed_collapses(y_true: np.ndarray, predictions: list[np.ndarray], **detector: float) -> list[Collapse]:
    """The detector on each seed's predictions (a finding must hold seed by seed, not on a pool)."""
    return [detect_collapse(y_true, pred, CLASSES, **detector) for pred in predictions]


# --- DS2 by record: the sampling unit is the patient ----------------------------------------------------------------

def record_confusions(beats: Beats, predictions: list[np.ndarray]) -> np.ndarray:
    """(records, K, K) per-record confusions of ``beats`` (``metrics.classification.record_confusions``)."""
    return cls.record_confusions(beats.y, beats.record, predictions, K)


def ds2_intervals(per_record: dict[str, np.ndarray], *, n_boot: int, seed: int, level: float = 0.95) -> pd.DataFrame:
    """Point value and record-bootstrap interval of every confusion score for each named set of predictions.

    Every set is scored on the same resampled records (paired), so ``paired_difference`` can use the same draws.
    """
    rows = []
    for name, confusion in per_record.items():
        point, draws = beat_scores(confusion.sum(axis=0)), beat_scores(cluster_sums(confusion, n_boot=n_boot,
                                                                                                seed=seed))
        for metric, value in point.items():
            low, high = percentile_interval(draws[metric], level)
            rows.append({"configuration": name, "metric": metric, "value": float(value), "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def paired_difference(a: np.ndarray, b: np.ndarray, metric: str, *, n_boot: int, seed: int) -> BootstrapEstimate:
    """``metric(a) − metric(b)`` for per-record confusions of two configurations, with its paired record-bootstrap
    draws (both resampled with the same records)."""
    point = beat_scores(a.sum(axis=0))[metric] - beat_scores(b.sum(axis=0))[metric]
    both = cluster_sums(np.stack([a, b], axis=1), n_boot=n_boot, seed=seed)
    draws = beat_scores(both[:, 0])[metric] - beat_scores(both[:, 1])[metric]
    # a test set is one of MIT-BIH's halves (DS2, or DS1 in DS1-only mode): it can hold 22 patients at most
    return BootstrapEstimate(float(point), draws, a.shape[0], "records", population=len(DS2))


def per_record_recall(beats: Beats, predictions: list[np.ndarray]) -> pd.DataFrame:
    """Per DS2 record: S and V beats, and the S and V recall of every seed's predictions pooled."""
    matrix = record_confusions(beats, predictions) / max(len(predictions), 1)
    truth, recall = matrix.sum(axis=-1), cls.recall(matrix)
    return pd.DataFrame({"S beats": truth[:, 1], "S recall": recall[:, 1], "V beats": truth[:, 2],
                         "V recall": recall[:, 2]}, index=pd.Index(np.unique(beats.record), name="record"))


# --- the summary, the recommendation --------------------------------------------------------------------------------

def summary_table(results: dict[str, ConfigResult], splits: Splits, *, max_distance: float,
                  min_fraction: float) -> pd.DataFrame:
    """One row per configuration: seed-mean metrics on val and DS2, and the collapse detector seed by seed on the
    validation predictions (the total-variation distance of the predicted shares from the prior, each seed's, the
    classes never predicted, and how many seeds it flagged) and on DS2 (each seed's distance, the seeds flagged):
    the recommendation is chosen on validation, so only DS2 can show it collapsing out of sample."""
    rows = {}
    for name, result in results.items():
        row = {}
        for part, beats, preds in (("val", splits.val, result.val_pred), ("gen", splits.gen, result.gen_pred)):
            reports = pd.DataFrame([class_report(beats.y, p) for p in preds])
            row.update({f"{part} {k}": v for k, v in reports.mean().items()})
            row[f"{part} macro std"] = float(reports["macro"].std(ddof=1)) if len(preds) > 1 else float("nan")
        detector = {"max_distance": max_distance, "min_fraction": min_fraction}
        collapses = seed_collapses(splits.val.y, result.val_pred, **detector)
        gen = seed_collapses(splits.gen.y, result.gen_pred, **detector)
        flagged = [c for c in collapses if c.collapsed]
        never = sorted({cls_ for c in collapses for cls_ in c.never_predicted})
        row.update({"flagged seeds": len(flagged), "seeds": len(collapses), "collapsed": bool(flagged),
                    "collapse": "; ".join(sorted({c.describe() for c in flagged})[:1]) or "every class near its prior",
                    "distance": float(np.mean([c.distance for c in collapses])),
                    "distances": [c.distance for c in collapses],
                    "never predicted": ", ".join(f"{c} ({sum(c in x.never_predicted for x in collapses)}/"
                                                 f"{len(collapses)} seeds)" for c in never) or "none",
                    "gen distances": [c.distance for c in gen], "gen flagged seeds": sum(c.collapsed for c in gen),
                    "gen least ratios": [c.least_ratio for c in gen],
                    "gen never predicted": ", ".join(sorted({k for c in gen for k in c.never_predicted})) or "none",
                    "best epoch": float(np.mean([r.best_epoch for r in result.runs])),
                    "best epochs": [r.best_epoch for r in result.runs],
                    "s/epoch": float(np.mean([r.seconds_per_epoch for r in result.runs]))})
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def recommend(table: pd.DataFrame, *, score: str = "val blend") -> str:
    """The configuration with the best validation ``score`` among those flagged in the fewest seeds — in no seed
    when any escapes the detector (never chosen on DS2). On real records every configuration may be flagged; the
    report still recommends, and says so (``recommendation_note``)."""
    fewest = table[table["flagged seeds"] == table["flagged seeds"].min()]
    return str(fewest[score].idxmax())


def recommendation_note(table: pd.DataFrame, recommended: str) -> str:
    """How the recommendation was chosen: among healthy configurations, or despite flags (and which)."""
    row = table.loc[recommended]
    if int(row["flagged seeds"]) == 0:
        return "chosen on DS1 validation among the configurations flagged in no seed"
    return (f"every configuration was flagged on validation in at least one seed; chosen as the best on DS1 validation "
            f"among those flagged in the fewest seeds ({int(row['flagged seeds'])} of {int(row['seeds'])}): "
            f"{row['collapse']}")


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

QUESTIONS = {"C1": "Does stacking the sampler with inverse-frequency CE weights collapse the predictions?",
             "C2": "Does the recommended configuration stay free of collapse on the {test} patients?",
             "C3": "Does the recommendation generalise better than the stack ({test} macro-F1)?",
             "C4": "Does blend early stopping beat macro-F1 stopping on {test} rare-F1 (S/V)?",
             "C5": "Is the recommendation at least as good on {test} as every other healthy configuration?"}


@dataclass(frozen=True)
class Contrasts:
    """The DS2 record-bootstrap contrasts the verdicts test (``contrasts``)."""

    gain: BootstrapEstimate | None  # recommendation − stack, DS2 macro-F1
    stopping: BootstrapEstimate | None  # blend − macro-F1 stopping of the recommendation, DS2 rare-F1
    others: dict[str, BootstrapEstimate]  # recommendation − each other healthy configuration, DS2 macro-F1
    same_epochs: bool  # blend and macro-F1 stopping kept the same epoch in every seed
    collapse: BootstrapEstimate | None = None  # the stack's validation TV distance, records and seeds resampled
    rec_collapse: BootstrapEstimate | None = None  # the recommendation's DS2 TV distance, records and seeds resampled


def distance_estimate(beats: Beats, predictions: list[np.ndarray], *, n_boot: int, seed: int) -> BootstrapEstimate:
    """The TV distance of the predicted shares from the prior on ``beats``, the mean over seeds, with its bootstrap
    over records within and across seeds (``metrics.classification.share_distance_estimate``); a split holds at
    most one of MIT-BIH's halves (22 records)."""
    return cls.share_distance_estimate(beats.y, beats.record, predictions, K, n_boot=n_boot, seed=seed,
                                       population=len(DS1))


def contrasts(per_record: dict[str, np.ndarray], table: pd.DataFrame, es_table: pd.DataFrame, *, stacked: str,
              recommended: str | None, n_boot: int, seed: int, splits: Splits | None = None,
              results: dict[str, ConfigResult] | None = None) -> Contrasts:
    """The paired DS2 contrasts and, given ``splits`` and ``results``, the collapse distances over records."""
    collapse = (distance_estimate(splits.val, results[stacked].val_pred, n_boot=n_boot, seed=seed)
                if splits is not None and results is not None else None)
    if recommended is None:
        return Contrasts(None, None, {}, False, collapse)
    healthy = [n for n in table.index[table["flagged seeds"] == 0] if n != recommended]
    epochs = {score: es_table.loc[(recommended, SCORE_LABELS[score]), "best epochs"] for score in ("blend", "macro")}
    rec_collapse = (distance_estimate(splits.gen, results[recommended].gen_pred, n_boot=n_boot, seed=seed)
                    if splits is not None and results is not None else None)
    return Contrasts(
        paired_difference(per_record[recommended], per_record[stacked], "macro", n_boot=n_boot, seed=seed),
        paired_difference(per_record[f"{recommended} · stop on blend"], per_record[f"{recommended} · stop on macro"],
                          "rare", n_boot=n_boot, seed=seed),
        {n: paired_difference(per_record[recommended], per_record[n], "macro", n_boot=n_boot, seed=seed) for n in healthy},
        list(epochs["blend"]) == list(epochs["macro"]), collapse, rec_collapse)


def verdicts(table: pd.DataFrame, c: Contrasts, *, stacked: str, recommended: str | None, max_distance: float,
             min_fraction: float, min_gain: float, margin: float, alpha: float, test_set: str = "DS2") -> list[Verdict]:
    """C1 the stack collapses; C2 the recommendation does not; C3 it generalises better than the stack; C4 blend
    stopping helps it; C5 it is no worse than any other healthy configuration (within ``margin``). One Holm family;
    the same five ids whatever the outcome (a verdict without its premise is *not applicable*). ``test_set`` names
    the patients the generalisation is measured on (DS2, or held-out DS1 patients when the folder has no DS2)."""
    questions = {k: q.format(test=test_set) for k, q in QUESTIONS.items()}
    row = table.loc[stacked]
    c1 = c.collapse if c.collapse is not None else TEstimate.of(row["distances"], "seeds", bounds=(0.0, 1.0))
    claims = [test("C1", questions["C1"], c1, ">", max_distance,
                   label="TV distance of the predicted shares from the prior", fmt="{:.3f}",
                   evidence=f"flagged in {int(row['flagged seeds'])} of {int(row['seeds'])} seeds; never predicted: "
                            f"{row['never predicted']}")]
    if recommended is None:
        reason = "every configuration was flagged in at least one seed: there is no recommendation"
        return decide(claims + [not_applicable(i, questions[i], reason) for i in ("C2", "C3", "C4", "C5")], alpha=alpha)
    rec = table.loc[recommended]
    claims += [
        all_of("C2", f"{questions['C2'][:-1]} ({recommended})?", [
            test("C2", "", c.rec_collapse if c.rec_collapse is not None else
                 TEstimate.of(rec["gen distances"], "seeds", bounds=(0.0, 1.0)), "<=", max_distance,
                 label=f"{test_set} TV distance of the predicted shares from the prior", fmt="{:.3f}"),
            test("C2", "", TEstimate.of(rec["gen least ratios"], "seeds", bounds=(0.0, math.inf)), ">=", min_fraction,
                 label=f"{test_set} least predicted ÷ prior share", fmt="{:.2f}")],
            evidence=f"{recommendation_note(table, recommended)}; on {test_set} flagged in "
                     f"{int(rec['gen flagged seeds'])} of {int(rec['seeds'])} seeds, never predicted: "
                     f"{rec['gen never predicted']}"),
        test("C3", questions["C3"], c.gain, ">", min_gain, label=f"Δ {test_set} macro-F1", fmt="{:+.3f}",
             evidence=f"{rec['gen macro']:.3f} vs {row['gen macro']:.3f} (seed means); {test_set} records resampled"),
        test("C4", f"{questions['C4'][:-1]}, for {recommended}?", c.stopping, ">", min_gain, label=f"Δ {test_set} rare-F1",
             fmt="{:+.3f}", evidence=f"{test_set} records resampled",
             cannot_fail="blend and macro-F1 stopping kept the same epoch in every seed: the two models are the same"
             if c.same_epochs else None)]
    if c.others:
        claims.append(all_of("C5", questions["C5"], [
            test("C5", "", estimate, ">=", -margin, label=f"Δ {test_set} macro-F1 vs {name}", fmt="{:+.3f}")
            for name, estimate in c.others.items()],
            evidence=f"every other configuration no seed flags: {', '.join(c.others)}; {test_set} records resampled"))
    else:
        claims.append(not_applicable("C5", questions["C5"], "no other configuration escaped the detector in every seed"))
    return decide(claims, alpha=alpha)


def headline(table: pd.DataFrame, *, stacked: str, recommended: str | None, checks: list[Verdict],
             test_set: str = "DS2") -> str:
    row, v = table.loc[stacked], {check.id: check for check in checks}
    first = (f"Stacking the sampler with CE weights "
             f"{say(v['C1'], holds='collapses', fails='does not collapse', inconclusive='may or may not collapse')} "
             f"the predictions (TV distance from the prior {v['C1'].value_text}; flagged in {int(row['flagged seeds'])} "
             f"of {int(row['seeds'])} seeds; {test_set} macro-F1 {row['gen macro']:.3f}).")
    if recommended is None:
        return first + " No configuration escaped the collapse detector in every seed."
    rec = table.loc[recommended]
    better = say(v["C3"], holds="better than", fails="not better than", inconclusive="not clearly better than",
                 na="not comparable with")
    against = say(v["C5"], holds="and no worse than any other healthy configuration",
                  fails="but worse than another healthy configuration",
                  inconclusive="and not distinguishable from the other healthy configurations", na="")
    chosen = ("The best configuration on validation that no seed flags is" if int(rec["flagged seeds"]) == 0 else
              f"Every configuration was flagged on validation; the best on DS1 validation among the least flagged "
              f"({int(rec['flagged seeds'])} of {int(rec['seeds'])} seeds) is")
    return (first + f" {chosen} **{recommended}**: {test_set} macro-F1 "
            f"{rec['gen macro']:.3f} (mean over seeds), {better} the stack (difference of the seeds' pooled predictions, "
            f"paired over {test_set} records: {v['C3'].value_text}) {against}; {test_set} S-F1 "
            f"{rec['gen f1_S']:.3f}, V-F1 {rec['gen f1_V']:.3f}.").replace(" ;", ";")


def reference_confusions(folder, splits: Splits, *, lead: str) -> np.ndarray:
    """Per-record confusions on the test patients of the feature-based reference model (``models.ecg_reference``:
    balanced logistic regression on normalised RR and morphology, de Chazal 2004's approach), fitted on the training
    patients' beats: the simple baseline beside the CNN, with the same patients and the same record bootstrap."""
    train = load_features(folder, splits.records["train"], lead=lead)
    test = load_features(folder, splits.records["gen"], lead=lead)
    return cls.record_confusions(test.y, test.record, [fit_reference(train).predict(test.x)], K)


def literature_comparison(rows: dict[str, np.ndarray], *, n_boot: int, seed: int) -> pd.DataFrame:
    """The published inter-patient DS2 figures beside ours: one row per label, from per-record confusions (point and
    record-bootstrap interval; the same records resampled for every row)."""
    def rates(matrix: np.ndarray) -> dict[str, np.ndarray]:
        sensitivity, ppv = cls.recall(matrix), cls.precision(matrix, zero_division=np.nan)
        return {"S sensitivity": sensitivity[..., 1], "S PPV": ppv[..., 1], "V sensitivity": sensitivity[..., 2],
                "V PPV": ppv[..., 2]}

    if len({confusion.shape for confusion in rows.values()}) > 1:
        raise ValueError("literature_comparison: every row needs the same records, in the same order")
    table = LITERATURE.map(lambda v: f"{v:.2f}")
    for label, confusion in rows.items():
        point, draws = rates(confusion.sum(axis=0)), rates(cluster_sums(confusion, n_boot=n_boot, seed=seed))
        table.loc[label] = {name: f"{float(point[name]):.2f} [{low:.2f}, {high:.2f}]"
                            for name in point for low, high in [percentile_interval(draws[name])]}
    return table
