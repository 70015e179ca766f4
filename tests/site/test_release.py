"""Releases: frozen versions, the latest alias, what changed between releases, the switcher, publishing."""

import functools
import http.server
import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from expbook import PROJECT_ROOT
from expbook.errors import ExpbookError, ParameterError, RunFailed
from expbook.run.runner import run_experiment
from expbook.run.store import Store
from expbook.site.book import HAND_WRITTEN, build_book
from expbook.site.release import diff_releases, publish, release
from tests.helpers import fixture_notebook

pytestmark = pytest.mark.slow
QUIET = {"progress": False, "echo": lambda *_: None}
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """v1 with the fixture's verdict E holding (seed 0), v2 after a default change flips it (seed 1)."""
    tmp = tmp_path_factory.mktemp("release")
    patch = pytest.MonkeyPatch()
    notebooks = tmp / "notebooks"
    patch.setenv("EXPBOOK_NOTEBOOKS", str(notebooks))
    notebook = fixture_notebook(notebooks)
    store, book = Store(tmp / "runs"), tmp / "book"
    for name in HAND_WRITTEN:
        (book / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "book" / name, book / name)
    run_experiment("fixture", {}, store=store, **QUIET)
    build_book(store=store, book_dir=book, echo=lambda *_: None)
    v1 = release("v1", store=store, book_dir=book)
    v1_index = (v1 / "index.html").read_bytes()
    notebook.write_text(notebook.read_text().replace("seed = 0  # a seed", "seed = 1  # a seed"))
    run_experiment("fixture", {}, store=store, **QUIET)
    build_book(store=store, book_dir=book, echo=lambda *_: None)
    v2 = release("v2", store=store, book_dir=book)
    yield {"root": book / "_versions", "v1": v1, "v2": v2, "v1_index": v1_index, "store": store, "book": book,
           "notebook": notebook}
    patch.undo()


def test_each_release_is_a_frozen_folder_and_latest_points_at_the_newest(released):
    root = released["root"]
    index = json.loads((root / "versions.json").read_text())
    assert [v["name"] for v in index["versions"]] == ["v1", "v2"] and index["aliases"] == {"latest": "v2"}
    assert (released["v1"] / "index.html").read_bytes() == released["v1_index"]  # v1 never rebuilt
    assert 'url=../v2/overview.html' in (root / "latest" / "overview.html").read_text()
    assert "window.EXPBOOK_VERSIONS" in (root / "versions.js").read_text()


def test_what_changed_lists_the_flipped_verdict_with_both_states(released):
    page = (released["v2"] / "changes.html").read_text()
    assert "What changed in v2" in page and "release <b>v1</b>" in page
    assert "Is the seed even?" in page and ">holds<" in page and ">does not hold<" in page
    assert "<code>seed</code>: <code>0</code> → <code>1</code>" in page
    assert "first release" in (released["v1"] / "changes.html").read_text()
    text = diff_releases("v1", "v2", book_dir=released["book"])
    assert "verdict E: holds -> does not hold" in text and "parameter seed: 0 -> 1" in text


def test_existing_names_and_stale_sites_are_refused_unless_forced(released):
    with pytest.raises(ParameterError, match="release v2 exists"):
        release("v2", store=released["store"], book_dir=released["book"])
    notebook = released["notebook"]
    original = notebook.read_text()
    notebook.write_text(original.replace("y = x + 1", "y = x + 3"))
    try:
        with pytest.raises(ExpbookError, match=r"fixture is stale \(re-execute: notebook code changed\): run `make book`"):
            release("v3", store=released["store"], book_dir=released["book"])
    finally:
        notebook.write_text(original)
    assert not (released["root"] / "v3").exists()


def _switch(page, value):
    page.wait_for_selector("#expbook-version", timeout=10_000)
    with page.expect_navigation():
        page.select_option("#expbook-version", value)
    page.wait_for_load_state("load")


@pytest.mark.parametrize("scheme", ["file", "http"])
def test_the_switcher_navigates_v1_to_v2_to_latest(released, scheme):
    from playwright.sync_api import sync_playwright
    root = released["root"]
    server = None
    if scheme == "http":
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
        handler.log_message = lambda *args: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}/"
    else:
        base = root.as_uri() + "/"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(base + "v1/overview.html")
            assert page.eval_on_selector("#expbook-version", "s => s.value") == "v1"
            _switch(page, "v2")
            assert page.url.endswith("/v2/overview.html")
            assert page.eval_on_selector("#expbook-version", "s => s.value") == "v2"
            _switch(page, "latest")
            page.wait_for_url("**/v2/overview.html", timeout=10_000)  # latest redirects to the newest release
            browser.close()
    finally:
        if server:
            server.shutdown()


def test_publish_puts_every_version_on_gh_pages_of_a_bare_repository(released, tmp_path):
    def git(*args, cwd):
        return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout

    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git("init", "--bare", "-q", str(remote), cwd=tmp_path)
    git("init", "-q", str(work), cwd=tmp_path)
    git("remote", "add", "origin", str(remote), cwd=work)
    message = publish(remote="origin", book_dir=released["book"], repo=work)
    assert message == "published releases v1, v2 to origin/gh-pages"
    files = git("ls-tree", "-r", "--name-only", "gh-pages", cwd=remote).splitlines()
    assert {"versions.json", "v1/index.html", "v2/index.html", "v2/changes.html", "latest/index.html",
            ".nojekyll"} <= set(files)


def test_a_failed_variant_does_not_block_a_release_and_what_changed_lists_it(released):
    store, book, notebook = released["store"], released["book"], released["notebook"]
    original = notebook.read_text()
    notebook.write_text(original.replace("y = x + 1", "y = x + 1\\nif x == 99:\\n    raise ValueError('x = 99 breaks')"))
    try:
        run_experiment("fixture", {}, store=store, **QUIET)
        with pytest.raises(RunFailed):
            run_experiment("fixture", {"x": 99}, store=store, **QUIET)
        build_book(store=store, book_dir=book, echo=lambda *_: None)
        v3 = release("v3", store=store, book_dir=book)
        page = (v3 / "changes.html").read_text()
        assert "Failed runs since the previous release" in page and "ValueError: x = 99 breaks" in page
        assert "failed run" in diff_releases("v2", "v3", book_dir=book)
    finally:
        notebook.write_text(original)
        run_experiment("fixture", {}, store=store, **QUIET)


def test_a_failed_default_run_still_refuses_and_names_the_fix(released, tmp_path):
    from expbook.site.release import readiness_problems
    store, notebook = released["store"], released["notebook"]
    original = notebook.read_text()
    notebook.write_text(original.replace("y = x + 1", "raise ValueError('broken default')"))
    try:
        with pytest.raises(RunFailed):
            run_experiment("fixture", {}, store=store, **QUIET)
        problems = readiness_problems(store)
        assert len(problems) == 1 and "latest default run" in problems[0] and "then run `make book`" in problems[0]
    finally:
        notebook.write_text(original)
        run_experiment("fixture", {}, store=store, force=True, **QUIET)
