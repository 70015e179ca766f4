"""Sequential-recommender upgrade ladder: each rung adds one step to the previous one, measured on full ranking.

Rungs: baseline (post-LN, no time features, constant LR, fixed epochs, random negative + BCE) →
+ time features → + pre-LN → + warm-up + cosine → + early stopping → + in-batch InfoNCE, with a full-softmax
cross-entropy rung beside InfoNCE (both on top of early stopping) → + re-rank of the top ``candidates`` of the rung
with the best validation NDCG@10, by LightGBM LambdaRank on cross features.

Two reference rows that need no training stand beside the ladder: most popular and item-to-item transitions
(``expbook.models.seq_reference``). Every comparison is paired over users on per-user NDCG@10 and repeated over
seeds: the (seeds × users) table of differences gives a ``CrossedTEstimate``, so training luck widens the interval
as the users' spread does. S0 asks whether the baseline transformer beats most popular; the step verdicts are a
family, Holm-adjusted, and read only when S0 holds. The re-ranker learns from lists of each user's validation
target and of ``held_out`` earlier events the transformer never trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from expbook.claims import decide, test
from expbook.data.sequences import SequenceData
from expbook.features.candidates import RANKER_FEATURES, candidate_features
from expbook.metrics.estimates import CrossedTEstimate, TEstimate
from expbook.metrics.ranking import hit_ndcg_recall, per_user_ndcg, top_k
from expbook.models import seq_reference
from expbook.models.gbdt import GBDTConfig, train_lambdarank
from expbook.models.sasrec import SeqConfig, TrainedSeqModel, early_stopped, evaluate, exclude, rank_scores, score_users, train_sasrec
from expbook.parallel import process_map
from expbook.verdicts import FAILS, HOLDS, INCONCLUSIVE, REFERENCE, SANITY, Verdict, join_names, say

EARLY_STOPPING, INFONCE, FULL_CE = "+ early stopping", "+ in-batch InfoNCE", "+ full-softmax CE"
def rerank_label(candidates_n: int) -> str:
    """The re-rank rung's name, from its parameter: "+ re-rank top-200 (LambdaRank)" at ``candidates = 200``."""
    return f"+ re-rank top-{candidates_n} (LambdaRank)"
MOST_POPULAR, TRANSITIONS = "most popular", "item-to-item transitions"
RANKER = GBDTConfig(num_boost_round=300, learning_rate=0.05, num_leaves=15)  # the re-ranker's LambdaRank settings


def ladder(base: SeqConfig, *, max_epochs: int, temperature: float, logq_correction: bool,
           uniform_negatives: int) -> dict[str, SeqConfig]:
    """The rungs: each adds one switch to the previous rung, except full-softmax CE, which replaces InfoNCE's
    loss on top of early stopping (``COMPARED_WITH``)."""
    rungs = {"baseline": base}
    steps = [("+ time features", {"time_features": True}), ("+ pre-LN", {"norm_first": True}),
             ("+ warm-up + cosine LR", {"lr_schedule": "warmup_cosine"}),
             (EARLY_STOPPING, {"early_stopping": True, "epochs": max_epochs}),
             (INFONCE, {"loss": "infonce_in_batch", "temperature": temperature,
                        "logq_correction": logq_correction, "uniform_negatives": uniform_negatives})]
    previous = base
    for name, change in steps:
        previous = rungs[name] = replace(previous, **change)
    rungs[FULL_CE] = replace(rungs[EARLY_STOPPING], loss="full_softmax")
    return rungs


COMPARED_WITH = {FULL_CE: EARLY_STOPPING}


@dataclass
class RungRun:
    """One rung × one seed: test metrics, per-user test ranks and the trained model (kept for re-ranking)."""

    rung: str
    seed: int
    metrics: dict[str, float]
    ranks: np.ndarray
    trained: TrainedSeqModel | None


