"""The runner's progress line: cell, the loops' step, time in cell and an ETA from totals or the last run."""

import json
import time

import pytest

from expbook.run.monitor import Monitor, _clock, last_cell_durations


def _write(file, *events):
    with file.open("a") as out:
        for pid, worker, stack in events:
            out.write(json.dumps({"pid": pid, "t": time.time(), "worker": worker, "stack": stack}) + "\n")


def test_the_line_names_the_cell_the_kernel_step_and_the_busiest_worker(tmp_path):
    file = tmp_path / "progress.jsonl"
    lines = []
    monitor = Monitor("gnn", file, total_cells=22, last_durations=None, echo=lines.append)
    monitor.cell_started(8, 8, "results = cv.cross_validate(")
    _write(file, (1, False, [["fold", 2, 25]]), (2, True, [["epoch", 11, 150]]), (3, True, [["epoch", 74, 150]]))
    line = monitor.line()
    assert line.startswith("gnn: cell 8/22 · fold 3/25 · epoch 75/150")
    text, done = monitor.step()
    assert done == pytest.approx((2 + 11 / 150 + 74 / 150) / 25)
    assert lines and lines[0].startswith("  gnn: cell 8/22")  # printed at the cell start
    assert monitor.lines[0][:4].isdigit() and "  gnn: cell 8/22" in monitor.lines[0]  # timestamped, for log.txt


def test_the_eta_comes_from_the_loop_totals_or_the_last_run(tmp_path, monkeypatch):
    file = tmp_path / "progress.jsonl"
    monitor = Monitor("seqrec", file, total_cells=4, last_durations=[1.0, 2.0, 100.0, 30.0], echo=None)
    monitor.cell_started(2, 3, "runs = seqrec.run_ladder(")
    monitor.cell_start -= 40  # 40 s into the cell, and into its loop
    monitor._loop_start -= 40
    assert monitor.eta(None)[0] == pytest.approx(60 + 30, abs=1)  # the last run's 100 s for this cell, then 30 s
    assert monitor.eta(0.25)[0] == pytest.approx(60 + 30, abs=1)  # no unit done yet: the loop's rate is not trusted
    monitor._units_done = 1
    assert monitor.eta(0.25) == (pytest.approx(120 + 30, abs=1), "")  # a quarter done after 40 s: 120 s more
    fresh = Monitor("new", file, total_cells=4, last_durations=None, echo=None)  # a first run: no durations
    fresh.cell_started(2, 3, "x")
    fresh.cell_start -= 40
    fresh._loop_start -= 40
    fresh._units_done = 1
    assert fresh.eta(None) is None and "ETA unknown" in fresh.line()
    assert fresh.eta(0.5) == (pytest.approx(40, abs=1), " for this cell")


def test_a_second_loop_in_the_cell_is_timed_from_its_own_start(tmp_path):
    """A cell that runs two loops in turn: once the second begins, its rate is measured from its start, not from
    the cell's (the first loop's 6 minutes would make it look 20 times slower)."""
    file = tmp_path / "progress.jsonl"
    monitor = Monitor("gnn", file, total_cells=4, last_durations=None, echo=None)
    monitor.cell_started(1, 2, "x")
    _write(file, (1, False, [["split", 20, 25]]))
    monitor.line()
    monitor.cell_start -= 360
    _write(file, (1, False, [["split", 1, 25]]))  # the loop starts again
    monitor.line()
    monitor._loop_start -= 10  # 10 s into the second loop, one split of 25 done
    assert monitor._units_done == 1
    assert monitor.eta(1 / 25) == (pytest.approx(240, abs=2), " for this cell")


def test_a_worker_starting_its_next_job_is_not_a_new_loop(tmp_path):
    """The fraction dips when a worker starts its next job before the kernel has counted the last one: the loop's
    clock and worker-seconds must not start again."""
    file = tmp_path / "progress.jsonl"
    monitor = Monitor("seqrec", file, total_cells=4, last_durations=None, echo=None)
    monitor.cell_started(1, 2, "x")
    _write(file, (1, False, [["rung", 1, 7]]), (2, True, [["epoch", 29, 30]]))
    monitor.line()
    start = monitor._loop_start = monitor._loop_start - 100
    _write(file, (2, True, [["epoch", 0, 22]]))  # the next job began; the kernel still says 1 of 7 done
    monitor.line()
    assert monitor._loop_start == start
    _write(file, (1, False, [["rung", 0, 7]]))  # the count itself goes down: another run of the loop
    monitor.line()
    assert monitor._loop_start > start


