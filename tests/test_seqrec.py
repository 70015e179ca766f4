"""Sequential recommender: full-ranking metrics against brute force, seen-item exclusion, leave-last-out,
MovieLens layouts, re-rank features without the future, and step verdicts that follow the data."""

import socket

import numpy as np
import pandas as pd
import pytest

from expbook.data.movielens import Interactions, check_folder, load_movielens, load_packaged_movielens
from expbook.data.sequences import build_sequences
from expbook.errors import DataError
from expbook.experiments import seqrec
from expbook.metrics.ranking import full_ranking_ranks, hit_ndcg_recall
from expbook.models import sasrec
from expbook.models.sasrec import SeqConfig, train_sasrec


def _brute_force(scores, targets, k=10, recall_k=50):
    hits, ndcgs, recalls = [], [], []
    for row, target in zip(scores, targets):
        # position of the target when items are sorted by score, ties broken in the target's favour
        order = sorted(range(len(row)), key=lambda i: (-row[i], i != target))
        rank = order.index(target)
        hits.append(rank < k)
        ndcgs.append(1 / np.log2(rank + 2) if rank < k else 0.0)
        recalls.append(rank < recall_k)
    return {f"hr@{k}": np.mean(hits), f"ndcg@{k}": np.mean(ndcgs), f"recall@{recall_k}": np.mean(recalls)}


def test_full_ranking_metrics_match_a_brute_force_reference():
    scores = np.array([[0.9, 0.1, 0.5, 0.5, 0.3, 0.0],   # target 2 ties with item 3: rank 1
                       [0.2, 0.8, 0.7, 0.6, 0.5, 0.4],   # target 5: four items above, rank 4
                       [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]])  # target 5: rank 0
    targets = np.array([2, 5, 5])
    assert full_ranking_ranks(scores, targets).tolist() == [1, 4, 0]
    for k, recall_k in ((1, 2), (2, 6), (6, 6)):
        got = hit_ndcg_recall(full_ranking_ranks(scores, targets), k=k, recall_k=recall_k)
        assert got == pytest.approx(_brute_force(scores, targets, k, recall_k))
    rng = np.random.default_rng(0)
    scores, targets = rng.integers(0, 5, (40, 30)).astype(float), rng.integers(0, 30, 40)
    assert hit_ndcg_recall(full_ranking_ranks(scores, targets), k=10, recall_k=20) == pytest.approx(
        _brute_force(scores, targets, 10, 20))


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


def test_exclusion_of_seen_items_applies_only_when_asked(monkeypatch):
    data = build_sequences(_interactions(HAND), max_len=3)
    scores = np.zeros((2, data.n_items + 1))
    scores[:, 0] = -np.inf
    seen_item = data.test_input[0, -1]
    scores[0, seen_item] = 5.0  # a seen item outranks user 1's target
    scores[0, data.test_target[0]] = 1.0
    scores[1, data.test_target[1]] = 1.0
    monkeypatch.setattr(sasrec, "score_users", lambda model, items, times: scores.copy())
    kept = sasrec.evaluate(None, data, "test", exclude_seen=False)[1]
    excluded = sasrec.evaluate(None, data, "test", exclude_seen=True)[1]
    assert kept.tolist() == [1, 0] and excluded.tolist() == [0, 0]


def test_ratings_file_without_timestamp_names_the_file_and_column(tmp_path):
    pd.DataFrame({"userId": [1], "movieId": [2], "rating": [4.0]}).to_csv(tmp_path / "ratings.csv", index=False)
    with pytest.raises(DataError, match=r"ratings\.csv: column 'timestamp' is missing"):
        check_folder(tmp_path)