def shared_trainings(rungs: dict[str, SeqConfig]) -> dict[str, str]:
    """{early-stopping rung: the fixed-epoch rung it shares its training with}: where a rung differs from another
    only by early stopping (same epoch cap, so the same schedule and optimiser steps), one training gives both,
    the fixed rung's last epoch and the early-stopped twin's best epoch before patience ran out."""
    shared = {}
    for name, config in rungs.items():
        if config.early_stopping:
            twin = next((other for other, c in rungs.items() if c == replace(config, early_stopping=False)), None)
            if twin is not None:
                shared[name] = twin
    return shared


def run_ladder(data: SequenceData, rungs: dict[str, SeqConfig], seeds: list[int], *, workers: int = 1) -> list[RungRun]:
    """Every rung × seed, in rung order; ``workers`` trainings side by side in spawned processes, one torch thread
    each, so the results do not depend on ``workers``. An early-stopping rung that only differs from a fixed-epoch
    rung by early stopping is read off that rung's training (``shared_trainings``). The costliest trainings start
    first (full softmax, then InfoNCE, then the rest), so the last one to finish is a short one."""
    cost = {"full_softmax": 0, "infonce_in_batch": 1}
    shared = shared_trainings(rungs)
    twin_of = {fixed: stopped for stopped, fixed in shared.items()}
    jobs = sorted(((name, replace(config, num_threads=1), seed, twin_of.get(name)) for name, config in rungs.items()
                   if name not in shared for seed in seeds),
                  key=lambda job: (cost.get(job[1].loss, 2), not job[1].early_stopping))
    done = {(run.rung, run.seed): run for runs in process_map(_rung_job, jobs, shared=data, workers=workers,
                                                              label="training") for run in runs}
    return [done[name, seed] for name in rungs for seed in seeds]


def _rung_job(data: SequenceData, job: tuple[str, SeqConfig, int, str | None]) -> list[RungRun]:
    return run_rung(data, *job)


def run_rung(data: SequenceData, rung: str, config: SeqConfig, seed: int, early_stopped_rung: str | None = None
             ) -> list[RungRun]:
    """Train ``rung`` once; its run, and with ``early_stopped_rung`` that rung's run read off the same training."""
    config = replace(config, seed=seed)
    trained = train_sasrec(data, config)
    out = [_scored(data, rung, seed, trained, config)]
    if early_stopped_rung is not None:
        out.append(_scored(data, early_stopped_rung, seed, early_stopped(trained, data, config), config))
    return out


def _scored(data: SequenceData, rung: str, seed: int, trained: TrainedSeqModel, config: SeqConfig) -> RungRun:
    metrics, ranks, _ = evaluate(trained.model, data, "test", exclude_seen=config.exclude_seen)
    val = evaluate(trained.model, data, "val", exclude_seen=config.exclude_seen)[0]
    return RungRun(rung, seed, {**metrics, "val_ndcg@10": val["ndcg@10"], "best_epoch": trained.best_epoch,
                                "epochs_run": len(trained.curves), "seconds_per_epoch": trained.seconds_per_epoch},
                   ranks, trained)


# --- re-ranking ---------------------------------------------------------------------------------------------------

