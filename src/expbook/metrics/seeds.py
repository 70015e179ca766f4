"""Statistics over repeated runs (seeds or folds): mean with a t-based 95% CI, paired comparisons, and Holm.

The one paired-test module of expbook: a paired t-test over seeds, the corrected resampled t-test over
cross-validation folds (Nadeau & Bengio 2003), and Holm's step-down adjustment for a family of tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _stats():
    """``scipy.stats``, imported on first use: the site builder imports this module, and scipy.stats alone costs
    most of a second of a no-op ``make book``."""
    from scipy import stats

    return stats


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
        return f"{fmt.format(self.mean)}\u00a0±\u00a0{fmt.format((self.high - self.low) / 2)}"  # no line break inside


def mean_ci(values, level: float = 0.95) -> MeanCI:
    """Mean, sample std and the t-based ``level`` CI of the mean of the finite ``values`` (NaN CI when n < 2)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = values.size
    mean = float(values.mean()) if n else math.nan
    std = float(values.std(ddof=1)) if n > 1 else math.nan
    half = float(_stats().t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n)) if n > 1 else math.nan
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
        p = float(_stats().ttest_rel(a, b).pvalue)
    return PairedTest(mean_ci(differences, level), p)


def corrected_resampled_test(a, b, *, test_train_ratio: float, level: float = 0.95) -> PairedTest:
    """``a − b`` over J resampled splits (e.g. repeated k-fold), with Nadeau & Bengio's corrected variance.

    The J differences share training data, so their plain variance σ²/J understates the mean's. The
    correction uses (1/J + n_test/n_train)·σ̂², giving t = d̄ / √((1/J + n₂/n₁)·σ̂²) with J − 1 degrees of
    freedom (Nadeau & Bengio 2003; Bouckaert & Frank 2004 for repeated k-fold). ``b`` may be a constant.
    """
    differences = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    differences = differences[np.isfinite(differences)]
    n = differences.size
    mean = float(differences.mean()) if n else math.nan
    if n < 2:
        return PairedTest(MeanCI(mean, math.nan, math.nan, math.nan, n), math.nan)
    std = float(differences.std(ddof=1))
    se = math.sqrt((1 / n + test_train_ratio) * std**2)
    if se == 0:
        p = 1.0 if mean == 0 else 0.0
        return PairedTest(MeanCI(mean, std, mean, mean, n), p)
    half = float(_stats().t.ppf(0.5 + level / 2, n - 1) * se)
    p = float(2 * _stats().t.sf(abs(mean) / se, n - 1))
    return PairedTest(MeanCI(mean, std, mean - half, mean + half, n), p)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (reject H_i at level α when adjusted p_i < α); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, math.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    order = finite[np.argsort(p[finite], kind="stable")]
    steps = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted[order] = np.minimum(steps, 1.0)
    return adjusted


@dataclass(frozen=True)
class MedianCI:
    median: float
    low: float
    high: float
    coverage: float  # the interval's exact coverage (at least ``level`` when n allows it)
    n: int


def median_ci(values, level: float = 0.95) -> MedianCI:
    """Median of the finite ``values`` and its distribution-free interval from order statistics.

    The interval [x₍ₖ₎, x₍ₙ₋ₖ₊₁₎] covers the population median with probability 1 − 2·P(Binom(n, ½) < k); k is the
    largest rank keeping that at least ``level``. With few seeds (n ≤ 5) no rank does, and the interval is the whole
    range with its exact coverage (n = 5: 93.75%). No normality needed: right for heavy-tailed per-seed ratios, where
    one seed at 300× would stretch a t-interval below zero.
    """
    values = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
    n = values.size
    if n == 0:
        return MedianCI(math.nan, math.nan, math.nan, 0.0, 0)
    k = 1
    while k + 1 <= (n + 1) // 2 and 1 - 2 * _stats().binom.cdf(k, n, 0.5) >= level:
        k += 1
    coverage = float(1 - 2 * _stats().binom.cdf(k - 1, n, 0.5))
    return MedianCI(float(np.median(values)), float(values[k - 1]), float(values[n - k]), coverage, n)
