"""Standalone pages of the site, rendered without Sphinx: one per variant or earlier run, one comparison per variant,
and each run's compare data. They are rendered once per run (``site.book`` caches them by the run's files) and
linked from the history page, so adding a run to a store of N runs renders one page, not N.

A page is ``templates/run.html`` (autoescaped): the run banner and computed answer, then the executed notebook:
markdown cells through markdown-it and the sanitizer, code highlighted with Pygments' Sphinx classes, outputs by
MIME type after the sanitizer (``site.sanitize``: HTML allowlisted, PNG figures inline, text escaped). The cell tags of
Jupyter Book apply: ``remove-cell``, ``remove-input``, ``hide-input``, ``remove-output``, ``hide-output``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
from markupsafe import Markup

from expbook.escape import json_script
from expbook.run.store import RunRecord, data_origin, flatten_metrics, verdicts_of
from expbook.site.compare import Comparison, csv_safe, figure_names, metric_group, metric_label, verdict_values
from expbook.site.render import render, url
from expbook.site.report import report_notebook
from expbook.site.sanitize import markdown_html
from expbook.verdicts import state_from_record

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _highlight(source: str) -> Markup:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    return Markup(highlight(source, PythonLexer(), HtmlFormatter(cssclass="highlight")))  # Pygments escapes the code


def _output(output: nbformat.NotebookNode) -> dict[str, Any] | None:
    """One (already sanitized) output as what ``run.html`` shows: sanitized HTML, an inline image, or text."""
    kind = output.get("output_type")
    if kind == "stream":
        return {"kind": "text", "css": f"expbook-stream expbook-{output.get('name', 'stdout')}", "text": output.get("text", "")}
    if kind == "error":
        return {"kind": "text", "css": "expbook-error", "text": ANSI.sub("", "\n".join(output.get("traceback", [])))}
    data = output.get("data", {})
    if "text/html" in data:
        return {"kind": "html", "html": Markup(data["text/html"])}  # sanitize_output made it safe
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            return {"kind": "image", "mime": mime, "data": "".join(data[mime]).strip()}
    if "text/plain" in data:
        return {"kind": "text", "css": "expbook-text", "text": "".join(data["text/plain"])}
    return None


def notebook_cells(notebook: nbformat.NotebookNode) -> list[dict[str, Any]]:
    """The cells of an executed, sanitized notebook as ``run.html`` shows them, Jupyter Book's cell tags applied:
    ``remove-cell``, ``remove-input``, ``hide-input``, ``remove-output``, ``hide-output``."""
    cells = []
    for cell in notebook.cells:
        tags = set(cell.metadata.get("tags", []))
        if "remove-cell" in tags:
            continue
        if cell.cell_type == "markdown":
            cells.append({"kind": "markdown", "html": Markup(markdown_html(cell.source))})
            continue
        if cell.cell_type != "code":
            continue
        source = _highlight(cell.source) if "remove-input" not in tags and cell.source.strip() else None
        outputs = [] if "remove-output" in tags else [o for o in map(_output, cell.get("outputs", [])) if o]
        if source is not None or outputs:
            cells.append({"kind": "code", "source": source, "outputs": outputs, "hide_input": "hide-input" in tags,
                          "hide_output": "hide-output" in tags})
    return cells


def run_page(record: RunRecord, status_line: str, title: str, source_path: Path | None = None) -> str:
    """The page of one stored run: banner, computed answer, the executed notebook."""
    notebook = report_notebook(record, status_line, history_link=f"../../{url('history', record.experiment + '.html')}",
                               source_path=source_path)
    nav = [("Overview", "overview.html"), (f"History: {title}", url("history", record.experiment + ".html"))]
    return render("run.html", title=f"{record.run_id} · {title}", root="../../", nav=nav,
                  cells=notebook_cells(notebook), run_id=record.run_id)


def compare_page(c: Comparison, *, title: str, history_title: str) -> str:
    """A variant against the canonical run: verdicts (changed states marked), parameters, the figures both
    produced (four views), and the metrics by group (largest relative change first), with their CSV."""
    nav = [("Overview", "overview.html"), (f"History: {history_title}", url("history", c.b.experiment + ".html"))]
    labels = [", ".join(f"{k}={v!r}" for k, v in record.overrides.items()) or "defaults" for record in (c.a, c.b)]
    return render("compare.html", title=title, root="../../", nav=nav, c=c, origin_a=data_origin(c.a.results),
                  origin_b=data_origin(c.b.results), label=metric_label, label_a=labels[0], label_b=labels[1],
                  csv_name=url(c.b.run_id + ".csv"))


PNG = b"\x89PNG\r\n\x1a\n"


def run_figures_script(record: RunRecord) -> str:
    """``runs/<experiment>/<run>.figures.js``: the run's PNG figures as data URLs by name, loaded on demand by the
    compare views (a canvas may read the pixels of a data URL, not of an image from ``file://``)."""
    import base64

    figures = {}
    for name in figure_names(record):
        data = (record.path / "figures" / f"{name}.png").read_bytes() if (
            record.path / "figures" / f"{name}.png").is_file() else b""
        if data.startswith(PNG):  # only what is a PNG goes out as one
            figures[name] = "data:image/png;base64," + base64.b64encode(data).decode()
    return (f"(window.EXPBOOK_FIGURES = window.EXPBOOK_FIGURES || {{}})[{json_script(record.run_id)}] = "
            f"JSON.parse({json_script(json.dumps(figures, sort_keys=True))});\n")


def run_results_json(record: RunRecord) -> str:
    """``runs/<experiment>/<run>.results.json``: the run's stored results, for download."""
    return json.dumps(record.results, indent=1, ensure_ascii=False, default=str)


def run_metrics_csv(record: RunRecord) -> str:
    """``runs/<experiment>/<run>.metrics.csv``: every numeric metric (and verdict value) with its group and label."""
    import csv
    import io

    flat = flatten_metrics(record.results.get("metrics", {}))
    values, intervals = verdict_values(record.results)
    flat.update(values)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["group", "metric", "key", "value", "low", "high"])
    for name, value in flat.items():
        writer.writerow(csv_safe([metric_group(name), metric_label(name), name, value, *intervals.get(name, ("", ""))]))
    return out.getvalue()


def run_data_script(record: RunRecord, label: str) -> str:
    """``runs/<experiment>/<run>.data.js``: what the history page's comparison needs of one run, loaded on demand
    through a script tag (which works from ``file://``)."""
    results = record.results
    verdicts = {v["id"]: [v["question"], state_from_record(v)] for v in verdicts_of(results)}
    data = {"label": label, "params": results.get("params", {}), "verdicts": verdicts,
            "metrics": flatten_metrics(results.get("metrics", {}))}
    # JSON.parse, not an object literal: a key such as "__proto__" stays an own property instead of setting the prototype
    return (f"(window.EXPBOOK_RUN_DATA = window.EXPBOOK_RUN_DATA || {{}})[{json_script(record.run_id)}] = "
            f"JSON.parse({json_script(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str))});\n")
