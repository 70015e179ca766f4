"""Staleness: which runs a build would re-execute, which it only re-renders, and why."""


import ast

import nbformat
import pytest

from expbook import PROJECT_ROOT
from expbook.run import keys
from expbook.run.runner import run_experiment
from expbook.run.store import Store
from expbook.site.status import experiment_status
from expbook.sourcegraph import imported_names
from tests.helpers import fixture_notebook

QUIET = {"progress": False, "echo": lambda *_: None}


def test_the_import_graph_is_followed_transitively_and_stops_at_what_is_imported(tmp_path):
    notebook = fixture_notebook(tmp_path / "notebooks")
    modules = keys.imported_modules(notebook)
    assert {"expbook", "expbook.record", "expbook.verdicts"} <= set(modules)
    assert "expbook.site.book" not in modules and "expbook.run.runner" not in modules


def test_a_model_module_keys_only_the_notebook_that_imports_it_and_platform_modules_key_none(tmp_path):
    fixture_notebook(tmp_path, "uses_it", body="from expbook.models import sasrec")
    fixture_notebook(tmp_path, "does_not")
    importers = {path.stem for path in sorted(tmp_path.glob("*.ipynb"))
                 if "src/expbook/models/sasrec.py" in keys.module_hashes(path)}
    assert importers == {"uses_it"}
    for path in (PROJECT_ROOT / "notebooks").glob("*.ipynb"):
        hashed = keys.module_hashes(path)
        assert not {"src/expbook/site/book.py", "src/expbook/run/runner.py", "src/expbook/site/status.py"} & set(hashed), path.stem


def test_relative_and_from_package_imports_are_resolved(tmp_path):
    tree = ast.parse("from . import ecg_synth\nfrom expbook.run import keys\nimport expbook.metrics.estimates")
    names = imported_names(tree, "expbook.data.wfdb_beats")
    assert {"expbook.data.ecg_synth", "expbook.run.keys", "expbook.metrics.estimates"} <= names


@pytest.fixture()
def fixture_run(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPBOOK_NOTEBOOKS", str(tmp_path / "notebooks"))
    fixture_notebook(tmp_path / "notebooks")
    store = Store(tmp_path / "runs")
    run = run_experiment("fixture", {}, store=store, **QUIET).record
    return store, tmp_path, run


@pytest.mark.slow
def test_fresh_until_an_input_changes(fixture_run):
    store, _, _ = fixture_run
    status = experiment_status("fixture", store)
    assert (status.state, status.reason) == ("fresh", "inputs unchanged")


@pytest.mark.slow
def test_a_code_cell_edit_needs_re_execution_and_says_so(fixture_run):
    store, tmp_path, _ = fixture_run
    fixture_notebook(tmp_path / "notebooks", body="y = x + 2")
    status = experiment_status("fixture", store)
    assert (status.state, status.reason, status.label) == ("re-execute", "re-execute: notebook code changed", "stale")


@pytest.mark.slow
def test_a_prose_edit_leaves_the_run_untouched_and_the_site_shows_the_new_prose(fixture_run, monkeypatch):
    import hashlib

    from expbook import PROJECT_ROOT
    from expbook.run import kernel
    from expbook.site.book import HAND_WRITTEN, build_book

    def no_kernel(*args, **kwargs):
        raise AssertionError("a prose-only edit started a kernel")

    store, tmp_path, run = fixture_run
    book = tmp_path / "book"
    for name in HAND_WRITTEN:
        (book / name).parent.mkdir(parents=True, exist_ok=True)
        (book / name).write_bytes((PROJECT_ROOT / "book" / name).read_bytes())
    build_book(store=store, book_dir=book, echo=lambda *_: None)

    def digests():
        return {name: hashlib.sha256((run.path / name).read_bytes()).hexdigest() for name in ("report.ipynb", "results.json")}

    before = digests()
    monkeypatch.setattr(kernel, "execute", no_kernel)
    fixture_notebook(tmp_path / "notebooks", title="Fixture, now with better prose")
    status = experiment_status("fixture", store)
    assert status.state == "fresh" and "prose edited since the run" in status.reason
    messages = []
    outcome = run_experiment("fixture", {}, store=store, progress=False, echo=messages.append)
    assert outcome.cached and outcome.record.run_id == run.run_id and "no kernel started" in messages[0]
    build_book(store=store, book_dir=book, echo=lambda *_: None)
    assert digests() == before  # the run is immutable: not one byte rewritten
    page = (book / "_build" / "html" / "reports" / "fixture.html").read_text()
    assert "Fixture, now with better prose" in page and "Prose from the notebook as it is now" in page
    executed = nbformat.read(run.path / "report.ipynb", as_version=4)
    assert not executed.cells[0].source.startswith("# Fixture, now with better prose")


@pytest.mark.slow
def test_module_requirement_and_data_changes_are_named(fixture_run, monkeypatch):
    store, tmp_path, _ = fixture_run
    real = keys.module_hashes
    monkeypatch.setattr(keys, "module_hashes",
                        lambda path: {**real(path), "src/expbook/verdicts.py": "edited"})
    assert experiment_status("fixture", store).reason == "re-execute: src/expbook/verdicts.py changed"
    monkeypatch.setattr(keys, "module_hashes", real)
    monkeypatch.setattr(keys, "requirements_hash", lambda: "changed")
    assert experiment_status("fixture", store).reason == "re-execute: pinned requirements changed"


@pytest.mark.slow
def test_changed_data_files_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPBOOK_NOTEBOOKS", str(tmp_path / "notebooks"))
    fixture_notebook(tmp_path / "notebooks")
    notebook = tmp_path / "notebooks" / "fixture.ipynb"
    data = tmp_path / "data"
    data.mkdir()
    (data / "click.csv").write_text("user_id\n1\n")
    text = notebook.read_text().replace("sleep_s = 0.0  # pause", f"sleep_s = 0.0  # pause\\ndata_dir = '{data}'  # data")
    notebook.write_text(text)
    store = Store(tmp_path / "runs")
    run_experiment("fixture", {}, store=store, **QUIET)
    (data / "click.csv").write_text("user_id\n1\n2\n")
    status = experiment_status("fixture", store)
    assert status.state == "re-execute" and status.reason == "re-execute: data changed"


@pytest.mark.slow
def test_after_a_revert_the_older_run_is_the_report_again(fixture_run):
    """Code changes, a new default run becomes the report; the change is reverted: the older run's key matches
    again, nothing executes, and the report is the older run again (the newer one stays in the history)."""
    store, tmp_path, first = fixture_run
    fixture_notebook(tmp_path / "notebooks", body="y = x + 2")
    second = run_experiment("fixture", {}, store=store, progress=False, echo=lambda *_: None).record
    assert store.canonical("fixture").run_id == second.run_id != first.run_id
    fixture_notebook(tmp_path / "notebooks")  # reverted
    again = run_experiment("fixture", {}, store=store, progress=False, echo=lambda *_: None)
    assert again.cached and again.record.run_id == first.run_id
    assert store.canonical("fixture").run_id == first.run_id
    assert experiment_status("fixture", store).state == "fresh"
    assert {r.run_id for r in store.runs("fixture")} == {first.run_id, second.run_id}