def test_u_data_layout_and_its_missing_timestamp(tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t4\t881250949\n1\t20\t3\t881250950\n")
    events = load_movielens(tmp_path).events
    assert events.columns.tolist() == ["user", "item", "rating", "timestamp"] and len(events) == 2
    (tmp_path / "u.data").write_text("1\t10\t4\n")
    with pytest.raises(DataError, match=r"u\.data: column 'timestamp' is missing"):
        load_movielens(tmp_path)


def test_ratings_csv_with_movies_gives_genres(tmp_path):
    pd.DataFrame({"userId": [1, 1], "movieId": [2, 3], "rating": [4.0, 3.0], "timestamp": [1, 2]}).to_csv(
        tmp_path / "ratings.csv", index=False)
    pd.DataFrame({"movieId": [2, 3], "title": ["a", "b"], "genres": ["Comedy|Drama", "(no genres listed)"]}).to_csv(
        tmp_path / "movies.csv", index=False)
    genres = load_movielens(tmp_path).genres
    assert genres.columns.tolist() == ["Comedy", "Drama"] and genres.loc[3].sum() == 0


def test_packaged_movielens_needs_no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network use in a test that must not need it")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    interactions = load_packaged_movielens()
    events = interactions.events
    assert events["user"].nunique() == 671 and len(events) == 100_004 and interactions.genres.shape[1] >= 18


def test_rerank_features_count_only_events_up_to_the_users_cutoff():
    rows = [(1, 10, 4.0, 100), (1, 20, 4.0, 200), (1, 30, 4.0, 300), (1, 40, 4.0, 400), (1, 50, 4.0, 500),
            (2, 70, 4.0, 50), (2, 60, 4.0, 250), (2, 60, 4.0, 260), (2, 80, 4.0, 270), (2, 90, 4.0, 9_000_000)]
    data = build_sequences(_interactions(rows), max_len=4)
    item = {original: encoded for encoded, original in enumerate(data.item_ids) if encoded}
    candidates = np.array([[item[60], item[90]], [item[60], item[90]]])
    features = seqrec.candidate_features(data, candidates, np.zeros((2, 2)), before=2)
    popularity = np.expm1(features[..., seqrec.RANKER_FEATURES.index("log_popularity")])
    # user 1's last validation-input event is at t=300: item 60 seen twice before, item 90 (t=9e6) not yet
    assert popularity[0].round().tolist() == [2, 0]


def _runs(effect: float, users: int = 200, seeds=(0, 1, 2)):
    rng = np.random.default_rng(1)
    base_ranks = rng.integers(0, 30, users)
    runs = []
    for seed in seeds:
        for rung, ranks in (("baseline", base_ranks), ("+ step", np.maximum(base_ranks - round(effect * 5), 0)
                                                         if effect >= 0 else base_ranks + round(-effect * 5))):
            noisy = np.where(rng.random(users) < 0.1, rng.integers(0, 30, users), ranks)
            runs.append(seqrec.RungRun(rung, seed, hit_ndcg_recall(noisy), noisy, None))
    return runs


def test_step_verdict_follows_the_data():
    verdicts = {}
    for effect in (1.0, 0.0, -1.0):
        table = seqrec.ladder_table(_runs(effect), ["baseline", "+ step"], alpha=0.05)
        verdicts[effect] = table.loc["+ step", "verdict"]
        check = seqrec.step_verdicts(table, alpha=0.05)[0]
        assert check.state == {"improves": "holds", "hurts": "does not hold"}.get(verdicts[effect], "inconclusive")
    assert verdicts == {1.0: "improves", 0.0: "no significant change", -1.0: "hurts"}
    assert "significant gains from step" in seqrec.headline(seqrec.ladder_table(_runs(1.0), ["baseline", "+ step"],
                                                                                 alpha=0.05))
    assert "no step changes NDCG@10 significantly" in seqrec.headline(
        seqrec.ladder_table(_runs(0.0), ["baseline", "+ step"], alpha=0.05))


def _tiny_data():
    rng = np.random.default_rng(0)
    rows = [(u, int(i), 4.0, 1_000_000 + 3600 * t) for u in range(30) for t, i in enumerate(rng.integers(0, 40, 12))]
    return build_sequences(_interactions(rows), max_len=8)


def test_training_switches_change_the_path_and_training_is_deterministic():
    data = _tiny_data()
    base = SeqConfig(epochs=4, dim=8, heads=1, layers=1, batch_size=8)
    first, again = train_sasrec(data, base), train_sasrec(data, base)
    assert first.curves["train_loss"].tolist() == again.curves["train_loss"].tolist()
    for switch in ({"time_features": True}, {"norm_first": True}, {"lr_schedule": "warmup_cosine"},
                   {"loss": "infonce_in_batch"}):
        other = train_sasrec(data, SeqConfig(**{**base.__dict__, **switch}))
        assert other.curves["train_loss"].tolist() != first.curves["train_loss"].tolist(), switch
    lr = train_sasrec(data, SeqConfig(**{**base.__dict__, "lr_schedule": "warmup_cosine", "epochs": 6})).curves["lr"]
    assert lr.iloc[-1] < lr.max() and lr.iloc[0] <= lr.max()
    stopped = train_sasrec(data, SeqConfig(**{**base.__dict__, "early_stopping": True, "patience": 1, "epochs": 30}))
    assert len(stopped.curves) < 30 and stopped.best_epoch == int(stopped.curves["val_ndcg@10"].idxmax()) + 1
