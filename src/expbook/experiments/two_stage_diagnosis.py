"""Two-stage diagnosis: why does p(x)·m(x) lose to direct regression, and is the protocol clean?

Methods scored on the test days (all ranking scores; higher = more valuable):

* Direct: d(x), the direct regressor's log1p(y).
* Two-Stage: p(x)·m(x) on the log scale (the original report's choice).
* Two-Stage (EV): the expected value p(x)·E[y | y>0, x] = p(x)·(s·exp(m(x)) − 1), back-transformed from the
  log scale with Duan's smearing factor s = mean(exp(residual)) of stage 2 on the *validation* gifts (one
  constant: it assumes the log-scale error does not depend on x). H2 ("the multiplication amplifies
  errors") is judged on this score, the one whose product means something.
* Stage1-only: p(x). Stage2-only: m(x) extrapolated to every row (an out-of-distribution use).
* Oracle-p: 1[y>0]·m(x) (a perfect stage 1). Oracle-m: p(x)·m*(x) with m* = log1p(y) on the gift rows
  and m(x) elsewhere (a perfect stage 2). Oracle-both: 1[y>0]·log1p(y), both stages perfect.
  Binary upper bound: 1[y>0].

The gap from Two-Stage to Oracle-both is split between the stages by the Shapley value of the two
replacements: each stage gets the mean of its gain over the two orders (fixing it first, or second).
The single oracle gains alone favour stage 1 by construction — Oracle-p also removes the 98% of rows
without a gift, Oracle-m keeps the noisy p on every row — and miss what the stages do together.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from expbook.claims import all_of, check, decide, test
from expbook.experiments.kuailive_pipeline import GiftScores, HeldOutScores
from expbook.features.kuailive_audit import LeakageAudit
from expbook.metrics.binary import average_precision, roc_auc
from expbook.metrics.bootstrap import bootstrap_draws, summarise_draws
from expbook.metrics.estimates import BootstrapEstimate, TEstimate
from expbook.metrics.oracle_decomposition import (
    DECOMPOSITION_METHODS,
    QUANTITY_BOUNDS,
    Decomposition,
    decompose,
)
from expbook.metrics.ranking import ndcg_at_k, revenue_capture_at_k, spearman, top_k_capture, value_ranking_scores
from expbook.verdicts import INCONCLUSIVE, Verdict, say

FRACTIONS = (0.01, 0.05, 0.10)
MAIN_METHODS = ("Direct", "Two-Stage", "Two-Stage (EV)", "Stage1-only", "Stage2-only")


def smearing_factor(y: np.ndarray, m: np.ndarray) -> float:
    """Duan's smearing estimate of E[exp(ε)] for the log-scale stage 2, from its residuals on the gift rows."""
    gift = y > 0
    return float(np.mean(np.exp(np.log1p(y[gift]) - m[gift]))) if gift.any() else 1.0


def method_scores(scores: HeldOutScores, *, smearing: float = 1.0) -> dict[str, np.ndarray]:
    """Ranking score of every method (see module docstring), on the test rows."""
    gift = scores.y > 0
    return {
        "Direct": scores.direct,
        "Two-Stage": scores.p * scores.m,
        "Two-Stage (EV)": scores.p * (smearing * np.exp(scores.m) - 1),
        "Stage1-only": scores.p,
        "Stage2-only": scores.m,
        "Oracle-p": gift * scores.m,
        "Oracle-m": scores.p * np.where(gift, np.log1p(scores.y), scores.m),
        "Oracle-both": gift * np.log1p(scores.y),
        "Binary upper bound": gift.astype(np.float64),
    }


def evaluate_methods(y: np.ndarray, methods: dict[str, np.ndarray], *, ndcg_k: int,
                     whale_quantile: float) -> tuple[pd.DataFrame, float]:
    """One row per method: Top-K% capture (set overlap), RevCap@K%, NDCG@k, Spearman (all, gifts), whales.

    Whales are gift rows with value at or above the ``whale_quantile`` of test gift values.
    Returns the table and the whale threshold.
    """
    gift = y > 0
    whale_threshold = float(np.quantile(y[gift], whale_quantile)) if gift.any() else np.inf
    rows = {}
    for name, score in methods.items():
        row = value_ranking_scores(y, score, fractions=FRACTIONS, ndcg_k=ndcg_k, whale_threshold=whale_threshold)
        row["spearman_all"] = row.pop("spearman")
        row[f"ndcg@{ndcg_k}_gift"] = ndcg_at_k(y[gift], score[gift], ndcg_k) if gift.any() else np.nan
        row["spearman_gift"] = spearman(y[gift], score[gift]) if gift.sum() > 2 else np.nan
        rows[name] = row
    order = [f"{kind}{f:.0%}{suffix}" for f in FRACTIONS for kind, suffix in (("top", "_capture"), ("revcap@", ""))]
    columns = order + [f"ndcg@{ndcg_k}", f"ndcg@{ndcg_k}_gift", "spearman_all", "spearman_gift", "whale_precision@1%",
                       "whale_recall@1%"]
    return pd.DataFrame.from_dict(rows, orient="index")[columns].rename_axis("method"), whale_threshold


