"""Reference rankings for next-item prediction, with no training: most popular, and item-to-item transitions.

Both score every item for every user at the moment of a held-out event (``split`` "val" or "test") and see
only what was known then:

* **most popular** — how often each item occurred in *any* user's events strictly before the user's held-out
  event;
* **item-to-item transitions** — how often the user's last input item was followed by each item in the
  training histories (consecutive training events of one user), plus ``smoothing`` × that user's popularity
  share of the item: the back-off that orders items never seen after the last item, and the prior that a
  count of one must beat. ``choose_smoothing`` picks it on validation.

Scores are (users, n_items + 1) with column 0 (padding) at −inf, ranked like the transformer's scores.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import sparse

from expbook.data.sequences import SequenceData

Split = Literal["val", "test"]
HELD_OUT = {"val": 1, "test": 0}  # ``from_end`` of the held-out event


def popularity_before(data: SequenceData, split: Split) -> np.ndarray:
    """(users, n_items + 1) counts of each item among all events strictly before each user's held-out event.

    Events are sorted by time once; users are sorted by their cutoff, every event is added to the row of the
    first user whose cutoff it precedes, and a cumulative sum over those rows gives each user's counts.
    """
    events = data.events
    order = np.argsort(events["timestamp"].to_numpy(), kind="stable")
    times, items = events["timestamp"].to_numpy()[order], events["item"].to_numpy()[order]
    held = events[events["from_end"] == HELD_OUT[split]]
    cutoff_time = np.zeros(data.n_users, dtype=np.int64)
    cutoff_time[held["user"].to_numpy()] = held["timestamp"].to_numpy()
    cutoff = np.searchsorted(times, cutoff_time, side="left")  # events [0, cutoff) are strictly earlier
    by_cutoff = np.argsort(cutoff, kind="stable")
    row = np.searchsorted(cutoff[by_cutoff], np.arange(times.size), side="right")
    kept = row < data.n_users
    width = data.n_items + 1
    added = np.bincount(row[kept] * width + items[kept], minlength=data.n_users * width).reshape(data.n_users, width)
    counts = np.empty_like(added)
    counts[by_cutoff] = np.cumsum(added, axis=0)
    return counts.astype(np.float64)


def _with_padding_excluded(scores: np.ndarray) -> np.ndarray:
    scores[:, 0] = -np.inf
    return scores


def most_popular_scores(data: SequenceData, split: Split) -> np.ndarray:
    return _with_padding_excluded(popularity_before(data, split))


def transition_counts(data: SequenceData) -> sparse.csr_matrix:
    """(n_items + 1)² counts of item a followed by item b in one user's training history: the transitions the
    transformer trains on (the events held out for the re-ranker are not among them)."""
    events = data.events  # sorted by user and time
    user, item, from_end = (events[c].to_numpy() for c in ("user", "item", "from_end"))
    pair = (user[1:] == user[:-1]) & (from_end[1:] >= 2 + data.held_out)  # the next event: a training target
    width = data.n_items + 1
    return sparse.csr_matrix((np.ones(pair.sum()), (item[:-1][pair], item[1:][pair])), shape=(width, width))


def last_input_item(data: SequenceData, split: Split) -> np.ndarray:
    return (data.val_input if split == "val" else data.test_input)[:, -1]


def transition_scores(data: SequenceData, split: Split, *, smoothing: float,
                      counts: sparse.csr_matrix | None = None) -> np.ndarray:
    """Count of last item → item, plus ``smoothing`` × the item's share of the user's popularity counts."""
    counts = transition_counts(data) if counts is None else counts
    following = counts[last_input_item(data, split)].toarray()
    popularity = popularity_before(data, split)
    share = popularity / np.maximum(popularity.sum(axis=1, keepdims=True), 1.0)
    return _with_padding_excluded(following + smoothing * share)


def choose_smoothing(data: SequenceData, grid: list[float], evaluate) -> tuple[float, dict[float, float]]:
    """The ``smoothing`` of ``grid`` with the best validation NDCG@10; ``evaluate(scores, split)`` gives metrics.

    Returns (chosen, {smoothing: validation NDCG@10}); ties go to the first of ``grid``.
    """
    counts = transition_counts(data)
    scores = {s: evaluate(transition_scores(data, "val", smoothing=s, counts=counts), "val")["ndcg@10"] for s in grid}
    return max(grid, key=lambda s: (scores[s], -grid.index(s))), scores
