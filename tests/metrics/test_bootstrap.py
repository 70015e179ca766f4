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
