"""Sequential-recommender upgrade ladder: each rung adds one step to the previous one, measured on full ranking.

Rungs: baseline (post-LN, no time features, constant LR, fixed epochs, random negative + BCE) →
+ time features → + pre-LN → + warm-up + cosine → + early stopping → + in-batch InfoNCE →
+ re-rank of the best transformer's top-200 with LightGBM LambdaRank on cross features.

A step's verdict compares it with the rung below on NDCG@10: the per-user NDCG@10 (mean over seeds)
of both rungs in a paired t-test over users; "improves" / "hurts" need p < alpha, else "no
significant change". Seed means and their t-intervals are reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import stats

from expbook.data.sequences import SequenceData
from expbook.metrics.ranking import hit_ndcg_recall
from expbook.metrics.seeds import mean_ci
from expbook.models.gbdt import GBDTConfig
from expbook.models.sasrec import SeqConfig, TrainedSeqModel, evaluate, train_sasrec
from expbook.verdicts import FAILS, HOLDS, INCONCLUSIVE, Verdict
from expbook.workers import process_map

RERANK = "+ re-rank top-200 (LambdaRank)"
RANKER_FEATURES = ("transformer_score", "transformer_rank", "log_popularity", "log_days_since_item_seen",
                   "genre_affinity", "log_user_history")


def ladder(base: SeqConfig, *, temperature: float, logq_correction: bool, uniform_negatives: int) -> dict[str, SeqConfig]:
    """The cumulative rungs (each adds one switch to the previous rung)."""
    rungs = {"baseline": base}
    steps = [("+ time features", {"time_features": True}), ("+ pre-LN", {"norm_first": True}),
             ("+ warm-up + cosine LR", {"lr_schedule": "warmup_cosine"}), ("+ early stopping", {"early_stopping": True}),
             ("+ in-batch InfoNCE", {"loss": "infonce_in_batch", "temperature": temperature,
                                     "logq_correction": logq_correction, "uniform_negatives": uniform_negatives})]
    previous = base
    for name, change in steps:
        previous = rungs[name] = replace(previous, **change)
    return rungs


def per_user_ndcg(ranks: np.ndarray, k: int = 10) -> np.ndarray:
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


@dataclass
class RungRun:
    """One rung × one seed: test metrics, per-user test ranks and the trained model (kept for re-ranking)."""

    rung: str
    seed: int
    metrics: dict[str, float]
    ranks: np.ndarray
    trained: TrainedSeqModel | None


def run_ladder(data: SequenceData, rungs: dict[str, SeqConfig], seeds: list[int], *, workers: int = 1) -> list[RungRun]:
    """Every rung × seed, rung by rung; ``workers`` trainings side by side in spawned processes, one torch thread
    each, so the results do not depend on ``workers``."""
    jobs = [(name, replace(config, num_threads=1), seed) for name, config in rungs.items() for seed in seeds]
    return list(process_map(_rung_job, jobs, shared=data, workers=workers))


def _rung_job(data: SequenceData, job: tuple[str, SeqConfig, int]) -> RungRun:
    return run_rung(data, *job)


def run_rung(data: SequenceData, rung: str, config: SeqConfig, seed: int) -> RungRun:
    trained = train_sasrec(data, replace(config, seed=seed))
    metrics, ranks, _ = evaluate(trained.model, data, "test", exclude_seen=config.exclude_seen)
    val = evaluate(trained.model, data, "val", exclude_seen=config.exclude_seen)[0]
    return RungRun(rung, seed, {**metrics, "val_ndcg@10": val["ndcg@10"], "best_epoch": trained.best_epoch,
                                "epochs_run": len(trained.curves), "seconds_per_epoch": trained.seconds_per_epoch},
                   ranks, trained)


# --- re-ranking ---------------------------------------------------------------------------------------------------

def _top_candidates(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(candidates, scores) of the top ``n`` per row, best first (``np.argpartition`` then a sort of n)."""
    n = min(n, scores.shape[1] - 1)
    head = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    head_scores = np.take_along_axis(scores, head, axis=1)
    order = np.argsort(-head_scores, axis=1, kind="stable")
    return np.take_along_axis(head, order, axis=1), np.take_along_axis(head_scores, order, axis=1)


