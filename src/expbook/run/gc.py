"""``python -m expbook gc``: drop old failed and variant runs from the store, never what a report or release cites.

Candidates are failed (or unreadable) runs and variant runs. Of those, a run is removed when it matches every
criterion given: older than ``--older-than``, and beyond the newest ``--keep`` candidates of its experiment. Never
removed: an experiment's canonical run, a run that a release in ``book/_versions`` lists, a run of a sweep that
did not finish. Without ``--yes`` nothing is removed: the plan is printed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from expbook.errors import ParameterError
from expbook.run.store import RunRecord, Store
from expbook.run.sweep import load_sweeps

UNITS = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_age(text: str) -> dt.timedelta:
    """``90m``, ``12h``, ``30d``, ``2w`` → a duration; ``ParameterError`` otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text or "")
    if not match:
        raise ParameterError(f"--older-than takes a number and a unit (m, h, d, w), e.g. 30d; got {text!r}")
    return dt.timedelta(seconds=float(match.group(1)) * UNITS[match.group(2)])


def started(record: RunRecord) -> dt.datetime:
    """When the run started: its provenance, else the UTC time its id starts with."""
    text = record.results.get("provenance", {}).get("started")
    try:
        return dt.datetime.fromisoformat(text) if text else dt.datetime.strptime(record.run_id[:15], "%Y%m%dT%H%M%S").replace(
            tzinfo=dt.timezone.utc)
    except ValueError:
        return dt.datetime.now(dt.timezone.utc)  # an id that is no time: treat it as new, so age never removes it


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def check_limits(older_than: dt.timedelta | None, keep: int | None) -> None:
    """``ParameterError`` unless at least one limit is given and ``keep`` is not negative."""
    if older_than is None and keep is None:
        raise ParameterError("gc needs --older-than AGE and/or --keep N (the newest N failed or variant runs per "
                             "experiment are kept)")
    if keep is not None and keep < 0:
        raise ParameterError(f"--keep must be 0 or more, got {keep}")


@dataclass
class Plan:
    remove: list[tuple[RunRecord, int]] = field(default_factory=list)  # run, bytes
    kept: dict[str, int] = field(default_factory=dict)  # reason → runs protected

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.remove)


def plan(store: Store, *, cited: set[tuple[str, str]], older_than: dt.timedelta | None = None,
         keep: int | None = None, now: dt.datetime | None = None) -> Plan:
    """Which runs ``gc`` would remove, and how many candidates each protection kept."""
    check_limits(older_than, keep)
    now = now or dt.datetime.now(dt.timezone.utc)
    # a sweep's manifest lists its variants from the start and its runs at the end: a run of an unfinished sweep
    # is any run of its experiment with one of its variants' parameters
    unfinished = {(s["experiment"], json.dumps(v, sort_keys=True, default=str)) for e in store.experiments()
                  for s in load_sweeps(e, store) if s.get("status", "finished") != "finished"
                  for v in s.get("variants", [])}
    result = Plan()

    def protect(reason: str) -> None:
        result.kept[reason] = result.kept.get(reason, 0) + 1

    for experiment in store.experiments():
        canonical = store.canonical(experiment)
        candidates = [r for r in store.runs(experiment) if not r.ok or r.overrides]
        for position, record in enumerate(reversed(candidates)):  # newest first
            if canonical is not None and record.run_id == canonical.run_id:
                protect("canonical")
            elif (experiment, record.run_id) in cited:
                protect("cited by a release")
            elif (experiment, json.dumps(record.overrides, sort_keys=True, default=str)) in unfinished:
                protect("in a sweep that did not finish")
            elif keep is not None and position < keep:
                protect(f"among the newest {keep}")
            elif older_than is not None and now - started(record) < older_than:
                protect("newer than the age limit")
            else:
                result.remove.append((record, folder_bytes(record.path)))
    return result


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} kB"


def describe(record: RunRecord) -> str:
    kind = "failed" if record.status == "failed" else ("unreadable" if record.unreadable else "variant")
    params = ", ".join(f"{k}={v!r}" for k, v in record.overrides.items()) or "defaults"
    return f"{record.experiment}/{record.run_id}  {kind}  ({params})"


def collect(store: Store, result: Plan, *, yes: bool, echo=print) -> None:
    """Print the plan; with ``yes``, remove the runs (each folder in one rename, then deleted)."""
    for record, size in result.remove:
        echo(f"{'remove' if yes else 'would remove'}  {describe(record)}  {_size(size)}")
    kept = "; ".join(f"{count} {reason}" for reason, count in sorted(result.kept.items())) or "none"
    if not yes:
        echo(f"{len(result.remove)} run(s), {_size(result.bytes)}, would be removed (kept: {kept}); "
             f"pass --yes to remove them")
        return
    for stray in store.root.glob("*/.gc-*"):  # a gc killed while deleting
        shutil.rmtree(stray, ignore_errors=True)
    for record, _ in result.remove:
        trash = record.path.with_name(f".gc-{record.run_id}")
        record.path.rename(trash)  # gone from the store at once; a kill now leaves only a hidden folder
        shutil.rmtree(trash, ignore_errors=True)
    echo(f"removed {len(result.remove)} run(s), freed {_size(result.bytes)} (kept: {kept}); "
         f"`make book` drops their pages")
