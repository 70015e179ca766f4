"""Recall → rerank: the direct model recalls its top M, stage 2's m(x) re-orders them.

Final ranking for a candidate pool of N rows: the M rows with the highest direct score come
first, ordered by m(x); the remaining N − M rows follow in direct order.

Why Top-K% can be frozen: the final top K (K = ⌊f·N⌋) is the whole re-ranked head plus the next
K − M rows by direct whenever M ≤ K — exactly the direct model's own top K. Re-ranking then
changes only the *order* inside the head (what NDCG@k with k < M sees), never the top-K *set*
(what Top-K% capture and RevCap@K% see). Only M > K lets m(x) move rows into or out of the top K.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from expbook.claims import decide, test
from expbook.experiments.kuailive_pipeline import GiftScores, candidate_pools
from expbook.metrics.bootstrap import paired_draws
from expbook.metrics.estimates import BootstrapEstimate, TEstimate
from expbook.metrics.ranking import (
    average_ranks,
    k_for_fraction,
    recall_coverage,
    top_k,
    value_ranking_scores,
)
from expbook.verdicts import HOLDS, INCONCLUSIVE, NOT_APPLICABLE, Verdict, combine, join_names, not_applicable


def rank_normalise(score: np.ndarray) -> np.ndarray:
    """Average rank / n, in (0, 1]: puts two scores on one scale without changing either ordering."""
    score = np.asarray(score, dtype=np.float64)
    return average_ranks(score) / score.size


def recall_rerank_score(direct: np.ndarray, m: np.ndarray, top_m: int) -> np.ndarray:
    """A score whose descending order is: direct's top ``top_m`` by m(x), then the rest by direct.

    The head is ``metrics.ranking.top_k`` of the direct score (O(n)); ties at the boundary go to the lower row index.
    """
    n = direct.size
    score = rank_normalise(direct)  # in (0, 1]
    if top_m >= n:
        return 2.0 + rank_normalise(m)
    head = top_k(direct, top_m)
    score[head] = 2.0 + rank_normalise(m[head])  # above every tail row
    return score


def fusion_score(direct: np.ndarray, m: np.ndarray, alpha: float) -> np.ndarray:
    """α·rank(direct) + (1 − α)·rank(m) on rank-normalised scores."""
    return alpha * rank_normalise(direct) + (1 - alpha) * rank_normalise(m)


def pooled_metrics(y: np.ndarray, score: np.ndarray, pools: np.ndarray | None, *, ndcg_k: int) -> dict[str, float]:
    """Metrics over one candidate pool, or the mean over per-request pools (one loop step per pool)."""
    if pools is None:
        return value_ranking_scores(y, score, ndcg_k=ndcg_k)
    rows = [value_ranking_scores(y[pools == p], score[pools == p], ndcg_k=ndcg_k) for p in np.unique(pools)]
    return pd.DataFrame(rows).mean(skipna=True).to_dict()


def pooled(fn, y: np.ndarray, direct: np.ndarray, m: np.ndarray, pools: np.ndarray | None, **kwargs) -> np.ndarray:
    """Apply a score construction ``fn(direct, m, **kwargs)`` inside each pool (whole set if ``pools`` is None)."""
    if pools is None:
        return fn(direct, m, **kwargs)
    score = np.empty(y.size)
    for pool in np.unique(pools):
        rows = pools == pool
        score[rows] = fn(direct[rows], m[rows], **kwargs)
    return score


def m_sweep(y: np.ndarray, direct: np.ndarray, m: np.ndarray, m_values: list[int], *, ndcg_k: int,
            pools: np.ndarray | None) -> pd.DataFrame:
    """Per M: recall coverage of the true top 1% / 5%, the re-ranked metrics, and the frozen-set case."""
    rows = []
    for top_m in m_values:
        score = pooled(recall_rerank_score, y, direct, m, pools, top_m=top_m)
        groups = [np.ones(y.size, bool)] if pools is None else [pools == p for p in np.unique(pools)]
        coverage = {f"coverage_top{int(f * 100)}%": float(np.mean([recall_coverage(y[g], direct[g], top_m, f)
                                                                     for g in groups])) for f in (0.01, 0.05)}
        pool_sizes = [int(g.sum()) for g in groups]
        frozen = all(top_m <= k_for_fraction(n, 0.01) for n in pool_sizes)
        rows.append({"M": top_m, **coverage, **pooled_metrics(y, score, pools, ndcg_k=ndcg_k),
                     "top1%_set_frozen": frozen})
    return pd.DataFrame(rows).set_index("M")


def fusion_sweep(y: np.ndarray, direct: np.ndarray, m: np.ndarray, alphas: list[float], *, ndcg_k: int,
                 pools: np.ndarray | None) -> pd.DataFrame:
    rows = [{"alpha": a, **pooled_metrics(y, pooled(fusion_score, y, direct, m, pools, alpha=a), pools,
                                          ndcg_k=ndcg_k)} for a in alphas]
    return pd.DataFrame(rows).set_index("alpha")


@dataclass(frozen=True)
class FrozenSetExplanation:
    """Which side of M ≤ K each M is on, for the reader (K = 1% of the candidate pool)."""

    pool_size: int
    k_top1: int
    frozen_m: tuple[int, ...]
    open_m: tuple[int, ...]
    best_m: int

    def sentence(self) -> str:
        case = "≤" if self.best_m in self.frozen_m else ">"
        sides = []
        if self.frozen_m:
            sides.append(f"for M ∈ {{{', '.join(map(str, self.frozen_m))}}} (M ≤ K) re-ranking cannot change the top-1% set")
        if self.open_m:
            sides.append(f"for M ∈ {{{', '.join(map(str, self.open_m))}}} (M > K) it can")
        if not self.open_m:
            sides.append("no M in this sweep exceeds K")
        effect = ("so the re-ranked top-1% *set* is exactly Direct's: Top-1% capture and RevCap@1% cannot move, "
                  "only the order inside the head (NDCG) can" if case == "≤" else
                  "so m(x) can promote rows from direct ranks K+1…M into the top 1%, and Top-1% can move either way")
        return (f"The candidate pool of the first seed holds {self.pool_size:,} rows, so its top 1% is K = {self.k_top1:,} "
                f"rows: "
                f"{'; '.join(sides)}. The M chosen on validation, {self.best_m}, is in the M {case} K case, {effect}.")


def explain_frozen_set(pool_size: int, m_values: list[int], best_m: int) -> FrozenSetExplanation:
    k = k_for_fraction(pool_size, 0.01)
    return FrozenSetExplanation(pool_size, k, tuple(v for v in m_values if v <= k), tuple(v for v in m_values if v > k),
                                best_m)


@dataclass(frozen=True)
class Selection:
    """The recall size M and the fusion weight α, each the argmax of NDCG@k on the *validation* days."""

    m: int
    alpha: float
    val_ndcg_m: float
    val_ndcg_alpha: float

    def as_dict(self) -> dict:
        return {"chosen_on": "validation", "M": self.m, "alpha": self.alpha, "val_ndcg_at_M": self.val_ndcg_m,
                "val_ndcg_at_alpha": self.val_ndcg_alpha}


def choose_on_validation(val_sweep: pd.DataFrame, val_fusion: pd.DataFrame, *, ndcg_k: int) -> Selection:
    """M and α with the best validation NDCG@k (ties: the smaller M, the smaller α). Test data never enters."""
    ndcg = f"ndcg@{ndcg_k}"
    best_m, best_alpha = val_sweep[ndcg].idxmax(), val_fusion[ndcg].idxmax()
    return Selection(int(best_m), float(best_alpha), float(val_sweep.loc[best_m, ndcg]),
                     float(val_fusion.loc[best_alpha, ndcg]))


SHORT_LABELS = {"coverage_top1%": "cover 1%", "coverage_top5%": "cover 5%", "top1%_capture": "top-1%",
                "top5%_capture": "top-5%", "revcap@1%": "rev 1%", "revcap@5%": "rev 5%"}


def side_by_side(val: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``columns`` of a validation and a test sweep next to each other under "validation" / "test", with short
    column labels so both halves fit the page (NDCG columns keep their name)."""
    return pd.concat({"validation": val[columns], "test": test[columns]}, axis=1).rename(columns=SHORT_LABELS, level=1)


