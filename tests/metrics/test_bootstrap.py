import numpy as np

from expbook.metrics.bootstrap import bootstrap_metrics
from expbook.metrics.ranking import revenue_capture_at_k


def _data(seed=0, n=2000):
    rng = np.random.default_rng(seed)
    y = rng.exponential(size=n) * (rng.random(n) < 0.1)
    return y, {"good": y + rng.normal(0, 0.1, n), "random": rng.random(n)}


def test_bootstrap_interval_contains_the_point_and_is_reproducible():
    y, scores = _data()
    metrics = {"revcap@5%": lambda t, s: revenue_capture_at_k(t, s, 0.05)}
    first = bootstrap_metrics(y, scores, metrics, n_boot=50, seed=3)
    second = bootstrap_metrics(y, scores, metrics, n_boot=50, seed=3)
    assert first.equals(second)
    assert ((first["ci_low"] <= first["point"]) & (first["point"] <= first["ci_high"])).all()


def test_bootstrap_separates_a_good_ranker_from_a_random_one():
    y, scores = _data(1)
    table = bootstrap_metrics(y, scores, {"revcap@5%": lambda t, s: revenue_capture_at_k(t, s, 0.05)},
                              n_boot=60, seed=0).set_index("method")
    assert table.loc["good", "ci_low"] > table.loc["random", "ci_high"]


def test_cluster_sums_are_the_per_cluster_statistics_weighted_by_the_draw_counts():
    from expbook.metrics.bootstrap import cluster_resample_counts, cluster_sums

    per_cluster = np.arange(24, dtype=float).reshape(4, 2, 3)
    sums = cluster_sums(per_cluster, n_boot=7, seed=5)
    counts = cluster_resample_counts(4, 7, 5)
    assert sums.shape == (7, 2, 3) and counts.sum(axis=1).tolist() == [4] * 7
    brute = np.zeros((7, 2, 3))
    for draw in range(7):  # resample by hand: every cluster added as many times as it was drawn
        for cluster in range(4):
            for _ in range(counts[draw, cluster]):
                brute[draw] += per_cluster[cluster]
    assert np.allclose(sums, brute)


def test_paired_draws_give_every_statistic_the_same_resample():
    from expbook.metrics.bootstrap import paired_draws

    x = np.random.default_rng(0).normal(size=200)
    draws = paired_draws(200, lambda idx: {"a": x[idx].mean(), "b": x[idx].mean() + 1.0}, n_boot=50, seed=1)
    assert np.allclose(draws["b"] - draws["a"], 1.0)  # paired: the difference has no sampling noise at all
    users = np.repeat(np.arange(20), 10)
    by_user = paired_draws(200, lambda idx: {"users": np.unique(users[idx]).size, "rows": idx.size}, n_boot=30, seed=2,
                           clusters=users)
    assert set(by_user["rows"]) == {200.0} and by_user["users"].max() < 20  # whole users drawn, with repeats
