"""Progress of long loops: epochs, folds, seeds, rungs, configurations, bootstrap replicates.

``steps`` wraps a loop the way ``tqdm`` does::

    for epoch in steps(range(config.epochs), "epoch"):
        ...

Loops nest: a fold's epochs inside the folds, each level one entry of a stack ("fold 3/25 · epoch 12/150").
Inside a run the runner sets ``EXPBOOK_PROGRESS`` to a file; every process of the run (the kernel and the
workers training its folds) appends its stack there as one JSON line, at most every ``INTERVAL`` seconds, and
the runner turns those lines into the progress it prints (``run.monitor``). Outside a run — an interactive
session, a script — ``steps`` is a plain ``tqdm`` bar on a terminal and silent otherwise, so the package code
never prints into a report.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

ENV = "EXPBOOK_PROGRESS"
INTERVAL = 1.0  # seconds between two lines of one process (the last state of a loop is always written)
T = TypeVar("T")

_stack: list[list] = []  # [label, done, total] per open loop of this process
_last_write = 0.0
_worker = False  # this process trains jobs for a run (set by ``run.workers``): its lines nest under the kernel's


def mark_worker(progress_file: str | None) -> None:
    """Called where a job starts in another process: its loops report to ``progress_file`` as a worker's."""
    global _worker
    _worker = True
    if progress_file:
        os.environ[ENV] = progress_file
    else:
        os.environ.pop(ENV, None)


def describe(stack: list) -> str:
    """"fold 3/25 · epoch 12/150": each open loop with the step it is on (1-based) and its total."""
    parts = []
    for label, done, total in stack:
        current = done + 1 if total is None or done < total else total
        parts.append(f"{label} {current}/{total}" if total else f"{label} {current}")
    return " · ".join(parts)


def fraction(stack: list) -> float | None:
    """How far the outermost loop is, counting the inner loops' progress (None without totals)."""
    if not stack or not stack[0][2]:
        return None
    value = 0.0
    for label, done, total in reversed(stack):
        if not total:
            return None
        value = (min(done, total) + (value if done < total else 0.0)) / total
    return value


def _write(force: bool = False, **extra) -> None:
    global _last_write
    path = os.environ.get(ENV)
    now = time.time()
    if not path or (not force and now - _last_write < INTERVAL):
        return
    _last_write = now
    line = json.dumps({"pid": os.getpid(), "t": round(now, 2), "worker": _worker, "stack": _stack, **extra})
    try:
        with open(path, "a") as out:  # one short append per line: lines from several processes do not interleave
            out.write(line + "\n")
    except OSError:
        pass  # progress is a courtesy: a full disk or a removed folder must not fail a run


class _Loop:
    """One open loop on this process's stack; ``advance`` marks a step done (see ``loop``)."""

    def __init__(self, label: str, total: int | None):
        self.entry = [label, 0, total]

    def advance(self, done: int | None = None) -> None:
        self.entry[1] = self.entry[1] + 1 if done is None else done
        total = self.entry[2]
        _write(force=total is not None and self.entry[1] >= total and _stack and _stack[0] is self.entry)

    def __enter__(self) -> _Loop:
        _stack.append(self.entry)
        _write(force=len(_stack) == 1)
        return self

    def __exit__(self, *exc) -> None:
        for i, open_entry in enumerate(_stack):
            if open_entry is self.entry:  # by identity: two loops may hold equal entries
                del _stack[i]
                break
        _write(force=not _stack)


class job:
    """A worker's job for a run, from start to end (``with progress.job(): ...``): the monitor counts the workers
    busy with the run's jobs, so a loop shares the cluster with other reports can say how fast it goes *now*."""

    def __enter__(self) -> job:
        _write(force=True, job="start")
        return self

    def __exit__(self, *exc) -> None:
        _write(force=True, job="end")


def queued(jobs: int) -> None:
    """The kernel has sent ``jobs`` jobs to workers (``expbook.parallel``): until one starts, the run is waiting."""
    _write(force=True, queued=jobs)


def _reporting() -> bool:
    return bool(os.environ.get(ENV)) or _worker


def loop(label: str, total: int | None = None) -> _Loop:
    """A loop that is not an iterable (a callback, LightGBM's boosting rounds)::

        with loop("boosting round", rounds) as progress:
            ...  # progress.advance() after each round, or progress.advance(i) to say how many are done
    """
    return _Loop(label, total)


def steps(iterable: Iterable[T], label: str, *, total: int | None = None) -> Iterator[T]:
    """Yield from ``iterable``, reporting "``label`` i/total" (see the module docstring)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if not _reporting():
        if sys.stderr.isatty():
            from tqdm.auto import tqdm

            yield from tqdm(iterable, desc=label, total=total, leave=False)
        else:
            yield from iterable
        return
    with loop(label, total) as progress:
        for item in iterable:
            yield item
            progress.advance()
