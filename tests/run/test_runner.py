"""The runner on real executions: validation, atomic runs, cache, determinism, failures, interrupts."""

import json
import re
import signal
import subprocess
import sys
import time

import pytest

from expbook import PROJECT_ROOT
from expbook.errors import RunFailed
from expbook.run.runner import run_experiment
from expbook.run.store import Store
from tests.helpers import NOTEBOOKS, assert_nested_close, example_experiment, fixture_notebook, folders, run_cli, smoke_sizes

pytestmark = pytest.mark.slow
QUIET = {"progress": False, "echo": lambda *_: None}


def test_mistyped_parameter_fails_before_any_kernel_naming_the_valid_one(tmp_path):
    result = run_cli("run", example_experiment(), "-p", "sede=7", env={"EXPBOOK_RUNS": str(tmp_path / "runs")},
                     python=("-X", "importtime"))
    errors = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert result.returncode == 2 and len(errors) == 1 and "did you mean 'seed'" in errors[0]
    assert "papermill" not in result.stderr  # refused before papermill (and so any kernel) was even imported
    assert not (tmp_path / "runs").exists()


def test_wrong_type_and_unknown_experiment_exit_2(tmp_path):
    env = {"EXPBOOK_RUNS": str(tmp_path / "runs")}
    experiment = example_experiment()
    assert run_cli("run", experiment, "-p", "seed", "seven", env=env).returncode == 2
    unknown = run_cli("run", experiment[:-1] + "x", env=env)
    assert unknown.returncode == 2 and f"did you mean '{experiment}'" in unknown.stderr
    assert not (tmp_path / "runs").exists()


def test_a_run_stores_params_notebook_results_figures_log_and_provenance(tiny_run):
    files = {p.relative_to(tiny_run.path).as_posix() for p in tiny_run.path.rglob("*") if p.is_file()}
    assert {"params.yaml", "report.ipynb", "results.json", "log.txt"} <= files
    results = tiny_run.results
    assert results["status"] == "ok" and results["overrides"] == {}
    assert all(results["params"][name] == value for name, value in smoke_sizes(NOTEBOOKS / f"{tiny_run.experiment}.ipynb").items())
    assert all(f in files for f in results["figures"])
    provenance = results["provenance"]
    for key in ("cache_key", "key_components", "data_fingerprint", "git", "packages", "python", "cpu_count", "threads",
                "started", "ended"):
        assert key in provenance
    assert provenance["packages"]["lightgbm"] != "not installed"
    assert results["verdicts"] and all(v["state"] in ("holds", "does not hold", "inconclusive", "not applicable")
                                       for v in results["verdicts"])
    assert results["headline"].endswith(".")
    log = (tiny_run.path / "log.txt").read_text().splitlines()
    assert log[0] == "--- progress ---" and re.match(r"\d{4}-\d\d-\d\dT[\d:]+Z  " + tiny_run.experiment + r": cell \d+/", log[1])


def test_same_parameters_reuse_the_run_instead_of_executing(tiny_store, tiny_run):
    outcome = run_experiment(tiny_run.experiment, {}, store=tiny_store, **QUIET)
    assert outcome.cached and outcome.record.run_id == tiny_run.run_id


def test_two_executions_with_the_same_parameters_give_identical_metrics(tiny_store, tiny_run):
    again = run_experiment(tiny_run.experiment, {}, store=tiny_store, force=True, **QUIET).record
    assert again.run_id != tiny_run.run_id
    assert_nested_close(again.results["metrics"], tiny_run.results["metrics"])
    assert [v["state"] for v in again.results["verdicts"]] == [v["state"] for v in tiny_run.results["verdicts"]]


def _fixture_notebook(folder, body: str):
    fixture_notebook(folder, body=body)


