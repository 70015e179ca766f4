"""A prose-only edit, rendered at build time: the source notebook's markdown around a stored run's outputs.

The stored run is never rewritten (``report.ipynb`` and ``results.json`` keep their bytes): the page combines the
run's executed code cells with the prose of the notebook as it is now. Possible only while the code cells are the
same in the same order; the executed notebook then pairs its code cells (papermill's injected cell aside) with the
source's one to one. Otherwise the page shows the run's own prose.
"""

from __future__ import annotations

import copy

import nbformat

from expbook.errors import ExpbookError
from expbook.run.catalogue import PAPERMILL_CELL_TAGS


def _inserted(cell: nbformat.NotebookNode) -> bool:
    return bool(PAPERMILL_CELL_TAGS & set(cell.metadata.get("tags", [])))


def with_source_prose(executed: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``source``'s cells in order: markdown as written now, code cells with the executed outputs and counts.

    Papermill's injected-parameters cell stays right after the ``parameters`` cell.
    """
    executed_code = [c for c in executed.cells if c.cell_type == "code" and not _inserted(c)]
    source_code = [c for c in source.cells if c.cell_type == "code"]
    if [c.source for c in executed_code] != [c.source for c in source_code]:
        raise ExpbookError("the code cells differ from the executed notebook's: the run must be re-executed")
    injected = [c for c in executed.cells if _inserted(c)]
    outputs = iter(executed_code)
    cells = []
    for cell in source.cells:
        if cell.cell_type != "code":
            cells.append(copy.deepcopy(cell))
            continue
        ran = copy.deepcopy(next(outputs))
        ran.metadata["tags"] = list(cell.metadata.get("tags", []))
        cells.append(ran)
        if "parameters" in ran.metadata["tags"]:
            cells += copy.deepcopy(injected)
    notebook = copy.deepcopy(executed)
    notebook.cells = cells
    return notebook
