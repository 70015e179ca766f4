"""The oracle decomposition of a two-stage model's ranking gap: how much of the gap between the real model p·m and
both stages perfect each stage carries, split by the Shapley value of the two oracle replacements.

The single oracle gains alone favour stage 1 by construction — Oracle-p also removes the rows without a gift,
Oracle-m keeps the noisy p on every row — and miss what the stages do together; the Shapley split credits each
stage with its gain averaged over the two orders of replacing them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from expbook.metrics.estimates import BootstrapEstimate


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
        """The values the verdicts test; ``decomposition_estimates`` gives each its sampling distribution."""
        share_p, share_m = self.shares
        gap = self.gap if self.gap != 0 else np.nan
        return {"share_p": share_p / gap, "share_m": share_m / gap, "share_p − share_m": (share_p - share_m) / gap,
                "share_m − share_p": (share_m - share_p) / gap,
                "stage1_only − two_stage_ev": self.stage1_only - self.two_stage_ev,
                "direct − binary": self.direct - self.binary, "direct − two_stage": self.direct - self.two_stage,
                "direct − stage2_only": self.direct - self.stage2_only,
                "spearman_gift stage2 − direct": self.spearman_gift_stage2 - self.spearman_gift_direct}


# the range of each quantity: differences of two captures lie in [−1, 1], of two Spearman correlations in [−2, 2];
# a Shapley share of the gap is a ratio with no range of its own
QUANTITY_BOUNDS = {"stage1_only − two_stage_ev": (-1.0, 1.0), "direct − binary": (-1.0, 1.0),
                   "direct − two_stage": (-1.0, 1.0), "direct − stage2_only": (-1.0, 1.0),
                   "spearman_gift stage2 − direct": (-2.0, 2.0)}

DECOMPOSITION_METHODS = {"two_stage": "Two-Stage", "two_stage_ev": "Two-Stage (EV)", "direct": "Direct",
                         "stage1_only": "Stage1-only", "stage2_only": "Stage2-only", "binary": "Binary upper bound",
                         "oracle_p": "Oracle-p", "oracle_m": "Oracle-m", "oracle_both": "Oracle-both"}


def decompose(table: pd.DataFrame) -> Decomposition:
    top1 = table["top1%_capture"]
    return Decomposition(**{field: top1[method] for field, method in DECOMPOSITION_METHODS.items()},
                         spearman_gift_stage2=table.loc["Stage2-only", "spearman_gift"],
                         spearman_gift_direct=table.loc["Direct", "spearman_gift"])


def decomposition_estimates(draws: dict[tuple[str, str], np.ndarray], point: Decomposition,
                            n_users: int) -> dict[str, BootstrapEstimate]:
    """Every ``Decomposition.quantities`` as a user-bootstrap estimate: its value, and its draws computed draw by
    draw from the paired draws of ``resampled_draws``."""
    top1 = {field: draws[method, "top1%_capture"] for field, method in DECOMPOSITION_METHODS.items()}
    n_boot = len(next(iter(top1.values())))
    per_draw = [Decomposition(**{f: values[b] for f, values in top1.items()},
                              spearman_gift_stage2=draws["Stage2-only", "spearman_gift"][b],
                              spearman_gift_direct=draws["Direct", "spearman_gift"][b]).quantities()
                for b in range(n_boot)]
    return {name: BootstrapEstimate(float(value), np.array([q[name] for q in per_draw]), n_users, "users")
            for name, value in point.quantities().items()}
