"""Shared fixtures: the real notebooks at tiny sizes, a throw-away run store, one canonical run, a built site."""

import shutil

import pytest

from expbook import PROJECT_ROOT
from expbook.run import catalogue
from expbook.run.runner import run_experiment
from expbook.run.store import Store
from tests.helpers import example_experiment, smoke_notebooks


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """A data and feature cache of this test session's own: no test reads what another session (or `make book`)
    generated, and nothing a test generates lands in the project's ``.cache``."""
    patch = pytest.MonkeyPatch()
    patch.setenv("EXPBOOK_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    patch.undo()


@pytest.fixture(scope="session", autouse=True)
def tiny_notebooks(tmp_path_factory):
    """Every notebook of the project at its smoke size (``metadata.expbook.smoke``), so a smoke run is a *default*
    (canonical) run."""
    folder = smoke_notebooks(tmp_path_factory.mktemp("notebooks"))
    patch = pytest.MonkeyPatch()
    patch.setenv("EXPBOOK_NOTEBOOKS", str(folder))
    yield folder
    patch.undo()


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory) -> Store:
    return Store(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def tiny_run(tiny_store):
    """One successful, canonical smoke run of the example experiment (``helpers.example_experiment``)."""
    return run_experiment(example_experiment(), {}, store=tiny_store, progress=False, echo=lambda *_: None).record


@pytest.fixture(scope="session")
def site(tiny_store, tiny_run, tmp_path_factory):
    """A strict build of a store holding every report (smoke size), a seed=7 variant of the example and a sweep."""
    from expbook.run.sweep import run_sweep
    from expbook.site.book import HAND_WRITTEN, build_book

    example = example_experiment()
    variant = run_experiment(example, {"seed": 7}, store=tiny_store, progress=False, echo=lambda *_: None).record
    for experiment in catalogue.list_experiments():
        if experiment != example:
            run_experiment(experiment, {}, store=tiny_store, progress=False, echo=lambda *_: None)
    run_sweep(example, {"seed": [7, 8]}, store=tiny_store, echo=lambda *_: None)
    book_dir = tmp_path_factory.mktemp("book")
    for name in HAND_WRITTEN:
        (book_dir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "book" / name, book_dir / name)
    messages = []
    index = build_book(store=tiny_store, book_dir=book_dir, echo=messages.append)
    return {"html": index.parent, "book_dir": book_dir, "variant": variant, "store": tiny_store, "messages": messages,
            "example": example}







def pytest_terminal_summary(terminalreporter):
    """One line naming every notebook the suite executed at its smoke size (whatever notebooks/ holds)."""
    from tests.notebooks.test_smoke import SMOKE_RUNS

    if SMOKE_RUNS:
        runs = ", ".join(f"{name} ({seconds:.0f} s)" for name, seconds in SMOKE_RUNS.items())
        terminalreporter.write_line(f"smoke runs of the notebooks in notebooks/: {runs}")