def ranker_lists(data: SequenceData, trained: TrainedSeqModel, from_end: int, *, candidates_n: int,
                 exclude_seen: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, user) of the candidate lists whose target is each user's event at ``from_end`` (1: the
    validation target; 2 … 1 + ``data.held_out``: events held out of the transformer's training), users without
    such an event left out. Scored by the transformer as the test lists are, on history it never trained on."""
    inputs, times, target, seen = data.list_input(from_end)
    scores = score_users(trained.model, inputs, times)
    if exclude_seen:
        scores = exclude(scores, seen, target)
    users = np.flatnonzero(target > 0)
    candidates = top_k(scores, min(candidates_n, scores.shape[1] - 1))
    features = candidate_features(data, candidates, np.take_along_axis(scores, candidates, axis=1), before=from_end + 1)
    labels = (candidates == target[:, None]).astype(np.float32)
    return features[users], labels[users], users


def rerank(data: SequenceData, trained: TrainedSeqModel, *, candidates_n: int, exclude_seen: bool,
           config: GBDTConfig, ranker_val_fraction: float = 0.2) -> tuple[dict[str, float], np.ndarray, dict]:
    """Train LambdaRank on candidate lists of every user's validation target and held-out events, re-rank the test
    candidates; full-ranking ranks.

    Users are split for the ranker's own early stopping (all of a user's lists on one side); the test lists of *all*
    users are re-ranked. A test target outside the top ``candidates_n`` keeps its transformer rank.
    """
    _, test_ranks, test_scores = evaluate(trained.model, data, "test", exclude_seen=exclude_seen)
    n = min(candidates_n, test_scores.shape[1] - 1)
    test_candidates = top_k(test_scores, n)
    test_x = candidate_features(data, test_candidates, np.take_along_axis(test_scores, test_candidates, axis=1), before=1)
    parts = [ranker_lists(data, trained, from_end, candidates_n=n, exclude_seen=exclude_seen)
             for from_end in range(1, 2 + data.held_out)]
    x, y, users = (np.concatenate(column) for column in zip(*parts, strict=True))
    held = (np.random.default_rng(config.seed).random(data.n_users) < ranker_val_fraction)[users]
    width = len(RANKER_FEATURES)
    ranker = train_lambdarank(x[~held].reshape(-1, width), y[~held].ravel(), np.full((~held).sum(), n),
                              x[held].reshape(-1, width), y[held].ravel(), np.full(held.sum(), n),
                              feature_names=RANKER_FEATURES, config=config)
    reranked = ranker.predict(test_x.reshape(-1, width)).reshape(test_candidates.shape)
    new_position = np.argsort(np.argsort(-reranked, axis=1, kind="stable"), axis=1)  # each candidate's place after
    hit = test_candidates == data.test_target[:, None]
    in_head = hit.any(axis=1)
    ranks = np.where(in_head, (new_position * hit).sum(axis=1), test_ranks)
    importance = dict(zip(RANKER_FEATURES, ranker.booster.feature_importance("gain").round(1).tolist(), strict=True))
    validation_labels = parts[0][1]
    details = {"target_in_candidates": float(in_head.mean()),
               "val_target_in_candidates": float(validation_labels.any(axis=1).mean()),
               "training_lists": int((~held).sum()), "training_lists_with_target": int(y[~held].any(axis=1).sum()),
               "ranker_validation_lists": int(held.sum()), "list_sources": len(parts),
               "best_iteration": ranker.best_iteration, "importance_gain": importance,
               "transformer_ranks_inside": test_ranks[in_head]}
    return hit_ndcg_recall(ranks), ranks, details


def rerank_all(data: SequenceData, runs: list[RungRun], source: str, seeds: list[int], *, candidates_n: int,
               exclude_seen: bool, config: GBDTConfig) -> tuple[list[RungRun], list[dict]]:
    """The re-rank rung of every seed, on the candidates of that seed's ``source`` rung: its runs and details."""
    out, details = [], []
    for seed in seeds:
        trained = next(r for r in runs if r.rung == source and r.seed == seed).trained
        metrics, ranks, detail = rerank(data, trained, candidates_n=candidates_n, exclude_seen=exclude_seen,
                                        config=replace(config, seed=seed))
        out.append(RungRun(rerank_label(candidates_n), seed, {**metrics, "val_ndcg@10": np.nan}, ranks, None))
        details.append(detail)
    return out, details


# --- reference rows ----------------------------------------------------------------------------------------------

@dataclass
class References:
    """Test metrics and per-user ranks of the two reference rows; the transition smoothing chosen on validation."""

    metrics: dict[str, dict[str, float]]
    ranks: dict[str, np.ndarray]
    smoothing: float
    smoothing_validation: dict[float, float]  # smoothing → validation NDCG@10


def reference_rows(data: SequenceData, *, exclude_seen: bool, smoothing_grid: list[float]) -> References:
    def evaluate_scores(scores: np.ndarray, split: str) -> dict[str, float]:
        return rank_scores(scores, data, split, exclude_seen=exclude_seen)[0]

    smoothing, validation = seq_reference.choose_smoothing(data, smoothing_grid, evaluate_scores)
    rows = {MOST_POPULAR: seq_reference.most_popular_scores(data, "test"),
            TRANSITIONS: seq_reference.transition_scores(data, "test", smoothing=smoothing)}
    ranked = {name: rank_scores(scores, data, "test", exclude_seen=exclude_seen)[:2] for name, scores in rows.items()}
    return References({name: m for name, (m, _) in ranked.items()}, {name: r for name, (_, r) in ranked.items()},
                      smoothing, validation)


