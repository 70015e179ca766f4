"""Shared fixtures: a tiny-size execution of the real two-stage notebook in a throw-away run store."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from expbook import PROJECT_ROOT
from expbook.run import runner
from expbook.run.runner import run_experiment
from expbook.run.store import Store

# Small enough to execute in ~15 s on 2 cores, large enough for every metric to be defined.
TINY = {"scale": 0.004, "n_boot": 10, "num_boost_round": 80}
TINY_RERANK = {"scale": 0.004, "num_boost_round": 80, "m_values": [5, 20, 60]}
TINY_GNN = {"employees": 200, "folds": 2, "repeats": 1, "workers": 2, "hidden": 8, "stage1_epochs": 12, "stage2_epochs": 8,
            "stage1_patience": 6, "stage2_patience": 6}
TINY_SEQ = {"max_users": 80, "seeds": [0, 1], "epochs": 2, "max_epochs": 3, "patience": 1, "dim": 16, "candidates": 50}
TINY_ECG = {"minutes": 1.5, "seeds": [0, 1], "epochs": 4, "patience": 2, "warmup_epochs": 2, "n_boot": 50}


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
    for name, tiny in (("two_stage_diagnosis", TINY), ("recall_rerank", TINY_RERANK),
                       ("class_imbalance_repair", TINY_ECG), ("gnn_turnover_v6", TINY_GNN),
                       ("seqrec_upgrades", TINY_SEQ)):
        with_defaults(PROJECT_ROOT / "notebooks" / f"{name}.ipynb", folder / f"{name}.ipynb", tiny)
    patch = pytest.MonkeyPatch()
    patch.setenv("EXPBOOK_NOTEBOOKS", str(folder))
    yield folder
    patch.undo()


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory) -> Store:
    return Store(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def tiny_run(tiny_store):
    """One successful, canonical tiny run of two_stage_diagnosis."""
    return run_experiment("two_stage_diagnosis", {}, store=tiny_store, progress=False, echo=lambda *_: None).record


@pytest.fixture(scope="session")
def site(tiny_store, tiny_run, tmp_path_factory):
    """A strict build of a store holding every report (tiny), a seed=7 variant and a sweep."""
    from expbook.run.sweep import run_sweep
    from expbook.site.book import HAND_WRITTEN, build_book

    variant = run_experiment("two_stage_diagnosis", {"seed": 7}, store=tiny_store, progress=False,
                             echo=lambda *_: None).record
    for experiment in runner.list_experiments():
        if experiment != "two_stage_diagnosis":
            run_experiment(experiment, {}, store=tiny_store, progress=False, echo=lambda *_: None)
    run_sweep("recall_rerank", {"gate_margin": [-1.0, 1.0]}, store=tiny_store, echo=lambda *_: None)
    book_dir = tmp_path_factory.mktemp("book")
    for name in HAND_WRITTEN:
        (book_dir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "book" / name, book_dir / name)
    messages = []
    index = build_book(store=tiny_store, book_dir=book_dir, echo=messages.append)
    return {"html": index.parent, "book_dir": book_dir, "variant": variant, "store": tiny_store, "messages": messages}


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m expbook ARGS`` in the project, with extra environment variables."""
    return subprocess.run([sys.executable, "-m", "expbook", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def folders(path: Path) -> list[str]:
    return sorted(p.name for p in path.rglob("*") if p.is_dir()) if path.exists() else []


def fixture_notebook(folder: Path, name: str = "fixture", body: str = "y = x + 1", *, title: str = "Fixture") -> Path:
    """A tiny notebook: parameters x, seed, sleep_s; metric ``value = x + seed``; verdict "is seed even?"."""
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(f"# {title}: a tiny notebook\n\nDoes the runner handle it?"),
        nbformat.v4.new_code_cell("x = 1  # a knob\nseed = 0  # a seed\nsleep_s = 0.0  # pause",
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
        nbformat.v4.new_code_cell(
            "import time\ntime.sleep(sleep_s)\n"
            "from expbook.record import record\n"
            "from expbook.verdicts import threshold_rule\n"
            "record(experiment='fixture', metrics={'value': x + seed}, headline=f'value is {x + seed}.',\n"
            "       key_metric=('value', x + seed), question='Is the seed even?',\n"
            "       verdicts=[threshold_rule('E', 'Is the seed even?', float(seed % 2 == 0), '>', 0.5, label='even')])"),
    ])
    notebook.metadata["language_info"] = {"name": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"
