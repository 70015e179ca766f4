import numpy as np

from expbook.models.gbdt import GBDTConfig, train_direct_regressor, train_stage2_regressor


def _data(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3000, 5))
    y = np.where(rng.random(3000) < 0.2 + 0.2 * (X[:, 0] > 0), np.exp(1 + X[:, 1]), 0.0)
    return X, y


def test_training_is_deterministic_on_fixed_threads_and_seed():
    X, y = _data(0)
    config = GBDTConfig(num_boost_round=60, seed=3)
    names = tuple(f"f{i}" for i in range(5))
    a = train_direct_regressor(X[:2000], y[:2000], X[2000:], y[2000:], feature_names=names, config=config)
    b = train_direct_regressor(X[:2000], y[:2000], X[2000:], y[2000:], feature_names=names, config=config)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_early_stopping_stops_before_the_round_limit_on_noise():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(2000, 3)), rng.exponential(size=2000)
    model = train_direct_regressor(X[:1500], y[:1500], X[1500:], y[1500:], feature_names=("a", "b", "c"),
                                   config=GBDTConfig(num_boost_round=300, early_stopping_rounds=10))
    assert model.best_iteration < 300


def test_stage2_learns_the_amount_from_gift_rows_only():
    X, y = _data(2)
    model = train_stage2_regressor(X[:2000], y[:2000], X[2000:], y[2000:], feature_names=tuple("abcde"),
                                   config=GBDTConfig(num_boost_round=100))
    gifts = y[2000:] > 0
    assert np.corrcoef(model.predict(X[2000:][gifts]), np.log1p(y[2000:][gifts]))[0, 1] > 0.8


def test_lambdarank_ranks_the_relevant_item_of_each_group_first():
    from expbook.models.gbdt import train_lambdarank

    rng = np.random.default_rng(0)
    groups, size = 800, 10
    x = rng.normal(size=(groups * size, 3))
    relevant = np.zeros(groups * size)
    relevant[np.arange(groups) * size + rng.integers(0, size, groups)] = 1
    x[:, 0] += 2 * relevant  # the first feature marks the relevant item
    half = groups // 2 * size
    model = train_lambdarank(x[:half], relevant[:half], np.full(groups // 2, size), x[half:], relevant[half:],
                             np.full(groups - groups // 2, size), feature_names=("f0", "f1", "f2"),
                             config=GBDTConfig(num_boost_round=200, learning_rate=0.1, feature_fraction=1.0, num_threads=1))
    truth = relevant[half:].reshape(-1, size).argmax(axis=1)
    learnt = model.predict(x[half:]).reshape(-1, size).argmax(axis=1) == truth
    oracle = x[half:, 0].reshape(-1, size).argmax(axis=1) == truth  # the feature that marks the item, used directly
    assert learnt.mean() >= oracle.mean() - 0.05 and learnt.mean() > 0.5
