"""Paired percentile bootstrap: confidence intervals for several metrics of several rankers at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

Metric = Callable[[np.ndarray, np.ndarray], float]


def bootstrap_metrics(
    y_true: np.ndarray,
    scores: Mapping[str, np.ndarray],
    metrics: Mapping[str, Metric],
    *,
    n_boot: int,
    seed: int,
    level: float = 0.95,
) -> pd.DataFrame:
    """Point value and percentile CI of every ``metric(y_true, score)`` for every ranker.

    Each replicate resamples the rows with replacement once and scores *all* rankers on
    the same resample (a paired bootstrap), so differences between rankers can be read
    from the same draws. Replicates whose metric is undefined (NaN) are dropped.

    Returns one row per (method, metric): ``point, ci_low, ci_high, n_boot``.
    """
    y_true = np.asarray(y_true)
    n = y_true.size
    rng = np.random.default_rng(seed)
    draws = {(m, k): np.full(n_boot, np.nan) for m in scores for k in metrics}
    for b in range(n_boot):  # a loop over replicates, not rows: each step is O(n) vectorised work
        idx = rng.integers(0, n, size=n)
        y_b = y_true[idx]
        for method, score in scores.items():
            s_b = np.asarray(score)[idx]
            for name, metric in metrics.items():
                draws[method, name][b] = metric(y_b, s_b)
    alpha = (1 - level) / 2
    rows = []
    for (method, name), values in draws.items():
        values = values[~np.isnan(values)]
        low, high = (np.quantile(values, [alpha, 1 - alpha]) if values.size else (np.nan, np.nan))
        rows.append({
            "method": method,
            "metric": name,
            "point": metrics[name](y_true, np.asarray(scores[method])),
            "ci_low": float(low),
            "ci_high": float(high),
            "n_boot": int(values.size),
        })
    return pd.DataFrame(rows)


def cluster_resample_counts(n_clusters: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_clusters): how often each cluster (user, patient, record) is drawn in each bootstrap replicate.

    A cluster bootstrap resamples whole clusters with replacement, so the interval covers the variation *between*
    clusters (a few patients carry most rare beats; a few users carry most revenue). With per-cluster sufficient
    statistics ``S`` (n_clusters, ...), every replicate's statistics are one matrix product: ``counts @ S``.
    """
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_boot)


def percentile_interval(draws: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite bootstrap draws; (NaN, NaN) when there are none."""
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if not draws.size:
        return float("nan"), float("nan")
    low, high = np.quantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(low), float(high)
