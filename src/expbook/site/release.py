"""Frozen releases of the built site, the mike way: ``versions/<name>/`` folders never rebuilt, ``versions.json``
with the ``latest`` alias, and a *what changed* page per release computed from the runs' verdicts and intervals.

Layout of ``book/_versions/`` (outside ``_build``, which every site build swaps out, and kept by ``make clean``)::

    versions.json / versions.js   the releases, newest last, and the aliases (``latest``); .js for file:// readers
    index.html                    redirects to latest/
    <name>/                       a copy of the site as built when released, + release.json + changes.html
    latest/                       one redirect page per page of the newest release

Every page carries a version switcher (``_static/expbook_versions.js``) that reads ``versions.js`` with a script
tag, so it works from ``file://`` as well as over HTTP, with no CDN.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from expbook.errors import ExpbookError, ParameterError
from expbook.escape import json_script
from expbook.project import Project
from expbook.run.catalogue import list_experiments
from expbook.run.provenance import git
from expbook.run.store import Store, verdicts_of
from expbook.site.changes import release_diff, render_diff_html, render_diff_text
from expbook.site.status import FRESH, experiment_status
from expbook.verdicts import state_from_record

LATEST = "latest"
RELEASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SNAPSHOT = "release.json"
CHANGES = "changes.html"


def versions_dir(book_dir: Path | None = None) -> Path:
    return (book_dir or Project.current().book) / "_versions"


def read_versions(root: Path) -> dict[str, Any]:
    path = root / "versions.json"
    return json.loads(path.read_text()) if path.is_file() else {"versions": [], "aliases": {}}


def snapshot(store: Store) -> dict[str, Any]:
    """What a release says, per experiment: its canonical run, headline, verdicts (state, value, interval),
    key metric, parameters, code commit and data fingerprint; every run its history lists (``runs``: what
    ``gc`` keeps) and the failed runs among them."""
    experiments = {}
    for experiment in list_experiments():
        canonical = store.canonical(experiment)
        if canonical is None:
            continue
        runs = store.runs(experiment)
        results = canonical.results
        verdicts = verdicts_of(results)
        provenance = results.get("provenance", {})
        experiments[experiment] = {
            "run_id": canonical.run_id, "headline": results.get("headline", ""),
            "verdicts": {v["id"]: {"question": v["question"], "state": state_from_record(v),
                                   "value": v.get("value"), "value_text": v.get("value_text", ""), "ci": v.get("ci")}
                         for v in verdicts},
            "key_metric": results.get("key_metric", {}), "params": results.get("params", {}),
            "commit": provenance.get("git", {}).get("commit", ""), "data": provenance.get("data_fingerprint", ""),
            "runs": [r.run_id for r in runs],
            "failed": [{"run_id": r.run_id, "overrides": r.overrides,
                        "error": r.results.get("error", {}).get("exception", "")} for r in runs if r.status == "failed"]}
    return experiments


def cited_runs(book_dir: Path | None = None) -> set[tuple[str, str]]:
    """(experiment, run id) of every run any release in ``book/_versions`` lists: ``gc`` never removes these."""
    root = versions_dir(book_dir)
    cited = set()
    for path in sorted(root.glob(f"*/{SNAPSHOT}")):
        try:
            frozen = json.loads(path.read_text())
        except (OSError, ValueError):
            raise ExpbookError(f"{path}: unreadable release snapshot; gc keeps every run until it is fixed") from None
        for experiment, entry in frozen.items():
            cited.update((experiment, run_id) for run_id in [entry.get("run_id"), *entry.get("runs", [])] if run_id)
    return cited


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _redirect(target: str, label: str) -> str:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Redirecting to {html.escape(label)}</title>'
            f'<meta http-equiv="refresh" content="0; url={html.escape(target, quote=True)}">'
            f'<script>location.replace({json_script(target)} + location.hash)</script></head>'
            f'<body><a href="{html.escape(target, quote=True)}">{html.escape(label)}</a></body></html>\n')


def _write_aliases(root: Path, index: dict[str, Any]) -> None:
    """``latest/`` as one redirect page per page of the newest release, and the root redirect (built aside and
    swapped in, so a killed release leaves the previous ``latest`` or none, never half of one)."""
    newest = index["aliases"][LATEST]
    latest, building = root / LATEST, root / f".{LATEST}.tmp-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    for page in (root / newest).rglob("*.html"):
        relative = page.relative_to(root / newest)
        redirect = building / relative
        redirect.parent.mkdir(parents=True, exist_ok=True)
        redirect.write_text(_redirect("../" * len(relative.parts) + f"{quote(newest)}/{quote(relative.as_posix())}",
                                      newest))
    old = root / f".{LATEST}.old-{os.getpid()}"
    if latest.exists():
        os.rename(latest, old)
    os.rename(building, latest)
    shutil.rmtree(old, ignore_errors=True)
    _write_atomic(root / "index.html", _redirect(f"{LATEST}/index.html", LATEST))


def _write_index(root: Path, index: dict[str, Any]) -> None:
    """``versions.json`` and ``versions.js`` (for file:// readers), each replaced in one rename."""
    _write_atomic(root / "versions.json", json.dumps(index, indent=1) + "\n")
    _write_atomic(root / "versions.js", f"window.EXPBOOK_VERSIONS = {json_script(index, indent=1)};\n")


def _remove_leftovers(root: Path) -> list[str]:
    """Folders a killed release left behind: its unfinished copy, an unfinished ``latest``."""
    removed = []
    for stray in sorted(root.glob(".*.tmp-*")) + sorted(root.glob(f".{LATEST}.old-*")):
        shutil.rmtree(stray, ignore_errors=True) if stray.is_dir() else stray.unlink(missing_ok=True)
        removed.append(stray.name)
    return removed


def readiness_problems(store: Store) -> list[str]:
    """Why the site may not be released: a canonical report that is stale (with the command that fixes it) or
    whose latest default run failed. A failed *variant* is no reason: it never replaces a report."""
    problems = []
    for experiment in list_experiments():
        status = experiment_status(experiment, store)
        if status.latest_failure:
            error = status.latest_failure.results.get("error", {}).get("exception", "")
            problems.append(f"{experiment}: its latest default run {status.latest_failure.run_id} failed ({error}): "
                            f"fix the notebook, then run `make book`")
        elif status.state != FRESH:
            problems.append(f"{experiment} is {status.label} ({status.reason}): run `make book`")
    return problems


def release(name: str, *, store: Store | None = None, book_dir: Path | None = None, force: bool = False,
            echo=lambda _: None) -> Path:
    """Freeze the built site as version ``name``; refused (unless ``force``) for an existing name or a site with
    stale or failed canonical reports. Earlier versions are never touched; ``latest`` moves to ``name``.

    Kill-safe: the copy is made aside and renamed into place, and ``versions.json`` is replaced in one rename
    afterwards, so a release is listed only once it is whole; the next release removes what a killed one left.
    """
    if not RELEASE_NAME.fullmatch(name or "") or name == LATEST:
        raise ParameterError(f"release name {name!r}: use a plain name of letters, digits, '.', '_' or '-', "
                             f"such as v1 or 2026-11 (not '{LATEST}')")
    store = store or Store()
    site = (book_dir or Project.current().book) / "_build" / "html"
    if not (site / "index.html").is_file():
        raise ExpbookError(f"{site}: no built site to release; run `make book` first")
    root = versions_dir(book_dir)
    root.mkdir(parents=True, exist_ok=True)
    for stray in _remove_leftovers(root):
        echo(f"release: removed {stray}, left by a release that did not finish")
    index = read_versions(root)
    names = [v["name"] for v in index["versions"]]
    if name in names and not force:
        raise ParameterError(f"release {name} exists ({root / name}); pick another name or pass --force")
    if not force and (problems := readiness_problems(store)):
        raise ExpbookError("not released: " + "; ".join(problems) + " (or pass --force)")
    previous = next((v["name"] for v in reversed(index["versions"]) if v["name"] != name), None)
    now = snapshot(store)
    old = json.loads((root / previous / SNAPSHOT).read_text()) if previous else {}
    target = root / name
    tmp = root / f".{name}.tmp-{os.getpid()}"
    shutil.copytree(site, tmp)
    (tmp / SNAPSHOT).write_text(json.dumps(now, indent=1, default=str))
    (tmp / CHANGES).write_text(render_diff_html(name, previous, release_diff(old, now)))
    if target.exists():
        shutil.rmtree(target)
    os.rename(tmp, target)
    entry = {"name": name, "released": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
             "commit": git("rev-parse", "HEAD")}
    index["versions"] = [v for v in index["versions"] if v["name"] != name] + [entry]
    index["aliases"][LATEST] = name
    _write_index(root, index)
    _write_aliases(root, index)
    return target


def diff_releases(name_a: str, name_b: str, book_dir: Path | None = None) -> str:
    root = versions_dir(book_dir)
    snapshots = []
    for name in (name_a, name_b):
        path = root / name / SNAPSHOT
        if not path.is_file():
            known = ", ".join(v["name"] for v in read_versions(root)["versions"]) or "none yet"
            raise ParameterError(f"no release {name!r} in {root} (releases: {known})")
        snapshots.append(json.loads(path.read_text()))
    return render_diff_text(name_a, name_b, release_diff(*snapshots))


def publish(*, remote: str = "origin", branch: str = "gh-pages", book_dir: Path | None = None,
            repo: Path | None = None) -> str:
    """Put the versions tree on ``branch`` with ghp-import (one commit, pushed to ``remote``) in the git repository
    ``repo`` (default: the project's). Returns ghp-import's output."""
    root = versions_dir(book_dir)
    if not (root / "versions.json").is_file():
        raise ExpbookError(f"{root}: no releases to publish; run `make release V=NAME` first")
    names = ", ".join(v["name"] for v in read_versions(root)["versions"])
    command = [sys.executable, "-c", "import ghp_import; ghp_import.main()", str(root), "--no-jekyll", "--push",
               "--force", "--remote", remote, "--branch", branch, "--message", f"expbook site: releases {names}"]
    result = subprocess.run(command, cwd=repo or Project.current().book.parent, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
        raise ExpbookError(f"ghp-import could not publish to {remote}/{branch}: {' '.join(tail)}")
    return f"published releases {names} to {remote}/{branch}"
