"""Negative posts for the preference task's (employee, chosen post) pairs: random, hard, and observed.

A *random* negative is any other post; a *hard* one is among the highest-scored posts the employee never chose,
from a cache refreshed every few epochs (scoring every post each step would cost a full pass); an *observed*
one is the post the employee actually rejected in that choice task.
"""

from __future__ import annotations

import numpy as np

from expbook.metrics.ranking import top_k


class NegativeSampler:
    """Random or hard negatives for (employee, chosen post) pairs; hard ones come from a periodically refreshed cache."""

    def __init__(self, n_posts: int, chosen: np.ndarray, *, cache_size: int, hard_ratio: float, seed: int):
        self.n_posts, self.cache_size, self.hard_ratio = n_posts, cache_size, hard_ratio
        self.never_chosen = np.ones((int(chosen[:, 0].max()) + 1, n_posts), dtype=bool)
        self.never_chosen[chosen[:, 0], chosen[:, 1]] = False
        self.rng = np.random.default_rng(seed)
        self.cache: np.ndarray | None = None

    def random(self, chosen: np.ndarray) -> np.ndarray:
        """A uniformly random post other than the chosen one, per pair."""
        draw = self.rng.integers(0, self.n_posts - 1, chosen.size)
        return draw + (draw >= chosen)

    def refresh(self, scores: np.ndarray) -> None:
        """Cache, per employee, the ``cache_size`` highest-scored posts they never chose (``metrics.ranking.top_k``)."""
        masked = np.where(self.never_chosen, scores[: self.never_chosen.shape[0]], -np.inf)
        self.cache = top_k(masked, min(self.cache_size, self.n_posts - 1))

    def hard(self, employees: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(negatives, is_hard): ``hard_ratio`` of pairs take a cached hard negative, the rest a random one."""
        cached = self.cache[employees, self.rng.integers(0, self.cache.shape[1], employees.size)]
        use_hard = (self.rng.random(employees.size) < self.hard_ratio) & self.never_chosen[employees, cached]
        return np.where(use_hard, cached, self.random(chosen)), use_hard

    def mix(self, pairs: np.ndarray, *, hard: bool, observed_share: float) -> tuple[np.ndarray, np.ndarray]:
        """(negatives, is_hard) for (employee, chosen, rejected) ``pairs``: the observed rejected post with
        probability ``observed_share``, otherwise a hard-or-random negative (``hard``) or a random one."""
        employees, chosen, rejected = pairs[:, 0], pairs[:, 1], pairs[:, 2]
        observed = self.rng.random(employees.size) < observed_share
        negatives, is_hard = self.hard(employees, chosen) if hard else (self.random(chosen), np.zeros(chosen.size, bool))
        return np.where(observed, rejected, negatives), is_hard & ~observed
