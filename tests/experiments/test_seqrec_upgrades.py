"""Sequential recommender: full-ranking metrics against brute force, seen-item exclusion, leave-last-out,
MovieLens layouts, re-rank features without the future, and step verdicts that follow the data."""

import socket

import numpy as np
import pandas as pd
import pytest

from expbook.data.movielens import Interactions, check_folder, load_movielens, load_packaged_movielens
from expbook.data.sequences import build_sequences
from expbook.errors import DataError
from expbook.experiments import seqrec_upgrades as seqrec
from expbook.metrics.ranking import full_ranking_ranks, hit_ndcg_recall
from expbook.models import sasrec
from expbook.models.sasrec import SeqConfig, train_sasrec


def _brute_force(scores, targets, k=10, recall_k=50):
    hits, ndcgs, recalls = [], [], []
    for row, target in zip(scores, targets):
        # position of the target when items are sorted by score, ties broken by item index
        order = sorted(range(len(row)), key=lambda i: (-row[i], i))
        rank = order.index(target)
        hits.append(rank < k)
        ndcgs.append(1 / np.log2(rank + 2) if rank < k else 0.0)
        recalls.append(rank < recall_k)
    return {f"hr@{k}": np.mean(hits), f"ndcg@{k}": np.mean(ndcgs), f"recall@{recall_k}": np.mean(recalls)}


def test_full_ranking_metrics_match_a_brute_force_reference():
    scores = np.array([[0.9, 0.5, 0.5, 0.5, 0.3, 0.0],   # target 2 ties with items 1 and 3; item 1 goes first
                       [0.2, 0.8, 0.7, 0.6, 0.5, 0.4],   # target 5: four items above, rank 4
                       [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]])  # target 5: rank 0
    targets = np.array([2, 5, 5])
    assert full_ranking_ranks(scores, targets).tolist() == [2, 4, 0]
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
            runs.append(seqrec.RungRun(rung, seed, {**hit_ndcg_recall(noisy), "val_ndcg@10": 0.1 + (rung != "baseline")
                                                    * effect}, noisy, None))
    return runs, base_ranks


def _references(popular_ranks, transition_ranks):
    ranks = {seqrec.MOST_POPULAR: popular_ranks, seqrec.TRANSITIONS: transition_ranks}
    return seqrec.References({name: hit_ndcg_recall(r) for name, r in ranks.items()}, ranks, 1.0, {1.0: 0.0})


def _verdicts(effect: float, *, popular_shift: int, transition_shift: int):
    runs, base_ranks = _runs(effect)
    references = _references(np.maximum(base_ranks + popular_shift, 0), np.maximum(base_ranks + transition_shift, 0))
    table = seqrec.ladder_table(runs, ["baseline", "+ step"], references)
    sanity = seqrec.sanity_verdict(runs, references, alpha=0.05)
    steps = seqrec.step_verdicts(table, sanity, alpha=0.05)
    best = seqrec.best_by_validation(runs, ["baseline", "+ step"])
    reference = seqrec.reference_verdict(runs, references, best, alpha=0.05)
    return sanity, steps[0], reference, seqrec.headline(table, sanity, steps, reference, best)


def test_step_verdict_follows_the_data_once_the_baseline_beats_most_popular():
    states = {effect: _verdicts(effect, popular_shift=10, transition_shift=0)[1].state for effect in (1.0, 0.0, -1.0)}
    assert states == {1.0: "holds", 0.0: "inconclusive", -1.0: "does not hold"}
    sanity, _, _, headline = _verdicts(1.0, popular_shift=10, transition_shift=0)
    assert sanity.state == "holds" and "significant gains come from step" in headline


def test_a_baseline_no_better_than_most_popular_makes_every_step_inconclusive():
    sanity, step, _, headline = _verdicts(1.0, popular_shift=0, transition_shift=0)
    assert sanity.state == "inconclusive" and step.state == "inconclusive" and "cannot be read" in headline
    sanity, step, _, _ = _verdicts(1.0, popular_shift=-10, transition_shift=0)
    assert sanity.state == "does not hold" and step.state == "inconclusive"


def test_the_transition_verdict_follows_the_data():
    beaten = _verdicts(1.0, popular_shift=10, transition_shift=10)[2]
    winning = _verdicts(-1.0, popular_shift=10, transition_shift=-10)[2]
    assert beaten.state == "holds" and winning.state == "does not hold"
    assert "'step'" in beaten.question and "'baseline'" in winning.question  # chosen by validation NDCG@10


def test_the_popularity_sentence_names_the_rungs_that_do_not_beat_most_popular():
    runs, base_ranks = _runs(1.0)
    order = ["baseline", "+ step"]
    far_below = _references(base_ranks + 10, base_ranks)
    assert seqrec.popularity_sentence(seqrec.reference_table(runs, order, far_below), 0.05) == (
        "Every rung beats most popular (paired p < 0.05).")
    level = _references(base_ranks, base_ranks)  # the baseline ties most popular, the step beats it
    assert seqrec.popularity_sentence(seqrec.reference_table(runs, order, level), 0.05) == (
        "1 of 2 rungs does not beat most popular at paired p < 0.05: baseline.")


