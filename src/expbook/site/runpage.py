"""Standalone pages of the site, rendered without Sphinx: one per variant or earlier run, one comparison per variant,
and each run's compare data. They are rendered once per run (``site.book`` caches them by the run's files) and
linked from the history page, so adding a run to a store of N runs renders one page, not N.

A page is the site's stylesheets around an ``<article>``: the run banner and computed answer, then the executed
notebook: markdown cells through markdown-it (CommonMark and tables, as MyST reads them), code highlighted with
Pygments' Sphinx classes, outputs by MIME type (HTML tables, PNG figures inline, text escaped). The cell tags of
Jupyter Book apply: ``remove-cell``, ``remove-input``, ``hide-input``, ``remove-output``, ``hide-output``.
"""

from __future__ import annotations

import re
from typing import Any

import nbformat

from expbook.escape import Markup, html_attr, html_text, json_script, tag
from expbook.run.store import RunRecord
from expbook.site.compare import Comparison, flatten_metrics
from expbook.site.pages import url
from expbook.site.report import report_notebook
from expbook.verdicts import state_from_record

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _markdown():
    from markdown_it import MarkdownIt
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def _highlight(source: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    return highlight(source, PythonLexer(), HtmlFormatter(cssclass="highlight"))


def _output(output: nbformat.NotebookNode, markdown) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return str(tag("pre", output.get("text", ""), class_=f"expbook-stream expbook-{output.get('name', 'stdout')}"))
    if kind == "error":
        return str(tag("pre", ANSI.sub("", "\n".join(output.get("traceback", []))), class_="expbook-error"))
    data = output.get("data", {})
    if "text/html" in data:  # the notebook's own tables: pandas escapes cell text (Styler set to escape by record)
        return f'<div class="expbook-output-html">{"".join(data["text/html"])}</div>'
    if "image/png" in data:
        return f'<img alt="figure" src="data:image/png;base64,{html_attr("".join(data["image/png"]).strip())}">'
    if "text/markdown" in data:
        return markdown.render("".join(data["text/markdown"]))
    if "text/plain" in data:
        return str(tag("pre", "".join(data["text/plain"]), class_="expbook-text"))
    return ""


def notebook_html(notebook: nbformat.NotebookNode) -> str:
    """The cells of an executed notebook as HTML, Jupyter Book's cell tags applied."""
    markdown = _markdown()
    parts = []
    for cell in notebook.cells:
        tags = set(cell.metadata.get("tags", []))
        if "remove-cell" in tags:
            continue
        if cell.cell_type == "markdown":
            parts.append(f'<div class="expbook-markdown">{markdown.render(cell.source)}</div>')
            continue
        if cell.cell_type != "code":
            continue
        inner = []
        if "remove-input" not in tags and cell.source.strip():
            source = f'<div class="cell_input"><div class="highlight-ipython3 notranslate">{_highlight(cell.source)}</div></div>'
            inner.append(f"<details><summary>Show code</summary>{source}</details>" if "hide-input" in tags
                         else source)
        if "remove-output" not in tags:
            outputs = "".join(_output(o, markdown) for o in cell.get("outputs", []))
            if outputs:
                outputs = f'<div class="cell_output">{outputs}</div>'
                inner.append(f"<details><summary>Show output</summary>{outputs}</details>" if "hide-output" in tags
                             else outputs)
        if inner:
            parts.append(f'<div class="cell expbook-cell">{"".join(inner)}</div>')
    return "\n".join(parts)


def page(title: str, body: str, *, depth: int, nav: list[tuple[str, str]]) -> str:
    """A standalone page of the site ``depth`` folders below its root: the theme's stylesheets, a navigation line,
    the article, and the footer the site fills in (``_static/expbook_site.js``: the version of the last build)."""
    root = "../" * depth
    links = " · ".join(str(tag("a", text, href=root + href)) for text, href in nav)
    styles = "".join(f'<link rel="stylesheet" href="{root}_static/{name}">' for name in (
        "styles/theme.css", "styles/pydata-sphinx-theme.css", "pygments.css", "styles/sphinx-book-theme.css",
        "expbook.css"))
    return ("<!DOCTYPE html>\n"
            f'<html lang="en" data-content_root="{html_attr(root or "./")}" data-theme="light" data-mode="light">'
            '<head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html_text(title)}</title>'
            f'{styles}<script src="{root}_static/expbook_versions.js"></script></head>'
            f'<body><div class="expbook-standalone bd-article-container"><nav class="expbook-nav">{links}</nav>'
            f'<article class="bd-article">{body}</article>'
            f'<footer class="expbook-footer" id="expbook-footer"></footer></div>'
            f'<script src="{root}_static/expbook_site.js"></script></body></html>\n')


def run_page(record: RunRecord, status_line: str, title: str) -> str:
    """The page of one stored run: banner, computed answer, the executed notebook."""
    notebook = report_notebook(record, status_line, history_link=f"../../{url('history', record.experiment + '.html')}")
    nav = [("Overview", "overview.html"), (f"History: {title}", url("history", record.experiment + ".html"))]
    return page(f"{record.run_id} · {title}", notebook_html(notebook), depth=2, nav=nav)


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _interval(ci: tuple[float, float] | None) -> str:
    return "" if not ci else f" [{ci[0]:.4g}, {ci[1]:.4g}]"


def _table(header: list[str], rows: list[list[Any]], changed: list[bool] | None = None) -> str:
    head = "".join(str(tag("th", h)) for h in header)
    body = "".join(str(tag("tr", Markup("".join(str(tag("td", c)) for c in row)),
                           class_="expbook-changed" if changed and changed[i] else None)) for i, row in enumerate(rows))
    return f'<table class="table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def compare_page(c: Comparison, *, title: str, history_title: str) -> str:
    """A variant against the canonical run: verdicts (changed states marked), parameters, metrics (largest first)."""
    from expbook.verdicts import badge_html

    def badge(state: str | None, note: str) -> Any:
        if state is None:
            return "–"
        return Markup(badge_html(state, note=note) + ("<br>" + str(tag("small", note)) if note else ""))

    body = [str(tag("h1", title)),
            f"<p><b>A</b> {tag('code', c.a.run_id)} → <b>B</b> {tag('code', c.b.run_id)}. A verdict whose state changed "
            "is marked <b>changed</b>; a metric whose B value falls outside A's 95% interval is marked <b>outside</b>.</p>",
            "<h2>Verdicts</h2>",
            _table(["", "question", "A", "B", ""], [[v.id, v.question, badge(v.a, v.note_a), badge(v.b, v.note_b),
                                                      "changed" if v.changed else ""] for v in c.verdicts],
                   [v.changed for v in c.verdicts]),
            "<h2>Parameters that differ</h2>",
            _table(["parameter", "A", "B"], [[k, Markup(tag("code", repr(a))), Markup(tag("code", repr(b)))]
                                             for k, a, b in c.params]) if c.params
            else "<p>None: the two runs used the same parameters.</p>",
            f"<h2>Metrics that differ ({len(c.metrics)}, largest relative change first, counts last)</h2>",
            _table(["metric", "A", "B", "Δ (B − A)", ""],
                   [[Markup(tag("code", d.name)), _number(d.a) + _interval(d.ci_a), _number(d.b) + _interval(d.ci_b),
                     f"{d.delta:+.4g}", "outside" if d.outside_ci else ""] for d in c.metrics]) if c.metrics
            else "<p>None: every recorded metric is identical.</p>"]
    nav = [("Overview", "overview.html"), (f"History: {history_title}", url("history", c.b.experiment + ".html"))]
    return page(title, "\n".join(body), depth=2, nav=nav)


def run_data_script(record: RunRecord, label: str) -> str:
    """``runs/<experiment>/<run>.data.js``: what the history page's comparison needs of one run, loaded on demand
    through a script tag (which works from ``file://``)."""
    results = record.results
    verdicts = {v["id"]: [v["question"], state_from_record(v)] for v in results.get("verdicts", [])}
    if results.get("gate"):
        verdicts["Gate"] = [results["gate"]["question"], state_from_record(results["gate"])]
    data = {"label": label, "params": results.get("params", {}), "verdicts": verdicts,
            "metrics": flatten_metrics(results.get("metrics", {}))}
    return (f"(window.EXPBOOK_RUN_DATA = window.EXPBOOK_RUN_DATA || {{}})[{json_script(record.run_id)}] = "
            f"{json_script(data, sort_keys=True)};\n")