# --- tables and verdicts ------------------------------------------------------------------------------------------

def user_table(runs: list[RungRun], references: References, name: str) -> np.ndarray:
    """(seeds, users) per-user test NDCG@10 of a rung, one row per seed in seed order; (1, users) for a reference
    row, which has no training to repeat."""
    if name in references.ranks:
        return per_user_ndcg(references.ranks[name])[None, :]
    return np.stack([per_user_ndcg(r.ranks) for r in sorted((r for r in runs if r.rung == name), key=lambda r: r.seed)])


def user_differences(runs: list[RungRun], references: References, name: str, other: str) -> np.ndarray:
    """(seeds, users) per-user test NDCG@10 of ``name`` minus ``other``, seed by seed (a reference row repeats)."""
    return user_table(runs, references, name) - user_table(runs, references, other)


def user_difference(runs: list[RungRun], references: References, name: str, other: str) -> CrossedTEstimate:
    """The paired estimate of ``name`` minus ``other`` over users *and* seeds (``CrossedTEstimate``), so a step
    that one seed's training luck made looks as uncertain as it is."""
    return CrossedTEstimate.of(user_differences(runs, references, name, other), bounds=(-1.0, 1.0))


def per_seed_wins(differences: np.ndarray, alpha: float) -> tuple[int, int]:
    """(seeds whose row of ``differences`` is above zero by the paired t-test over users at ``alpha``, seeds)."""
    wins = [row.mean() > 0 and TEstimate.of(row, "users").p_value(0.0) < alpha for row in differences]
    return int(sum(wins)), len(wins)


