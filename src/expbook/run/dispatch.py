"""Several runs at once: a local process pool or a Dask cluster, each run in its own process and kernel.

Used by ``run --all -j N`` (whole experiments side by side) and by sweeps (variants of one experiment).
Every task is an ordinary run: cached, atomic, failures kept; a failing task never stops the others.
The machine's cores are split between the concurrent runs (``threads_per_run``).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
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


def longest_first(experiments: list[str], *, store_root: str, notebooks: str) -> list[str]:
    """``experiments`` ordered by how long each is expected to take, longest first, so that on a few cores the
    longest run does not start last (longest-processing-time-first scheduling).

    The expectation is the duration of the experiment's last successful default run, or, before there is one,
    the ``expbook.expected_seconds`` hint in the notebook's metadata (what its default run took on 2 cores);
    unknown counts as 0. Ties keep the given order.
    """
    from pathlib import Path

    from expbook.run.catalogue import notebook_metadata
    from expbook.run.store import Store

    store = Store(store_root)

    def expected(experiment: str) -> float:
        runs = [r for r in store.runs(experiment) if r.ok and r.is_default and "duration_s" in r.results]
        if runs:
            return float(runs[-1].results["duration_s"])
        return float(notebook_metadata(Path(notebooks) / f"{experiment}.ipynb").get("expected_seconds", 0))

    seconds = {e: expected(e) for e in experiments}
    return sorted(experiments, key=lambda e: -seconds[e])


def threads_per_run(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(jobs, 1))


def run_task(task: Task) -> dict[str, Any]:
    """Execute one run in this process (a pool or Dask worker); returns its outcome, never raises for a bad run."""
    from pathlib import Path

    from expbook.run.runner import run_experiment
    from expbook.run.store import Store

    outcome = {"experiment": task.experiment, "overrides": task.overrides}
    try:
        result = run_experiment(task.experiment, task.overrides, store=Store(task.store_root), force=task.force,
                                progress=task.progress, bars=False, notebooks=Path(task.notebooks),
                                threads=task.threads, echo=print if task.progress else (lambda *_: None))
        return {**outcome, "run_id": result.record.run_id, "status": "ok", "cached": result.cached}
    except RunFailed as exc:
        return {**outcome, "run_id": exc.run_id, "status": "failed", "error": str(exc)}
    except ExpbookError as exc:
        return {**outcome, "run_id": "", "status": "failed", "error": str(exc)}


def run_many(tasks: list[Task], *, jobs: int = 1, scheduler: str | None = None) -> list[dict[str, Any]]:
    """Outcomes of ``tasks`` in order: on the Dask cluster at ``scheduler``, or ``jobs`` local processes."""
    if scheduler:
        from dask.distributed import Client
        with Client(scheduler, timeout="30s") as client:
            return client.gather(client.map(run_task, tasks, pure=False))
    if jobs > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
            return list(pool.map(run_task, tasks))
    return [run_task(task) for task in tasks]
