"""A stored run is hostile even where the platform wrote it: its notebook's metadata, raw cells, prose and output
types never reach Sphinx or a page as anything but sanitized HTML, and a malformed results.json reads as unreadable."""

import json

import nbformat

from expbook.run.store import Store, schema_problem
from expbook.site.report import fresh_notebook
from expbook.site.sanitize import sanitize_output


def _tampered() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title\n\n```{raw} html\n<script>alert(1)</script>\n```"),
        nbformat.v4.new_raw_cell("<img src=x onerror=alert(1)>", metadata={"format": "text/html"}),
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["hide-input", "weird-tag"],
                                                     "mystnb": {"figure": {"caption": "{include} /etc/passwd"}}})])
    notebook.metadata["mystnb"] = {"execution_mode": "force"}
    notebook.metadata["myst"] = {"html_meta": {"http-equiv=refresh": "0;url=https://example.invalid"}}
    notebook.cells[2].outputs = [
        nbformat.from_dict({"output_type": "display_datax", "data": {"text/html": "<img src=x onerror=alert(1)>"},
                            "metadata": {}}),
        nbformat.v4.new_output("display_data", data={"text/html": "<b>fine</b>", "application/javascript": "alert(1)"},
                               metadata={"image/png": {"width": "x"}}),
        nbformat.from_dict({"output_type": "stream", "name": "x\" onload=\"alert(1)", "text": "hi"})]
    return notebook


def test_a_run_notebook_is_rebuilt_from_what_the_site_shows_and_nothing_else():
    fresh = fresh_notebook(_tampered(), trusted_prose=False)
    assert set(fresh.metadata) == {"kernelspec", "language_info"}  # no mystnb or myst keys of the run
    assert [c.cell_type for c in fresh.cells] == ["code", "code"]  # the raw cell is gone, prose is an output
    prose = fresh.cells[0].outputs[0]["data"]["text/html"]
    assert "<script" not in prose and "&lt;script&gt;alert(1)" in prose  # the run's prose as sanitized text, never MyST
    code = fresh.cells[1]
    assert code.metadata == {"tags": ["hide-input"]}  # only known tags, no cell metadata
    assert [o["output_type"] for o in code.outputs] == ["display_data", "stream"]  # the unknown type is dropped
    assert code.outputs[0]["data"] == {"text/html": "<b>fine</b>"} and code.outputs[0]["metadata"] == {}
    assert code.outputs[1]["name"] == "stdout"


def test_the_projects_own_prose_stays_markdown():
    fresh = fresh_notebook(_tampered(), trusted_prose=True)
    assert fresh.cells[0].cell_type == "markdown" and fresh.cells[0].source.startswith("# Title")


def test_an_output_of_an_unknown_type_is_dropped():
    assert sanitize_output(nbformat.from_dict({"output_type": "x", "data": {"text/html": "<script>"}})) is None


def test_a_malformed_results_file_reads_as_unreadable_and_names_why(tmp_path):
    for bad, why in (({"status": "ok", "error": "x"}, "error is a str"), ({"status": "ok", "duration_s": "x"}, "duration_s"),
                     ({"status": "ok", "verdicts": [{"id": "A"}]}, "verdict lacks"), ({"status": "unreadable"}, "status"),
                     ({"status": "ok", "headline": "\ud800"}, "cannot be encoded")):
        assert why in schema_problem(bad), bad
    run = tmp_path / "runs" / "exp" / "20260101T000000000Z-abc"
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps({"status": "ok", "provenance": []}))
    [record] = Store(tmp_path / "runs").runs("exp")
    assert record.unreadable and "provenance is a list" in record.results["error"]["exception"]