def gain_draws(y: np.ndarray, direct: np.ndarray, m: np.ndarray, *, top_m: int, ndcg_k: int,
               pools: np.ndarray | None, users: np.ndarray, n_boot: int, seed: int) -> dict[str, BootstrapEstimate]:
    """User-bootstrap estimates of recall-rerank's gain over Direct (Δ Top-1% capture, Δ NDCG@k), for one seed.

    Every replicate draws users with replacement (revenue sits with few users), re-ranks the drawn rows
    inside their pools and scores both rankings on the same draw (paired: ``metrics.bootstrap.paired_draws``).
    """
    ndcg = f"ndcg@{ndcg_k}"

    def gains(idx: np.ndarray) -> dict[str, float]:
        pool_b = None if pools is None else pools[idx]
        rerank = pooled_metrics(y[idx], pooled(recall_rerank_score, y[idx], direct[idx], m[idx], pool_b, top_m=top_m),
                                pool_b, ndcg_k=ndcg_k)
        plain = pooled_metrics(y[idx], direct[idx], pool_b, ndcg_k=ndcg_k)
        return {metric: rerank[metric] - plain[metric] for metric in ("top1%_capture", ndcg)}

    point = gains(np.arange(y.size))
    draws = paired_draws(y.size, gains, n_boot=n_boot, seed=seed, clusters=users)
    n_users = int(np.unique(users).size)
    return {metric: BootstrapEstimate(point[metric], draws[metric], n_users, "users") for metric in draws}


