"""Where a run came from: git state, package versions, machine and thread settings (the keys are in ``keys``)."""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Any

from expbook import PROJECT_ROOT
from expbook.cache import package_versions
from expbook.run.keys import package_hash

THREAD_COUNT_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
THREAD_VARIABLES = (*THREAD_COUNT_VARIABLES, "OMP_WAIT_POLICY")


# what a run's code is made of: a change (tracked or not) under these paths makes the run's code "dirty"
CODE_PATHS = ("src", "notebooks", "requirements.txt", "pyproject.toml")


def git_output(*args: str) -> str | None:
    """Output of ``git ARGS`` in the project; None when git, or the repository, cannot answer."""
    try:
        result = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git(*args: str) -> str:
    """Output of ``git ARGS`` in the project, or "" when git or the repository is unavailable."""
    return git_output(*args) or ""


def code_dirty() -> bool | None:
    """Whether the code differs from the commit: a modified, staged or untracked (not ignored) file under
    ``CODE_PATHS`` counts, so a run that imports a new, uncommitted module is dirty. None when git cannot answer."""
    status = git_output("status", "--porcelain", "--untracked-files=all", "--", *CODE_PATHS)
    return None if status is None else bool(status)


def git_state() -> dict[str, Any]:
    """The commit and whether the code differs from it; "unknown" and None (shown as unknown) when git cannot say."""
    commit = git_output("rev-parse", "HEAD")
    return {"commit": commit or "unknown", "dirty": code_dirty() if commit else None}


def environment(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The machine, the thread settings of ``env`` (default: this process's) and the pinned package versions."""
    env = os.environ if env is None else env
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "threads": {name: env.get(name) for name in THREAD_VARIABLES}, "packages": package_versions(),
            "package_code": package_hash()}
