"""Re-rank candidate features see nothing after the user's cutoff."""

import numpy as np
import pandas as pd

from expbook.data.movielens import Interactions
from expbook.data.sequences import build_sequences
from expbook.features.candidates import RANKER_FEATURES, candidate_features


def _interactions(rows):
    events = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return Interactions(events, pd.DataFrame(), "hand-made")


def test_rerank_features_count_only_events_up_to_the_users_cutoff():
    rows = [(1, 10, 4.0, 100), (1, 20, 4.0, 200), (1, 30, 4.0, 300), (1, 40, 4.0, 400), (1, 50, 4.0, 500),
            (2, 70, 4.0, 50), (2, 60, 4.0, 250), (2, 60, 4.0, 260), (2, 80, 4.0, 270), (2, 90, 4.0, 9_000_000)]
    data = build_sequences(_interactions(rows), max_len=4)
    item = {original: encoded for encoded, original in enumerate(data.item_ids) if encoded}
    candidates = np.array([[item[60], item[90]], [item[60], item[90]]])
    features = candidate_features(data, candidates, np.zeros((2, 2)), before=2)
    popularity = np.expm1(features[..., RANKER_FEATURES.index("log_popularity")])
    # user 1's last validation-input event is at t=300: item 60 seen twice before, item 90 (t=9e6) not yet
    assert popularity[0].round().tolist() == [2, 0]