def seed_gains(runs: list[GiftScores], *, m_values: list[int], alphas: list[float], ndcg_k: int,
               pool: str) -> pd.DataFrame:
    """One row per seed: M and α chosen on that seed's validation days, and test Top-1% capture and NDCG@k of
    recall-rerank at that M and of Direct (each seed regenerates the data and retrains the models)."""
    ndcg, rows = f"ndcg@{ndcg_k}", []
    for run in runs:
        val_pools, pools = candidate_pools(run.data, pool, "val"), candidate_pools(run.data, pool, "test")
        selection = choose_on_validation(
            m_sweep(run.val.y, run.val.direct, run.val.m, m_values, ndcg_k=ndcg_k, pools=val_pools),
            fusion_sweep(run.val.y, run.val.direct, run.val.m, alphas, ndcg_k=ndcg_k, pools=val_pools), ndcg_k=ndcg_k)
        y = run.test.y
        rerank = pooled_metrics(y, pooled(recall_rerank_score, y, run.test.direct, run.test.m, pools, top_m=selection.m),
                                pools, ndcg_k=ndcg_k)
        direct = pooled_metrics(y, run.test.direct, pools, ndcg_k=ndcg_k)
        fusion = pooled_metrics(y, pooled(fusion_score, y, run.test.direct, run.test.m, pools, alpha=selection.alpha),
                                pools, ndcg_k=ndcg_k)
        sizes = [y.size] if pools is None else np.unique(pools, return_counts=True)[1]
        rows.append({"seed": run.seed, "M": selection.m, "alpha": selection.alpha,
                     "K": int(min(k_for_fraction(int(n), 0.01) for n in sizes)),
                     "top1%_capture RR": rerank["top1%_capture"], "top1%_capture Direct": direct["top1%_capture"],
                     f"{ndcg} RR": rerank[ndcg], f"{ndcg} Direct": direct[ndcg], f"{ndcg} fusion": fusion[ndcg]})
    return pd.DataFrame(rows).set_index("seed")


def seed_estimates(gains: pd.DataFrame, *, ndcg_k: int) -> dict[str, TEstimate]:
    """Recall-rerank's and fusion's gains over Direct as t-estimates over seeds (two or more seeds)."""
    if len(gains) < 2:
        raise ValueError("intervals over seeds need at least two seeds")
    ndcg = f"ndcg@{ndcg_k}"
    return {"top1%_capture": TEstimate.of(gains["top1%_capture RR"] - gains["top1%_capture Direct"], "seeds", bounds=(-1.0, 1.0)),
            ndcg: TEstimate.of(gains[f"{ndcg} RR"] - gains[f"{ndcg} Direct"], "seeds", bounds=(-1.0, 1.0)),
            "fusion": TEstimate.of(gains[f"{ndcg} fusion"] - gains[f"{ndcg} Direct"], "seeds", bounds=(-1.0, 1.0))}


def frozen_reason(gains: pd.DataFrame) -> str | None:
    """Why Top-1% capture cannot move, when every seed chose an M within the top 1% of its smallest pool (M ≤ K):
    the re-ranked top-1% set is then Direct's by construction. None when some seed's M exceeds K."""
    if not (gains["M"] <= gains["K"]).all():
        return None
    low, high = int(gains["K"].min()), int(gains["K"].max())
    k_text = f"{low:,}" if low == high else f"{low:,}–{high:,} across the seeds' pools"
    return (f"every seed chose M ≤ K (M = {chosen_m_text(gains)}; K = {k_text}, the top 1% of a pool): "
            f"re-ranking inside the head cannot change the top-1% set, so Top-1% capture equals Direct's by construction")


def chosen_m_text(gains: pd.DataFrame) -> str:
    """"500" when every seed chose the same M on validation, else "500 / 1000 / 500 per seed"."""
    values = gains["M"].tolist()
    return str(values[0]) if len(set(values)) == 1 else " / ".join(map(str, values)) + " per seed"


