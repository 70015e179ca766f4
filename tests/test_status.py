"""Staleness: the overview says which input changed since the canonical run."""

import pytest

from conftest import fixture_notebook
from expbook import provenance
from expbook.book import experiment_status
from expbook.runner import run_experiment
from expbook.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture()
def fixture_run(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPBOOK_NOTEBOOKS", str(tmp_path / "notebooks"))
    fixture_notebook(tmp_path / "notebooks")
    store = Store(tmp_path / "runs")
    run_experiment("fixture", {}, store=store, progress=False, echo=lambda *_: None)
    return store, tmp_path


def test_fresh_until_an_input_changes(fixture_run):
    store, _ = fixture_run
    status = experiment_status("fixture", store)
    assert (status.state, status.reason) == ("fresh", "inputs unchanged")


def test_a_notebook_edit_makes_the_report_stale_and_says_so(fixture_run):
    store, tmp_path = fixture_run
    fixture_notebook(tmp_path / "notebooks", body="y = x + 2")
    status = experiment_status("fixture", store)
    assert status.state == "stale" and status.reason == "changed since: notebook source"


@pytest.mark.parametrize("component,label", [("code_hash", "expbook package code"),
                                             ("requirements_hash", "pinned requirements")])
def test_code_and_requirement_changes_are_named(fixture_run, monkeypatch, component, label):
    store, _ = fixture_run
    monkeypatch.setattr(provenance, component, lambda: "changed")
    status = experiment_status("fixture", store)
    assert status.state == "stale" and label in status.reason


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
    run_experiment("fixture", {}, store=store, progress=False, echo=lambda *_: None)
    (data / "click.csv").write_text("user_id\n1\n2\n")
    status = experiment_status("fixture", store)
    assert status.state == "stale" and status.reason == "changed since: data fingerprint"
