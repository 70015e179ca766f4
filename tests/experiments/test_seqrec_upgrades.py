"""Sequential recommender: full-ranking metrics against brute force, seen-item exclusion, leave-last-out,
MovieLens layouts, re-rank features without the future, and step verdicts that follow the data."""


import numpy as np
import pandas as pd
import pytest

from expbook.data.movielens import Interactions
from expbook.data.sequences import build_sequences
from expbook.experiments import seqrec_upgrades as seqrec
from expbook.metrics.ranking import hit_ndcg_recall
from expbook.models import sasrec
from expbook.models.sasrec import SeqConfig


def _interactions(rows):
    events = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return Interactions(events, pd.DataFrame(), "hand-made")


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
    best = seqrec.best_by_validation(runs, ["baseline", "+ step"])
    checks = seqrec.ladder_verdicts(runs, table, references, best, alpha=0.05)
    assert [v.id for v in checks] == ["S0", "S1", "R1"] and [v.role for v in checks] == ["sanity check", "family",
                                                                                         "reference"]
    return checks[0], checks[1], checks[2], seqrec.headline(table, checks, best)


def test_step_verdict_follows_the_data_once_the_baseline_beats_most_popular():
    states = {effect: _verdicts(effect, popular_shift=10, transition_shift=0)[1].state for effect in (1.0, 0.0, -1.0)}
    assert states == {1.0: "holds", 0.0: "inconclusive", -1.0: "does not hold"}
    sanity, _, _, headline = _verdicts(1.0, popular_shift=10, transition_shift=0)
    assert sanity.state == "holds" and "significant gains come from step" in headline


def test_a_baseline_no_better_than_most_popular_makes_every_step_inconclusive():
    sanity, step, _, headline = _verdicts(1.0, popular_shift=0, transition_shift=0)
    assert sanity.state == "inconclusive" and step.state == "inconclusive" and "cannot be read" in headline
    assert "beat most popular first" in step.note and sanity.note.startswith(("about ", "cannot be settled on this data"))
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
    assert seqrec.popularity_sentence(seqrec.reference_table(runs, order, far_below, alpha=0.05), 0.05) == (
        "Every rung beats most popular on every seed (paired over users, p < 0.05).")
    level = _references(base_ranks, base_ranks)  # the baseline ties most popular, the step beats it
    assert seqrec.popularity_sentence(seqrec.reference_table(runs, order, level, alpha=0.05), 0.05) == (
        "1 of 2 rungs does not beat most popular on every seed (paired over users, p < 0.05): baseline.")


def test_step_p_values_are_holm_adjusted_and_the_references_are_not():
    runs, base_ranks = _runs(0.3)
    runs += [replace_rung(r, "+ other") for r in runs if r.rung == "+ step"]
    references = _references(base_ranks + 10, base_ranks)
    table = seqrec.ladder_table(runs, ["baseline", "+ step", "+ other"], references)
    checks = seqrec.ladder_verdicts(runs, table, references, "+ step", alpha=0.05)
    steps = seqrec.step_table(table, checks[1:-1])
    raw, adjusted = steps["p (seeds × users)"].to_numpy(dtype=float), steps["p (Holm)"].to_numpy(dtype=float)
    from expbook.metrics.estimates import holm

    assert adjusted == pytest.approx(holm(raw)) and (adjusted >= raw).all()
    assert checks[0].p_adjusted is None and checks[-1].p_adjusted is None


def replace_rung(run, name):
    return seqrec.RungRun(name, run.seed, run.metrics, np.roll(run.ranks, 1), None)


def _tiny_data():
    rng = np.random.default_rng(0)
    rows = [(u, int(i), 4.0, 1_000_000 + 3600 * t) for u in range(30) for t, i in enumerate(rng.integers(0, 40, 12))]
    return build_sequences(_interactions(rows), max_len=8)


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


def test_a_step_that_one_seeds_luck_made_is_not_settled():
    """Paired over users alone, a step with one lucky seed looks decided; over seeds × users it is not."""
    users = 300
    rng = np.random.default_rng(5)
    base = rng.integers(0, 40, users)
    runs = []
    for seed, gain in ((0, 12), (1, 0), (2, 0)):  # only seed 0's training lifted the step
        runs.append(seqrec.RungRun("baseline", seed, {"val_ndcg@10": 0.1}, base, None))
        runs.append(seqrec.RungRun("+ step", seed, {"val_ndcg@10": 0.1}, np.maximum(base - gain, 0), None))
    references = _references(base + 10, base)
    e = seqrec.user_difference(runs, references, "+ step", "baseline")
    averaged = seqrec.user_table(runs, references, "+ step").mean(0) - seqrec.user_table(runs, references, "baseline").mean(0)
    from expbook.metrics.estimates import TEstimate

    assert TEstimate.of(averaged, "users").p_value(0.0) < 0.001 and e.p_value(0.0) > 0.05
    assert e.sampling == "3 seeds × 300 users"
    assert seqrec.per_seed_wins(seqrec.user_differences(runs, references, "+ step", "baseline"), 0.05) == (1, 3)


def test_the_plateau_table_flags_a_rung_still_rising():
    from expbook.models.sasrec import TrainedSeqModel

    rng = np.random.default_rng(6)
    start = rng.integers(0, 30, 400)
    rising = np.stack([start, np.maximum(start - 3, 0), np.maximum(start - 8, 0)])  # ranks fall: NDCG rises
    flat = np.stack([start, start, start])
    runs = [seqrec.RungRun(name, 0, {}, start, TrainedSeqModel(None, pd.DataFrame({"val_ndcg@10": [0.1, 0.1, 0.1]}),
                                                               3, 1.0, ranks))
            for name, ranks in (("a", rising), ("b", flat), ("stopped", rising), ("capped", rising))]
    rungs = {"a": SeqConfig(epochs=3), "b": SeqConfig(epochs=3), "stopped": SeqConfig(early_stopping=True, epochs=30),
             "capped": SeqConfig(early_stopping=True, epochs=3)}  # patience never ran out: capped like a fixed rung
    table = seqrec.plateau_table(runs, rungs, alpha=0.05)
    assert table["state"].to_dict() == {("a", 0): "still rising", ("b", 0): "no significant gain over its last two epochs",
                                        ("capped", 0): "still rising"}


def test_an_early_stopped_twin_read_off_a_fixed_training_is_the_early_stopping_run():
    """One training gives the fixed-epoch rung and its early-stopped twin, exactly as training the twin alone."""
    data = _tiny_data()
    fixed = SeqConfig(epochs=6, dim=8, heads=1, layers=1, batch_size=8, patience=1, lr_schedule="warmup_cosine")
    rungs = {"fixed": fixed, "stopped": replace_config(fixed, early_stopping=True)}
    assert seqrec.shared_trainings(rungs) == {"stopped": "fixed"}
    shared = {r.rung: r for r in seqrec.run_ladder(data, rungs, [0])}
    alone = seqrec.run_ladder(data, {"stopped": rungs["stopped"]}, [0])[0]
    timing = {"seconds_per_epoch"}
    assert {k: v for k, v in shared["stopped"].metrics.items() if k not in timing} == {
        k: v for k, v in alone.metrics.items() if k not in timing}
    assert np.array_equal(shared["stopped"].ranks, alone.ranks)
    assert shared["fixed"].metrics["epochs_run"] == 6 and shared["stopped"].metrics["epochs_run"] < 6  # it stopped


def replace_config(config, **changes):
    from dataclasses import replace

    return replace(config, **changes)
