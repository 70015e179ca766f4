"""Build the static site from the run store: Sphinx renders the few pages that do not grow with the history, the
standalone renderer the many that do, and the finished site replaces the old one in one atomic step.

Layout under ``book/_build/`` (never a Sphinx source: ``exclude_patterns`` covers ``_build``)::

    html -> slots/<id>/_build/html   the live site: a symlink, re-pointed atomically by a rename
    slots/<id>/                      one complete Jupyter Book output (html, doctrees, executed notebooks)
    pages/                           standalone run pages, comparisons and run data, one file per run, cached
    keys.json                        the cache key of every generated file

Sphinx renders the overview, the canonical reports, the history and sweep pages and the hand-written pages, in a
new slot that starts as a copy of the live one, so its incremental build reads only what changed. Run and compare
pages are rendered once per run into ``pages/`` and hard-linked into the slot (they are never written in place).
A build that fails or is killed leaves the live site as it was; the next build removes what it left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from expbook import PACKAGE_DIR, PROJECT_ROOT
from expbook.cache import fingerprint_folder
from expbook.errors import ExpbookError
from expbook.escape import json_script
from expbook.project import Project
from expbook.run.provenance import code_dirty, git
from expbook.run.store import Store
from expbook.site.collect import HAND_WRITTEN, collect, file_key, key

STAMP_NAME = ".build-stamp"
FAILURES = "failed.json"


def version_stamp() -> str:
    """``<commit date> · <commit>`` (+dirty): identifies the code that built the site, reproducibly."""
    commit = git("rev-parse", "--short=10", "HEAD")
    if not commit:
        return "uncommitted working tree"
    dirty = {True: "+dirty", False: "", None: "+dirty?"}[code_dirty()]
    return f"{git('log', '-1', '--format=%cs')} · {commit}{dirty}"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(text.encode("utf-8", "replace"))  # a lone surrogate in run text cannot stop the build
    os.replace(tmp, path)


class KeyedFiles:
    """Files under ``root`` written only when their key changed (``keys.json`` remembers the keys)."""

    def __init__(self, root: Path, keys_file: Path):
        self.root, self.keys_file = root, keys_file
        try:
            self.keys = json.loads(keys_file.read_text())
        except (OSError, ValueError):
            self.keys = {}

    def update(self, wanted: dict[str, tuple[str, Callable[[], str]]], *, prune: list[str] = (),
               removed: Callable[[str], None] = lambda _: None) -> list[str]:
        """Render the files whose key changed or that are missing; remove files under ``prune`` folders that are
        no longer wanted (telling ``removed``). Returns the paths rendered."""
        rendered = []
        for relative, (wanted_key, render) in wanted.items():
            path = self.root / relative
            if self.keys.get(relative) != wanted_key or not path.is_file():
                _atomic_write(path, render())
                self.keys[relative] = wanted_key
                rendered.append(relative)
        for folder in prune:
            base = self.root / folder
            if base.is_dir():
                for path in base.rglob("*"):
                    relative = path.relative_to(self.root).as_posix()
                    if path.is_file() and relative not in wanted:
                        path.unlink()
                        self.keys.pop(relative, None)
                        removed(relative)
        self.keys = {k: v for k, v in self.keys.items() if k in wanted}
        _atomic_write(self.keys_file, json.dumps(self.keys, indent=0, sort_keys=True))
        return rendered


def quick_fingerprint(store: Store, book_dir: Path, stamp: str, data_dirs: list[str]) -> str:
    """Every input of the site from file metadata alone, nothing parsed: the version stamp, the package and the
    pinned requirements (what makes a report stale), the notebooks, the hand-written pages, each run's
    ``results.json`` and ``report.ipynb``, the sweep manifests, and the real data folders of the reports. Equal to
    the last build's, the build is a no-op without reading a single run."""
    entries: list = [stamp, data_dirs]
    for root, pattern in ((PACKAGE_DIR, "**/*.py"), (Project.current().notebooks, "*.ipynb"),
                          (store.root / ".sweeps", "*/*.json")):
        entries += [file_key(p)[0] + [str(p.relative_to(root))] for p in sorted(root.glob(pattern))]
    entries += [file_key(PROJECT_ROOT / "requirements.txt", PROJECT_ROOT / "_config.yml"),
                file_key(*(book_dir / name for name in HAND_WRITTEN))]
    for experiment in store.experiments():
        folder = store.root / experiment
        for run in sorted(os.listdir(folder)):
            if not run.startswith("."):
                entries.append([experiment, run, file_key(folder / run / "results.json", folder / run / "report.ipynb")])
        entries.append([experiment, file_key(folder / ".canonical")])  # which run the report shows
    entries += [fingerprint_folder(d) if Path(d).is_dir() else d for d in data_dirs]
    return key(entries)


def _live_slot(build: Path) -> Path | None:
    """The slot the live ``html`` symlink points into, or None (no site yet, or a site built before slots)."""
    link = build / "html"
    if not link.is_symlink():
        return None
    target = (build / os.readlink(link)).resolve()
    return target.parents[1] if target.is_dir() else None


def _remove_leftovers(build: Path, live: Path | None, echo) -> None:
    """Slots and links that a killed or failed build left behind (never the live one)."""
    slots = build / "slots"
    for slot in sorted(slots.iterdir()) if slots.is_dir() else []:
        if live is None or slot.resolve() != live.resolve():
            shutil.rmtree(slot, ignore_errors=True)
            echo(f"book: removed {slot.relative_to(build.parent).as_posix()}, left by an unfinished build")
    for stray in build.glob(".html.*.tmp"):
        stray.unlink(missing_ok=True)


