"""Leave-last-out sequences for sequential recommendation, built without Python loops over events.

Each user's events are ordered by time (ties: file order). The last event is the test target, the
second-to-last the validation target, the rest the training sequence. With ``held_out`` = k, the k events before
the validation target are held out of training as well: they are targets of extra lists (the re-ranker learns from
them, scored by a transformer that never trained on them), while staying in every later input as history. Training windows: every
training event predicts the next training event; a user's inputs are cut into windows of
``max_len`` from the end (left-padded with item 0), at most ``max_windows`` per user. Evaluation inputs are the last ``max_len``
events before the target. Time features per input event: hour of day, weekday (Monday = 0) and
``log1p`` of the seconds since the user's previous event (0 for the first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from expbook.data.movielens import Interactions
from expbook.errors import DataError

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class SequenceData:
    n_items: int  # encoded items are 1..n_items; 0 is padding
    item_ids: np.ndarray  # original id of encoded item i at position i (position 0: padding)
    windows: np.ndarray  # (W, L) input items
    window_targets: np.ndarray  # (W, L) next item (0 = no target)
    window_time: np.ndarray  # (W, L, 3) hour, weekday, log time delta
    val_input: np.ndarray  # (U, L)
    val_time: np.ndarray
    val_target: np.ndarray  # (U,)
    test_input: np.ndarray
    test_time: np.ndarray
    test_target: np.ndarray
    seen_before_val: tuple[np.ndarray, np.ndarray]  # (user, item) pairs of the events before the validation target
    seen_before_test: tuple[np.ndarray, np.ndarray]  # training + validation events
    events: pd.DataFrame  # user, item (encoded), timestamp, from_end (0 test, 1 val, 2 … 1 + held_out held out, then train)
    genres: np.ndarray  # (n_items + 1, G) multi-hot, G may be 0
    held_out: int = 0  # events before the validation target held out of training (from_end 2 … 1 + held_out)

    def list_input(self, from_end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """(inputs, times, targets, seen (user, item) pairs) of the list whose target is each user's event at
        ``from_end`` (1: validation, 0: test, 2 … 1 + held_out: the held-out lists); target 0 where a user has none."""
        e = self.events
        user, item, end = e["user"].to_numpy(), e["item"].to_numpy(), e["from_end"].to_numpy()
        inputs, input_times = _inputs(user, item, end, _event_times(e), from_end + 1, self.windows.shape[1], self.n_users)
        target = np.zeros(self.n_users, dtype=np.int64)
        target[user[end == from_end]] = item[end == from_end]
        return inputs, input_times, target, (user[end > from_end], item[end > from_end])

    @property
    def n_users(self) -> int:
        return int(self.val_target.size)


def _place(rows: np.ndarray, from_end: np.ndarray, length: int, values: np.ndarray, n_rows: int) -> np.ndarray:
    """Dense (n_rows, length, …) array with ``values`` at slot ``length - 1 - from_end`` of ``rows``; zeros elsewhere."""
    out = np.zeros((n_rows, length, *values.shape[1:]), dtype=values.dtype)
    out[rows, length - 1 - from_end] = values
    return out


def _inputs(user: np.ndarray, item: np.ndarray, from_end: np.ndarray, time: np.ndarray, before: int, length: int,
            n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_users, length) left-padded items and (…, 3) times of each user's last ``length`` events with
    ``from_end >= before``: the input of the list whose target is the event at ``before - 1``."""
    rows = (from_end >= before) & (from_end - before < length)
    slot = from_end[rows] - before
    return _place(user[rows], slot, length, item[rows], n_users), _place(user[rows], slot, length, time[rows], n_users)


