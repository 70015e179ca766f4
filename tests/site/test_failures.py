"""`make book` semantics: a failing notebook does not stop the others, the site shows it, the exit code says it."""

import shutil

import pytest

from expbook import PROJECT_ROOT
from expbook.run.store import Store
from expbook.site.book import HAND_WRITTEN, build_book
from tests.helpers import fixture_notebook, run_cli

pytestmark = pytest.mark.slow


def test_a_failing_experiment_gets_a_badge_while_its_last_good_report_stays(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    env = {"EXPBOOK_RUNS": str(tmp_path / "runs"), "EXPBOOK_NOTEBOOKS": str(notebooks)}
    fixture_notebook(notebooks, "alpha", title="Alpha")
    fixture_notebook(notebooks, "beta", title="Beta")
    assert run_cli("run", "--all", "-q", env=env).returncode == 0
    fixture_notebook(notebooks, "beta", body="raise RuntimeError('the beta data vanished')", title="Beta")
    fixture_notebook(notebooks, "alpha", body="y = x + 2", title="Alpha")  # alpha changed too: it must still run
    result = run_cli("run", "--all", "-q", env=env)
    assert result.returncode == 4 and "beta failed in cell 3: RuntimeError: the beta data vanished" in result.stderr
    store = Store(tmp_path / "runs")
    assert [r.status for r in store.runs("alpha")] == ["ok", "ok"]
    assert [r.status for r in store.runs("beta")] == ["ok", "failed"]

    monkeypatch.setenv("EXPBOOK_NOTEBOOKS", str(notebooks))
    book_dir = tmp_path / "book"
    for name in HAND_WRITTEN:
        (book_dir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "book" / name, book_dir / name)
    html = (build_book(store=store, book_dir=book_dir, echo=lambda *_: None).parent / "overview.html").read_text()
    assert "failed: RuntimeError: the beta data vanished" in html
    assert (book_dir / "_build" / "html" / "reports" / "beta.html").is_file()  # the last good report is still there
