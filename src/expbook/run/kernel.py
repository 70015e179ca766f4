"""The kernel side of a run: papermill's engine with the run's progress lines, a kernel manager that starts each
kernel in its run folder with its run's environment, and the one call that executes a notebook.

Only the runner imports this module, and only when a notebook actually executes: listing, validating and
reusing runs never pays for papermill and jupyter_client.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from papermill.engines import NBClientEngine, papermill_engines

from expbook.record import RUN_DIR_ENV
from expbook.run.provenance import THREAD_COUNT_VARIABLES

KERNEL_NAME = "expbook"


class _LabelledEngine(NBClientEngine):
    """papermill's nbclient engine, showing the experiment, the current cell and the elapsed time.

    On a terminal the tqdm bar carries it; elsewhere (CI logs, files) one plain line per code cell.
    The label and line mode come as engine arguments of each call (no class state: runs may share a process).
    """

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, *, expbook_label: str = "", expbook_plain_lines: bool = False,
                                 **kwargs):
        label, plain_lines = expbook_label, expbook_plain_lines
        original_start = nb_man.cell_start
        total = len(nb_man.nb.cells)
        started = time.perf_counter()

        def cell_start(cell, cell_index=None, **kw):
            original_start(cell, cell_index, **kw)
            if cell_index is None:
                return
            first_line = next((line for line in cell.source.splitlines() if line.strip()), "")[:40]
            if nb_man.pbar is not None:
                nb_man.pbar.set_description(f"{label} cell {cell_index + 1}/{total} {first_line!r}")
            elif plain_lines and cell.cell_type == "code":
                print(f"  {label}: cell {cell_index + 1}/{total} at {time.perf_counter() - started:5.1f} s "
                      f"{first_line!r}", file=sys.stderr, flush=True)

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


def kernel_manager_for(env: dict[str, str], cwd: str | None = None) -> type[_IPCKernelManager]:
    """A kernel manager class whose kernels start in ``cwd`` with ``env`` on top of this process's environment."""
    return type("RunKernelManager", (_IPCKernelManager,), {"kernel_env": dict(env), "kernel_cwd": cwd})


def kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager
    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"


def kernel_environment(run_dir: Path, threads: int) -> dict[str, str]:
    """The kernel's environment: its run folder, pinned thread counts and hashing, for determinism."""
    env = {RUN_DIR_ENV: str(run_dir), "PYTHONHASHSEED": "0", "EXPBOOK_THREADS": str(threads),
           # idle OpenMP threads sleep instead of spinning: runs sharing the cores (run --all -j 2, sweeps)
           # would otherwise burn each other's CPU time in busy-wait loops
           "OMP_WAIT_POLICY": "PASSIVE"}
    env.update({name: str(threads) for name in THREAD_COUNT_VARIABLES})
    return env


def execute(path: Path, output: Path, params: dict, *, kernel_name: str, env: dict[str, str], cwd: Path, label: str,
            plain_lines: bool, bar: bool) -> str | None:
    """Execute the notebook at ``path`` into ``output`` with papermill; None, or the error as one line.

    A notebook that raises, a kernel that dies and an unreadable notebook all end here as an error line: the
    caller stores a failed run either way.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            str(path), str(output), parameters=params, kernel_name=kernel_name, language="python",
            engine_name="expbook", expbook_label=label, expbook_plain_lines=plain_lines,
            progress_bar={"desc": label, "leave": False} if bar else False,
            kernel_manager_class=kernel_manager_for(env, str(cwd)))
    except PapermillExecutionError as exc:
        return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    except Exception as exc:  # the kernel died, timed out, or the notebook is unreadable: still a failed run
        return f"{type(exc).__name__}: {exc}"
    return None
