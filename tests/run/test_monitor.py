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
    monitor.cell_start -= 40  # 40 s into the cell
    assert monitor.eta(None)[0] == pytest.approx(60 + 30, abs=1)  # the last run's 100 s for this cell, then 30 s
    assert monitor.eta(0.25) == (pytest.approx(120 + 30, abs=1), "")  # a quarter done after 40 s: 120 s more
    fresh = Monitor("new", file, total_cells=4, last_durations=None, echo=None)  # a first run: no durations
    fresh.cell_started(2, 3, "x")
    fresh.cell_start -= 40
    assert fresh.eta(None) is None and "ETA unknown" in fresh.line()
    assert fresh.eta(0.5) == (pytest.approx(40, abs=1), " for this cell")


def test_cell_durations_are_read_from_papermill_s_metadata(tmp_path):
    report = tmp_path / "report.ipynb"
    report.write_text(json.dumps({"cells": [{"metadata": {"papermill": {"duration": 1.5}}}, {"metadata": {}}]}))
    assert last_cell_durations(report) == [1.5, 0.0]
    assert last_cell_durations(tmp_path / "missing.ipynb") is None


def test_clock():
    assert (_clock(42), _clock(130), _clock(3 * 3600 + 120)) == ("42s", "2m10s", "3h02m")
