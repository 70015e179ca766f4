"""Bounded runs: a run past its timeout, SIGTERM and Ctrl-C stop the kernel and every process it started, keep
what should be kept (a failed run for a timeout, nothing for an interrupt) and let the other experiments finish."""

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from expbook import PROJECT_ROOT
from tests.helpers import fixture_notebook, run_cli

pytestmark = pytest.mark.slow
MARKER = "expbook-test-sleeper"
SLEEPER = ("import subprocess, sys, time\n"
           f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3600)  # {MARKER}'])\n"
           "time.sleep(3600)")


ESCAPER = ("import multiprocessing, subprocess, sys, time\n"
           "print('starting a pool and a child in a session of its own')\n"
           f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3600)  # {MARKER}'],\n"
           "                         start_new_session=True)\n"
           "pool = multiprocessing.Pool(2)\n"
           "pool.apply(time.sleep, (3600,))")


def _project(tmp_path):
    notebooks = tmp_path / "notebooks"
    fixture_notebook(notebooks, "quick")
    fixture_notebook(notebooks, "sleeper", body=SLEEPER)
    return {"EXPBOOK_NOTEBOOKS": str(notebooks), "EXPBOOK_RUNS": str(tmp_path / "runs"),
            "EXPBOOK_BOOK_DIR": str(tmp_path / "book")}


def _left_behind(runs) -> list[psutil.Process]:
    """Every process still alive that belongs to a run of ``runs`` (its kernel, by environment) or is the sleeper's
    child (by command line)."""
    found = []
    for process in psutil.process_iter(["cmdline", "environ"]):
        try:
            env = process.info["environ"] or {}
            if env.get("EXPBOOK_RUNS") == str(runs) and process.pid != os.getpid() or \
                    MARKER in " ".join(process.info["cmdline"] or []):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_a_run_past_its_timeout_fails_naming_it_and_the_cell_and_the_others_still_run(tmp_path):
    env = _project(tmp_path)
    started = time.perf_counter()
    result = run_cli("run", "--all", "--timeout", "8", "-j", "1", env=env, timeout=120)
    elapsed = time.perf_counter() - started
    assert result.returncode == 4, result.stderr
    assert "sleeper failed in cell 3: timed out after 8 s in cell 3" in result.stderr
    runs = tmp_path / "runs"
    stored = {p.parent.parent.name: json.loads(p.read_text()) for p in runs.glob("*/*/results.json")}
    assert stored["quick"]["status"] == "ok" and stored["sleeper"]["status"] == "failed"
    assert stored["sleeper"]["error"]["exception"] == "timed out after 8 s in cell 3"
    assert elapsed < 8 + 40  # stopped, not waited out (kernel start-up and the quick run included)
    time.sleep(1)
    assert _left_behind(runs) == []


def test_a_timeout_ends_a_pool_and_a_child_that_left_the_kernels_session(tmp_path):
    notebooks = tmp_path / "notebooks"
    fixture_notebook(notebooks, "escaper", body=ESCAPER)
    env = {"EXPBOOK_NOTEBOOKS": str(notebooks), "EXPBOOK_RUNS": str(tmp_path / "runs"),
           "EXPBOOK_BOOK_DIR": str(tmp_path / "book")}
    result = run_cli("run", "escaper", "--timeout", "15", env=env, timeout=120)
    assert result.returncode != 0 and "timed out after 15 s in cell 3" in result.stderr, result.stderr
    time.sleep(1)
    assert _left_behind(tmp_path / "runs") == []
    [stored] = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("escaper/*/results.json")]
    error = stored["error"]
    assert error["cell_source"][0].startswith("import multiprocessing")
    assert any("starting a pool" in line for line in error["last_lines"]), error


@pytest.mark.parametrize("signum, jobs", [(signal.SIGTERM, "1"), (signal.SIGTERM, "2"), (signal.SIGINT, "2")])
def test_a_signal_to_the_build_leaves_no_kernel_worker_or_partial_run(tmp_path, signum, jobs):
    env = {**os.environ, **_project(tmp_path)}
    runs = tmp_path / "runs"
    # a Ctrl-C from a terminal meets SIGINT's default disposition; a child inherits an ignored SIGINT from its
    # parent (an earlier test's kernel machinery can leave the test process so), and would then never see it
    build = subprocess.Popen([sys.executable, "-m", "expbook", "run", "--all", "-j", jobs], cwd=PROJECT_ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 90
    while time.time() < deadline and not any(MARKER in " ".join(p.info["cmdline"] or [])
                                             for p in psutil.process_iter(["cmdline"])):
        time.sleep(0.5)  # until the sleeper's kernel has started its child
    assert time.time() < deadline, "the sleeper never started"
    build.send_signal(signum)
    _, stderr = build.communicate(timeout=60)
    assert build.returncode == 130, stderr
    assert "interrupted" in stderr
    time.sleep(1)
    assert _left_behind(runs) == []
    assert not list(runs.glob("sleeper/*/results.json"))  # an interrupted run leaves nothing behind
