"""Several runs at once: a report that quotes another starts after it, in a pool, on Dask waves or serially."""

import json
import time
from pathlib import Path

import pytest

from expbook.run import dispatch
from expbook.run.dispatch import Task, run_many, waves
from expbook.run.keys import changed_inputs, execution_key, key_components
from tests.helpers import fixture_notebook


def _task(name: str, needs=(), log: Path | None = None) -> Task:
    return Task(name, {"log": str(log)} if log else {}, "", "", 1, needs=tuple(needs))


def test_waves_put_a_report_after_the_ones_it_needs():
    tasks = [_task("recall", ["diagnosis"]), _task("diagnosis"), _task("gnn"), _task("summary", ["recall", "gnn"])]
    assert waves(tasks) == [[1, 2], [0], [3]]
    assert waves([_task("recall", ["not running"])]) == [[0]]  # a need that does not run now is not waited for


def test_a_cycle_of_needs_is_refused():
    with pytest.raises(ValueError, match="cycle"):
        waves([_task("a", ["b"]), _task("b", ["a"])])


def timed_task(task: Task) -> dict:
    """Stands in for a run: records when it started and ended."""
    start = time.time()
    time.sleep(0.3 if task.experiment == "diagnosis" else 0.05)
    with open(task.overrides["log"], "a") as log:
        log.write(json.dumps([task.experiment, start, time.time()]) + "\n")
    return {"experiment": task.experiment, "status": "ok"}


@pytest.mark.parametrize("jobs", [1, 3])
def test_run_many_starts_a_report_once_the_report_it_quotes_has_finished(tmp_path, monkeypatch, jobs):
    monkeypatch.setattr(dispatch, "run_task", timed_task)
    log = tmp_path / "log.jsonl"
    tasks = [_task("recall", ["diagnosis"], log), _task("diagnosis", log=log), _task("gnn", log=log)]
    outcomes = run_many(tasks, jobs=jobs)
    assert [o["experiment"] for o in outcomes] == ["recall", "diagnosis", "gnn"]  # in the order given
    times = {name: (start, end) for name, start, end in map(json.loads, log.read_text().splitlines())}
    assert times["recall"][0] >= times["diagnosis"][1]
    if jobs > 1:  # gnn needs nothing: it does not wait for the diagnosis
        assert times["gnn"][0] < times["diagnosis"][1]


def test_a_new_canonical_run_upstream_changes_the_execution_key(tmp_path):
    notebook = fixture_notebook(tmp_path, "quoting")
    before = key_components(notebook, {"seed": 0}, {"diagnosis": "run-1"})
    after = key_components(notebook, {"seed": 0}, {"diagnosis": "run-2"})
    assert execution_key(before) != execution_key(after)
    assert changed_inputs(before, after) == ["upstream diagnosis has a new canonical run"]
    alone = key_components(notebook, {"seed": 0})
    assert "upstream" not in alone  # a notebook quoting nothing keeps the key it had
