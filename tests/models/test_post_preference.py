"""The posts-only preference baseline recovers the attribute weights that decide the choices."""

import numpy as np

from expbook.models.post_preference import fit_post_scores


def test_it_ranks_posts_as_the_attribute_that_decides_the_choices():
    rng = np.random.default_rng(0)
    posts = rng.normal(size=(14, 3))
    pairs = rng.integers(0, 14, size=(3000, 3))
    pairs = pairs[pairs[:, 1] != pairs[:, 2]]
    first_wins = rng.random(len(pairs)) < 1 / (1 + np.exp(-2 * (posts[pairs[:, 1], 0] - posts[pairs[:, 2], 0])))
    pairs[~first_wins] = pairs[~first_wins][:, [0, 2, 1]]  # the chosen post second when it lost
    scores = fit_post_scores(posts, pairs)
    assert np.corrcoef(scores, posts[:, 0])[0, 1] > 0.95
    assert np.mean(scores[pairs[:, 1]] > scores[pairs[:, 2]]) > 0.7
