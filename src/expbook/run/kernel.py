"""The kernel side of a run: papermill's engine telling the run's monitor which cell runs, a kernel manager that
starts each kernel in its run folder with its run's environment (and can kill it with every process it started),
and the one call that executes a notebook, bounded by its timeout.

Only the runner imports this module, and only when a notebook actually executes: listing, validating and
reusing runs never pays for papermill and jupyter_client.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from papermill.engines import NBClientEngine, papermill_engines

from expbook import RUN_DIR_ENV
from expbook.run.catalogue import PAPERMILL_CELL_TAGS
from expbook.run.provenance import THREAD_COUNT_VARIABLES

KERNEL_NAME = "expbook"


class _LabelledEngine(NBClientEngine):
    """papermill's nbclient engine, telling the run's ``Monitor`` (``run.monitor``) when each cell starts.

    The monitor comes as an engine argument of each call (no class state: runs may share a process).
    """

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, *, expbook_monitor=None, **kwargs):
        monitor = expbook_monitor
        original_start = nb_man.cell_start
        numbers, number = [], 0
        for cell in nb_man.nb.cells:  # the source notebook's numbering: papermill's injected cells do not count
            injected = bool(PAPERMILL_CELL_TAGS & set(cell.metadata.get("tags", [])))
            number += not injected
            numbers.append(None if injected else number)

        def cell_start(cell, cell_index=None, **kw):
            original_start(cell, cell_index, **kw)
            if cell_index is None or monitor is None:
                return
            monitor.bar = nb_man.pbar
            if cell.cell_type == "code" and numbers[cell_index] is not None:  # papermill's own cell: not news
                first_line = next((line for line in cell.source.splitlines() if line.strip()), "")[:40]
                monitor.cell_started(cell_index, numbers[cell_index], first_line)

        nb_man.cell_start = cell_start
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


papermill_engines.register("expbook", _LabelledEngine)


class _DropUnknownParameterWarning(logging.Filter):
    """papermill warns about names its regex cannot parse; we validated them against the cell already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Passed unknown parameter" not in record.getMessage()


logging.getLogger("papermill").addFilter(_DropUnknownParameterWarning())
logging.getLogger("papermill.translators").setLevel(logging.ERROR)  # same regex, "Unable to parse line"


class _IPCKernelManager(AsyncKernelManager):
    """Local kernel over Unix sockets instead of loopback TCP (no open ports, no unencrypted-TCP warning),
    started with its run's environment (``kernel_env``) and working folder (``kernel_cwd``) instead of this
    process's: papermill's own ``cwd=`` does ``os.chdir`` for the whole process, so two runs in threads of one
    Dask worker would restore each other's (by then renamed) folders."""

    kernel_env: dict[str, str] = {}
    kernel_cwd: str | None = None
    started: list  # (process, process group) of this class's kernels, for ``kill_kernels``

    def __init__(self, **kwargs):
        # ipc sockets are files named <ip>-<n>: a prefix of its own per kernel, or two kernels started at once in
        # one process (a threaded Dask worker) pick the same files and read each other's messages ("Invalid Signature")
        ip = os.path.join(tempfile.gettempdir(), f"expbook-kernel-{uuid.uuid4().hex}")
        super().__init__(transport="ipc", ip=ip, **kwargs)

    async def _async_pre_start_kernel(self, **kw):
        kw["env"] = {**os.environ, **kw.get("env", {}), **self.kernel_env}
        if self.kernel_cwd is not None:
            kw["cwd"] = self.kernel_cwd
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        await super()._async_launch_kernel(kernel_cmd, **kw)
        process = getattr(self.provisioner, "process", None)
        if process is not None:  # its process group: the kernel and every process it spawns
            type(self).started.append((process, os.getpgid(process.pid)))


def kernel_manager_for(env: dict[str, str], cwd: str | None = None) -> type[_IPCKernelManager]:
    """A kernel manager class whose kernels start in ``cwd`` with ``env`` on top of this process's environment."""
    return type("RunKernelManager", (_IPCKernelManager,), {"kernel_env": dict(env), "kernel_cwd": cwd, "started": []})


