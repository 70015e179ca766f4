"""Negative posts: random ones uniform over the other posts, hard ones from the cache, observed ones in their share."""

import numpy as np
import pytest

from expbook.models.negatives import NegativeSampler


def test_random_negatives_are_uniform_over_the_other_posts():
    sampler = NegativeSampler(5, np.array([[0, 2]]), cache_size=2, hard_ratio=0.7, seed=0)
    draws = sampler.random(np.full(20_000, 2))
    assert 2 not in draws and set(draws) == {0, 1, 3, 4}
    assert np.allclose(np.bincount(draws, minlength=5)[[0, 1, 3, 4]] / draws.size, 0.25, atol=0.02)


def test_hard_negative_cache_holds_the_top_scored_never_chosen_posts():
    chosen = np.array([[0, 0], [0, 1], [1, 3]])  # employee 0 chose posts 0 and 1, employee 1 chose 3
    sampler = NegativeSampler(6, chosen, cache_size=2, hard_ratio=1.0, seed=0)
    scores = np.array([[9.0, 8.0, 1.0, 5.0, 4.0, 0.0], [0.0, 1.0, 2.0, 9.0, 3.0, 8.0]])
    sampler.refresh(scores)
    assert [set(row) for row in sampler.cache] == [{3, 4}, {5, 4}]
    negatives, is_hard = sampler.hard(np.array([0] * 50), np.array([0] * 50))
    assert is_hard.all() and set(negatives) <= {3, 4}
    sampler.hard_ratio = 0.0
    negatives, is_hard = sampler.hard(np.array([0] * 50), np.array([0] * 50))
    assert not is_hard.any() and 0 not in negatives


def test_observed_negatives_are_the_rejected_posts_in_their_share():
    pairs = np.array([[e % 7, 1, 4] for e in range(30_000)])
    sampler = NegativeSampler(6, pairs[:, :2], cache_size=1, hard_ratio=0.0, seed=0)
    for share in (0.0, 0.3, 1.0):
        negatives, is_hard = sampler.mix(pairs, hard=False, observed_share=share)
        random_share_of_4 = (1 - share) / 5  # a random negative is one of the 5 other posts
        assert np.mean(negatives == 4) == pytest.approx(share + random_share_of_4, abs=0.01)
        assert 1 not in negatives and not is_hard.any()
    sampler.refresh(np.tile(np.arange(6.0), (7, 1)))  # post 5 is everyone's hardest
    sampler.hard_ratio = 1.0
    negatives, is_hard = sampler.mix(pairs, hard=True, observed_share=0.5)
    assert set(negatives) == {4, 5} and np.mean(negatives == 4) == pytest.approx(0.5, abs=0.01)
    assert (is_hard == (negatives == 5)).all()  # an observed negative is never weighted as hard
