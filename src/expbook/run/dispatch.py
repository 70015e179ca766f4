"""Several runs at once: a local process pool or a Dask cluster, each run in its own process and kernel.

Used by ``run --all -j N`` (whole experiments side by side) and by sweeps (variants of one experiment).
Every task is an ordinary run: cached, atomic, failures kept; a failing task never stops the others.
The machine's cores are split between the concurrent runs (``threads_per_run``).
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from expbook.errors import ExpbookError, RunFailed


@dataclass(frozen=True)
class Task:
    experiment: str
    overrides: dict[str, Any]
    store_root: str
    notebooks: str
    threads: int | None  # None: the executing machine's default
    force: bool = False
    progress: bool = False  # plain per-cell lines naming the experiment (never a tqdm bar: runs share the terminal)
    needs: tuple[str, ...] = ()  # experiments whose runs must finish first (their findings are quoted)
    timeout: float | None = None  # seconds; None: the notebook's own default (``metadata.expbook.timeout``)
    scheduler: str | None = None  # where the run's trainings go (``workers.SCHEDULER_ENV``); None: its own processes


def expected_seconds(experiments: list[str], *, store_root: str, notebooks: str) -> dict[str, tuple[float, bool]]:
    """How long each experiment is expected to take: (seconds, True) from its last successful default run's
    duration, else (the ``expbook.expected_seconds`` hint in the notebook's metadata — what its default run took on
    2 cores — , False); unknown is (0, False)."""
    from pathlib import Path

    from expbook.run.catalogue import notebook_metadata
    from expbook.run.store import Store

    store = Store(store_root)

    def expected(experiment: str) -> tuple[float, bool]:
        runs = [r for r in store.runs(experiment) if r.ok and r.is_default and "duration_s" in r.results]
        if runs:
            return float(runs[-1].results["duration_s"]), True
        return float(notebook_metadata(Path(notebooks) / f"{experiment}.ipynb").get("expected_seconds", 0)), False

    return {e: expected(e) for e in experiments}


def longest_first(experiments: list[str], *, store_root: str, notebooks: str) -> list[str]:
    """``experiments`` ordered by how long each is expected to take (``expected_seconds``), longest first, so that
    on a few cores the longest run does not start last (longest-processing-time-first scheduling). Ties keep the
    given order."""
    seconds = expected_seconds(experiments, store_root=store_root, notebooks=notebooks)
    return sorted(experiments, key=lambda e: -seconds[e][0])


def threads_per_run(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(jobs, 1))


def run_task(task: Task) -> dict[str, Any]:
    """Execute one run in this process (a pool or Dask worker); returns its outcome, never raises for a bad run.

    On a Dask worker the run leaves the worker's thread pool while its kernel works (``secede``): its trainings
    queue on the same cluster, and a worker slot held by a waiting notebook would starve them.
    """
    from pathlib import Path

    from expbook.parallel import SCHEDULER_ENV
    from expbook.run.runner import run_experiment
    from expbook.run.store import Store

    if task.scheduler:
        os.environ[SCHEDULER_ENV] = task.scheduler
    seceded = _secede()
    outcome = {"experiment": task.experiment, "overrides": task.overrides}
    try:
        result = run_experiment(task.experiment, task.overrides, store=Store(task.store_root), force=task.force,
                                progress=task.progress, bars=False, notebooks=Path(task.notebooks),
                                threads=task.threads, echo=print if task.progress else (lambda *_: None),
                                timeout=task.timeout)
        return {**outcome, "run_id": result.record.run_id, "status": "ok", "cached": result.cached}
    except RunFailed as exc:
        return {**outcome, "run_id": exc.run_id, "status": "failed", "error": str(exc)}
    except ExpbookError as exc:
        return {**outcome, "run_id": "", "status": "failed", "error": str(exc)}
    finally:
        if seceded:
            from dask.distributed import rejoin
            rejoin()


def _secede() -> bool:
    """Leave the Dask worker's thread pool when running as a Dask task; False elsewhere."""
    try:
        from dask.distributed import get_worker, secede
        get_worker()
    except (ImportError, ValueError):
        return False
    secede()
    return True