def _run_processes(manager_class: type[_IPCKernelManager]) -> dict:
    """Every live process the run's kernels started: each kernel's descendants (walked while the tree is whole), the
    members of each kernel's process group, and any process carrying the run's folder in its environment — a child
    that left the group and session (``start_new_session``) or was orphaned still inherited it."""
    import psutil

    found: dict[int, psutil.Process] = {}  # pid -> process
    groups = {group for _, group in manager_class.started}
    for process, _ in manager_class.started:
        try:
            root = psutil.Process(process.pid)
            found.update({p.pid: p for p in [root, *root.children(recursive=True)]})
        except psutil.NoSuchProcess:
            pass
    run_dir = manager_class.kernel_env.get(RUN_DIR_ENV)
    for process in psutil.process_iter(["environ"]):
        if process.pid == os.getpid() or process.pid in found:
            continue
        try:
            in_group = os.getpgid(process.pid) in groups
            env = process.info["environ"] or {}
        except (ProcessLookupError, psutil.Error):
            continue
        if in_group or (run_dir and env.get(RUN_DIR_ENV) == run_dir):
            found[process.pid] = process
            try:
                found.update({p.pid: p for p in process.children(recursive=True)})
            except psutil.Error:
                pass
    return found


def kill_kernels(manager_class: type[_IPCKernelManager]) -> None:
    """SIGKILL every process the run's kernels started (``_run_processes``), the whole tree at once, and again until
    none is left (a process may fork while the first round is sent)."""
    import psutil

    for _ in range(5):
        victims = _run_processes(manager_class)
        if not victims:
            break
        for process in victims.values():
            try:
                process.kill()
            except psutil.Error:
                continue
        psutil.wait_procs(list(victims.values()), timeout=5)
    for process, _ in manager_class.started:
        if process.poll() is None:
            process.wait(timeout=10)


def kernel_name() -> str:
    """``expbook`` if its kernelspec is installed (where Jupyter looks), else ``python3``; a directory test,
    since listing every kernelspec with KernelSpecManager costs 0.1 s of each run."""
    from jupyter_core.paths import jupyter_path
    found = any((Path(folder) / KERNEL_NAME / "kernel.json").is_file() for folder in jupyter_path("kernels"))
    return KERNEL_NAME if found else "python3"


def kernel_environment(run_dir: Path, threads: int) -> dict[str, str]:
    """The kernel's environment: its run folder, pinned thread counts and hashing, for determinism."""
    env = {RUN_DIR_ENV: str(run_dir), "PYTHONHASHSEED": "0", "EXPBOOK_THREADS": str(threads),
           # idle OpenMP threads sleep instead of spinning: runs sharing the cores (run --all -j 2, sweeps)
           # would otherwise burn each other's CPU time in busy-wait loops
           "OMP_WAIT_POLICY": "PASSIVE"}
    env.update({name: str(threads) for name in THREAD_COUNT_VARIABLES})
    return env


def execute(path: Path, output: Path, params: dict, *, kernel_name: str, env: dict[str, str], cwd: Path, monitor,
            bar: bool, timeout: float | None = None) -> str | None:
    """Execute the notebook at ``path`` into ``output`` with papermill; None, or the error as one line.

    A notebook that raises, a kernel that dies, a run past its ``timeout`` (seconds) and an unreadable notebook
    all end here as an error line: the caller stores a failed run either way. However it ends — an error, a
    timeout, Ctrl-C, SIGTERM — no kernel or worker process of the run outlives this call.
    """
    import threading

    import papermill
    from papermill.exceptions import PapermillExecutionError

    manager = kernel_manager_for(env, str(cwd))
    expired = threading.Event()

    def stop() -> None:
        expired.set()
        kill_kernels(manager)

    watchdog = threading.Timer(timeout, stop) if timeout else None
    if watchdog is not None:
        watchdog.daemon = True
        watchdog.start()
    try:
        papermill.execute_notebook(
            str(path), str(output), parameters=params, kernel_name=kernel_name, language="python",
            engine_name="expbook", expbook_monitor=monitor,
            progress_bar={"desc": monitor.label if monitor else "", "leave": False} if bar else False,
            kernel_manager_class=manager)
    except PapermillExecutionError as exc:
        return _timed_out(timeout, monitor) if expired.is_set() else (
            str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__)
    except Exception as exc:  # the kernel died, timed out, or the notebook is unreadable: still a failed run
        return _timed_out(timeout, monitor) if expired.is_set() else f"{type(exc).__name__}: {exc}"
    finally:
        if watchdog is not None:
            watchdog.cancel()
        kill_kernels(manager)
    return _timed_out(timeout, monitor) if expired.is_set() else None


def _timed_out(timeout: float, monitor) -> str:
    cell = monitor.cell_number if monitor is not None else None
    return f"timed out after {timeout:g} s" + (f" in cell {cell}" if cell else "")