def table_metrics(ndcg_k: int) -> dict:
    """The metrics with bootstrap intervals: Top-1% capture, RevCap@1% and NDCG@k."""
    return {"top1%_capture": lambda t, s: top_k_capture(t, s, 0.01),
            "revcap@1%": lambda t, s: revenue_capture_at_k(t, s, 0.01),
            f"ndcg@{ndcg_k}": lambda t, s: ndcg_at_k(t, s, ndcg_k)}


def _gift_spearman(y: np.ndarray, score: np.ndarray) -> float:
    gift = y > 0
    return spearman(y[gift], score[gift]) if gift.sum() > 2 else float("nan")


def resampled_draws(y: np.ndarray, methods: dict[str, np.ndarray], *, ndcg_k: int, n_boot: int, seed: int,
                    users: np.ndarray | None = None) -> dict[tuple[str, str], np.ndarray]:
    """One paired bootstrap (by user when given) for both the interval table and the decomposition: every
    table metric of the real methods, Top-1% capture of the oracles and the binary bound, and the gift-subset
    Spearman of Direct and stage 2 (what H3 compares)."""
    only = {m: ("top1%_capture",) for m in DECOMPOSITION_METHODS.values() if m not in MAIN_METHODS}
    only.update({m: (*table_metrics(ndcg_k), "spearman_gift") for m in ("Direct", "Stage2-only")})
    scored = {m: methods[m] for m in (*MAIN_METHODS, *only)}
    metrics = {**table_metrics(ndcg_k), "spearman_gift": _gift_spearman}
    return bootstrap_draws(y, scored, metrics, n_boot=n_boot, seed=seed, clusters=users, only=only)


def interval_table(y: np.ndarray, methods: dict[str, np.ndarray], draws: dict[tuple[str, str], np.ndarray], *,
                   ndcg_k: int) -> pd.DataFrame:
    """95% CIs of Top-1% capture, RevCap@1% and NDCG@k for the real (non-oracle) methods, from ``resampled_draws``."""
    main = {key: values for key, values in draws.items() if key[0] in MAIN_METHODS and key[1] != "spearman_gift"}
    return summarise_draws(y, methods, table_metrics(ndcg_k), main)


@dataclass(frozen=True)
class AcrossSeeds:
    """Method tables of several seeds (data regenerated and models retrained per seed) and what the verdicts use:
    the decomposition of the seed-mean table and t-intervals over seeds of ``Decomposition.quantities``."""

    tables: dict[int, pd.DataFrame]
    mean: pd.DataFrame
    decomposition: Decomposition
    per_seed: pd.DataFrame  # seed × quantity
    estimates: dict[str, TEstimate]

    @property
    def intervals(self) -> dict[str, tuple[float, float]]:
        """The 95% t-interval over seeds of every quantity (for figures and the stored results)."""
        return {name: e.interval(0.95) for name, e in self.estimates.items()}


def across_seeds(tables: dict[int, pd.DataFrame]) -> AcrossSeeds:
    """Needs two or more seeds: each quantity is the mean of its per-seed values, tested over seeds."""
    if len(tables) < 2:
        raise ValueError("intervals over seeds need at least two seeds")
    per_seed = pd.DataFrame({seed: decompose(table).quantities() for seed, table in tables.items()}).T
    mean = sum(tables.values()) / len(tables)
    estimates = {name: TEstimate.of(per_seed[name], "seeds", bounds=QUANTITY_BOUNDS.get(name))  # the mean of its seeds
                 for name in per_seed}
    return AcrossSeeds(tables, mean, decompose(mean), per_seed, estimates)


@dataclass(frozen=True)
class FigureBasis:
    """What the report's figures show: the same aggregate as the verdicts (the mean over seeds, with t-intervals over
    seeds) when there are several seeds, else the one seed with its user-bootstrap intervals; ``label`` says which."""

    table: pd.DataFrame
    decomposition: Decomposition
    intervals: dict[str, tuple[float, float]]
    label: str


