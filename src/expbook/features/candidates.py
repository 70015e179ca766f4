"""Cross features of (user, candidate item) pairs for re-ranking a sequential recommender's candidates.

Everything a feature counts is known at the user's cutoff: the events a user's input covers (``from_end >=
before``); popularity and recency use only events at or before the user's last input event, so no feature sees
the future of that user's timeline.
"""

from __future__ import annotations

import numpy as np

from expbook.data.sequences import SequenceData

RANKER_FEATURES = ("transformer_score", "transformer_rank", "log_popularity", "log_days_since_item_seen",
                   "genre_affinity", "log_user_history")


def candidate_features(data: SequenceData, candidates: np.ndarray, scores: np.ndarray, *, before: int) -> np.ndarray:
    """(users, n, features) cross features from the events a user's input covers (``from_end >= before``).

    Popularity and recency count only events at or before the user's last input event, so no feature
    sees the future of that user's timeline.
    """
    events = data.events
    history = events[events["from_end"] >= before]
    cutoff = history.groupby("user")["timestamp"].max().reindex(range(data.n_users)).to_numpy()
    users, n = candidates.shape
    item = candidates.ravel()
    when = np.repeat(cutoff, n)
    ordered = history.sort_values(["item", "timestamp"])
    keys = ordered["item"].to_numpy() * 10**10 + ordered["timestamp"].to_numpy()
    position = np.searchsorted(keys, item * 10**10 + when, side="right")  # events of this item up to the cutoff
    segment_start = np.searchsorted(keys, item * 10**10, side="left")
    count = position - segment_start
    last_seen = np.where(count > 0, ordered["timestamp"].to_numpy()[np.maximum(position - 1, 0)], np.nan)
    days = np.where(count > 0, (when - last_seen) / 86_400, 10_000.0)
    profile = np.zeros((data.n_users, data.genres.shape[1]), dtype=np.float64)
    np.add.at(profile, history["user"].to_numpy(), data.genres[history["item"].to_numpy()])
    item_genres = data.genres[item]
    norms = np.linalg.norm(np.repeat(profile, n, axis=0), axis=1) * np.linalg.norm(item_genres, axis=1)
    affinity = np.where(norms > 0, (np.repeat(profile, n, axis=0) * item_genres).sum(axis=1) / np.maximum(norms, 1e-12), 0)
    user_history = np.repeat(np.bincount(history["user"].to_numpy(), minlength=data.n_users), n)
    features = np.column_stack([scores.ravel(), np.tile(np.arange(n), users), np.log1p(count), np.log1p(days),
                                affinity, np.log1p(user_history)])
    return features.reshape(users, n, len(RANKER_FEATURES)).astype(np.float32)
