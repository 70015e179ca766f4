"""Execute one notebook as one versioned run: validate → cache lookup → papermill → atomic commit."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import re
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import yaml

from expbook.errors import DataError, ParameterError, RunFailed
from expbook.progress import ENV
from expbook.run.catalogue import PAPERMILL_CELL_TAGS, notebook_metadata, notebook_path
from expbook.run.keys import execution_key, key_components, render_key, upstream_runs
from expbook.run.monitor import Monitor, last_cell_durations, print_line
from expbook.run.params import overrides_against_defaults, read_parameter_specs, resolve_parameters
from expbook.run.provenance import environment, git_state
from expbook.run.store import RunRecord, Store

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def default_threads() -> int:
    """The thread budget of one run: ``OMP_NUM_THREADS`` if set, else every core."""
    return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM unwinds like Ctrl-C, so the temporary run folder is removed either way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _outputs_text(cell) -> list[str]:
    lines = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            lines += output.text.splitlines()
        elif output.output_type == "error":
            lines += [ANSI.sub("", line) for line in "\n".join(output.traceback).splitlines()]
    return lines


def _write_log(notebook_file: Path, log_file: Path, progress: list[str]) -> nbformat.NotebookNode | None:
    """``log.txt``: the progress lines with their timestamps, then every cell's printed output and traceback."""
    head = "--- progress ---\n" + "".join(f"{line}\n" for line in progress) if progress else ""
    if not notebook_file.is_file():
        log_file.write_text(head + "the notebook produced no output file\n")
        return None
    notebook = nbformat.read(notebook_file, as_version=4)
    with log_file.open("w") as log:
        log.write(head)
        for number, cell in _source_cells(notebook):
            if cell.cell_type == "code" and cell.get("outputs"):
                text = _outputs_text(cell)
                if text:
                    log.write(f"--- cell {number} ---\n" + "\n".join(text) + "\n")
    return notebook


def _source_cells(notebook: nbformat.NotebookNode):
    """(1-based number in the source notebook, cell), skipping the cells papermill inserted."""
    number = 0
    for cell in notebook.cells:
        if PAPERMILL_CELL_TAGS & set(cell.metadata.get("tags", [])):
            continue
        number += 1
        yield number, cell


def _failure(notebook: nbformat.NotebookNode | None, message: str, cell: int | None = None,
             log: list[str] = ()) -> dict[str, Any]:
    """The failing cell (numbered as in the source notebook), the exception and the last output lines; a run
    stopped from outside (its timeout) fails in ``cell``, the one it was executing."""
    if cell is not None:  # stopped from outside: the cell it was in, and what that cell (or the log) printed last
        found = dict(_source_cells(notebook)).get(cell) if notebook is not None else None
        lines = _outputs_text(found) if found is not None else []
        return {"cell": cell, "cell_source": (found.source.splitlines()[:3] if found is not None else []),
                "exception": message, "last_lines": (lines or [line.split("  ", 1)[-1] for line in log])[-15:]}
    if notebook is not None:
        for number, cell in _source_cells(notebook):
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if errors:
                lines = _outputs_text(cell)
                return {"cell": number, "cell_source": cell.source.splitlines()[:3],
                        "exception": f"{errors[0].ename}: {ANSI.sub('', errors[0].evalue)}", "last_lines": lines[-15:]}
    return {"cell": None, "cell_source": [], "exception": message, "last_lines": []}


@dataclass(frozen=True)
class RunOutcome:
    record: RunRecord
    cached: bool


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def check_data(path: Path, params: dict[str, Any]) -> None:
    """Run the notebook's declared data check on ``data_dir`` before anything is written.

    A notebook names its adapter's check in ``metadata.expbook.data_check`` ("module:function");
    the check raises ``DataError`` naming the file or record, so bad data costs no run folder.
    """
    data_dir = params.get("data_dir")
    if not data_dir:
        return
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        raise DataError(f"{folder}: data_dir is not a folder")
    target = notebook_metadata(path).get("data_check")
    if target:
        module, _, function = target.partition(":")
        getattr(importlib.import_module(module), function)(folder)


def resolve_run_parameters(experiment: str, overrides: dict[str, Any], notebooks: Path | None = None
                           ) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """(notebook, resolved params, overrides that differ from defaults); ``ParameterError`` / ``DataError`` on bad input."""
    path = notebook_path(experiment, notebooks)
    try:
        specs = read_parameter_specs(path)
    except ValueError as exc:
        raise ParameterError(f"{path.name}: {exc}") from None
    params = resolve_parameters(experiment, specs, overrides)
    check_data(path, params)
    return path, params, overrides_against_defaults(specs, params)


def needs_execution(experiment: str, overrides: dict[str, Any], *, store: Store | None = None,
                    notebooks: Path | None = None) -> bool:
    """Whether no successful run has the execution key these inputs would have (cheap: no kernel, no import)."""
    store = store or Store()
    path, params, _ = resolve_run_parameters(experiment, overrides, notebooks)
    components = key_components(path, params, upstream_runs(path, store))
    return store.find_ok_by_key(experiment, execution_key(components)) is None


