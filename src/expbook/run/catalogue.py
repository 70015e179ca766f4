"""The notebook catalogue: which experiments exist, in which order, and what each notebook's metadata declares.

An experiment is a notebook ``notebooks/<name>.ipynb``. Its ``metadata.expbook`` may declare ``order`` (reading
order on the site), ``data_check`` (``"module:function"`` run on ``data_dir`` before a run), ``expected_seconds``
(the default run's duration on 2 cores, before the store knows it) and ``smoke`` (tiny parameter overrides for the
test suite's smoke run). Reading it needs only ``json``: the site builder and ``status`` never import papermill.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from expbook.errors import ParameterError
from expbook.project import Project

PAPERMILL_CELL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}  # the cells papermill adds to a notebook


@dataclass(frozen=True)
class Cell:
    """A source notebook's cell as the keys, the parameters and the pages read it."""

    cell_type: str
    source: str
    tags: tuple[str, ...]


@lru_cache(maxsize=256)
def _read(path: Path, mtime_ns: int) -> tuple[dict[str, Any], tuple[Cell, ...]]:
    try:
        notebook = json.loads(path.read_text())
    except ValueError as exc:
        raise ParameterError(f"{path}: not a notebook (invalid JSON: {exc})") from None
    cells = tuple(Cell(c.get("cell_type", ""), "".join(c.get("source", "")) if isinstance(c.get("source"), list)
                       else c.get("source", ""), tuple(c.get("metadata", {}).get("tags", [])))
                  for c in notebook.get("cells", []))
    return notebook.get("metadata", {}).get("expbook", {}), cells


def notebook_metadata(path: Path) -> dict[str, Any]:
    """``metadata.expbook`` of the notebook at ``path`` ({} when absent), cached by modification time."""
    return dict(_read(path, path.stat().st_mtime_ns)[0])


def notebook_cells(path: Path) -> tuple[Cell, ...]:
    """The cells of the source notebook at ``path``: type, source (lines joined as nbformat joins them), tags.
    Plain JSON, no schema validation: a source notebook is small and read on every ``status`` and build."""
    return _read(path, path.stat().st_mtime_ns)[1]


def notebook_title(path: Path) -> str:
    """The first ``# `` line of the notebook's first markdown cell, else its name."""
    for cell in notebook_cells(path):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem.replace("_", " ")


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
