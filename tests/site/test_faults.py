"""Faults leave the store and the site whole: a failed variant on a clean tree, SIGKILL during `book` and during
`release`, a truncated results.json, a run folder deleted by hand. Each says what happened in one line."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from expbook import PROJECT_ROOT
from expbook.run.store import Store
from tests.helpers import fixture_notebook, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture()
def project(tmp_path):
    """A project of its own: one fixture notebook (whose ``x = 99`` raises), a store, a book with a built site."""
    notebooks, book = tmp_path / "notebooks", tmp_path / "book"
    fixture_notebook(notebooks, "alpha", body="if x == 99:\n    raise ValueError('x = 99 is not allowed')", title="Alpha")
    shutil.copytree(PROJECT_ROOT / "book", book, ignore=shutil.ignore_patterns("_build", "_versions", "reports",
                                                                             "history", "runs", "compare", "sweeps"))
    env = {"EXPBOOK_RUNS": str(tmp_path / "runs"), "EXPBOOK_NOTEBOOKS": str(notebooks), "EXPBOOK_BOOK_DIR": str(book)}
    first = run_cli("build", env=env)
    assert first.returncode == 0, first.stderr
    return {"env": env, "book": book, "store": Store(tmp_path / "runs"), "tmp": tmp_path}


def test_a_failed_variant_then_make_book_rebuilds_incrementally_and_exits_for_the_failure_alone(project):
    env, html = project["env"], project["book"] / "_build" / "html"
    failed = run_cli("run", "alpha", "-p", "x=99", "-q", env=env)
    assert failed.returncode == 4 and "x = 99 is not allowed" in failed.stderr
    run_id = project["store"].runs("alpha")[-1].run_id
    build = run_cli("build", env=env)
    assert build.returncode == 4, build.stderr
    errors = [line for line in build.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: the site lists 1 new failed run(s)") and run_id in errors[0]
    assert "1 changed source(s)" in build.stdout  # the incremental path: not a rebuild of every page
    history = (html / "history" / "alpha.html").read_text()
    assert run_id in history and "x = 99 is not allowed" in history
    again = run_cli("build", env=env)
    assert again.returncode == 0 and "site up to date" in again.stdout, again.stderr


def test_sigkill_during_book_leaves_the_old_site_and_the_next_build_works(project):
    env, build_dir = project["env"], project["book"] / "_build"
    before = (build_dir / "html" / "overview.html").read_bytes()
    live = os.readlink(build_dir / "html")
    assert run_cli("run", "alpha", "-p", "seed=3", "-q", env=env).returncode == 0
    process = subprocess.Popen([sys.executable, "-m", "expbook", "book"], cwd=PROJECT_ROOT, env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((build_dir / "slots").glob("*"))) < 2:
        time.sleep(0.02)
    assert len(list((build_dir / "slots").glob("*"))) == 2, "the build never started a slot"
    time.sleep(0.3)  # inside Jupyter Book
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert os.readlink(build_dir / "html") == live and (build_dir / "html" / "overview.html").read_bytes() == before
    after = run_cli("book", env=env)
    assert after.returncode == 0, after.stderr
    assert "left by an unfinished build" in after.stdout and len(list((build_dir / "slots").glob("*"))) == 1


def _killed_release(env: dict, name: str, stall: str, when: str) -> None:
    """``release NAME`` in a subprocess that stalls ``when`` ("before" or "after") ``stall`` runs (a slow disk),
    SIGKILLed there."""
    code = ("import sys, time, shutil\n"
            "import expbook.site.release as r\n"
            f"target, when = {stall!r}, {when!r}\n"
            "original = getattr(r, target) if hasattr(r, target) else getattr(shutil, target)\n"
            "def slow(*a, **k):\n"
            "    if when == 'before':\n        print('stalled', flush=True)\n        time.sleep(60)\n"
            "    out = original(*a, **k)\n    print('stalled', flush=True)\n    time.sleep(60)\n    return out\n"
            "setattr(r, target, slow) if hasattr(r, target) else setattr(r.shutil, target, slow)\n"
            f"from expbook.cli import main\nsys.exit(main(['release', {name!r}]))\n")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_ROOT, env={**os.environ, **env},
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stdout.readline().strip() == "stalled"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.parametrize(("stall", "when"), [("copytree", "after"), ("_write_index", "before"),
                                             ("_write_aliases", "before")])
def test_sigkill_during_release_lists_no_half_release_and_the_next_release_works(project, stall, when):
    env, versions = project["env"], project["book"] / "_versions"
    assert run_cli("release", "v1", env=env).returncode == 0
    index = (versions / "versions.json").read_text()
    _killed_release(env, "v2", stall, when)
    if stall == "_write_aliases":  # killed after v2 was listed: then it is whole
        assert '"v2"' in (versions / "versions.json").read_text() and (versions / "v2" / "changes.html").is_file()
    else:
        assert (versions / "versions.json").read_text() == index  # v2 is not listed: no half release
    result = run_cli("release", "v2", *(["--force"] if stall == "_write_aliases" else []), env=env)
    assert result.returncode == 0, result.stderr
    assert '"v2"' in (versions / "versions.json").read_text() and (versions / "v2" / "index.html").is_file()
    if stall == "copytree":
        assert "left by a release that did not finish" in result.stderr
    assert not list(versions.glob(".*tmp*"))


def test_a_truncated_results_json_is_listed_as_unreadable_and_nothing_else_is_lost(project):
    env, store = project["env"], project["store"]
    assert run_cli("run", "alpha", "-p", "seed=5", "-q", env=env).returncode == 0
    variant = store.runs("alpha")[-1]
    results = variant.path / "results.json"
    results.write_text(results.read_text()[:200])
    build = run_cli("build", env=env)
    assert build.returncode == 4, build.stderr  # the site gained an unreadable run
    warning = [line for line in build.stdout.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and variant.run_id in warning[0] and str(results) in warning[0]
    history = (project["book"] / "_build" / "html" / "history" / "alpha.html").read_text()
    assert "unreadable" in history and str(results) in history
    assert store.canonical("alpha") is not None and (project["book"] / "_build" / "html" / "reports" / "alpha.html").is_file()
    assert run_cli("status", env=env).returncode == 0


def test_a_run_folder_deleted_by_hand_is_dropped_with_one_line(project):
    env, store, html = project["env"], project["store"], project["book"] / "_build" / "html"
    assert run_cli("run", "alpha", "-p", "seed=7", "-q", env=env).returncode == 0
    assert run_cli("build", env=env).returncode == 0
    variant = store.runs("alpha")[-1]
    assert (html / "runs" / "alpha" / f"{variant.run_id}.html").is_file()
    shutil.rmtree(variant.path)
    build = run_cli("build", env=env)
    assert build.returncode == 0, build.stderr
    gone = [line for line in build.stdout.splitlines() if "no longer in the store" in line]
    assert gone == [f"book: run alpha/{variant.run_id} is no longer in the store; removed its page"]
    assert variant.run_id not in (html / "history" / "alpha.html").read_text()
    compare = run_cli("compare", variant.run_id[:20], store.runs("alpha")[0].run_id, env=env)
    assert compare.returncode == 2 and "matches 0 runs" in compare.stderr
    assert run_cli("status", env=env).returncode == 0 and run_cli("release", "v1", env=env).returncode == 0
    assert not Path(variant.path).exists()
