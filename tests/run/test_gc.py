"""gc removes old failed and variant runs, and never a canonical, a released or an unfinished sweep's run."""

import datetime as dt
import html.parser
import json
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from expbook import PROJECT_ROOT
from expbook.errors import ParameterError
from expbook.run import gc
from expbook.run.store import Store
from tests.helpers import fixture_notebook, run_cli


def _run(store: Path, experiment: str, run_id: str, *, status: str = "ok", overrides: dict | None = None,
         started: str = "2026-01-01T00:00:00+00:00") -> None:
    folder = store / experiment / run_id
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({"status": status, "overrides": overrides or {},
                                                     "provenance": {"started": started}}))
    (folder / "report.ipynb").write_text("x" * 1000)


@pytest.fixture()
def store(tmp_path) -> Store:
    root = tmp_path / "runs"
    _run(root, "e", "20260101T000000000Z-canon")  # canonical (default, ok)
    _run(root, "e", "20260101T000001000Z-var1", overrides={"seed": 1})
    _run(root, "e", "20260101T000002000Z-fail", status="failed", overrides={"seed": 2})
    _run(root, "e", "20260101T000003000Z-fail2", status="failed")  # a failed default run
    _run(root, "e", "20260101T000004000Z-var3", overrides={"seed": 3}, started="2026-06-01T00:00:00+00:00")
    return Store(root)


def _removed(plan: gc.Plan) -> list[str]:
    return sorted(record.run_id.split("-")[-1] for record, _ in plan.remove)


def test_keep_zero_removes_every_failed_and_variant_run_but_the_canonical(store):
    plan = gc.plan(store, cited=set(), keep=0)
    assert _removed(plan) == ["fail", "fail2", "var1", "var3"]
    assert plan.bytes >= 4 * 1000


def test_keep_n_keeps_the_newest_candidates_and_age_keeps_the_young(store):
    assert _removed(gc.plan(store, cited=set(), keep=2)) == ["fail", "var1"]
    now = dt.datetime(2026, 6, 2, tzinfo=dt.timezone.utc)
    assert _removed(gc.plan(store, cited=set(), older_than=gc.parse_age("30d"), now=now)) == ["fail", "fail2", "var1"]
    both = gc.plan(store, cited=set(), older_than=gc.parse_age("30d"), keep=3, now=now)
    assert _removed(both) == ["var1"]  # beyond the newest 3 AND older than 30 days


def test_released_runs_and_the_runs_of_an_unfinished_sweep_are_kept(store):
    sweeps = store.root / ".sweeps" / "e"
    sweeps.mkdir(parents=True)
    (sweeps / "s.json").write_text(json.dumps({"experiment": "e", "sweep_id": "s", "status": "running",
                                               "variants": [{"seed": 3}], "runs": []}))
    plan = gc.plan(store, cited={("e", "20260101T000001000Z-var1")}, keep=0)
    assert _removed(plan) == ["fail", "fail2"]
    assert plan.kept == {"cited by a release": 1, "in a sweep that did not finish": 1}


def test_nothing_is_removed_without_yes_and_the_plan_says_so(store):
    lines = []
    gc.collect(store, gc.plan(store, cited=set(), keep=0), yes=False, echo=lines.append)
    assert len(store.runs("e")) == 5 and lines[-1].startswith("4 run(s), ") and "pass --yes" in lines[-1]
    gc.collect(store, gc.plan(store, cited=set(), keep=0), yes=True, echo=lines.append)
    assert [r.run_id for r in store.runs("e")] == ["20260101T000000000Z-canon"]
    assert lines[-1].startswith("removed 4 run(s), freed ")


def test_bad_arguments_are_one_line_errors(store):
    with pytest.raises(ParameterError, match="needs --older-than"):
        gc.plan(store, cited=set())
    with pytest.raises(ParameterError, match="a number and a unit"):
        gc.parse_age("thirty days")


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value and not value.startswith(("#", "data:", "javascript:", "mailto:")):
                self.links.append(value)


@pytest.mark.slow
def test_gc_keep_zero_after_a_release_keeps_every_link_of_the_release(tmp_path):
    notebooks, book = tmp_path / "notebooks", tmp_path / "book"
    fixture_notebook(notebooks, "alpha", title="Alpha")
    shutil.copytree(PROJECT_ROOT / "book", book, ignore=shutil.ignore_patterns("_build", "_versions", "reports",
                                                                             "history", "runs", "compare", "sweeps"))
    env = {"EXPBOOK_RUNS": str(tmp_path / "runs"), "EXPBOOK_NOTEBOOKS": str(notebooks), "EXPBOOK_BOOK_DIR": str(book)}
    for seed in (None, 1, 2):
        assert run_cli("run", "alpha", *(["-p", f"seed={seed}"] if seed else []), "-q", env=env).returncode == 0
    assert run_cli("build", env=env).returncode == 0
    assert run_cli("release", "v1", env=env).returncode == 0
    released = {r.run_id for r in Store(tmp_path / "runs").runs("alpha")}
    for seed in (3, 4):
        assert run_cli("run", "alpha", "-p", f"seed={seed}", "-q", env=env).returncode == 0
    result = run_cli("gc", "--keep", "0", "--yes", env=env)
    assert result.returncode == 0, result.stderr
    assert "removed 2 run(s)" in result.stdout and "2 cited by a release" in result.stdout
    assert {r.run_id for r in Store(tmp_path / "runs").runs("alpha")} == released
    assert run_cli("build", env=env).returncode == 0
    v1 = book / "_versions" / "v1"
    pages = [p for p in v1.rglob("*.html") if p.relative_to(v1).parts[0] not in ("_static", "_sources")]
    assert any(p.relative_to(v1).parts[0] == "runs" for p in pages)
    for page in pages:
        parser = Links()
        parser.feed(page.read_text())
        for link in parser.links:
            target = urlparse(link)
            if target.scheme or target.netloc:
                continue
            path = (page.parent / unquote(target.path)).resolve() if target.path else page
            assert path.exists(), (page.relative_to(v1), link)