def _event_times(events: pd.DataFrame) -> np.ndarray:
    """(events, 3) hour of day, weekday (Monday = 0) and log1p seconds since the user's previous event (0 first)."""
    ts, user = events["timestamp"].to_numpy(dtype=np.int64), events["user"].to_numpy()
    first = np.r_[True, user[1:] != user[:-1]]
    delta = np.where(first, 0, np.diff(ts, prepend=ts[0]))
    return np.column_stack([(ts // 3600) % 24, (ts // SECONDS_PER_DAY + 3) % 7,
                            np.log1p(np.maximum(delta, 0))]).astype(np.float32)


def build_sequences(interactions: Interactions, *, max_len: int, max_users: int | None = None,
                    max_windows: int | None = None, min_events: int = 5, held_out: int = 0) -> SequenceData:
    """Encode ids, split leave-last-out by time and lay out training windows and evaluation inputs."""
    events = interactions.events.copy()
    events["order"] = np.arange(len(events))
    events = events.sort_values(["user", "timestamp", "order"], kind="stable")
    counts = events.groupby("user")["item"].transform("size")
    events = events[counts >= min_events]
    if max_users is not None:
        events = events[events["user"].isin(np.sort(events["user"].unique())[:max_users])]
    if events.empty:
        raise DataError(f"{interactions.source}: no user has {min_events} or more events")
    user_index, _ = pd.factorize(events["user"], sort=True)
    item_index, item_ids = pd.factorize(events["item"], sort=True)
    ts = events["timestamp"].to_numpy(dtype=np.int64)
    user = user_index.astype(np.int64)
    item = item_index.astype(np.int64) + 1
    from_end = events.groupby("user").cumcount(ascending=False).to_numpy()
    time = _event_times(pd.DataFrame({"user": user, "timestamp": ts}))
    n_users = int(user.max()) + 1

    # training inputs: events with a next *training* event (from_end >= 3 + held_out); target = the next event's
    # item; with max_windows, only each user's most recent max_windows × max_len of them
    last_input = 3 + held_out
    is_input = (from_end >= last_input) & ((from_end - last_input) < (max_windows or np.inf) * max_len)
    next_item = np.r_[item[1:], 0]
    k = from_end[is_input] - last_input  # 0 = the last training input of the user
    inputs_per_user = np.bincount(user[is_input], minlength=n_users)
    windows_per_user = -(-inputs_per_user // max_len)
    window_offset = np.r_[0, np.cumsum(windows_per_user)[:-1]]
    window = window_offset[user[is_input]] + k // max_len
    n_windows = int(windows_per_user.sum())
    slot_from_end = k % max_len
    windows = _place(window, slot_from_end, max_len, item[is_input], n_windows)
    window_targets = _place(window, slot_from_end, max_len, next_item[is_input], n_windows)
    window_time = _place(window, slot_from_end, max_len, time[is_input], n_windows)

    val_input, val_time = _inputs(user, item, from_end, time, 2, max_len, n_users)
    test_input, test_time = _inputs(user, item, from_end, time, 1, max_len, n_users)
    val_target = np.zeros(n_users, dtype=np.int64)
    test_target = np.zeros(n_users, dtype=np.int64)
    val_target[user[from_end == 1]] = item[from_end == 1]
    test_target[user[from_end == 0]] = item[from_end == 0]
    genres = np.zeros((item_ids.size + 1, interactions.genres.shape[1]), dtype=np.float32)
    if interactions.genres.shape[1]:
        known = interactions.genres.reindex(item_ids).fillna(0).to_numpy(dtype=np.float32)
        genres[1:] = known
    return SequenceData(
        n_items=int(item_ids.size), item_ids=np.r_[0, item_ids.to_numpy()], windows=windows,
        window_targets=window_targets, window_time=window_time, val_input=val_input, val_time=val_time,
        val_target=val_target, test_input=test_input, test_time=test_time, test_target=test_target,
        seen_before_val=(user[from_end >= 2], item[from_end >= 2]),
        seen_before_test=(user[from_end >= 1], item[from_end >= 1]),
        events=pd.DataFrame({"user": user, "item": item, "timestamp": ts, "from_end": from_end}), genres=genres,
        held_out=held_out)
