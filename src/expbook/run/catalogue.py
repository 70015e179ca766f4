"""The notebook catalogue: which experiments exist, in which order, and what each notebook's metadata declares.

An experiment is a notebook ``notebooks/<name>.ipynb``. Its ``metadata.expbook`` may declare ``order`` (reading
order on the site), ``data_check`` (``"module:function"`` run on ``data_dir`` before a run), ``expected_seconds``
(the default run's duration on 2 cores, before the store knows it) and ``smoke`` (tiny parameter overrides for the
test suite's smoke run). Reading it needs only ``json``: the site builder and ``status`` never import papermill.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from expbook.errors import ParameterError
from expbook.project import Project


@lru_cache(maxsize=256)
def _read_metadata(path: Path, mtime_ns: int) -> dict[str, Any]:
    return json.loads(path.read_text()).get("metadata", {}).get("expbook", {})


def notebook_metadata(path: Path) -> dict[str, Any]:
    """``metadata.expbook`` of the notebook at ``path`` ({} when absent), cached by modification time."""
    return dict(_read_metadata(path, path.stat().st_mtime_ns))


def list_experiments(notebooks: Path | None = None) -> list[str]:
    """Notebook names in reading order: ``metadata.expbook.order`` (then name) of each notebook."""
    notebooks = notebooks or Project.current().notebooks

    def order(path: Path) -> tuple[int, str]:
        return int(notebook_metadata(path).get("order", 999)), path.stem
    return [p.stem for p in sorted(notebooks.glob("*.ipynb"), key=order)]


def notebook_path(experiment: str, notebooks: Path | None = None) -> Path:
    """``notebooks/<experiment>.ipynb``; ``ParameterError`` with the closest known name when there is none."""
    notebooks = notebooks or Project.current().notebooks
    path = notebooks / f"{experiment}.ipynb"
    if not path.is_file():
        known = list_experiments(notebooks)
        close = difflib.get_close_matches(experiment, known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ParameterError(f"unknown experiment '{experiment}': {hint}(known: {', '.join(known)})")
    return path
