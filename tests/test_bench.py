"""Every script in bench/ still runs on a fresh clone: each in its --smoke mode (tiny sizes), so that a bench cannot
rot unseen. The figures they print are not checked here: benches are measured side by side, never in tests."""

import os
import subprocess
import sys

import pytest

from expbook import PROJECT_ROOT

pytestmark = pytest.mark.slow
BENCH = PROJECT_ROOT / "bench"
EXTRA = {"tune_seqrec.py": ["dim=16"]}  # a script whose arguments are not optional


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_")))
def test_every_bench_runs_in_its_smoke_mode(script, tmp_path):
    env = {**os.environ, "EXPBOOK_CACHE": str(tmp_path / "cache"), "EXPBOOK_RUNS": str(tmp_path / "runs")}
    done = subprocess.run([sys.executable, str(BENCH / script), "--smoke", *EXTRA.get(script, [])], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{script}:\n{done.stderr[-3000:]}"
    assert "|" in done.stdout or "{" in done.stdout, done.stdout[-500:]  # it printed its table (or JSON lines)
