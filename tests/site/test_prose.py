"""A prose-only edit: the source's markdown goes into the executed notebook, outputs and the injected cell stay."""

import nbformat
import pytest

from expbook.errors import ExpbookError
from expbook.site.prose import with_source_prose


def _notebook(markdown: str, code: str = "x = 1") -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown),
                                           nbformat.v4.new_code_cell("a = 1", metadata={"tags": ["parameters"]}),
                                           nbformat.v4.new_code_cell(code)])


def _executed(markdown: str) -> nbformat.NotebookNode:
    notebook = _notebook(markdown)
    notebook.cells.insert(2, nbformat.v4.new_code_cell("a = 2", metadata={"tags": ["injected-parameters"]}))
    notebook.cells[3].outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    return notebook


def test_the_new_prose_keeps_the_outputs_and_the_injected_cell_after_the_parameters():
    merged = with_source_prose(_executed("# Old title"), _notebook("# New title"))
    assert merged.cells[0].source == "# New title"
    assert "injected-parameters" in merged.cells[2].metadata["tags"] and merged.cells[2].source == "a = 2"
    assert merged.cells[3].outputs[0].text == "ran\n"


def test_a_code_change_is_refused_the_run_must_execute_again():
    with pytest.raises(ExpbookError, match="must be re-executed"):
        with_source_prose(_executed("# Title"), _notebook("# Title", code="x = 2"))
