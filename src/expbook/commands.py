"""What each ``python -m expbook`` command does; ``cli`` parses the command line and calls one of these."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from expbook.errors import ExpbookError, ParameterError


def _overrides(args: argparse.Namespace) -> dict:
    from expbook.run.params import parse_assignments

    overrides = {}
    if args.file:
        loaded = yaml.safe_load(Path(args.file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ParameterError(f"{args.file}: expected a mapping of parameter names to values")
        overrides.update(loaded)
    overrides.update(parse_assignments(args.param or []))
    return overrides


def _run_all(store, args: argparse.Namespace) -> list[dict]:
    """Every experiment with its defaults (the caller holds the store lock): the outcomes that failed."""
    from expbook.project import Project
    from expbook.run.catalogue import list_experiments, notebook_metadata, notebook_path
    from expbook.run.dispatch import Task, longest_first, run_task, threads_per_run
    from expbook.run.runner import needs_execution

    jobs = max(1, args.jobs or os.cpu_count() or 1)
    notebooks = str(Project.current().notebooks)
    outcomes, pending = [], []
    for experiment in list_experiments():  # up to date or prose-only: handled here, no worker process needed
        try:
            stale = args.force or needs_execution(experiment, {}, store=store)
        except ExpbookError as exc:  # a notebook whose parameters cell or data is broken: the others still run
            outcomes.append({"experiment": experiment, "overrides": {}, "run_id": "", "status": "failed",
                             "error": f"{experiment}: {exc}"})
            continue
        needs = notebook_metadata(notebook_path(experiment)).get("needs", [])
        if stale or set(needs) & set(pending):  # a report quoting one that re-runs re-runs after it
            pending.append(experiment)
        else:
            outcomes.append(run_task(Task(experiment, {}, str(store.root), notebooks, None, progress=True)))
    pending = longest_first(pending, store_root=str(store.root), notebooks=notebooks)
    tasks = [Task(e, {}, str(store.root), notebooks, None if args.scheduler else threads_per_run(min(jobs, len(pending))),
                  args.force, not args.quiet, tuple(notebook_metadata(notebook_path(e)).get("needs", [])),
                  args.timeout, args.scheduler) for e in pending]
    if tasks:
        outcomes += _run_tasks(tasks, jobs, args.scheduler)
    failures = [o for o in outcomes if o["status"] != "ok"]
    for outcome in failures:
        print(f"error: {outcome['error']}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} experiment(s) failed: {', '.join(o['experiment'] for o in failures)}", file=sys.stderr)
    return failures


def _run_tasks(tasks: list, jobs: int, scheduler: str | None) -> list[dict]:
    """The experiments that need a run: whole notebooks on ``jobs`` processes (or the Dask cluster at
    ``scheduler``), and the trainings of all of them on one cluster (that one, or a local one for this build);
    a build line every 10 s (``monitor.BuildProgress``), kept in ``<store>/.logs/build-<time>.txt``."""
    import datetime as dt
    import time
    from pathlib import Path

    from expbook.run.dispatch import expected_seconds, run_many, shared_cluster
    from expbook.run.monitor import BuildProgress, print_line

    started = time.perf_counter()
    expected = expected_seconds([t.experiment for t in tasks], store_root=tasks[0].store_root,
                                notebooks=tasks[0].notebooks)
    log = Path(tasks[0].store_root) / ".logs" / f"build-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}.txt"
    if scheduler:
        print(f"running {len(tasks)} experiments and their trainings on the Dask scheduler {scheduler}",
              file=sys.stderr, flush=True)
        with BuildProgress(expected, len(tasks), log=log, echo=print_line,
                           store=Path(tasks[0].store_root)) as watch:
            outcomes = run_many(tasks, jobs=jobs, scheduler=scheduler, watch=watch)
    else:
        with shared_cluster() as address:
            print(f"running {len(tasks)} experiments on {min(jobs, len(tasks))} processes; their trainings share one "
                  f"local cluster of {os.cpu_count()} single-threaded workers ({address})", file=sys.stderr, flush=True)
            with BuildProgress(expected, min(jobs, len(tasks)), log=log, echo=print_line,
                               store=Path(tasks[0].store_root)) as watch:
                outcomes = run_many(tasks, jobs=jobs, watch=watch)
    print(f"experiments phase: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return outcomes


def cmd_run(args: argparse.Namespace) -> int:
    from expbook.run.lock import store_lock
    from expbook.run.runner import resolve_run_parameters, run_experiment
    from expbook.run.store import Store

    overrides = _overrides(args)
    if args.all and (args.experiment or overrides):
        raise ParameterError("--all runs every experiment with its defaults; it takes no EXP or -p")
    if (args.jobs or args.scheduler) and not args.all:
        raise ParameterError("-j and --scheduler go with --all (a sweep runs variants of one experiment in parallel)")
    if not args.all and not args.experiment:
        raise ParameterError("name an experiment (or --all)")
    if not args.all:
        resolve_run_parameters(args.experiment, overrides)  # bad input fails here, before the store is touched
    store = Store()
    with store_lock(store.root, wait=args.wait):
        if not args.all:
            run_experiment(args.experiment, overrides, force=args.force, progress=not args.quiet, timeout=args.timeout)
            return 0
        return 4 if _run_all(store, args) else 0


def _book(store, args: argparse.Namespace) -> int:
    """Build the site (the caller holds the store lock); 4 when it lists failed runs it did not list before."""
    from expbook.site.book import build_book, listed_failures

    before = listed_failures()
    site = build_book(store=store, force=args.force)
    new = {run: what for run, what in listed_failures().items() if run not in before}
    print(f"site: {site}")
    if new:
        shown = "; ".join(f"{run} {what}" for run, what in list(new.items())[:3])
        more = f" and {len(new) - 3} more" if len(new) > 3 else ""
        print(f"error: the site lists {len(new)} new failed run(s), shown on their history pages: {shown}{more}",
              file=sys.stderr)
        return 4
    return 0


def cmd_book(args: argparse.Namespace) -> int:
    from expbook.run.lock import store_lock
    from expbook.run.store import Store

    store = Store()
    with store_lock(store.root, wait=args.wait):
        return _book(store, args)


def cmd_build(args: argparse.Namespace) -> int:
    """``make book``: every experiment whose inputs changed, then the site, in one process under one lock. The site
    is built whatever failed; exit 4 when a run failed or the site gained a failed run, 1 when the site build failed."""
    from expbook.run.lock import store_lock
    from expbook.run.store import Store

    store = Store()
    with store_lock(store.root, wait=args.wait):
        failed = _run_all(store, args)
        args.force = False  # --force re-executes; the site itself is rebuilt only when its inputs changed
        status = _book(store, args)
    return 4 if failed else status


def cmd_gc(args: argparse.Namespace) -> int:
    from expbook.run import gc
    from expbook.run.lock import store_lock
    from expbook.run.store import Store
    from expbook.site.release import cited_runs

    store = Store()
    age = gc.parse_age(args.older_than) if args.older_than else None
    gc.check_limits(age, args.keep)  # bad input fails before the store is touched
    with store_lock(store.root, wait=args.wait):
        plan = gc.plan(store, cited=cited_runs(), older_than=age, keep=args.keep)
        gc.collect(store, plan, yes=args.yes)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from expbook.site.compare import compare_runs, find_run, render_text, write_figure_diffs

    comparison = compare_runs(find_run(args.run_a), find_run(args.run_b))
    print(render_text(comparison, limit=args.limit))
    if args.figures:
        print("\n".join(write_figure_diffs(comparison, args.figures)) or "no figure in common")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from expbook.run.catalogue import notebook_path
    from expbook.run.lock import store_lock
    from expbook.run.store import Store
    from expbook.run.sweep import load_sweeps, parse_grid, render_sweep_text, run_sweep

    grid = parse_grid(args.experiment, notebook_path(args.experiment), args.param or [])
    if not grid:
        raise ParameterError("a sweep needs at least one axis: -p NAME V1,V2,...")
    store = Store()
    with store_lock(store.root, wait=args.wait):
        result = run_sweep(args.experiment, grid, store=store, jobs=args.jobs, scheduler=args.scheduler,
                           timeout=args.timeout)
    sweep = next(s for s in load_sweeps(args.experiment, store) if s["sweep_id"] == result.sweep_id)
    print(render_sweep_text(sweep, store))
    print(f"manifest: {result.manifest}; `make book` adds the summary page to the site")
    return 4 if result.failed else 0


def cmd_status(args: argparse.Namespace) -> int:
    from expbook.run.catalogue import list_experiments
    from expbook.site.status import experiment_status

    for experiment in list_experiments():
        status = experiment_status(experiment)
        print(f"{experiment:28s} {status.label:8s} {status.run_id or '-':32s} {status.reason}")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from expbook.run.lock import store_lock
    from expbook.run.store import Store
    from expbook.site.release import release

    with store_lock(Store().root, wait=args.wait):
        target = release(args.name, force=args.force, echo=lambda line: print(line, file=sys.stderr))
    print(f"released {args.name}: {target} (latest -> {args.name}; what changed: {target / 'changes.html'})")
    return 0


def cmd_release_diff(args: argparse.Namespace) -> int:
    from expbook.site.release import diff_releases

    print(diff_releases(args.a, args.b))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from expbook.site.release import publish

    print(publish(remote=args.remote, branch=args.branch))
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    from expbook.run.catalogue import notebook_path
    from expbook.run.params import read_parameter_specs

    for spec in read_parameter_specs(notebook_path(args.experiment)).values():
        print(f"{spec.name:28s} {spec.type_text:12s} {spec.default!r:12}  {spec.comment}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from expbook import PROJECT_ROOT
    from expbook.scaffold import new_experiment

    written = new_experiment(args.name)
    for path in written:
        print(f"wrote {path.relative_to(PROJECT_ROOT)}")
    print(f"next: `make test` runs its smoke run and tests; `make book` puts {args.name} on the site; the contract "
          f"is on the site's page 'Adding an experiment'")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from expbook.run.catalogue import list_experiments, notebook_path
    from expbook.run.contract import check_notebook

    names = [args.name] if args.name else list_experiments()
    problems = 0
    for name in names:
        found = check_notebook(notebook_path(name))
        problems += len(found)
        for problem in found:
            print(f"notebooks/{problem}", file=sys.stderr)
        if not found:
            print(f"notebooks/{name}.ipynb: follows the contract")
    if problems:
        print(f"{problems} problem(s); the contract: src/expbook/run/contract.py, or the site's page "
              f"'Adding an experiment'", file=sys.stderr)
    return 1 if problems else 0
