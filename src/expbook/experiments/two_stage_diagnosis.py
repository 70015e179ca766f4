"""Two-stage diagnosis: why does p(x)·m(x) lose to direct regression, and is the protocol clean?

Methods scored on the test days (all ranking scores; higher = more valuable):

* Direct: d(x), the direct regressor's log1p(y).
* Two-Stage: p(x)·m(x) on the log scale (the seed's choice).
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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from expbook.experiments.kuailive_pipeline import GiftScores, HeldOutScores
from expbook.features.kuailive_audit import LeakageAudit
from expbook.metrics.bootstrap import bootstrap_draws, percentile_interval, summarise_draws
from expbook.metrics.ranking import ndcg_at_k, revenue_capture_at_k, spearman, top_k_capture, value_ranking_scores
from expbook.metrics.seeds import mean_ci
from expbook.verdicts import Verdict, all_of, threshold_rule

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


def resampled_draws(y: np.ndarray, methods: dict[str, np.ndarray], *, ndcg_k: int, n_boot: int, seed: int,
                    users: np.ndarray | None = None) -> dict[tuple[str, str], np.ndarray]:
    """One paired bootstrap (by user when given) for both the interval table and the decomposition: every
    table metric of the real methods, and Top-1% capture of the oracles and the binary bound."""
    only = {m: ("top1%_capture",) for m in DECOMPOSITION_METHODS.values() if m not in MAIN_METHODS}
    scored = {m: methods[m] for m in (*MAIN_METHODS, *only)}
    return bootstrap_draws(y, scored, table_metrics(ndcg_k), n_boot=n_boot, seed=seed, clusters=users, only=only)


def interval_table(y: np.ndarray, methods: dict[str, np.ndarray], draws: dict[tuple[str, str], np.ndarray], *,
                   ndcg_k: int) -> pd.DataFrame:
    """95% CIs of Top-1% capture, RevCap@1% and NDCG@k for the real (non-oracle) methods, from ``resampled_draws``."""
    main = {key: values for key, values in draws.items() if key[0] in MAIN_METHODS}
    return summarise_draws(y, methods, table_metrics(ndcg_k), main)


def shapley_split(base: float, only_1: float, only_2: float, both: float) -> tuple[float, float]:
    """Shares of the gap ``both − base`` credited to replacement 1 and 2: each one's gain averaged over the two
    orders of applying them (the Shapley value of a two-player game). The shares sum to the gap."""
    return 0.5 * ((only_1 - base) + (both - only_2)), 0.5 * ((only_2 - base) + (both - only_1))


@dataclass(frozen=True)
class Decomposition:
    """Top-1% capture of every method (fractions) and the gift-subset Spearman of Direct and stage 2."""

    two_stage: float
    two_stage_ev: float
    direct: float
    stage1_only: float
    stage2_only: float
    binary: float
    oracle_p: float
    oracle_m: float
    oracle_both: float
    spearman_gift_stage2: float
    spearman_gift_direct: float

    @property
    def oracle_p_gain(self) -> float:
        return self.oracle_p - self.two_stage

    @property
    def oracle_m_gain(self) -> float:
        return self.oracle_m - self.two_stage

    @property
    def gap(self) -> float:
        """Top-1% between the real two-stage model and both stages perfect."""
        return self.oracle_both - self.two_stage

    @property
    def shares(self) -> tuple[float, float]:
        """(stage 1, stage 2) Shapley shares of ``gap``."""
        return shapley_split(self.two_stage, self.oracle_p, self.oracle_m, self.oracle_both)

    def quantities(self) -> dict[str, float]:
        """The values the verdicts test; ``decomposition_intervals`` gives each a bootstrap interval."""
        share_p, share_m = self.shares
        gap = self.gap if self.gap != 0 else np.nan
        return {"share_p": share_p / gap, "share_m": share_m / gap, "share_p − share_m": (share_p - share_m) / gap,
                "stage1_only − two_stage_ev": self.stage1_only - self.two_stage_ev,
                "direct − binary": self.direct - self.binary}


DECOMPOSITION_METHODS = {"two_stage": "Two-Stage", "two_stage_ev": "Two-Stage (EV)", "direct": "Direct",
                         "stage1_only": "Stage1-only", "stage2_only": "Stage2-only", "binary": "Binary upper bound",
                         "oracle_p": "Oracle-p", "oracle_m": "Oracle-m", "oracle_both": "Oracle-both"}


def decompose(table: pd.DataFrame) -> Decomposition:
    top1 = table["top1%_capture"]
    return Decomposition(**{field: top1[method] for field, method in DECOMPOSITION_METHODS.items()},
                         spearman_gift_stage2=table.loc["Stage2-only", "spearman_gift"],
                         spearman_gift_direct=table.loc["Direct", "spearman_gift"])


def decomposition_intervals(draws: dict[tuple[str, str], np.ndarray], level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Intervals of ``Decomposition.quantities`` from the Top-1% draws of ``resampled_draws``, draw by draw."""
    top1 = {field: draws[method, "top1%_capture"] for field, method in DECOMPOSITION_METHODS.items()}
    n_boot = len(next(iter(top1.values())))
    per_draw = [Decomposition(**{f: values[b] for f, values in top1.items()}, spearman_gift_stage2=np.nan,
                              spearman_gift_direct=np.nan).quantities() for b in range(n_boot)]
    return {name: percentile_interval(np.array([q[name] for q in per_draw]), level) for name in per_draw[0]}