def candidate_features(data: SequenceData, candidates: np.ndarray, scores: np.ndarray, *, before: int) -> np.ndarray:
    """(users, n, features) cross features from the events a user's input covers (``from_end >= before``).

    Popularity and recency count only events at or before the user's last input event, so no feature
    sees the future of that user's timeline.
    """
    events = data.events
    history = events[events["from_end"] >= before]
    cutoff = history.groupby("user")["timestamp"].max().reindex(range(data.n_users)).to_numpy()
    users, n = candidates.shape
    item = candidates.ravel()
    when = np.repeat(cutoff, n)
    ordered = history.sort_values(["item", "timestamp"])
    keys = ordered["item"].to_numpy() * 10**10 + ordered["timestamp"].to_numpy()
    position = np.searchsorted(keys, item * 10**10 + when, side="right")  # events of this item up to the cutoff
    segment_start = np.searchsorted(keys, item * 10**10, side="left")
    count = position - segment_start
    last_seen = np.where(count > 0, ordered["timestamp"].to_numpy()[np.maximum(position - 1, 0)], np.nan)
    days = np.where(count > 0, (when - last_seen) / 86_400, 10_000.0)
    profile = np.zeros((data.n_users, data.genres.shape[1]), dtype=np.float64)
    np.add.at(profile, history["user"].to_numpy(), data.genres[history["item"].to_numpy()])
    item_genres = data.genres[item]
    norms = np.linalg.norm(np.repeat(profile, n, axis=0), axis=1) * np.linalg.norm(item_genres, axis=1)
    affinity = np.where(norms > 0, (np.repeat(profile, n, axis=0) * item_genres).sum(axis=1) / np.maximum(norms, 1e-12), 0)
    user_history = np.repeat(np.bincount(history["user"].to_numpy(), minlength=data.n_users), n)
    features = np.column_stack([scores.ravel(), np.tile(np.arange(n), users), np.log1p(count), np.log1p(days),
                                affinity, np.log1p(user_history)])
    return features.reshape(users, n, len(RANKER_FEATURES)).astype(np.float32)


def rerank(data: SequenceData, trained: TrainedSeqModel, *, candidates_n: int, exclude_seen: bool,
           config: GBDTConfig, ranker_val_fraction: float = 0.2) -> tuple[dict[str, float], np.ndarray, dict]:
    """Train LambdaRank on the validation targets' candidate lists, re-rank the test candidates; full-ranking ranks.

    Users are split for the ranker's own early stopping; the test lists of *all* users are re-ranked.
    A test target outside the top ``candidates_n`` keeps its transformer rank.
    """
    _, _, val_scores = evaluate(trained.model, data, "val", exclude_seen=exclude_seen)
    _, test_ranks, test_scores = evaluate(trained.model, data, "test", exclude_seen=exclude_seen)
    val_candidates, val_head = _top_candidates(val_scores, candidates_n)
    test_candidates, test_head = _top_candidates(test_scores, candidates_n)
    val_x = candidate_features(data, val_candidates, val_head, before=2)
    test_x = candidate_features(data, test_candidates, test_head, before=1)
    val_y = (val_candidates == data.val_target[:, None]).astype(np.float32)
    rng = np.random.default_rng(config.seed)
    held = rng.random(data.n_users) < ranker_val_fraction
    n = val_candidates.shape[1]

    def dataset(rows: np.ndarray, reference=None):
        return lgb.Dataset(val_x[rows].reshape(-1, len(RANKER_FEATURES)), val_y[rows].ravel(),
                           group=np.full(rows.sum(), n), feature_name=list(RANKER_FEATURES), reference=reference)

    train_set = dataset(~held)
    params = {**config.lightgbm_params("lambdarank", "ndcg"), "eval_at": [10], "min_data_in_leaf": 20}
    booster = lgb.train(params, train_set, num_boost_round=config.num_boost_round,
                        valid_sets=[dataset(held, train_set)],
                        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)])
    reranked = booster.predict(test_x.reshape(-1, len(RANKER_FEATURES)),
                               num_iteration=booster.best_iteration).reshape(test_candidates.shape)
    order = np.argsort(-reranked, axis=1, kind="stable")
    new_position = np.argsort(order, axis=1)  # position of each original candidate after re-ranking
    hit = test_candidates == data.test_target[:, None]
    in_head = hit.any(axis=1)
    ranks = np.where(in_head, (new_position * hit).sum(axis=1), test_ranks)
    importance = dict(zip(RANKER_FEATURES, booster.feature_importance("gain").round(1).tolist(), strict=True))
    details = {"target_in_candidates": float(in_head.mean()), "val_target_in_candidates": float(val_y.any(axis=1).mean()),
               "best_iteration": booster.best_iteration, "importance_gain": importance,
               "transformer_ranks_inside": test_ranks[in_head]}
    return hit_ndcg_recall(ranks), ranks, details


