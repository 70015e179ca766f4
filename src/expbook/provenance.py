"""Where a run came from: the cache key and its components, git state, package versions, machine.

Cache key = hash(notebook cells) + hash(resolved params) + hash(src/expbook sources)
+ data fingerprint + hash(requirements.txt). The components are stored separately so that
``expbook status`` can say *which* input changed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import nbformat

from expbook import PACKAGE_DIR, PROJECT_ROOT
from expbook.cache import fingerprint_folder, stable_hash

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "OMP_WAIT_POLICY")
COMPONENT_LABELS = {"notebook": "notebook source", "params": "parameters", "code": "expbook package code",
                    "data": "data fingerprint", "requirements": "pinned requirements"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def notebook_hash(notebook_path: Path) -> str:
    """Hash of cell types and sources only (outputs, metadata and ids do not matter)."""
    notebook = nbformat.read(notebook_path, as_version=4)
    return stable_hash([[cell.cell_type, cell.source] for cell in notebook.cells])


def code_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def requirements_hash() -> str:
    path = PROJECT_ROOT / "requirements.txt"
    return _sha(path.read_bytes()) if path.is_file() else "none"


def data_fingerprint(params: dict[str, Any]) -> str:
    """Files under ``data_dir`` (path, size, mtime); synthetic data is covered by params + code."""
    data_dir = params.get("data_dir")
    if not data_dir:
        return "generated"
    folder = Path(data_dir).expanduser()
    return "files:" + fingerprint_folder(folder) if folder.is_dir() else f"missing:{folder}"


def key_components(notebook_path: Path, params: dict[str, Any]) -> dict[str, str]:
    return {"notebook": notebook_hash(notebook_path), "params": stable_hash(params),
            "code": code_hash(), "data": data_fingerprint(params), "requirements": requirements_hash()}


def cache_key(components: dict[str, str]) -> str:
    return stable_hash([components[name] for name in COMPONENT_LABELS])


def changed_components(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Human labels of the components that differ (old runs without components: everything unknown)."""
    if not old:
        return ["unknown (run predates key components)"]
    return [COMPONENT_LABELS[name] for name in COMPONENT_LABELS if old.get(name) != new.get(name)]


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
    path = PROJECT_ROOT / "requirements.txt"
    names = re.findall(r"^([A-Za-z0-9_.\-]+)==", path.read_text(), flags=re.M) if path.is_file() else []
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def environment() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "threads": {name: os.environ.get(name) for name in THREAD_VARIABLES}, "packages": pinned_versions()}