def gate_verdicts(estimates: dict, *, gate_margin: float, ndcg_k: int, alpha: float,
                  frozen: str | None = None, evidence: dict[str, str] | None = None) -> tuple[list[Verdict], Verdict]:
    """H5.1 (Top-1% kept within ``gate_margin`` of Direct's), H5.2 (NDCG@k above Direct's), H5.3 (fusion's NDCG@k
    above Direct's), one Holm family; the gate = H5.1 AND H5.2, a decision. ``frozen`` (``frozen_reason``) makes
    H5.1 n/a: it cannot fail, and the gate rests on H5.2 alone, saying so."""
    ndcg, evidence = f"ndcg@{ndcg_k}", evidence or {}
    fusion_question = f"Does score fusion (α chosen on validation) raise NDCG@{ndcg_k} above Direct's?"
    family = decide([
        test("H5.1", "Does recall-rerank keep Top-1% capture at Direct's level (within the margin)?",
             estimates["top1%_capture"], ">=", gate_margin, label="Top-1%(RR) − Top-1%(Direct)", fmt="{:+.1%}",
             cannot_fail=frozen, evidence=evidence.get("H5.1", "")),
        test("H5.2", f"Does recall-rerank raise NDCG@{ndcg_k} above Direct's?", estimates[ndcg], ">", 0.0,
             label=f"NDCG@{ndcg_k}(RR) − NDCG@{ndcg_k}(Direct)", fmt="{:+.3f}", evidence=evidence.get("H5.2", "")),
        test("H5.3", fusion_question, estimates["fusion"], ">", 0.0, label=f"NDCG@{ndcg_k}(fusion) − NDCG@{ndcg_k}(Direct)",
             fmt="{:+.3f}", evidence=evidence.get("H5.3", "")) if "fusion" in estimates else
        not_applicable("H5.3", fusion_question, "with one seed the fusion gain has no interval (it is tested over seeds)"),
    ], alpha=alpha)
    gate = combine("Gate", "Adopt recall-rerank?", family[:2],
                   evidence="Top-1% kept at Direct's level AND a better NDCG than Direct")
    return family, gate


def decision(gate: Verdict, parts: list[Verdict], best_m: str, ndcg_k: int) -> str:
    """The computed decision sentence (M was chosen on validation); every clause follows a verdict's state. The
    reasons and intervals stay in the verdict table: this is the answer a reader acts on."""
    h51, h52 = parts[:2]
    gain = f"the NDCG@{ndcg_k} gain over Direct, {h52.value_text.split('; Holm')[0]},"
    rests = " (H5.1 is n/a: Top-1% capture cannot move when M ≤ K)" if h51.state == NOT_APPLICABLE else ""
    if gate.holds:
        return f"Gate passed at M = {best_m} (chosen on validation): {gain} holds{rests} — adopt recall-rerank."
    unsettled = [f"{p.id} is {p.state}" for p in (h51, h52) if p.state not in (HOLDS, NOT_APPLICABLE)]
    if gate.state == INCONCLUSIVE:
        decide_ = f"; it would take {gate.decide['text']}" if gate.decide else ""
        return (f"Gate undecided at M = {best_m} (chosen on validation): {gain} is inconclusive{rests} — keep "
                f"Direct-only until the data can settle it{decide_}.")
    keep = "keep Direct-only" + (f", but use the re-ranked list where NDCG@{ndcg_k} matters" if h52.holds else "")
    return f"Gate failed at M = {best_m} (chosen on validation): {join_names(unsettled)}{rests} — {keep}."


def diagnosis_sentence(diagnosis: dict | None) -> str:
    """What the two-stage diagnosis found about the two scores this report combines, from its stored verdicts
    (T1: Direct against Two-Stage on Top-1%; the first part of H3: stage 2 against Direct on the gifts)."""
    if not diagnosis:
        return ("The two-stage diagnosis has no canonical run yet, so its findings are not quoted here: run it first "
                "(`make book` runs it before this report).")
    found = {v["id"]: v for v in diagnosis.get("verdicts", [])}
    t1, h3 = found.get("T1", {}), found.get("H3", {})
    recall = {"holds": "the direct regressor captures more of the true top 1% than the two-stage product",
              "does not hold": "the two-stage product captures more of the true top 1% than the direct regressor",
              }.get(t1.get("state"), "Direct and the two-stage product cannot be told apart on Top-1% capture")
    parts = h3.get("parts") or [{}]
    order = {"holds": "stage 2's m(x) orders the gifts better than Direct does",
             "does not hold": "stage 2's m(x) orders the gifts worse than Direct does",
             }.get(parts[0].get("state"), "stage 2 does not order the gifts measurably better than Direct")
    return (f"The two-stage diagnosis (run `{diagnosis.get('run_id', '?')}`) found that {recall} "
            f"(T1 {t1.get('state', 'absent')}), and that {order} (H3's first part).")
