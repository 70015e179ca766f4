"""Shared fixtures: a tiny-size execution of the real two-stage notebook in a throw-away run store."""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from expbook import PROJECT_ROOT, runner
from expbook.runner import run_experiment
from expbook.store import Store

# Small enough to execute in ~15 s on 2 cores, large enough for every metric to be defined.
TINY = {"scale": 0.004, "n_boot": 10, "num_boost_round": 80}
TINY_RERANK = {"scale": 0.004, "num_boost_round": 80, "m_values": [5, 20, 60]}


def with_defaults(source: Path, target: Path, defaults: dict) -> Path:
    """Copy a notebook, rewriting the defaults of its parameters cell (comments kept)."""
    notebook = nbformat.read(source, as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    lines = cell.source.splitlines()
    for name, value in defaults.items():
        index = next(i for i, line in enumerate(lines) if re.match(rf"{name}\s*(:[^=]*)?=", line))
        head, _, comment = lines[index].partition("  #")
        lines[index] = f"{head.split('=')[0].rstrip()} = {value!r}  #{comment}"
    cell.source = "\n".join(lines)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target


@pytest.fixture(scope="session", autouse=True)
def tiny_notebooks(tmp_path_factory):
    """The real notebooks with tiny size defaults, so a tiny run is a *default* (canonical) run."""
    folder = tmp_path_factory.mktemp("notebooks")
    for name, tiny in (("two_stage_diagnosis", TINY), ("recall_rerank", TINY_RERANK)):
        with_defaults(PROJECT_ROOT / "notebooks" / f"{name}.ipynb", folder / f"{name}.ipynb", tiny)
    patch = pytest.MonkeyPatch()
    patch.setattr(runner, "NOTEBOOK_DIR", folder)
    yield folder
    patch.undo()


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory) -> Store:
    return Store(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def tiny_run(tiny_store):
    """One successful, canonical tiny run of two_stage_diagnosis."""
    return run_experiment("two_stage_diagnosis", {}, store=tiny_store, progress=False, echo=lambda *_: None).record


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m expbook ARGS`` in the project, with extra environment variables."""
    return subprocess.run([sys.executable, "-m", "expbook", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def folders(path: Path) -> list[str]:
    return sorted(p.name for p in path.rglob("*") if p.is_dir()) if path.exists() else []