def figure_basis(across: AcrossSeeds | None, table: pd.DataFrame, decomposition: Decomposition,
                 intervals: dict[str, tuple[float, float]], seeds: list[int]) -> FigureBasis:
    if across is not None:
        return FigureBasis(across.mean, across.decomposition, across.intervals,
                           f"mean over {len(seeds)} seeds; 95% t-interval over seeds")
    return FigureBasis(table, decomposition, intervals, f"seed {seeds[0]}; 95% user-bootstrap interval")


def stage1_quality(runs: list[GiftScores]) -> dict[str, TEstimate]:
    """How well stage 1 tells gift rows from the rest on the test days, per seed: PR-AUC (average precision) and
    ROC-AUC of p(x) for y > 0 — what tells a weak classifier from hard data beside "stage 1 is the bottleneck"."""
    pr, roc = zip(*[(average_precision(r.test.y > 0, r.test.p), roc_auc(r.test.y > 0, r.test.p)) for r in runs],
                  strict=True)
    return {"PR-AUC": TEstimate.of(pr, "seeds", bounds=(0.0, 1.0)), "ROC-AUC": TEstimate.of(roc, "seeds", bounds=(0.0, 1.0)),
            "gift rate": TEstimate.of([float(np.mean(r.test.y > 0)) for r in runs], "seeds", bounds=(0.0, 1.0))}


def seed_tables(runs: list[GiftScores], *, ndcg_k: int, whale_quantile: float) -> dict[int, pd.DataFrame]:
    """The method table of every seed, each with the smearing factor of its own validation gifts."""
    return {run.seed: evaluate_methods(run.test.y, method_scores(run.test, smearing=smearing_factor(run.val.y, run.val.m)),
                                       ndcg_k=ndcg_k, whale_quantile=whale_quantile)[0] for run in runs}


def seed_summary(tables: dict[int, pd.DataFrame], methods: list[str], metrics: list[str]) -> pd.DataFrame:
    """method × metric: "mean ± half-width of the 95% t-interval" over seeds (as text; ``TEstimate.text``); the
    metrics (captures, NDCG) are in [0, 1], and so are their intervals."""
    return pd.DataFrame({metric: {method: TEstimate.of([t.loc[method, metric] for t in tables.values()], "seeds",
                                                       bounds=(0.0, 1.0)).text("{:.3f}")
                                  for method in methods} for metric in metrics})


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    """Decision thresholds of the hypothesis rules (fractions of Top-1% capture unless stated)."""

    bottleneck_share: float  # share of the gap to Oracle-both a stage must carry to be called the bottleneck
    h2_min_drop: float
    h3_min_gap: float


