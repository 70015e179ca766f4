"""A report page: the executed notebook opening with its run banner, the computed answer (headline and
conclusions table) and its parameters as a collapsed table, right under the question, as QuantEcon's lectures
open.

Nothing from the run becomes MyST: the banner is an HTML output (``templates/banner.html``, autoescaped) of an
inserted cell whose input is removed, and every output of the run passes the sanitizer (``site.sanitize``). The
prose is the notebook's as it is now when the code cells still match the run (``site.prose``); the stored run is
read, never written.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import nbformat

from expbook.errors import ExpbookError
from expbook.run.params import parse_parameters_cell
from expbook.run.store import RunRecord, data_origin, verdicts_of
from expbook.site.prose import with_source_prose
from expbook.site.render import render
from expbook.site.sanitize import markdown_html, sanitize_output

PAPERMILL_TAGS = {"injected-parameters"}
ONE_TABLE = ('<p class="expbook-pointer">The verdict table is shown once, with the answer at the top of this page '
             '(<a href="#answer">back to the answer</a>).</p>')


def started(record: RunRecord) -> str:
    return str(record.results.get("provenance", {}).get("started", ""))[:16].replace("T", " ")


def override_texts(record: RunRecord) -> list[str]:
    return [f"{k}={v!r}" for k, v in record.overrides.items()]


def parameter_rows(source: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The parameters cell as rows of name, value (repr), default and comment, the changed ones marked."""
    try:
        specs = parse_parameters_cell(source)
    except (ValueError, SyntaxError):
        return []
    return [{"name": name, "value": repr(params.get(name, spec.default)), "default": repr(spec.default),
             "comment": spec.comment, "changed": name in params and params[name] != spec.default}
            for name, spec in specs.items()]


def with_prose(record: RunRecord, source_path: Path | None) -> tuple[nbformat.NotebookNode, str, bool]:
    """The run's executed notebook with the project notebook's current prose where the code still matches; a
    sentence saying which prose the page shows; and whether the prose is the project's (else it is the stored
    run's, which is run output like any other and is shown only as sanitized HTML)."""
    executed = nbformat.read(record.path / "report.ipynb", as_version=4)
    run_key = str((record.results.get("provenance") or {}).get("render_key", ""))[:8]
    if source_path is None or not source_path.is_file():
        return executed, f"Prose as executed (render key {run_key}).", False
    try:
        from expbook.run.keys import render_key

        current = render_key(source_path)
        notebook = with_source_prose(executed, nbformat.read(source_path, as_version=4))
        if current[:8] == run_key:
            return notebook, f"Prose as executed (render key {run_key}).", True
        return notebook, (f"Prose from the notebook as it is now (render key {current[:8]}); the run was executed "
                          f"with render key {run_key} and is unchanged."), True
    except ExpbookError:
        return executed, (f"Prose as executed (render key {run_key}): the notebook's code has changed since, so "
                          "today's prose would not match these outputs."), False


KNOWN_TAGS = {"remove-cell", "remove-input", "hide-input", "remove-output", "hide-output", "parameters",
              "injected-parameters", "papermill-error-cell-tag"}


def fresh_notebook(notebook: nbformat.NotebookNode, *, trusted_prose: bool) -> nbformat.NotebookNode:
    """A new notebook built from the parts of ``notebook`` the site shows, and nothing else: markdown (the project's
    prose as Markdown; a run's own prose only as sanitized HTML), code cells with their sanitized outputs and known
    tags, no raw cells, and no metadata of the run's (myst-nb reads ``mystnb``/``myst`` keys from notebook and cell
    metadata: execution modes, figure captions, html meta)."""
    cells = []
    for cell in notebook.cells:
        tags = sorted(t for t in cell.get("metadata", {}).get("tags", []) if t in KNOWN_TAGS)
        if cell.cell_type == "markdown" and trusted_prose:
            cells.append(nbformat.v4.new_markdown_cell(cell.source, metadata={"tags": tags}))
        elif cell.cell_type == "markdown":
            prose = nbformat.v4.new_code_cell("# prose stored with the run", metadata={"tags": ["remove-input", *tags]})
            prose.outputs = [nbformat.v4.new_output("display_data", data={
                "text/html": markdown_html(cell.source), "text/plain": "prose"})]
            cells.append(prose)
        elif cell.cell_type == "code":
            code = nbformat.v4.new_code_cell(cell.source, metadata={"tags": tags})
            code.outputs = [clean for output in cell.get("outputs", []) if (clean := sanitize_output(output)) is not None]
            cells.append(code)
    fresh = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    return fresh


def report_notebook(record: RunRecord, status_line: str, *, history_link: str,
                    source_path: Path | None = None) -> nbformat.NotebookNode:
    """The executed notebook (outputs sanitized, prose current where possible) with the run banner, the computed
    answer and the parameters table right under the question; the parameters cell and papermill's injected one are
    left out (the table shows both)."""
    notebook, prose_note, trusted = with_prose(record, source_path)
    notebook = fresh_notebook(copy.deepcopy(notebook), trusted_prose=trusted)
    if not trusted:  # the run's own prose is an HTML output: the page's title comes from the project's notebook
        from expbook.escape import md_text
        from expbook.run.catalogue import notebook_title

        title = notebook_title(source_path) if source_path is not None and source_path.is_file() else record.experiment
        notebook.cells.insert(0, nbformat.v4.new_markdown_cell(f"# {md_text(title)}"))
    for cell in notebook.cells:  # the conclusions table is shown once, at the top: its copy below points there
        for output in cell.get("outputs", []):
            if 'class="expbook-verdicts"' in str(output.get("data", {}).get("text/html", "")):
                output["data"] = nbformat.from_dict({"text/html": ONE_TABLE, "text/plain": "see the answer at the top"})
    git = record.results.get("provenance", {}).get("git", {})
    dirty = git.get("dirty")
    code = f"{str(git.get('commit', ''))[:10]}{'+dirty' if dirty else ''}{' (dirty: unknown)' if dirty is None else ''}"
    source = ""
    for cell in notebook.cells:
        tags = set(cell.metadata.get("tags", []))
        if "parameters" in tags:
            source = cell.source
        if "parameters" in tags or PAPERMILL_TAGS & tags:
            cell.metadata["tags"] = sorted(tags | {"remove-cell"})
    params = record.results.get("params", {})
    rows = parameter_rows(source, params)
    banner = render("banner.html", record=record, started=started(record), overrides=override_texts(record),
                    duration=float(record.results.get("duration_s", 0) or 0), code=code, status_line=status_line,
                    history_link=history_link, prose_note=prose_note, origin=data_origin(record.results),
                    verdicts=verdicts_of(record.results),
                    parameters=rows, changed=[r for r in rows if r["changed"]])
    cell = nbformat.v4.new_code_cell("# the run banner and computed answer, rendered by expbook",
                                     metadata={"tags": ["remove-input"]})
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": banner, "text/plain": "run banner"})]
    notebook.cells[1:1] = [cell]
    for cell in notebook.cells:
        cell.pop("id", None)
    notebook.nbformat_minor = 4
    return notebook
