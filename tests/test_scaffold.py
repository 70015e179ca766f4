"""``expbook new``: refuses bad or taken names in one line, writes three files that follow the contract and run."""

import subprocess
import sys

import pytest

from expbook import PROJECT_ROOT
from expbook.errors import ParameterError
from expbook.run.contract import check_notebook
from expbook.scaffold import check_name, new_experiment


@pytest.mark.parametrize("name, message", [("Churn", "lowercase Python identifier"), ("churn-model", "identifier"),
                                           ("class", "identifier"), ("1st", "identifier")])
def test_a_name_that_is_not_a_lowercase_identifier_is_refused(name, message, tmp_path):
    with pytest.raises(ParameterError, match=message):
        check_name(name, tmp_path)


def test_a_taken_name_is_refused_and_nothing_is_overwritten(tmp_path):
    written = new_experiment("churn_model", tmp_path)
    before = [p.read_text() for p in written]
    with pytest.raises(ParameterError, match="exists already"):
        new_experiment("churn_model", tmp_path)
    assert [p.read_text() for p in written] == before


def test_the_three_files_follow_the_contract(tmp_path):
    notebook, module, test = new_experiment("churn_model", tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in (notebook, module, test)] == [
        "notebooks/churn_model.ipynb", "src/expbook/experiments/churn_model.py", "tests/experiments/test_churn_model.py"]
    assert check_notebook(notebook) == []
    compile(module.read_text(), str(module), "exec")
    compile(test.read_text(), str(test), "exec")


@pytest.mark.slow
def test_the_scaffold_runs_green_as_written(tmp_path, monkeypatch):
    """Written into the project (as `expbook new` does), its tests pass and its notebook runs; then removed."""
    name = "scaffold_probe"
    written = new_experiment(name, PROJECT_ROOT)
    try:
        tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(written[2])],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
        assert tests.returncode == 0, tests.stdout[-2000:]
        from expbook.run.runner import run_experiment
        from expbook.run.store import Store

        monkeypatch.setenv("EXPBOOK_NOTEBOOKS", str(PROJECT_ROOT / "notebooks"))
        record = run_experiment(name, {}, store=Store(tmp_path / "runs"), progress=False, echo=lambda *_: None).record
        assert record.results["status"] == "ok" and record.results["verdicts"][0]["state"] == "holds"
        assert record.results["figures"] == ["figures/change_per_user.png"]
    finally:
        for path in written:
            path.unlink(missing_ok=True)
