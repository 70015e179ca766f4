"""Two writers of one run store: the second names the holder and exits, or waits with --wait."""

import subprocess
import sys
import time

import pytest

from expbook import PROJECT_ROOT
from expbook.errors import StoreLocked
from expbook.run.lock import store_lock
from expbook.run.store import Store
from tests.helpers import fixture_notebook, run_cli

pytestmark = pytest.mark.slow


def test_a_second_writer_is_refused_with_the_holders_identity(tmp_path):
    fixture_notebook(tmp_path / "notebooks")
    env = {"EXPBOOK_RUNS": str(tmp_path / "runs"), "EXPBOOK_NOTEBOOKS": str(tmp_path / "notebooks")}
    with store_lock(tmp_path / "runs"):
        result = run_cli("run", "fixture", "-q", env=env)
        assert result.returncode == 5
        assert "is being written by pid" in result.stderr and "--wait" in result.stderr
        with pytest.raises(StoreLocked):
            with store_lock(tmp_path / "runs"):
                pass
    assert not (tmp_path / "runs" / "fixture").exists()  # the refused run wrote nothing


def test_wait_blocks_until_the_holder_releases(tmp_path):
    fixture_notebook(tmp_path / "notebooks")
    env = {"EXPBOOK_RUNS": str(tmp_path / "runs"), "EXPBOOK_NOTEBOOKS": str(tmp_path / "notebooks")}
    import os
    import threading
    lines: list[str] = []
    with store_lock(tmp_path / "runs"):
        waiting = subprocess.Popen([sys.executable, "-m", "expbook", "run", "fixture", "-q", "--wait"], cwd=PROJECT_ROOT,
                                   env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        reader = threading.Thread(target=lambda: lines.extend(waiting.stderr), daemon=True)
        reader.start()
        deadline = time.time() + 60
        while time.time() < deadline and not any("waiting for the run store lock" in line for line in lines):
            time.sleep(0.1)
        assert any("waiting for the run store lock held by pid" in line for line in lines), lines
        time.sleep(1)
        assert waiting.poll() is None  # still blocked while we hold the lock
    assert waiting.wait(timeout=120) == 0, lines
    assert len(Store(tmp_path / "runs").runs("fixture")) == 1
