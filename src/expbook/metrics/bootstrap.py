"""The bootstrap of expbook: paired percentile intervals, resampling rows or whole clusters (users, records,
patients), two ways.

* ``paired_draws`` — any statistic of the resampled row indices, every statistic on the same replicate (paired):
  for metrics that need the rows themselves (a ranking, a re-ranking inside pools).
* ``cluster_sums`` — resampled sums of per-cluster sufficient statistics (confusion matrices per record): every
  replicate is one matrix product ``counts @ S``, thousands of replicates at once.

Both draw the same cluster counts for the same seed (``cluster_resample_counts``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

import numpy as np
import pandas as pd

from expbook.progress import steps

Metric = Callable[[np.ndarray, np.ndarray], float]


def resample_indices(n: int, *, n_boot: int, seed: int, clusters: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Row indices of ``n_boot`` bootstrap replicates: rows drawn with replacement, or whole clusters.

    With ``clusters`` (one id per row: a user, a patient) each replicate draws as many clusters as there are,
    with replacement, and takes every row of each drawn cluster as often as it was drawn — so the interval
    covers the variation between users, not just between rows. Built with ``np.repeat``, no loop over rows.
    """
    if clusters is None:
        rng = np.random.default_rng(seed)
        for _ in steps(range(n_boot), "bootstrap replicate"):
            yield rng.integers(0, n, size=n)
        return
    order = np.argsort(clusters, kind="stable")
    _, starts, lengths = np.unique(np.asarray(clusters)[order], return_index=True, return_counts=True)
    for counts in steps(cluster_resample_counts(starts.size, n_boot, seed), "bootstrap replicate", total=n_boot):
        drawn = np.repeat(np.arange(starts.size), counts)
        size = lengths[drawn]
        offsets = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
        yield order[np.repeat(starts[drawn], size) + offsets]


def bootstrap_draws(
    y_true: np.ndarray,
    scores: Mapping[str, np.ndarray],
    metrics: Mapping[str, Metric],
    *,
    n_boot: int,
    seed: int,
    clusters: np.ndarray | None = None,
    only: Mapping[str, Iterable[str]] | None = None,
) -> dict[tuple[str, str], np.ndarray]:
    """``n_boot`` draws of ``metric(y_true, score)`` per ranker and metric, all rankers on the same resample.

    Each replicate resamples once — rows, or whole ``clusters`` (see ``resample_indices``) — so differences
    and other functions of several rankers' metrics can be read draw by draw (a paired bootstrap).
    ``only`` limits a ranker to some of the metrics (default: every metric for every ranker).
    """
    y_true = np.asarray(y_true)
    wanted = {m: tuple(only[m]) if only is not None and m in only else tuple(metrics) for m in scores}

    def statistics(idx: np.ndarray) -> dict[tuple[str, str], float]:
        y_b = y_true[idx]
        return {(method, name): metrics[name](y_b, np.asarray(score)[idx])
                for method, score in scores.items() for name in wanted[method]}

    return paired_draws(y_true.size, statistics, n_boot=n_boot, seed=seed, clusters=clusters)


def paired_draws(n: int, statistics: Callable[[np.ndarray], Mapping], *, n_boot: int, seed: int,
                 clusters: np.ndarray | None = None) -> dict:
    """``n_boot`` draws of every statistic ``statistics(indices)`` returns, each replicate's indices drawn once
    (rows, or whole ``clusters``: ``resample_indices``) and shared by every statistic — a paired bootstrap, so a
    difference of two statistics can be read draw by draw. A statistic that is undefined on a replicate is NaN."""
    draws: dict = {}
    for b, idx in enumerate(resample_indices(n, n_boot=n_boot, seed=seed, clusters=clusters)):
        for key, value in statistics(idx).items():  # a loop over replicates, not rows: each is O(n) vectorised work
            draws.setdefault(key, np.full(n_boot, np.nan))[b] = value
    return draws


def cluster_sums(per_cluster: np.ndarray, *, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, ...) sums of ``per_cluster`` (clusters, ...) over ``n_boot`` cluster-bootstrap replicates.

    A replicate draws as many clusters as there are, with replacement; its sum weights each cluster's statistics
    by how often it was drawn: ``counts @ per_cluster`` (``cluster_resample_counts``). Sums of confusion matrices
    per record give every replicate's confusion matrix, from which any score follows.
    """
    per_cluster = np.asarray(per_cluster, dtype=float)
    counts = cluster_resample_counts(per_cluster.shape[0], n_boot, seed)
    return (counts @ per_cluster.reshape(per_cluster.shape[0], -1)).reshape(n_boot, *per_cluster.shape[1:])


def summarise_draws(y_true: np.ndarray, scores: Mapping[str, np.ndarray], metrics: Mapping[str, Metric],
                    draws: Mapping[tuple[str, str], np.ndarray], level: float = 0.95) -> pd.DataFrame:
    """One row per (method, metric) in ``draws``: the point value on all rows, the percentile CI of the finite
    draws (undefined replicates dropped) and how many there were."""
    rows = []
    for (method, name), values in draws.items():
        low, high = percentile_interval(values, level)
        rows.append({"method": method, "metric": name,
                     "point": metrics[name](np.asarray(y_true), np.asarray(scores[method])),
                     "ci_low": low, "ci_high": high, "n_boot": int(np.isfinite(values).sum())})
    return pd.DataFrame(rows)


def bootstrap_metrics(
    y_true: np.ndarray,
    scores: Mapping[str, np.ndarray],
    metrics: Mapping[str, Metric],
    *,
    n_boot: int,
    seed: int,
    level: float = 0.95,
    clusters: np.ndarray | None = None,
) -> pd.DataFrame:
    """Point value and percentile CI of every ``metric(y_true, score)`` for every ranker (``bootstrap_draws``)."""
    draws = bootstrap_draws(y_true, scores, metrics, n_boot=n_boot, seed=seed, clusters=clusters)
    return summarise_draws(y_true, scores, metrics, draws, level)


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
