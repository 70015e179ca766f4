"""Progress of nested loops: the lines a run's processes write, the step text and the fraction done."""

import json

import pytest

from expbook import progress
from expbook.progress import describe, fraction, steps


def test_the_step_text_names_each_open_loop_one_based():
    assert describe([["fold", 2, 25], ["epoch", 11, 150]]) == "fold 3/25 · epoch 12/150"
    assert describe([["rung", 8, 8]]) == "rung 8/8"  # finished: never 9/8
    assert describe([["replicate", 4, None]]) == "replicate 5"


def test_the_fraction_counts_the_inner_loops():
    assert fraction([["fold", 3, 25], ["epoch", 75, 150]]) == pytest.approx((3 + 0.5) / 25)
    assert fraction([["fold", 25, 25]]) == 1.0
    assert fraction([["replicate", 4, None]]) is None and fraction([]) is None


def test_a_run_s_loops_append_their_stack_to_the_progress_file(tmp_path, monkeypatch):
    file = tmp_path / "progress.jsonl"
    monkeypatch.setenv(progress.ENV, str(file))
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    for _ in steps(range(2), "fold"):
        for _ in steps(range(3), "epoch"):
            pass
    events = [json.loads(line) for line in file.read_text().splitlines()]
    stacks = [describe(e["stack"]) for e in events]
    assert "fold 1/2 · epoch 2/3" in stacks and "fold 2/2 · epoch 3/3" in stacks
    assert events[-1]["stack"] == [] and not progress._stack  # every loop closed
    assert all(e["worker"] is False for e in events)


def test_outside_a_run_nothing_is_written_and_the_items_pass_through(monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    assert list(steps(iter([1, 2, 3]), "seed")) == [1, 2, 3]


def test_a_loop_left_early_closes_its_entry(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.ENV, str(tmp_path / "p.jsonl"))
    loop = steps(range(10), "epoch")
    for i in loop:
        if i == 2:
            break
    loop.close()
    assert not progress._stack
