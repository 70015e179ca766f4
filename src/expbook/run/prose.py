"""A prose-only edit: put the source notebook's markdown into a stored executed notebook, with no kernel.

Allowed only when the execution key is unchanged, i.e. the code cells are the same in the same order;
the executed notebook then pairs its code cells (papermill's injected cell aside) with the source's one to one.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import nbformat

from expbook.errors import ExpbookError

PAPERMILL_CELL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


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


def rerender_run(run_path: Path, source_path: Path, render_key: str) -> None:
    """Rewrite ``report.ipynb`` of a stored run with the source's prose and record the new render key (atomically)."""
    report = run_path / "report.ipynb"
    notebook = with_source_prose(nbformat.read(report, as_version=4), nbformat.read(source_path, as_version=4))
    results_file = run_path / "results.json"
    results = json.loads(results_file.read_text())
    provenance = results.setdefault("provenance", {})
    provenance.setdefault("render_history", []).append(provenance.get("render_key"))
    provenance["render_key"] = render_key
    for path, text in ((report, nbformat.writes(notebook)), (results_file, json.dumps(results, indent=1, ensure_ascii=False))):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
