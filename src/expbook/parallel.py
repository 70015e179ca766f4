"""Training jobs side by side inside one run: on the build's shared Dask cluster, or on spawned worker processes.

A report that trains many small models (folds, seeds, configurations) gains more from one model per core than
from two intra-op threads per model. Each job must seed itself and fix its own thread count, so its result does
not depend on where it ran or how many ran beside it.

* Inside ``run --all`` / ``build`` the runner passes the address of one Dask cluster for the whole build
  (``SCHEDULER_ENV``: a local cluster of one single-threaded worker process per core, or the ``--scheduler``
  the user gave), and every report's jobs queue on it: a core a finished report frees goes to the reports still
  running, and on a remote cluster the trainings spread over its workers, not only whole notebooks.
* Otherwise (one ``run``), ``workers`` spawned processes of the run's own. ``spawn`` (not fork): a forked child of
  a process that already started torch's or OpenMP's threads can deadlock.

Either way the jobs report progress (``expbook.progress``) as "<label> i/n", and their own loops nest under it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from expbook import progress

SCHEDULER_ENV = "EXPBOOK_SCHEDULER"
_SHARED: Any = None  # the input every job of this process shares, set once per worker
_CLIENTS: dict[str, Any] = {}


def default_workers() -> int:
    """The run's thread budget (``EXPBOOK_THREADS``, set by the runner), else every core."""
    return max(1, int(os.environ.get("EXPBOOK_THREADS") or os.cpu_count() or 1))


def _share(shared: Any, progress_file: str | None = None) -> None:
    global _SHARED
    _SHARED = shared
    progress.mark_worker(progress_file)


def _with_shared(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    with progress.job():
        return fn(_SHARED, item)


def _cluster_job(item: Any, fn: Callable[[Any, Any], Any], shared: Any, progress_file: str | None) -> Any:
    progress.mark_worker(progress_file)  # a cluster worker runs jobs of every report: each job names its file
    with progress.job():
        return fn(shared, item)


def _client(address: str):
    from dask.distributed import Client

    if address not in _CLIENTS:
        _CLIENTS[address] = Client(address, timeout="30s", set_as_default=False)
    return _CLIENTS[address]


def _on_cluster(address: str, fn: Callable[[Any, Any], Any], items: list[Any], shared: Any, label: str
                ) -> Iterator[Any]:
    """Results in the items' order, while the step counter counts each job when it completes, wherever and in
    whatever order it ran (a counter that waited for the first job would stand still while the others finish)."""
    from dask.distributed import as_completed

    client = _client(address)
    [shared_future] = client.scatter([shared], broadcast=True, hash=False)
    # first submitted, first run (Dask's default): a loop that has workers keeps them until its queued jobs are
    # taken, so its rate per busy worker holds and its ETA with it; a report whose jobs queue behind another's
    # says "waiting for workers" (run.monitor) until they start, rather than crawling at a share that keeps changing
    progress_file = os.environ.get(progress.ENV)
    futures = [client.submit(_cluster_job, item, fn=fn, shared=shared_future, progress_file=progress_file, pure=False)
               for item in items]
    progress.queued(len(futures))
    yield from _in_order(as_completed(futures, loop=client.loop), futures, label, lambda future: future.result(),
                         lambda: (client.cancel(futures), client.cancel([shared_future])))


def _in_order(completed, futures: list, label: str, result, cancel) -> Iterator[Any]:
    """Yield the futures' results in submission order; the step counter advances as each one completes."""
    position = {id(future): i for i, future in enumerate(futures)}
    ready, next_index = {}, 0
    try:
        with progress.loop(label, len(futures)) as counter:
            for future in completed:
                ready[position[id(future)]] = result(future)
                counter.advance()
                while next_index in ready:
                    yield ready.pop(next_index)
                    next_index += 1
    finally:
        cancel()


def process_map(fn: Callable[[Any, Any], Any], items: Iterable[Any], *, shared: Any, workers: int,
                label: str = "job") -> Iterator[Any]:
    """``fn(shared, item)`` for every item, in order (see the module docstring for where they run).

    ``shared`` (the beats, the sequences, the graph) is sent once per worker, not once per job. ``fn`` must be
    importable (a module-level function or a ``functools.partial`` of one). ``label`` names a job in the progress
    lines ("fold", "configuration × seed").
    """
    items = list(items)
    address = os.environ.get(SCHEDULER_ENV)
    if address and len(items) > 1:
        yield from _on_cluster(address, fn, items, shared, label)
    elif workers <= 1 or len(items) <= 1:
        yield from progress.steps((fn(shared, item) for item in items), label, total=len(items))
    else:
        from concurrent.futures import as_completed

        with ProcessPoolExecutor(min(workers, len(items)), mp_context=get_context("spawn"), initializer=_share,
                                 initargs=(shared, os.environ.get(progress.ENV))) as pool:
            futures = [pool.submit(_with_shared, fn, item) for item in items]
            yield from _in_order(as_completed(futures), futures, label, lambda future: future.result(),
                                 lambda: [future.cancel() for future in futures])