def hypothesis_verdicts(d: Decomposition, audit: LeakageAudit, inflation: float, t: Thresholds,
                        estimates: dict[str, TEstimate | BootstrapEstimate], *, alpha: float,
                        stage1: dict[str, TEstimate] | None = None) -> list[Verdict]:
    """H1–H4, the stage-1 bottleneck S1, D1 (Direct vs the binary bound) and T1 (Two-Stage vs Direct), decided as
    one Holm family over ``estimates`` (seeds, or the user bootstrap of one seed); H4 is a check outside it."""
    share, e = "{:.0%}".format, estimates
    q = {name: est.value for name, est in estimates.items()}
    gap = f"gap to Oracle-both {_pp(d.gap)}: stage 1 {share(q['share_p'])}, stage 2 {share(q['share_m'])}"
    quality = (f"; stage 1 alone reaches test PR-AUC {stage1['PR-AUC'].value:.2f} and ROC-AUC "
               f"{stage1['ROC-AUC'].value:.2f} (gift rate {stage1['gift rate'].value:.1%})" if stage1 else "")
    claims = [
        all_of("H1", "Is stage 2 (too little gift data) the main cause of the gap?", [
            test("H1", "", e["share_m"], ">=", t.bottleneck_share, label="stage-2 share of the gap", fmt=share),
            test("H1", "", e["share_m − share_p"], ">", 0.0, label="stage-2 share − stage-1 share", fmt="{:+.0%}")],
               evidence=gap + " (Shapley split)"),
        test("H2", "Does multiplying p×E[y | gift] amplify errors (loses to p alone)?", e["stage1_only − two_stage_ev"],
             ">=", t.h2_min_drop, label="Top-1%(Stage1-only) − Top-1%(Two-Stage EV)", fmt=_pp,
             evidence=f"Stage1-only {d.stage1_only:.1%} vs Two-Stage (EV) {d.two_stage_ev:.1%}; the log-scale product "
                      f"p·m: {d.two_stage:.1%}"),
        all_of("H3", "Is stage 2 out of distribution (good on gifts, bad on all rows)?", [
            test("H3", "", e["spearman_gift stage2 − direct"], ">=", 0.0,
                 label="Spearman_gift(stage 2) − Spearman_gift(Direct)", fmt="{:+.2f}"),
            test("H3", "", e["direct − stage2_only"], ">=", t.h3_min_gap, label="Top-1%(Direct) − Top-1%(Stage2-only)",
                 fmt=_pp)],
               evidence=(f"gift-subset Spearman: stage 2 {d.spearman_gift_stage2:.2f} vs Direct "
                         f"{d.spearman_gift_direct:.2f}; Top-1% on all rows: Stage2-only {d.stage2_only:.1%} vs "
                         f"Direct {d.direct:.1%}")),
        check("H4", "Is there a feature/protocol problem (leakage audit)?", audit.findings, ">", 0, label="audit findings",
              fmt="{:.0f}", evidence=(f"outcome columns: {', '.join(audit.result_leakage_columns) or 'none'}; "
                                      f"{audit.overlap_rows} rows overlap train in time; "
                                      f"{audit.future_information_rows}/{audit.checked_rows} rows change without the "
                                      f"future; leaky vs past-only Top-1% inflation {_pp(inflation)}")),
        all_of("S1", "Is stage 1 (who gifts) the bottleneck?", [
            test("S1", "", e["share_p"], ">=", t.bottleneck_share, label="stage-1 share of the gap", fmt=share),
            test("S1", "", e["share_p − share_m"], ">", 0.0, label="stage-1 share − stage-2 share", fmt="{:+.0%}")],
               evidence=gap + f" (Shapley split; single oracle gains {_pp(d.oracle_p_gain)} and "
                              f"{_pp(d.oracle_m_gain)}){quality}"),
        test("D1", "Does Direct beat the binary upper bound on Top-1% capture (the original report's conclusion)?",
             e["direct − binary"], ">", 0.0, label="Top-1%(Direct) − Top-1%(binary bound)", fmt=_pp,
             evidence=f"Direct {d.direct:.1%} vs binary bound {d.binary:.1%}"),
        test("T1", "Does Two-Stage trail Direct on Top-1% capture?", e["direct − two_stage"], ">", 0.0,
             label="Top-1%(Direct) − Top-1%(Two-Stage)", fmt=_pp,
             evidence=f"Direct {d.direct:.1%} vs Two-Stage {d.two_stage:.1%}"),
    ]
    return decide(claims, alpha=alpha)


def _pp(fraction: float) -> str:
    """A difference of two shares in signed percentage points: 0.516 -> '+51.6 pp'."""
    return f"{fraction * 100:+.1f} pp"


def headline(d: Decomposition, verdicts: list[Verdict]) -> str:
    """One sentence whose every clause follows a verdict's state: nothing undecided is stated as settled."""
    v = {verdict.id: verdict for verdict in verdicts}
    compared = f"({d.two_stage:.1%} vs {d.direct:.1%})"
    lead = say(v["T1"], holds=f"Two-Stage trails Direct on Top-1% capture {compared}",
               fails=f"Two-Stage beats Direct on Top-1% capture {compared}",
               inconclusive=f"Two-Stage and Direct cannot be told apart on Top-1% capture {compared}, point estimates")
    q = d.quantities()
    split = f"stage 1 carries {q['share_p']:.0%} and stage 2 {q['share_m']:.0%} of the gap to both stages perfect"
    if v["S1"].holds:
        cause = f"the bottleneck is stage 1: {split}"
    elif v["H1"].holds:
        cause = f"the bottleneck is stage 2: {split}"
    elif INCONCLUSIVE in (v["S1"].state, v["H1"].state):
        cause = f"the data cannot say which stage is the bottleneck ({split}, point estimates)"
    else:
        cause = f"neither stage dominates the error ({split})"
    ranks = say(_part(v["H3"], 0), holds="better than", fails="worse than", inconclusive="not measurably better than")
    tail = (f"; stage 2 ranks the gifts {ranks} Direct (Spearman {d.spearman_gift_stage2:.2f} vs "
            f"{d.spearman_gift_direct:.2f})")
    protocol = "" if not v["H4"].holds else "; but the leakage audit flags the protocol, so treat these numbers as inflated"
    return f"{lead}; {cause}{tail}{protocol}."


def _part(verdict: Verdict, index: int) -> Verdict:
    """A part of an ``all_of`` verdict as a verdict of its own (for a clause that follows just that part)."""
    return replace(verdict, state=verdict.part_state(index))
