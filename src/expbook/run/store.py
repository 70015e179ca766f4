"""The run store: ``runs/<experiment>/<run_id>/`` folders, written atomically, read by the book.

A run folder appears only when complete (it is written as ``.tmp-<run_id>`` and renamed).
The *canonical* run of an experiment is its latest successful run with default parameters;
every other run is a variant. Failed runs are kept (``status: failed``) but never canonical.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expbook.project import Project

TMP_PREFIX = ".tmp-"
UNREADABLE = "unreadable"
CANONICAL = ".canonical"  # <store>/<experiment>/.canonical: the run id of the report the site shows
OWNER_FILE = ".owner.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _orphaned(tmp: Path, min_age_s: float) -> bool:
    try:
        owner = json.loads((tmp / OWNER_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        try:
            return time.time() - tmp.stat().st_mtime > min_age_s
        except OSError:
            return False
    return owner.get("host") == socket.gethostname() and not _alive(int(owner.get("pid", 0)))


@dataclass(frozen=True)
class RunRecord:
    experiment: str
    run_id: str
    path: Path
    results: dict[str, Any]

    @property
    def status(self) -> str:
        return self.results.get("status", "unknown")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def unreadable(self) -> bool:
        """Its ``results.json`` could not be parsed (truncated by a crash, edited by hand): listed, never used."""
        return self.status == UNREADABLE

    @property
    def overrides(self) -> dict[str, Any]:
        return self.results.get("overrides", {})

    @property
    def is_default(self) -> bool:
        return not self.overrides

    @property
    def cache_key(self) -> str:
        return self.results.get("provenance", {}).get("cache_key", "")


class Store:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root or Project.current().runs)
        self._parsed: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}

    def experiments(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def runs(self, experiment: str) -> list[RunRecord]:
        """Every complete run of ``experiment``, oldest first (run ids start with the UTC time).

        A run whose ``results.json`` cannot be parsed is returned with status ``unreadable`` and the reason, so
        pages can list it with its path; a folder deleted meanwhile is skipped. Parsed files are kept per Store by
        (size, mtime), so the many reads of one build parse each file once.
        """
        folder = self.root / experiment
        try:
            paths = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []
        records = []
        for path in paths:
            results = self._read(path / "results.json")
            if results is not None:
                records.append(RunRecord(experiment, path.name, path, results))
        return records

    def _read(self, results_file: Path) -> dict[str, Any] | None:
        try:
            stat = results_file.stat()
        except OSError:  # no results.json (not a run folder) or the folder is gone
            return None
        key = (stat.st_size, stat.st_mtime_ns)
        cached = self._parsed.get(results_file)
        if cached and cached[0] == key:
            return cached[1]
        try:
            results = json.loads(results_file.read_text())
            problem = schema_problem(results)
            if problem:
                raise ValueError(problem)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            results = {"status": UNREADABLE, "overrides": {},
                       "error": {"exception": f"results.json is unreadable ({type(exc).__name__}: {exc})",
                                 "path": str(results_file), "cell": None, "last_lines": []}}
        self._parsed[results_file] = (key, results)
        return results

    def unreadable(self, experiment: str) -> list[RunRecord]:
        return [r for r in self.runs(experiment) if r.unreadable]

    def canonical(self, experiment: str) -> RunRecord | None:
        """The run the site shows as the report: the default run the last build or ``run`` chose (``.canonical``,
        a pointer the runner writes; the runs themselves are never rewritten), else the latest successful default
        run. After code is reverted, a build reuses the older run whose key matches again, and it is canonical again:
        the newer run of the reverted code stays in the history, not on the report."""
        candidates = [r for r in self.runs(experiment) if r.ok and r.is_default]
        try:
            chosen = (self.root / experiment / CANONICAL).read_text().strip()
        except OSError:
            chosen = None
        for record in candidates:
            if record.run_id == chosen:
                return record
        return candidates[-1] if candidates else None

    def set_canonical(self, experiment: str, run_id: str) -> None:
        """Point ``.canonical`` at ``run_id`` (atomically); only a successful default run is ever pointed at."""
        path = self.root / experiment / CANONICAL
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{CANONICAL}.{os.getpid()}.tmp")
        tmp.write_text(run_id + "\n")
        os.replace(tmp, path)

    def last_ok(self, experiment: str) -> RunRecord | None:
        """The newest successful run, the canonical one first (its cell durations predict the next run's)."""
        canonical = self.canonical(experiment)
        if canonical is not None:
            return canonical
        ok = [r for r in self.runs(experiment) if r.ok]
        return ok[-1] if ok else None

    def find_ok_by_key(self, experiment: str, cache_key: str) -> RunRecord | None:
        matches = [r for r in self.runs(experiment) if r.ok and r.cache_key == cache_key]
        return matches[-1] if matches else None

    def get(self, experiment: str, run_id: str) -> RunRecord:
        for record in self.runs(experiment):
            if record.run_id == run_id:
                return record
        raise KeyError(f"no run {run_id} of {experiment} in {self.root}")

    def new_tmp(self, experiment: str, run_id: str) -> Path:
        """A temporary run folder carrying its owner (pid, host), so an orphan can be told from a live run."""
        path = self.root / experiment / f"{TMP_PREFIX}{run_id}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        (path / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
        return path

    def commit(self, tmp: Path, experiment: str, run_id: str) -> Path:
        """Rename the finished temporary folder into place (atomic on one filesystem)."""
        (tmp / OWNER_FILE).unlink(missing_ok=True)
        final = self.root / experiment / run_id
        os.rename(tmp, final)
        return final

    def remove_orphans(self, *, min_age_s: float = 60.0) -> list[Path]:
        """Remove temporary run folders whose owning process on this host is gone (a SIGKILLed run).

        A folder whose owner is alive, or runs on another host, is never touched; one without an owner
        note (older code, or the instant between mkdir and the note) only once it is ``min_age_s`` old.
        """
        removed = []
        for path in sorted(self.root.glob(f"*/{TMP_PREFIX}*")):
            if path.is_dir() and _orphaned(path, min_age_s):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        return removed

    def discard(self, tmp: Path) -> None:
        shutil.rmtree(tmp, ignore_errors=True)


def verdicts_of(results: dict[str, Any]) -> list[dict[str, Any]]:
    """A run's verdicts as stored, its gate first (under the id ``Gate``): the one list every page and summary reads."""
    gate = results.get("gate")
    return ([{**gate, "id": "Gate"}] if gate else []) + list(results.get("verdicts", []))


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of nested metrics as ``a.b.c`` keys; lists of records keyed by their first field."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            flat[name] = float(value)
        elif isinstance(value, (int, float)):
            flat[name] = float(value)
        elif isinstance(value, dict):
            flat.update(flatten_metrics(value, name + "."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) and v for v in value) and key != "bootstrap":
            for row in value:
                first = next(iter(row))
                flat.update(flatten_metrics({k: v for k, v in row.items() if k != first}, f"{name}.{first}={row[first]}."))
    return flat


def data_origin(results: dict[str, Any]) -> str:
    """Where a run's data came from: what the run recorded (``data_origin``), else read from its ``data_dir``."""
    if results.get("data_origin"):
        return str(results["data_origin"])
    data_dir = (results.get("params") or {}).get("data_dir")
    return f"real files from the folder {data_dir}" if data_dir else "the report's default data"


_FIELDS = {"params": dict, "overrides": dict, "metrics": dict, "provenance": dict, "error": dict, "diagnostics": dict,
           "verdicts": list, "figures": list, "key_metric": dict, "tables": dict, "gate": dict}
_TEXT = ("experiment", "run_id", "status", "headline", "question", "data_origin")


def schema_problem(results: Any) -> str | None:
    """Why a parsed ``results.json`` cannot be shown (a field of the wrong type, a verdict without its id or question,
    a surrogate that no page can encode), or None. A run file is hostile: one malformed run must read as unreadable,
    not stop the site from building."""
    if not isinstance(results, dict):
        return "not a JSON object"
    for name, kind in _FIELDS.items():
        if results.get(name) is not None and not isinstance(results[name], kind):
            return f"{name} is a {type(results[name]).__name__}, not a {kind.__name__}"
    for name in _TEXT:
        if results.get(name) is not None and not isinstance(results[name], str):
            return f"{name} is not text"
    if results.get("status") not in (None, "ok", "failed"):
        return f"status {str(results.get('status'))[:20]!r} is neither ok nor failed"
    if not isinstance(results.get("duration_s", 0) or 0, (int, float)):
        return "duration_s is not a number"
    for verdict in [*(results.get("verdicts") or []), *([results["gate"]] if results.get("gate") else [])]:
        if not (isinstance(verdict, dict) and isinstance(verdict.get("id"), str) and isinstance(verdict.get("question"), str)):
            return "a verdict lacks its id or question"
    try:
        json.dumps(results, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError) as exc:
        return f"text that cannot be encoded ({exc.__class__.__name__})"
    return None

