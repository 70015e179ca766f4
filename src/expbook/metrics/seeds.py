"""Statistics over repeated runs (seeds): mean with a t-based 95% CI, and paired comparisons."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class MeanCI:
    mean: float
    std: float
    low: float
    high: float
    n: int

    def text(self, fmt: str = "{:.3f}") -> str:
        if self.n < 2:
            return fmt.format(self.mean)
        return f"{fmt.format(self.mean)} ± {fmt.format((self.high - self.low) / 2)}"


def mean_ci(values, level: float = 0.95) -> MeanCI:
    """Mean, sample std and the t-based ``level`` CI of the mean of the finite ``values`` (NaN CI when n < 2)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = values.size
    mean = float(values.mean()) if n else math.nan
    std = float(values.std(ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n)) if n > 1 else math.nan
    return MeanCI(mean, std, mean - half, mean + half, n)


@dataclass(frozen=True)
class PairedTest:
    """``a − b`` over paired runs: mean difference, its CI, and the two-sided paired t-test p-value."""

    diff: MeanCI
    p_value: float

    def significant(self, alpha: float) -> bool:
        return bool(self.p_value < alpha)


def paired_test(a, b, level: float = 0.95) -> PairedTest:
    """Paired t-test of ``a`` against ``b`` (same seeds, same order); p = 1 when every difference is zero."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    differences = a - b
    if differences.size < 2 or np.allclose(differences, differences[0]):
        p = 1.0 if np.allclose(differences, 0) or differences.size < 2 else 0.0
    else:
        p = float(stats.ttest_rel(a, b).pvalue)
    return PairedTest(mean_ci(differences, level), p)
