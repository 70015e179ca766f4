"""Staleness: which runs a build would re-execute, which it only re-renders, and why."""


import nbformat
import pytest

from expbook import PROJECT_ROOT
from expbook.run import keys
from expbook.run.runner import run_experiment
from expbook.run.store import Store
from expbook.site.status import experiment_status
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
    tree = keys.ast.parse("from . import ecg_synth\nfrom expbook.run import cache\nimport expbook.metrics.seeds")
    names = keys._imported_names(tree, "expbook.data.wfdb_beats")
    assert {"expbook.data.ecg_synth", "expbook.run.cache", "expbook.metrics.seeds"} <= names


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
def test_a_prose_edit_re_renders_the_stored_run_without_a_kernel(fixture_run, monkeypatch):
    from expbook.run import kernel

    def no_kernel(*args, **kwargs):
        raise AssertionError("a prose-only edit started a kernel")

    monkeypatch.setattr(kernel, "execute", no_kernel)
    store, tmp_path, run = fixture_run
    fixture_notebook(tmp_path / "notebooks", title="Fixture, now with better prose")
    status = experiment_status("fixture", store)
    assert (status.state, status.reason) == ("re-render", "re-render: prose changed")
    messages = []
    outcome = run_experiment("fixture", {}, store=store, progress=False, echo=messages.append)
    assert outcome.cached and outcome.record.run_id == run.run_id
    assert messages == [f"fixture: prose changed, re-rendered run {run.run_id} (no kernel started)"]
    executed = nbformat.read(outcome.record.path / "report.ipynb", as_version=4)
    assert executed.cells[0].source.startswith("# Fixture, now with better prose")
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and executed.cells.index(injected[0]) == 2  # still right after the parameters cell
    assert executed.cells[-1].get("outputs") is not None
    assert experiment_status("fixture", store).state == "fresh"


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