def test_jobs_on_shared_workers_are_timed_per_busy_worker(tmp_path):
    """Jobs on a cluster shared with other reports: the rate is per worker-second this run had, and what is left
    goes at the number of workers busy with it now; with none busy, the line says it is waiting for workers."""
    file = tmp_path / "progress.jsonl"
    monitor = Monitor("gnn", file, total_cells=4, last_durations=None, echo=None)
    monitor.cell_started(1, 2, "x")
    with file.open("a") as out:
        out.write(json.dumps({"pid": 1, "t": time.time(), "worker": False, "stack": [], "queued": 4}) + "\n")
        for pid in (2, 3):
            out.write(json.dumps({"pid": pid, "t": time.time(), "worker": True, "stack": [], "job": "start"}) + "\n")
    monitor._tick -= 30  # two workers busy for 30 s: 60 worker-seconds
    monitor.tick()
    monitor._loop_start -= 30
    monitor._units_done = 1
    assert monitor._worker_seconds == pytest.approx(60, abs=1)
    assert monitor.eta(0.25)[0] == pytest.approx(60 * 3 / 2, abs=2)  # 180 worker-seconds left, 2 workers
    with file.open("a") as out:
        for pid in (2, 3):
            out.write(json.dumps({"pid": pid, "t": time.time() - 10, "worker": True, "stack": [], "job": "end"}) + "\n")
    monitor.tick()
    monitor._moved -= 20  # and its step has not moved since; two jobs are still queued
    assert monitor.eta(0.25) is None and "ETA unknown (waiting for workers)" in monitor.line()
    with file.open("a") as out:  # the last two start and end: nothing queued, the kernel's own work goes on
        for pid in (2, 3):
            out.write(json.dumps({"pid": pid, "t": time.time() - 10, "worker": True, "stack": [], "job": "start"}) + "\n")
            out.write(json.dumps({"pid": pid, "t": time.time() - 10, "worker": True, "stack": [], "job": "end"}) + "\n")
    monitor.tick()
    assert not monitor.waiting() and monitor.eta(0.25)[0] == pytest.approx(30 * 3, abs=2)  # the wall-clock rate


def test_the_build_line_reads_a_running_notebooks_own_estimate(tmp_path):
    from expbook.run.monitor import ETA_FILE, BuildProgress
    from expbook.run.store import TMP_PREFIX

    build = BuildProgress({"gnn": (100.0, False)}, 2, store=tmp_path)
    build.started["gnn"] = time.time() - 300  # past its expectation
    assert build.eta(time.time()) is None  # past its expectation and nothing published: nothing says
    folder = tmp_path / "gnn" / f"{TMP_PREFIX}run"
    folder.mkdir(parents=True)
    (folder / ETA_FILE).write_text(json.dumps({"t": time.time(), "left": 20.0, "notebook": False, "cell": 10,
                                               "cells": 12, "elapsed": 300.0}))
    assert build.eta(time.time()) == pytest.approx(20, abs=1)  # past its expectation: the running cell's own 20 s
    (folder / ETA_FILE).write_text(json.dumps({"t": time.time(), "left": 45.0, "notebook": True, "cell": 10,
                                               "cells": 12, "elapsed": 300.0}))
    assert build.eta(time.time()) == pytest.approx(45, abs=1)


def test_cell_durations_are_read_from_papermill_s_metadata(tmp_path):
    report = tmp_path / "report.ipynb"
    report.write_text(json.dumps({"cells": [{"metadata": {"papermill": {"duration": 1.5}}}, {"metadata": {}}]}))
    assert last_cell_durations(report) == [1.5, 0.0]
    assert last_cell_durations(tmp_path / "missing.ipynb") is None


def test_clock():
    assert (_clock(42), _clock(130), _clock(3 * 3600 + 120)) == ("42s", "2m10s", "3h02m")


def test_the_step_counter_counts_jobs_as_they_complete_not_in_submission_order():
    """The first job finishes last: by the time its result is handed over, the counter already says every job is
    done (a counter in submission order would have stood at 0 the whole time)."""
    from expbook import progress
    from expbook.parallel import _in_order

    futures = ["job0", "job1", "job2"]
    seen = []
    for value in _in_order(iter(["job2", "job1", "job0"]), futures, "rung × seed", lambda f: f.upper(), lambda: None):
        seen.append((value, progress._stack[-1][1]))
    assert seen == [("JOB0", 3), ("JOB1", 3), ("JOB2", 3)]  # results in order; counted as they completed


def test_the_build_eta_schedules_what_is_left_longest_first_on_the_slots():
    from expbook.run.monitor import BuildProgress

    expected = {"a": (100.0, True), "b": (60.0, True), "c": (40.0, True), "d": (30.0, False)}
    watch = BuildProgress(expected, slots=2)
    now = watch.begin
    watch.started = {"a": now - 20, "b": now - 50}  # 80 s and 10 s left
    assert watch.eta(now) == pytest.approx(80.0)  # b's slot takes c (10 + 40 = 50) then d (50 + 30 = 80)
    watch.ended = {"b": now}
    watch.started["c"] = now
    watch.ended["d"] = now
    watch.started["d"] = now - 60  # the hint said 30 s, it took 60: this machine is half as fast for hints
    assert watch.speed() == pytest.approx(2.0)
    line = watch.line()
    assert line.startswith("build: 2 done · 2 running (a ") and "0 waiting" in line and "ETA" in line


def test_the_build_eta_is_unknown_only_without_any_expectation():
    from expbook.run.monitor import BuildProgress

    watch = BuildProgress({"a": (0.0, False)}, slots=1)
    assert watch.eta(watch.begin) is None and "ETA unknown" in watch.line()