def _copy_sphinx_state(live: Path, slot: Path) -> None:
    """The live slot's Sphinx output, so the new build is incremental; the standalone pages are linked later."""
    def skip(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if Path(folder).name == "html" and n in ("runs", "compare")]
    shutil.copytree(live, slot, symlinks=True, ignore=skip)


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another filesystem: a copy (cached pages are never written in place, so links are safe)
        shutil.copy2(source, target)


def _swap(build: Path, slot: Path) -> None:
    """Point ``build/html`` at the slot's html in one rename (a site built before slots is replaced once)."""
    link, tmp = build / "html", build / f".html.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(slot / "_build" / "html", build), tmp)
    if link.exists() and not link.is_symlink():  # the layout of earlier versions: a real folder
        legacy = build / f".legacy-{os.getpid()}"
        os.rename(link, legacy)
        shutil.rmtree(legacy, ignore_errors=True)
        for name in (".doctrees", "jupyter_execute"):
            shutil.rmtree(build / name, ignore_errors=True)
    os.replace(tmp, link)


def build_book(*, store: Store | None = None, book_dir: Path | None = None, force: bool = False, echo=print) -> Path:
    """Write the pages and render them into ``book_dir/_build/html``; skipped when no input changed."""
    store = store or Store()
    book_dir = book_dir or Project.current().book
    missing = [name for name in HAND_WRITTEN if not (book_dir / name).is_file()]
    if missing:
        raise ExpbookError(f"{book_dir}: hand-written book files missing: {', '.join(missing)}")
    build = book_dir / "_build"
    build.mkdir(exist_ok=True)
    live = _live_slot(build)
    _remove_leftovers(build, live, echo)
    stamp = version_stamp()
    stamp_file = book_dir / STAMP_NAME
    index = build / "html" / "index.html"
    previous = _read_json(stamp_file)
    if not force and live is not None and index.is_file() and previous.get("quick") == quick_fingerprint(
            store, book_dir, stamp, previous.get("data_dirs", [])):
        echo("book: site up to date, nothing rebuilt")
        return index
    generated = collect(store, book_dir, stamp, echo)
    quick = quick_fingerprint(store, book_dir, stamp, generated.data_dirs)
    sources = KeyedFiles(book_dir, build / "keys-sources.json")
    changed = sources.update(generated.sources, prune=["reports", "history", "sweeps", "runs", "compare", "_fragments"])
    standalone = KeyedFiles(build / "pages", build / "keys-pages.json")
    rendered = standalone.update(generated.standalone, prune=["runs", "compare"], removed=lambda relative: echo(
        f"book: run {relative.split('/', 1)[1].removesuffix('.html')} is no longer in the store; removed its page")
        if relative.startswith("runs/") and relative.endswith(".html") else None)
    digest = key(sorted(sources.keys.items()), sorted(standalone.keys.items()),
                  [file_key(book_dir / name) for name in HAND_WRITTEN])
    state = {"digest": digest, "quick": quick, "data_dirs": generated.data_dirs}
    if not force and live is not None and index.is_file() and previous.get("digest") == digest:
        _atomic_write(stamp_file, json.dumps(state))
        echo("book: site up to date, nothing rebuilt")
        return index
    slot = build / "slots" / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    full = force or live is None or generated.structure != _previous_structure(build)
    if not full:
        _copy_sphinx_state(live, slot)
    echo(f"book: building the site with Jupyter Book ({'every page' if full else f'{len(changed)} changed source(s)'}"
         f"; {len(rendered)} standalone page(s) rendered) ...")
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(book_dir),
               "--config", str(book_dir / "_config.generated.yml"), "--toc", str(book_dir / "_toc.yml"),
               "--path-output", str(slot), "-W", "-n", "--keep-going"] + (["--all"] if full else [])
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(slot, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise ExpbookError(f"jupyter-book build failed (the previous site is unchanged):\n{tail}")
    html = slot / "_build" / "html"
    for relative in generated.standalone:
        _link(build / "pages" / relative, html / relative)
    (html / "_static" / "expbook_site.js").write_text(_site_script(stamp))
    _swap(build, slot)
    (build / "structure").write_text(generated.structure)
    if live is not None:
        shutil.rmtree(live, ignore_errors=True)
    _atomic_write(build / FAILURES, json.dumps(generated.failures, indent=1, sort_keys=True))
    _atomic_write(stamp_file, json.dumps(state))
    return index


def listed_failures(book_dir: Path | None = None) -> dict[str, str]:
    """The failed and unreadable runs the live site lists ("<experiment>/<run id>" → what failed)."""
    try:
        return json.loads(((book_dir or Project.current().book) / "_build" / FAILURES).read_text())
    except (OSError, ValueError):
        return {}


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _previous_structure(build: Path) -> str | None:
    try:
        return (build / "structure").read_text()
    except OSError:
        return None


def _site_script(stamp: str) -> str:
    """``_static/expbook_site.js``: the footer of the standalone pages (they are rendered once, the version moves)."""
    return ("(function () { var v = " + json_script(stamp) + "; document.addEventListener('DOMContentLoaded', "
            "function () { var f = document.getElementById('expbook-footer'); if (f) f.textContent = "
            "'expbook site version ' + v; }); })();\n")