# --- tables and verdicts ------------------------------------------------------------------------------------------

def ladder_table(runs: list[RungRun], order: list[str], *, alpha: float,
                 baselines: dict[str, str] | None = None) -> pd.DataFrame:
    """Per rung: seed mean ± 95% CI of HR@10 / NDCG@10 / Recall@50, the Δ NDCG@10 against the rung below
    (or ``baselines[rung]``), the per-user paired t-test p and the verdict."""
    baselines = baselines or {}
    by = {(r.rung, r.seed): r for r in runs}
    seeds = sorted({r.seed for r in runs})
    rows = {}
    for i, rung in enumerate(order):
        part = [by[(rung, s)] for s in seeds]
        row = {}
        for metric in ("hr@10", "ndcg@10", "recall@50"):
            ci = mean_ci([r.metrics[metric] for r in part])
            row[metric] = ci.mean
            row[f"{metric} ±"] = (ci.high - ci.low) / 2 if ci.n > 1 else np.nan
        below = baselines.get(rung, order[i - 1] if i else None)
        if below is not None:
            mine = np.mean([per_user_ndcg(by[(rung, s)].ranks) for s in seeds], axis=0)
            theirs = np.mean([per_user_ndcg(by[(below, s)].ranks) for s in seeds], axis=0)
            diff = mine - theirs
            p = float(stats.ttest_rel(mine, theirs).pvalue) if np.any(diff != 0) else 1.0
            seed_diff = mean_ci([by[(rung, s)].metrics["ndcg@10"] - by[(below, s)].metrics["ndcg@10"] for s in seeds])
            verdict = ("improves" if p < alpha and diff.mean() > 0 else "hurts" if p < alpha and diff.mean() < 0
                       else "no significant change")
            row.update({"compared with": below, "Δ ndcg@10": seed_diff.mean,
                        "Δ ± (seeds)": (seed_diff.high - seed_diff.low) / 2 if seed_diff.n > 1 else np.nan,
                        "p (users)": p, "verdict": verdict})
        rows[rung] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def step_verdicts(table: pd.DataFrame, *, alpha: float) -> list[Verdict]:
    """One verdict per step: does it improve NDCG@10 over the rung it is compared with (paired over users)?"""
    out = []
    for i, (rung, row) in enumerate(table.iloc[1:].iterrows(), start=1):
        out.append(Verdict(f"S{i}", f"Does '{rung.removeprefix('+ ')}' improve NDCG@10 over '{row['compared with']}'?",
                           float(row["Δ ndcg@10"]), f"Δ NDCG@10 > 0 AND paired p (users) < {alpha:g}",
                           {"improves": HOLDS, "hurts": FAILS}.get(row["verdict"], INCONCLUSIVE),
                           f"{row['verdict']}: p = {row['p (users)']:.3g}",
                           f"{row['Δ ndcg@10']:+.4f}" + (f" ± {row['Δ ± (seeds)']:.4f}"
                                                         if np.isfinite(row["Δ ± (seeds)"]) else "")))
    return out


def headline(table: pd.DataFrame) -> str:
    best = str(table["ndcg@10"].idxmax())
    start, top = table["ndcg@10"].iloc[0], table.loc[best, "ndcg@10"]
    change = f", {top / start - 1:+.0%}" if start > 0 else ""
    helped = [r.removeprefix("+ ") for r, v in table["verdict"].items() if v == "improves"]
    hurt = [r.removeprefix("+ ") for r, v in table["verdict"].items() if v == "hurts"]
    if not helped and not hurt:
        verdicts = "no step changes NDCG@10 significantly against the rung below it (paired t-test over users)."
    else:
        verdicts = (f"significant gains from {', '.join(helped) or 'no step'}, significant losses from "
                    f"{', '.join(hurt) or 'no step'}; the other steps make no significant difference.")
    return f"Best rung: **{best}** with NDCG@10 {top:.4f} (baseline {start:.4f}{change}); " + verdicts