@dataclass(frozen=True)
class AcrossSeeds:
    """Method tables of several seeds (data regenerated and models retrained per seed) and what the verdicts use:
    the decomposition of the seed-mean table and t-intervals over seeds of ``Decomposition.quantities``."""

    tables: dict[int, pd.DataFrame]
    mean: pd.DataFrame
    decomposition: Decomposition
    per_seed: pd.DataFrame  # seed × quantity
    intervals: dict[str, tuple[float, float]]


def across_seeds(tables: dict[int, pd.DataFrame], level: float = 0.95) -> AcrossSeeds:
    """Needs two or more seeds: the interval of a quantity is the t-interval of its per-seed values."""
    if len(tables) < 2:
        raise ValueError("intervals over seeds need at least two seeds")
    per_seed = pd.DataFrame({seed: decompose(table).quantities() for seed, table in tables.items()}).T
    intervals = {name: (ci.low, ci.high) for name in per_seed for ci in [mean_ci(per_seed[name], level)]}
    mean = sum(tables.values()) / len(tables)
    return AcrossSeeds(tables, mean, decompose(mean), per_seed, intervals)


def seed_tables(runs: list[GiftScores], *, ndcg_k: int, whale_quantile: float) -> dict[int, pd.DataFrame]:
    """The method table of every seed, each with the smearing factor of its own validation gifts."""
    return {run.seed: evaluate_methods(run.test.y, method_scores(run.test, smearing=smearing_factor(run.val.y, run.val.m)),
                                       ndcg_k=ndcg_k, whale_quantile=whale_quantile)[0] for run in runs}


def seed_summary(tables: dict[int, pd.DataFrame], methods: list[str], metrics: list[str]) -> pd.DataFrame:
    """method × metric: "mean ± half-width of the 95% t-interval" over seeds (as text; ``mean_ci.text``)."""
    return pd.DataFrame({metric: {method: mean_ci([t.loc[method, metric] for t in tables.values()]).text("{:.3f}")
                                  for method in methods} for metric in metrics})


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    """Decision thresholds of the hypothesis rules (fractions of Top-1% capture unless stated)."""

    bottleneck_share: float  # share of the gap to Oracle-both a stage must carry to be called the bottleneck
    h2_min_drop: float
    h3_min_gap: float


