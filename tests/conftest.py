"""Shared fixtures: the real notebooks at tiny sizes, a throw-away run store, one canonical run, a built site."""

import shutil

import pytest

from expbook import PROJECT_ROOT
from expbook.run import catalogue
from expbook.run.runner import run_experiment
from expbook.run.store import Store
from tests.helpers import TINY, TINY_ECG, TINY_GNN, TINY_RERANK, TINY_SEQ, with_defaults


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
    for experiment in catalogue.list_experiments():
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