def test_a_failing_notebook_is_stored_as_failed_and_never_replaces_the_good_run(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    monkeypatch.setenv("EXPBOOK_NOTEBOOKS", str(notebooks))
    store = Store(tmp_path / "runs")
    _fixture_notebook(notebooks, "y = x + 1")
    good = run_experiment("fixture", {}, store=store, **QUIET).record
    _fixture_notebook(notebooks, "print('about to fail')\nraise ValueError('boom in the data step')")
    with pytest.raises(RunFailed, match="cell 3: ValueError: boom in the data step"):
        run_experiment("fixture", {}, store=store, **QUIET)
    runs = store.runs("fixture")
    assert [r.status for r in runs] == ["ok", "failed"]
    error = runs[-1].results["error"]
    assert error["cell"] == 3 and "about to fail" in "\n".join(error["last_lines"])
    assert "boom in the data step" in (runs[-1].path / "log.txt").read_text()
    assert store.canonical("fixture").run_id == good.run_id
    assert not [p for p in (tmp_path / "runs" / "fixture").iterdir() if p.name.startswith(".tmp")]


def test_sigterm_during_a_run_leaves_no_run_folder(tmp_path):
    notebooks = tmp_path / "notebooks"
    _fixture_notebook(notebooks, "import time\ntime.sleep(sleep_s)")
    env = {"EXPBOOK_RUNS": str(tmp_path / "runs"), "EXPBOOK_NOTEBOOKS": str(notebooks)}
    import os
    process = subprocess.Popen([sys.executable, "-m", "expbook", "run", "fixture", "-q", "-p", "sleep_s=60"],
                               cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not any(n.startswith(".tmp-") for n in folders(tmp_path / "runs")):
        time.sleep(0.2)
    assert any(n.startswith(".tmp-") for n in folders(tmp_path / "runs")), "the run never started"
    time.sleep(3)  # let the kernel get into the sleeping cell
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert folders(tmp_path / "runs") == ["fixture"], stderr  # the experiment folder only: no run, no temp folder


def test_sigkill_leaves_an_orphan_that_the_next_run_removes(tmp_path):
    import os
    notebooks = tmp_path / "notebooks"
    _fixture_notebook(notebooks, "import time\ntime.sleep(sleep_s)")
    env = {**os.environ, "EXPBOOK_RUNS": str(tmp_path / "runs"), "EXPBOOK_NOTEBOOKS": str(notebooks)}
    process = subprocess.Popen([sys.executable, "-m", "expbook", "run", "fixture", "-q", "-p", "sleep_s=60"],
                               cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and not any(n.startswith(".tmp-") for n in folders(tmp_path / "runs")):
        time.sleep(0.2)
    orphan = [n for n in folders(tmp_path / "runs") if n.startswith(".tmp-")]
    assert orphan, "the run never started"
    os.killpg(process.pid, signal.SIGKILL)  # the runner and its kernel: nothing gets to clean up
    process.wait(timeout=30)
    assert orphan[0] in folders(tmp_path / "runs")
    # a live run's folder is never touched: this process is alive
    live = Store(tmp_path / "runs").new_tmp("fixture", "live")
    result = run_cli("run", "fixture", "-q", env={"EXPBOOK_RUNS": str(tmp_path / "runs"), "EXPBOOK_NOTEBOOKS": str(notebooks)})
    assert result.returncode == 0, result.stderr
    assert "removed 1 orphaned temporary run folder(s) of killed runs: fixture/" + orphan[0] in result.stderr
    assert orphan[0] not in folders(tmp_path / "runs") and live.is_dir()


def test_run_all_runs_experiments_in_parallel_processes_naming_each(tmp_path):
    notebooks = tmp_path / "notebooks"
    for name in ("alpha", "beta"):
        fixture_notebook(notebooks, name=name, body="import time\ntime.sleep(2)")
    env = {"EXPBOOK_RUNS": str(tmp_path / "runs"), "EXPBOOK_NOTEBOOKS": str(notebooks)}
    result = run_cli("run", "--all", "-j", "2", env=env)
    assert result.returncode == 0, result.stderr
    assert "running 2 experiments on 2 processes" in result.stderr
    assert "alpha: executing" in result.stdout and "beta: executing" in result.stdout
    threads = {r.experiment: r.results["provenance"]["threads"]["OMP_NUM_THREADS"] for e in ("alpha", "beta")
               for r in Store(tmp_path / "runs").runs(e)}
    assert threads == {"alpha": "1", "beta": "1"}  # two runs on two cores: one thread each


def test_status_into_a_closed_pipe_ends_quietly(tmp_path):
    import os
    command = f"{sys.executable} -m expbook status | head -1"
    result = subprocess.run(command, shell=True, cwd=PROJECT_ROOT, capture_output=True, text=True,
                            env={**os.environ, "EXPBOOK_RUNS": str(tmp_path / "runs")}, timeout=120)
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr


def test_run_all_starts_the_longest_experiment_first(tmp_path):
    """A hint from the notebook before any run, then the last default run's own duration."""
    from expbook.run.dispatch import longest_first

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name, hint in (("short", 10), ("long", 400), ("unknown", None)):
        metadata = {"expbook": {"expected_seconds": hint}} if hint else {}
        (notebooks / f"{name}.ipynb").write_text(json.dumps({"cells": [], "metadata": metadata}))
    order = longest_first(["short", "unknown", "long"], store_root=str(tmp_path / "runs"), notebooks=str(notebooks))
    assert order == ["long", "short", "unknown"]
    run = tmp_path / "runs" / "short" / "20260101T000000000Z-aaaaaaaa"
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps({"status": "ok", "overrides": {}, "duration_s": 900.0}))
    order = longest_first(["short", "unknown", "long"], store_root=str(tmp_path / "runs"), notebooks=str(notebooks))
    assert order == ["short", "long", "unknown"]
