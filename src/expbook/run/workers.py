"""Training jobs side by side inside one run: spawned worker processes, results in order.

A report that trains many small models (folds, seeds, configurations) gains more from one model per core
than from two intra-op threads per model. Each job must seed itself and fix its own thread count, so its
result does not depend on how many workers ran it. ``spawn`` (not fork): a forked child of a process that
already started torch's or OpenMP's threads can deadlock.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context
from typing import Any

_SHARED: Any = None  # the input every job of this process shares, set once per worker


def default_workers() -> int:
    """The run's thread budget (``EXPBOOK_THREADS``, set by the runner), else every core."""
    return max(1, int(os.environ.get("EXPBOOK_THREADS") or os.cpu_count() or 1))


def _share(shared: Any) -> None:
    global _SHARED
    _SHARED = shared


def _with_shared(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    return fn(_SHARED, item)


def process_map(fn: Callable[[Any, Any], Any], items: Iterable[Any], *, shared: Any, workers: int) -> Iterator[Any]:
    """``fn(shared, item)`` for every item, in order; ``workers`` spawned processes when > 1.

    ``shared`` (the beats, the sequences, the graph) is sent once per worker, not once per job. ``fn`` must be
    importable (a module-level function or a ``functools.partial`` of one).
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        yield from (fn(shared, item) for item in items)
        return
    with ProcessPoolExecutor(min(workers, len(items)), mp_context=get_context("spawn"), initializer=_share,
                             initargs=(shared,)) as pool:
        yield from pool.map(partial(_with_shared, fn), items)
