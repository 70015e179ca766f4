"""Leave-last-out sequences: order by time, training windows, evaluation inputs and time features."""

import numpy as np
import pandas as pd
import pytest

from expbook.data.movielens import Interactions
from expbook.data.sequences import build_sequences


def _interactions(rows):
    events = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return Interactions(events, pd.DataFrame(), "hand-made")


HAND = [  # user 1: time order differs from file order; user 2 has five events
    (1, 10, 4.0, 1_000_000), (1, 30, 4.0, 1_003_600), (1, 20, 3.0, 1_000_600), (1, 40, 5.0, 1_090_000),
    (1, 50, 2.0, 1_200_000),
    (2, 20, 4.0, 2_000_000), (2, 30, 4.0, 2_000_100), (2, 60, 4.0, 2_000_200), (2, 10, 4.0, 2_000_300),
    (2, 40, 4.0, 2_000_400)]


def test_leave_last_out_is_by_time_with_windows_and_time_features():
    data = build_sequences(_interactions(HAND), max_len=3)
    item = {original: encoded for encoded, original in enumerate(data.item_ids) if encoded}
    # user 1 in time order: 10, 20, 30, 40, 50 -> test 50, validation 40, training 10 20 30
    assert data.test_target[0] == item[50] and data.val_target[0] == item[40]
    assert data.val_input[0].tolist() == [item[10], item[20], item[30]]
    assert data.test_input[0].tolist() == [item[20], item[30], item[40]]
    # training windows predict the next training event: 10 -> 20, 20 -> 30 (left-padded)
    first = data.windows[0].tolist(), data.window_targets[0].tolist()
    assert first == ([0, item[10], item[20]], [0, item[20], item[30]])
    hour, weekday, log_delta = data.val_time[0, -1]
    assert hour == (1_003_600 // 3600) % 24 and weekday == 0  # 1970-01-12 was a Monday
    assert log_delta == pytest.approx(np.log1p(1_003_600 - 1_000_600))
    assert data.val_time[0, 0, 2] == 0.0  # a user's first event has no previous one


def test_held_out_events_leave_training_and_become_lists_of_their_own():
    data = build_sequences(_interactions(HAND), max_len=3, held_out=1)
    item = {original: encoded for encoded, original in enumerate(data.item_ids) if encoded}
    # user 1 in time order: 10, 20, 30, 40, 50 -> test 50, validation 40, held out 30, training 10 20
    assert data.windows[0].tolist() == [0, 0, item[10]] and data.window_targets[0].tolist() == [0, 0, item[20]]
    inputs, times, target, seen = data.list_input(2)
    assert target[0] == item[30] and inputs[0].tolist() == [0, item[10], item[20]]
    assert set(zip(*seen)) >= {(0, item[10]), (0, item[20])} and (0, item[30]) not in set(zip(*seen))
    # the held-out event stays history: it is in the validation input and seen before validation
    assert data.val_input[0].tolist() == [item[10], item[20], item[30]]
    assert (0, item[30]) in set(zip(*data.seen_before_val))
    validation = data.list_input(1)
    assert np.array_equal(validation[0], data.val_input) and np.array_equal(validation[2], data.val_target)
    assert np.array_equal(validation[1], data.val_time)
