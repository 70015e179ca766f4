"""The shared KuaiLive pipeline caches each seed's model scores and regenerates data per seed."""

import numpy as np


def test_gift_scores_are_cached_per_seed_and_a_new_seed_regenerates_the_data(tmp_path, monkeypatch):
    from expbook.data.kuailive_synth import KuaiLiveSpec
    from expbook.experiments.kuailive_pipeline import gift_scores
    from expbook.models.gbdt import GBDTConfig

    monkeypatch.setenv("EXPBOOK_CACHE", str(tmp_path))
    kwargs = {"leaky": False, "val_days": 7, "test_days": 7}
    spec, config = KuaiLiveSpec(scale=0.004), GBDTConfig(num_boost_round=30)
    first = gift_scores(None, spec, config, seed=0, **kwargs)
    again = gift_scores(None, spec, config, seed=0, **kwargs)
    other = gift_scores(None, spec, config, seed=1, **kwargs)
    assert not first.cache_hit and again.cache_hit and not other.cache_hit
    np.testing.assert_array_equal(first.test.p, again.test.p)
    assert first.best_iterations == again.best_iterations
    assert first.data.data_fingerprint != other.data.data_fingerprint