@contextmanager
def shared_cluster(workers: int | None = None):
    """One local Dask cluster for a build's trainings: one single-threaded worker process per core (torch and
    OpenMP pinned to one thread), its address in ``workers.SCHEDULER_ENV`` for every run started meanwhile.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also turns off glibc's adaptive mmap
    threshold: every tensor a training frees goes back to the kernel and the next one faults its pages in again.
    A heartbeat-CNN job ran 2.7x slower for it, mostly in the kernel (1.4 million page faults against 65
    thousand), and a cold build spent 988 s of system time; the workers start with glibc's defaults instead.
    """
    import dask
    from dask.distributed import LocalCluster

    from expbook.parallel import SCHEDULER_ENV

    single = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    previous = os.environ.get(SCHEDULER_ENV)
    # an earlier cluster of this process (a sweep) leaves Dask's setting in os.environ, which the workers would inherit
    inherited = os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}), \
            LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                      dashboard_address=None, memory_limit=0, silence_logs=logging.ERROR,
                      env={**single, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONHASHSEED": "0"}) as cluster:
        if inherited is not None:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = inherited
        os.environ[SCHEDULER_ENV] = cluster.scheduler_address
        try:
            yield cluster.scheduler_address
        finally:
            if previous is None:
                os.environ.pop(SCHEDULER_ENV, None)
            else:
                os.environ[SCHEDULER_ENV] = previous


def stop_pool(pool: ProcessPoolExecutor, grace: float = 15.0) -> None:
    """Stop a pool's runs now: SIGTERM to its workers (each unwinds its run: kernel killed, temporary folder
    removed), then SIGKILL to whatever of theirs is left, kernels and their workers included."""
    import psutil

    workers = list(getattr(pool, "_processes", {}).values())
    descendants = []
    for worker in workers:
        try:
            descendants += psutil.Process(worker.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            pass
        worker.terminate()
    deadline = time.monotonic() + grace  # one grace period for them all, not one each
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    for worker in workers:
        if worker.is_alive():
            worker.kill()  # a worker can end between the check and the kill: both are then no-ops
    for process in descendants:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def waves(tasks: list[Task]) -> list[list[int]]:
    """Indices of ``tasks`` in dependency levels: a task comes after every task of an experiment it ``needs``."""
    names = {task.experiment for task in tasks}
    level: dict[int, int] = {}

    def depth(i: int, seen: frozenset = frozenset()) -> int:
        if i not in level:
            upstream = [j for j, t in enumerate(tasks) if t.experiment in tasks[i].needs and t.experiment in names]
            if set(upstream) & seen:
                raise ValueError(f"{tasks[i].experiment}: its 'needs' form a cycle")
            level[i] = 1 + max((depth(j, seen | {i}) for j in upstream), default=-1)
        return level[i]

    for i in range(len(tasks)):
        depth(i)
    return [[i for i in range(len(tasks)) if level[i] == d] for d in range(max(level.values(), default=-1) + 1)]


def _schedule(tasks: list[Task], submit, wait_first, limit: int, watch=None) -> list[dict[str, Any]]:
    """Outcomes of ``tasks`` in order, at most ``limit`` running at once, each submitted once the tasks of the
    experiments it ``needs`` are done; ``submit(task)`` returns a future, ``wait_first(futures)`` the done ones;
    ``watch`` (a ``monitor.BuildProgress``) hears of each start and end."""
    outcomes: list[dict[str, Any] | None] = [None] * len(tasks)
    waiting, running = list(range(len(tasks))), {}
    while waiting or running:
        busy = {tasks[j].experiment for j in waiting} | {tasks[j].experiment for j in running.values()}
        for i in [i for i in waiting if not set(tasks[i].needs) & busy][:max(limit - len(running), 0)]:
            waiting.remove(i)
            running[submit(tasks[i])] = i
            if watch is not None:
                watch.start(tasks[i].experiment)
        for future in wait_first(list(running)):
            i = running.pop(future)
            outcomes[i] = future.result()
            if watch is not None:
                watch.end(tasks[i].experiment)
    return outcomes


def run_many(tasks: list[Task], *, jobs: int = 1, scheduler: str | None = None, watch=None) -> list[dict[str, Any]]:
    """Outcomes of ``tasks`` in order: on the Dask cluster at ``scheduler``, or ``jobs`` local processes; a task
    starts once the tasks of the experiments it ``needs`` have finished. ``watch`` (a ``monitor.BuildProgress``)
    hears of each start and end.

    On Dask, runs leave their worker thread while their kernel works (``run_task``), so at most as many run at once
    as the cluster has threads: the trainings they queue on the same cluster find the rest of its capacity.
    """
    if scheduler:
        from dask.distributed import Client, wait

        with Client(scheduler, timeout="30s") as client:
            limit = max(1, sum(client.nthreads().values()))
            return _schedule(tasks, lambda task: client.submit(run_task, task, pure=False),
                             lambda futures: wait(futures, return_when="FIRST_COMPLETED").done, limit, watch)
    if jobs > 1 and len(tasks) > 1:
        from concurrent.futures import FIRST_COMPLETED, wait

        pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)))
        try:
            done = _schedule(tasks, lambda task: pool.submit(run_task, task),
                             lambda futures: wait(futures, return_when=FIRST_COMPLETED).done, jobs, watch)
        except BaseException:  # Ctrl-C or SIGTERM: every run's kernel and workers go with the pool
            stop_pool(pool)
            pool.shutdown(wait=False, cancel_futures=True)  # its workers are gone: nothing left to wait for
            raise
        pool.shutdown(wait=True)
        return done
    outcomes = [None] * len(tasks)
    for wave in waves(tasks):
        for i in wave:
            if watch is not None:
                watch.start(tasks[i].experiment)
            outcomes[i] = run_task(tasks[i])
            if watch is not None:
                watch.end(tasks[i].experiment)
    return outcomes