def run_experiment(experiment: str, overrides: dict[str, Any], *, store: Store | None = None, force: bool = False,
                   progress: bool = True, bars: bool = True, echo=print, notebooks: Path | None = None,
                   threads: int | None = None, timeout: float | None = None) -> RunOutcome:
    """Run ``experiment`` with ``overrides`` (validated first) unless a run with the same execution key exists.

    A stored run whose only difference is prose (the render key) is reused as it is: the site renders its outputs
    with the notebook's current prose, and the run itself is never rewritten.
    ``progress`` shows a tqdm bar on a terminal (``bars``) or plain per-cell lines elsewhere.
    ``threads`` is the run's thread budget (default: ``default_threads()``); ``timeout`` bounds the run in seconds
    (default: the notebook's ``metadata.expbook.timeout``, if any). Safe to call from several
    threads of one process: nothing here touches ``os.environ`` or module state.
    Raises ``ParameterError`` before anything is written, ``RunFailed`` after storing a failed run.
    """
    store = store or Store()
    path, params, variant = resolve_run_parameters(experiment, overrides, notebooks)
    upstream = upstream_runs(path, store)
    components = key_components(path, params, upstream)
    key = execution_key(components)
    prose = render_key(path)
    if not force and (existing := store.find_ok_by_key(experiment, key)):
        if not variant:  # the defaults' run for today's inputs is the report again (after a revert, say)
            store.set_canonical(experiment, existing.run_id)
        if existing.results.get("provenance", {}).get("render_key") != prose:
            echo(f"{experiment}: up to date (run {existing.run_id}); prose edited since, shown as it is now by the "
                 "site (no kernel started)")
            return RunOutcome(existing, cached=True)
        echo(f"{experiment}: up to date (run {existing.run_id}), nothing executed")
        return RunOutcome(existing, cached=True)
    threads = threads or default_threads()
    from expbook.run import kernel  # papermill and jupyter_client: only when a notebook executes

    started = _now()
    run_id = f"{started.strftime('%Y%m%dT%H%M%S')}{started.microsecond // 1000:03d}Z-{key[:8]}"
    tmp = store.new_tmp(experiment, run_id)
    label = ", ".join(f"{k}={v!r}" for k, v in variant.items()) or "defaults"
    echo(f"{experiment}: executing ({label}) -> run {run_id}")
    (tmp / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    kernel_spec = kernel.kernel_name()
    terminal = bars and sys.stderr.isatty()
    env = {**kernel.kernel_environment(tmp, threads), "EXPBOOK_RUNS": str(store.root),
           "EXPBOOK_UPSTREAM": json.dumps(upstream), ENV: str(tmp / "progress.jsonl")}
    timeout = timeout if timeout is not None else notebook_metadata(path).get("timeout")
    error = None
    # provenance (package versions, git, the package hash) takes 0.2 s: gathered while the kernel starts
    provenance = ThreadPoolExecutor(1, thread_name_prefix="provenance")
    machine = provenance.submit(lambda: {"git": git_state(), **environment(env)})
    provenance.shutdown(wait=False)
    try:
        last = store.last_ok(experiment)
        monitor = Monitor(experiment, tmp / "progress.jsonl", total_cells=len(list(_source_cells(nbformat.read(
            path, as_version=4)))), last_durations=last_cell_durations(last.path / "report.ipynb" if last else None),
            echo=print_line if progress and not terminal else None)
        with _sigterm_as_interrupt(), monitor:
            clock = time.perf_counter()
            error = kernel.execute(path, tmp / "report.ipynb", params, kernel_name=kernel_spec, env=env, cwd=tmp,
                                   monitor=monitor, bar=progress and terminal, timeout=timeout)
            duration = time.perf_counter() - clock
        notebook = _write_log(tmp / "report.ipynb", tmp / "log.txt", monitor.lines)
        for scratch in ("progress.jsonl", "eta.json", ".eta.json.partial"):  # the monitor's, not the run's
            (tmp / scratch).unlink(missing_ok=True)
        results_file = tmp / "results.json"
        results = json.loads(results_file.read_text()) if results_file.is_file() else {}
        if error is None and not results:
            error = "the notebook finished without calling expbook.record.record()"
        results.update({
            "experiment": experiment, "run_id": run_id, "status": "failed" if error else "ok",
            "params": params, "overrides": variant, "duration_s": round(duration, 2),
            "provenance": {"cache_key": key, "key_components": components, "render_key": prose,
                           "data_fingerprint": components["data"], "kernel": kernel_spec,
                           "started": started.isoformat(), "ended": _now().isoformat(), **machine.result()},
        })
        if error:
            stopped = monitor.cell_number if error.startswith("timed out") else None
            results["error"] = _failure(notebook if notebook is not None else nbformat.read(path, as_version=4), error,
                                        stopped, monitor.lines)
        results_file.write_text(json.dumps(results, indent=1, ensure_ascii=False))
        record = RunRecord(experiment, run_id, store.commit(tmp, experiment, run_id), results)
    except BaseException:
        store.discard(tmp)
        raise
    if error:
        failure = results["error"]
        where = f"cell {failure['cell']}" if failure["cell"] else "the notebook"
        raise RunFailed(f"{experiment} failed in {where}: {failure['exception']} (stored as run {run_id}; "
                        f"the last good report is unchanged; log: {record.path / 'log.txt'})", run_id=run_id)
    if not variant:
        store.set_canonical(experiment, run_id)
    echo(f"{experiment}: done in {duration:.1f} s -> {record.path}")
    return RunOutcome(record, cached=False)
