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
from multiprocessing import get_context
from typing import Any


def default_workers() -> int:
    """The run's thread budget (``EXPBOOK_THREADS``, set by the runner), else every core."""
    return max(1, int(os.environ.get("EXPBOOK_THREADS") or os.cpu_count() or 1))


def process_map(fn: Callable[[Any], Any], items: Iterable[Any], *, workers: int,
                initializer: Callable[..., None] | None = None, initargs: tuple = ()) -> Iterator[Any]:
    """``fn(item)`` for every item, in order; ``workers`` spawned processes when > 1 (``fn`` must be importable).

    ``initializer(*initargs)`` runs once per worker (and once here when running in this process): the way
    to hand every job the same large input without pickling it per job.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield from map(fn, items)
        return
    with ProcessPoolExecutor(min(workers, len(items)), mp_context=get_context("spawn"), initializer=initializer,
                             initargs=initargs) as pool:
        yield from pool.map(fn, items)
