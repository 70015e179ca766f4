"""Most popular and item-to-item transitions against brute force; smoothing chosen on validation."""

import numpy as np
import pandas as pd
import pytest

from expbook.data.movielens import Interactions
from expbook.data.sequences import build_sequences
from expbook.models import sasrec


def _interactions(rows):
    events = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return Interactions(events, pd.DataFrame(), "hand-made")


REFERENCE_ROWS = [  # three users whose timelines interleave; times in seconds
    (1, 10, 4.0, 100), (1, 20, 4.0, 200), (1, 30, 4.0, 300), (1, 20, 4.0, 400), (1, 40, 4.0, 500),
    (2, 20, 4.0, 150), (2, 30, 4.0, 250), (2, 10, 4.0, 350), (2, 20, 4.0, 450), (2, 30, 4.0, 460), (2, 50, 4.0, 600),
    (3, 30, 4.0, 50), (3, 20, 4.0, 120), (3, 30, 4.0, 130), (3, 40, 4.0, 420), (3, 50, 4.0, 430)]


def _brute_force_reference(rows, split, smoothing):
    """Loops over events: popularity strictly before each user's held-out event, and training transitions."""
    by_user = {}
    for user, item, _, t in sorted(rows, key=lambda r: (r[0], r[3])):
        by_user.setdefault(user, []).append((item, t))
    held = {"val": -2, "test": -1}[split]
    popular, transitions = {}, {}
    for user, events in by_user.items():
        cutoff = events[held][1]
        popular[user] = {i: sum(1 for e in rows if e[1] == i and e[3] < cutoff) for i in {r[1] for r in rows}}
        training = [item for item, _ in events[:-2]]
        for a, b in zip(training, training[1:]):
            transitions[a, b] = transitions.get((a, b), 0) + 1
    scores = {}
    for user, events in by_user.items():
        last = events[held - 1][0]
        total = sum(popular[user].values())
        scores[user] = {i: transitions.get((last, i), 0) + smoothing * popular[user][i] / total for i in popular[user]}
    return popular, scores


@pytest.mark.parametrize("split", ["val", "test"])
def test_reference_rows_match_a_brute_force_implementation(split):
    from expbook.models import seq_reference

    data = build_sequences(_interactions(REFERENCE_ROWS), max_len=4)
    popular, transition = _brute_force_reference(REFERENCE_ROWS, split, smoothing=2.0)
    got_popular = seq_reference.most_popular_scores(data, split)
    got_transition = seq_reference.transition_scores(data, split, smoothing=2.0)
    for encoded_user, user in enumerate(sorted(popular)):
        for encoded_item, item in enumerate(data.item_ids[1:], start=1):
            assert got_popular[encoded_user, encoded_item] == popular[user][item]
            assert got_transition[encoded_user, encoded_item] == pytest.approx(transition[user][item])
    assert np.isneginf(got_popular[:, 0]).all() and np.isneginf(got_transition[:, 0]).all()


def test_smoothing_is_chosen_on_validation_only():
    from expbook.models import seq_reference

    data = build_sequences(_interactions(REFERENCE_ROWS), max_len=4)
    seen = []

    def evaluate(scores, split):
        seen.append(split)
        return sasrec.rank_scores(scores, data, split, exclude_seen=True)[0]

    chosen, scores = seq_reference.choose_smoothing(data, [0.5, 5.0, 50.0], evaluate)
    assert set(seen) == {"val"} and chosen in scores and scores[chosen] == max(scores.values())