def hypothesis_verdicts(d: Decomposition, audit: LeakageAudit, inflation: float, t: Thresholds,
                        intervals: dict[str, tuple[float, float]] | None = None) -> list[Verdict]:
    """H1–H4, the stage-1 bottleneck verdict S1 and D1 (Direct vs the binary bound), each from an explicit rule.

    With ``intervals`` (``decomposition_intervals``) the Top-1% verdicts are three-state.
    """
    two, share = "{:.2f}".format, "{:.0%}".format
    q, ci = d.quantities(), (intervals or {}).get
    gap = f"gap to Oracle-both {_pp(d.gap)}: stage 1 {share(q['share_p'])}, stage 2 {share(q['share_m'])}"
    return [
        all_of("H1", "Is stage 2 (too little gift data) the main cause of the gap?", [
            threshold_rule("H1", "", q["share_m"], ">=", t.bottleneck_share, label="stage-2 share of the gap",
                           fmt=share, ci=ci("share_m")),
            threshold_rule("H1", "", -q["share_p − share_m"], ">", 0.0, label="stage-2 share − stage-1 share",
                           fmt="{:+.0%}", ci=_negated(ci("share_p − share_m")))],
               evidence=gap + " (Shapley split)"),
        threshold_rule("H2", "Does multiplying p×E[y | gift] amplify errors (loses to p alone)?",
                       q["stage1_only − two_stage_ev"], ">=", t.h2_min_drop,
                       label="Top-1%(Stage1-only) − Top-1%(Two-Stage EV)", fmt=_pp,
                       ci=ci("stage1_only − two_stage_ev"),
                       evidence=f"Stage1-only {d.stage1_only:.1%} vs Two-Stage (EV) {d.two_stage_ev:.1%}; the "
                                f"log-scale product p·m: {d.two_stage:.1%}"),
        all_of("H3", "Is stage 2 out of distribution (good on gifts, bad on all rows)?", [
            threshold_rule("H3", "", d.spearman_gift_stage2 - d.spearman_gift_direct, ">=", 0.0,
                           label="Spearman_gift(stage 2) − Spearman_gift(Direct)", fmt=two),
            threshold_rule("H3", "", d.direct - d.stage2_only, ">=", t.h3_min_gap,
                           label="Top-1%(Direct) − Top-1%(Stage2-only)", fmt=_pp)],
               evidence=(f"gift-subset Spearman: stage 2 {d.spearman_gift_stage2:.2f} vs Direct "
                         f"{d.spearman_gift_direct:.2f}; Top-1% on all rows: Stage2-only {d.stage2_only:.1%} vs "
                         f"Direct {d.direct:.1%}")),
        threshold_rule("H4", "Is there a feature/protocol problem (leakage audit)?", audit.findings, ">", 0,
                       label="audit findings", fmt="{:.0f}",
                       evidence=(f"outcome columns: {', '.join(audit.result_leakage_columns) or 'none'}; "
                                 f"{audit.overlap_rows} rows overlap train in time; "
                                 f"{audit.future_information_rows}/{audit.checked_rows} rows change without the future; "
                                 f"leaky vs past-only Top-1% inflation {_pp(inflation)}")),
        all_of("S1", "Is stage 1 (who gifts) the bottleneck?", [
            threshold_rule("S1", "", q["share_p"], ">=", t.bottleneck_share, label="stage-1 share of the gap",
                           fmt=share, ci=ci("share_p")),
            threshold_rule("S1", "", q["share_p − share_m"], ">", 0.0, label="stage-1 share − stage-2 share",
                           fmt="{:+.0%}", ci=ci("share_p − share_m"))],
               evidence=gap + f" (Shapley split; single oracle gains {_pp(d.oracle_p_gain)} and {_pp(d.oracle_m_gain)})"),
        threshold_rule("D1", "Does Direct beat the binary upper bound on Top-1% capture (the seed's conclusion)?",
                       q["direct − binary"], ">", 0.0, label="Top-1%(Direct) − Top-1%(binary bound)", fmt=_pp,
                       ci=ci("direct − binary"), evidence=f"Direct {d.direct:.1%} vs binary bound {d.binary:.1%}"),
    ]


def _negated(interval: tuple[float, float] | None) -> tuple[float, float] | None:
    return None if interval is None else (-interval[1], -interval[0])


def _pp(fraction: float) -> str:
    """A difference of two shares in signed percentage points: 0.516 -> '+51.6 pp'."""
    return f"{fraction * 100:+.1f} pp"


def headline(d: Decomposition, verdicts: list[Verdict]) -> str:
    """One sentence, every number and clause chosen by the measured values and the verdict states."""
    by_id = {v.id: v for v in verdicts}
    q = d.quantities()
    if d.two_stage < d.direct:
        lead = f"Two-Stage trails Direct on Top-1% capture ({d.two_stage:.1%} vs {d.direct:.1%})"
    else:
        lead = f"Two-Stage matches or beats Direct on Top-1% capture ({d.two_stage:.1%} vs {d.direct:.1%})"
    split = f"stage 1 carries {q['share_p']:.0%} and stage 2 {q['share_m']:.0%} of the gap to both stages perfect"
    if by_id["S1"].holds:
        cause = f"the bottleneck is stage 1: {split}"
    elif by_id["H1"].holds:
        cause = f"the bottleneck is stage 2: {split}"
    elif "inconclusive" in (by_id["S1"].state, by_id["H1"].state):
        cause = f"the data cannot say which stage is the bottleneck ({split}, within the intervals' reach)"
    else:
        cause = f"neither stage dominates the error ({split})"
    ranks = "better" if d.spearman_gift_stage2 > d.spearman_gift_direct else "no better"
    tail = (f"; stage 2 ranks the gifts {ranks} than Direct (Spearman {d.spearman_gift_stage2:.2f} vs "
            f"{d.spearman_gift_direct:.2f})")
    protocol = "" if not by_id["H4"].holds else "; but the leakage audit flags the protocol, so treat these numbers as inflated"
    return f"{lead}; {cause}{tail}{protocol}."
