"""Where a run came from: git state, package versions, machine and thread settings (the keys are in ``keys``)."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from typing import Any

from expbook import PROJECT_ROOT
from expbook.run.keys import package_hash

THREAD_COUNT_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
THREAD_VARIABLES = (*THREAD_COUNT_VARIABLES, "OMP_WAIT_POLICY")


def git(*args: str) -> str:
    """Output of ``git ARGS`` in the project, or "" when git or the repository is unavailable."""
    try:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def git_state() -> dict[str, Any]:
    return {"commit": git("rev-parse", "HEAD") or "unknown",
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def pinned_versions() -> dict[str, str]:
    """Installed version of every package pinned in requirements.txt."""
    import importlib.metadata

    path = PROJECT_ROOT / "requirements.txt"
    names = re.findall(r"^([A-Za-z0-9_.\-]+)==", path.read_text(), flags=re.M) if path.is_file() else []
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def environment(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The machine, the thread settings of ``env`` (default: this process's) and the pinned package versions."""
    env = os.environ if env is None else env
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "threads": {name: env.get(name) for name in THREAD_VARIABLES}, "packages": pinned_versions(),
            "package_code": package_hash()}