def test_step_p_values_are_holm_adjusted():
    runs, base_ranks = _runs(0.3)
    runs += [replace_rung(r, "+ other") for r in runs if r.rung == "+ step"]
    table = seqrec.ladder_table(runs, ["baseline", "+ step", "+ other"], _references(base_ranks, base_ranks))
    raw, adjusted = table["p (users)"].dropna().to_numpy(), table["p (Holm)"].dropna().to_numpy()
    from expbook.metrics.seeds import holm

    assert adjusted == pytest.approx(holm(raw)) and (adjusted >= raw).all()


def replace_rung(run, name):
    return seqrec.RungRun(name, run.seed, run.metrics, np.roll(run.ranks, 1), None)


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
                   {"loss": "infonce_in_batch"}, {"loss": "full_softmax"}):
        other = train_sasrec(data, SeqConfig(**{**base.__dict__, **switch}))
        assert other.curves["train_loss"].tolist() != first.curves["train_loss"].tolist(), switch
    lr = train_sasrec(data, SeqConfig(**{**base.__dict__, "lr_schedule": "warmup_cosine", "epochs": 6})).curves["lr"]
    assert lr.iloc[-1] < lr.max() and lr.iloc[0] <= lr.max()
    stopped = train_sasrec(data, SeqConfig(**{**base.__dict__, "early_stopping": True, "patience": 1, "epochs": 30}))
    assert len(stopped.curves) < 30 and stopped.best_epoch == int(stopped.curves["val_ndcg@10"].idxmax()) + 1


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


@pytest.mark.parametrize("switches", [{}, {"norm_first": True, "time_features": True}])
def test_more_left_padding_leaves_the_real_positions_unchanged(switches):
    import torch

    torch.manual_seed(0)
    model = sasrec.SASRec(20, 12, SeqConfig(dim=8, heads=2, layers=2, **switches)).eval()
    real = torch.tensor([[5, 3, 17, 9]])
    times = torch.rand(1, 4, 3) * torch.tensor([23.0, 6.0, 5.0])
    outputs = []
    for padding in (0, 3, 8):
        items = torch.cat([torch.zeros(1, padding, dtype=torch.long), real], dim=1)
        padded_times = torch.cat([torch.zeros(1, padding, 3), times], dim=1)
        with torch.no_grad():
            outputs.append(model(items, padded_times)[:, padding:])
    assert not torch.isnan(outputs[-1]).any()
    for other in outputs[1:]:
        torch.testing.assert_close(other, outputs[0], rtol=1e-5, atol=1e-5)


def test_chunked_full_softmax_matches_torch_cross_entropy():
    import torch
    from torch.nn import functional as F

    generator = torch.Generator().manual_seed(0)
    h = torch.randn(600, 8, generator=generator, requires_grad=True)  # more positions than one chunk
    items = torch.randn(50, 8, generator=generator, requires_grad=True)
    target = torch.randint(1, 50, (600,), generator=generator)
    logits = h @ items.T
    expected = F.cross_entropy(torch.cat([torch.full((600, 1), -torch.inf), logits[:, 1:]], dim=1), target)
    expected_grads = torch.autograd.grad(expected, (h, items))
    got = sasrec.FullSoftmaxCrossEntropy.apply(h, items, target)
    got_grads = torch.autograd.grad(got, (h, items))
    torch.testing.assert_close(got, expected)
    for mine, theirs in zip(got_grads, expected_grads):
        torch.testing.assert_close(mine, theirs)
    assert (got_grads[1][0] == 0).all()  # padding never gets a gradient


def test_time_features_start_no_larger_than_the_item_embeddings():
    """A year-long gap must not drown the item at initialisation (unscaled, it once cost half the NDCG)."""
    import math

    import torch

    torch.manual_seed(0)
    model = sasrec.SASRec(50, 8, SeqConfig(dim=16, time_features=True))
    items = torch.randint(1, 51, (4, 8))
    times = torch.tensor([23.0, 6.0, math.log1p(365 * 86_400)]).expand(4, 8, 3)
    item_part = model.item(items) * math.sqrt(16)
    time_part = (model.hour(times[..., 0].long()) + model.weekday(times[..., 1].long())
                 + model.delta(times[..., 2:3] / sasrec.LOG_DELTA_SCALE))
    assert time_part.norm(dim=-1).mean() < item_part.norm(dim=-1).mean()


def test_permuting_the_test_targets_leaves_every_choice_unchanged():
    """Epochs kept, the rung chosen for re-ranking and the transition smoothing all come from validation."""
    from dataclasses import replace as replace_field

    from expbook.models import seq_reference

    data = _tiny_data()
    shuffled = replace_field(data, test_target=np.random.default_rng(0).permutation(data.test_target))
    assert not np.array_equal(shuffled.test_target, data.test_target)

    def choices(d):
        rungs = {"a": SeqConfig(epochs=4, dim=8, heads=1, layers=1, batch_size=8, early_stopping=True, patience=1),
                 "b": SeqConfig(epochs=4, dim=8, heads=1, layers=1, batch_size=8, early_stopping=True, patience=1,
                                loss="full_softmax")}
        runs = seqrec.run_ladder(d, rungs, [0])
        smoothing = seq_reference.choose_smoothing(
            d, [0.5, 5.0, 500.0], lambda scores, split: sasrec.rank_scores(scores, d, split, exclude_seen=True)[0])
        return [r.metrics["best_epoch"] for r in runs], seqrec.best_by_validation(runs, list(rungs)), smoothing

    assert choices(shuffled) == choices(data)