def ladder_table(runs: list[RungRun], order: list[str], references: References, *,
                 compared_with: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per rung and per reference row: test HR@10 / NDCG@10 / Recall@50 (mean over seeds), the mean
    validation NDCG@10, and for each step what it is compared with (the previous rung unless ``compared_with``
    names another); ``step_verdicts`` tests the steps."""
    compared_with = {**COMPARED_WITH, **(compared_with or {})}
    rows = {}
    for i, rung in enumerate(order):
        part = [r for r in runs if r.rung == rung]
        row = {metric: float(np.mean([r.metrics[metric] for r in part])) for metric in ("hr@10", "ndcg@10", "recall@50")}
        row["ndcg@10 per seed"] = " / ".join(f"{r.metrics['ndcg@10']:.4f}" for r in sorted(part, key=lambda r: r.seed))
        row["val ndcg@10"] = float(np.mean([r.metrics.get("val_ndcg@10", np.nan) for r in part]))
        if i:
            row["compared with"] = compared_with.get(rung, order[i - 1])
        rows[rung] = row
    for name, metrics in references.metrics.items():
        rows[name] = {**{m: metrics[m] for m in ("hr@10", "ndcg@10", "recall@50")}, "ndcg@10 per seed": "no training"}
    return pd.DataFrame.from_dict(rows, orient="index")


def step_table(table: pd.DataFrame, steps: list[Verdict]) -> pd.DataFrame:
    """The steps as decided: what each is compared with, Δ NDCG@10 and the Holm-adjusted interval that decided it,
    the p of the paired test over seeds × users and its Holm-adjusted p."""
    compared = table[table["compared with"].notna()]
    return pd.DataFrame({"compared with": compared["compared with"].to_numpy(),
                         "Δ ndcg@10": [v.value for v in steps],
                         "interval (Holm-adjusted)": [f"[{v.ci[0]:+.4f}, {v.ci[1]:+.4f}]" if v.ci else "—" for v in steps],
                         "p (seeds × users)": [v.p for v in steps], "p (Holm)": [v.p_adjusted for v in steps],
                         "verdict": [v.state for v in steps]}, index=compared.index)


def reference_table(runs: list[RungRun], order: list[str], references: References, *, alpha: float) -> pd.DataFrame:
    """Each rung against each reference row: per-user paired Δ NDCG@10 (mean over seeds), its 95% interval and p over
    seeds × users, and on how many seeds the rung alone beats the row (paired t over users at ``alpha``). Not
    adjusted: the reference rows are the report's scale, not its family of claims."""
    rows = {}
    for rung in order:
        row = {}
        for name in references.ranks:
            differences = user_differences(runs, references, rung, name)
            e = CrossedTEstimate.of(differences, bounds=(-1.0, 1.0))
            low, high = e.interval(0.95)
            wins, seeds = per_seed_wins(differences, alpha)
            row[(name, "Δ ndcg@10")] = e.value
            row[(name, "95% interval")] = f"[{low:+.4f}, {high:+.4f}]"
            row[(name, "p (seeds × users)")] = e.p_value(0.0)
            row[(name, f"seeds won (p < {alpha:g})")] = f"{wins} of {seeds}"
        rows[rung] = row
    return pd.DataFrame.from_dict(rows, orient="index").set_axis(pd.MultiIndex.from_tuples(list(row)), axis=1)


def popularity_sentence(against: pd.DataFrame, alpha: float) -> str:
    """Which rungs beat most popular on every seed (paired over users, p < ``alpha``) in ``reference_table``."""
    won = against[(MOST_POPULAR, f"seeds won (p < {alpha:g})")]
    short = [name.removeprefix("+ ") for name, text in won.items() if text.split(" of ")[0] != text.split(" of ")[1]]
    if not short:
        return f"Every rung beats most popular on every seed (paired over users, p < {alpha:g})."
    verb = "does" if len(short) == 1 else "do"
    return (f"{len(short)} of {len(against)} rungs {verb} not beat most popular on every seed (paired over users, "
            f"p < {alpha:g}): {join_names(short)}.")


def last_epochs_gain(val_ranks: np.ndarray, alpha: float) -> tuple[TEstimate, tuple[float, float]]:
    """Validation NDCG@10 of the last epoch of ``val_ranks`` (epochs × users) minus the epoch two before it, paired
    over users, and its interval at 1 − ``alpha``: still rising when the interval lies above zero."""
    e = TEstimate.of(per_user_ndcg(val_ranks[-1]) - per_user_ndcg(val_ranks[-3]), "users", bounds=(-1.0, 1.0))
    return e, e.interval(1 - alpha)


def plateau_table(runs: list[RungRun], rungs: dict[str, SeqConfig], *, alpha: float) -> pd.DataFrame:
    """Is each training that ran to its epoch cap still rising at its last epoch? Per seed, validation NDCG@10 of the
    last epoch minus the epoch two before it (the first of the last three), paired over users: "still rising" when
    its interval lies above zero at ``alpha``, else "no significant gain over its last two epochs". Every fixed-epoch
    rung is checked, and an early-stopping rung whenever patience never ran out (it was capped like a fixed one).
    Absence of a significant gain is not a plateau a longer schedule could not pass: under a cosine schedule the
    learning rate is near zero at the end, so the check passes there by construction."""
    rows = []
    for name, config in rungs.items():
        for r in sorted((r for r in runs if r.rung == name), key=lambda r: r.seed):
            ranks = r.trained.val_ranks
            capped = not config.early_stopping or ranks.shape[0] == config.epochs
            if ranks.shape[0] < 3 or not capped:
                continue
            e, (low, high) = last_epochs_gain(ranks, alpha)
            rows.append({"rung": name, "seed": r.seed, "epochs": ranks.shape[0],
                         "val ndcg@10, last 3 epochs": " / ".join(f"{v:.4f}" for v in r.trained.curves["val_ndcg@10"].iloc[-3:]),
                         "Δ last − 3rd last": e.value, "interval": f"[{low:+.4f}, {high:+.4f}]",
                         "schedule": config.lr_schedule,
                         "state": "still rising" if low > 0 else "no significant gain over its last two epochs"})
    return pd.DataFrame(rows).set_index(["rung", "seed"]) if rows else pd.DataFrame()


def ladder_verdicts(runs: list[RungRun], table: pd.DataFrame, references: References, best_rung: str, *,
                    alpha: float) -> list[Verdict]:
    """S0, a sanity check: does the baseline beat most popular? S1…, the family: does each step improve NDCG@10
    over the rung it is compared with (Holm over the steps)? R1, a reference: does the rung chosen on validation
    beat item-to-item transitions? Paired over users. The steps are not read unless S0 holds: a baseline that
    loses to most popular has learnt too little to ladder on."""
    steps = table[table["compared with"].notna()]
    claims = [test("S0", "Does the baseline transformer beat most popular on NDCG@10?",
                   user_difference(runs, references, "baseline", MOST_POPULAR), ">", 0.0,
                   label="Δ NDCG@10 (baseline − popular)", fmt="{:+.4f}", role=SANITY)]
    claims += [test(f"S{i}", f"Does '{rung.removeprefix('+ ')}' improve NDCG@10 over '{row['compared with']}'?",
                    user_difference(runs, references, rung, row["compared with"]), ">", 0.0, label="Δ NDCG@10",
                    fmt="{:+.4f}") for i, (rung, row) in enumerate(steps.iterrows(), start=1)]
    claims.append(test("R1", f"Does the best rung by validation ('{best_rung.removeprefix('+ ')}') beat item-to-item "
                       "transitions on NDCG@10?", user_difference(runs, references, best_rung, TRANSITIONS), ">", 0.0,
                       label="Δ NDCG@10 (rung − transitions)", fmt="{:+.4f}", role=REFERENCE))
    decided = decide(claims, alpha=alpha)
    if decided[0].state != HOLDS:
        decided[1:-1] = [replace(v, state=INCONCLUSIVE, evidence="not read: S0 does not hold",
                                 decide={"unit": "seeds", "needed": None, "have": None,
                                         "text": "would need the baseline to beat most popular first (S0)"})
                         for v in decided[1:-1]]
    return decided


def best_by_validation(runs: list[RungRun], rungs: list[str]) -> str:
    """The rung of ``rungs`` with the best mean validation NDCG@10 over its seeds (ties: the earlier rung)."""
    means = {rung: np.mean([r.metrics["val_ndcg@10"] for r in runs if r.rung == rung]) for rung in rungs}
    return max(rungs, key=lambda rung: (means[rung], -rungs.index(rung)))


def headline(table: pd.DataFrame, checks: list[Verdict], best_rung: str) -> str:
    sanity, steps, reference = checks[0], checks[1:-1], checks[-1]
    popular, transitions = table.loc[MOST_POPULAR, "ndcg@10"], table.loc[TRANSITIONS, "ndcg@10"]
    best = table.loc[best_rung, "ndcg@10"]
    against = say(reference, holds="beats", fails="loses to", inconclusive="is not distinguishable from")
    lead = (f"The best rung by validation, **{best_rung.removeprefix('+ ')}**, scores test NDCG@10 {best:.4f} and {against} "
            f"the item-to-item transition model ({transitions:.4f}); most popular scores {popular:.4f}. ")
    if sanity.state != HOLDS:
        return lead + ("The baseline transformer does not beat most popular significantly (S0), so the ladder cannot be "
                       "read: every step verdict is inconclusive.")
    named = {state: [v.question.split("'")[1] for v in steps if v.state == state] for state in (HOLDS, FAILS)}
    if not named[HOLDS] and not named[FAILS]:
        return lead + "No step changes NDCG@10 significantly after Holm's correction."
    said = [f"significant gains come from {join_names(named[HOLDS])}"] if named[HOLDS] else []
    said += [f"significant losses from {join_names(named[FAILS])}"] if named[FAILS] else []
    none = "" if named[HOLDS] and named[FAILS] else f" (no step {'loses' if named[HOLDS] else 'gains'} significantly)"
    return lead + f"After Holm's correction, {' and '.join(said)}{none}; the other steps are inconclusive."
