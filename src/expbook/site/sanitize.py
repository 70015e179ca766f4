"""Notebook outputs are untrusted: every ``text/html`` and ``text/markdown`` output shown on the site passes an
allowlist sanitizer (nh3, the binding of Rust's ammonia), as JupyterLab sanitizes the HTML of an untrusted notebook
and nbconvert offers ``sanitize_html``.

* ``text/markdown`` is rendered to HTML first (markdown-it: CommonMark, tables, ``$``/``$$`` math as MathJax
  delimiters), so nothing in it is ever parsed as MyST: a fence of backticks, ``{include}`` or ``{raw}`` in an
  output is text on the page.
* What survives: text formatting, tables, lists, headings, links (``http``, ``https``, ``mailto``, and relative
  ones), images (inline ``data:image/png|jpeg|gif`` only), ``details``, and class attributes (the
  pandas and theme classes). No script, style element, event handler, ``javascript:`` URL, form, frame or unknown
  element: the element goes and its text stays (``script`` and ``style`` lose their content too).
* Other MIME types are dropped unless they are inert: PNG/JPEG images and ``text/plain``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import nbformat
import nh3

TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details", "div",
        "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
        "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup",
        "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var"}
ATTRIBUTES = {"*": {"title", "lang", "dir"}, "a": {"href"}, "img": {"src", "alt", "width", "height"},
              "td": {"colspan", "rowspan", "align"}, "th": {"colspan", "rowspan", "align", "scope"},
              "col": {"span"}, "colgroup": {"span"}, "ol": {"start"}, "details": {"open"}}
SCHEMES = {"http", "https", "mailto", "data"}
# classes an output may carry: pandas' table, MathJax's math, the verdict badges; no other (an output must not pass
# for the page's own banner or layout, nor hide behind the theme's utility classes)
BADGES = {"expbook-verdict", *(f"expbook-verdict-{state}" for state in ("holds", "fails", "inconclusive", "na"))}
CLASSES = {"table": {"dataframe", "table", "expbook-verdicts"}, "span": {"math", "notranslate", "nohighlight", *BADGES},
           "div": {"math", "notranslate", "nohighlight"}}
IMAGE_DATA = ("data:image/png;", "data:image/jpeg;", "data:image/gif;")
# MIME types shown on the site, most preferred first (what Jupyter Book's render priority does, less the active ones)
SHOWN = ("text/html", "image/png", "image/jpeg", "text/markdown", "text/plain")


def _attribute(element: str, attribute: str, value: str) -> str | None:
    """An image's source only as an inline raster image (an SVG can carry script; a URL would load from outside or
    from the build machine's pages); a ``data:`` URL nowhere else."""
    plain = re.sub(r"[\x00-\x20]", "", value).lower()  # browsers drop tabs and newlines inside a URL's scheme
    if element == "img" and attribute == "src":
        return value if plain.startswith(IMAGE_DATA) else None
    return None if plain.startswith("data:") else value


def sanitize_html(text: str) -> str:
    """``text`` with only the allowlisted elements, attributes and URL schemes left."""
    return nh3.clean(text, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES, attribute_filter=_attribute,
                     allowed_classes=CLASSES, link_rel="noopener noreferrer", strip_comments=True)


@lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    def math(content: str, options: dict) -> str:  # MathJax reads \( \) and \[ \] in the page's text
        block = options.get("display_mode")
        return (f'<div class="math notranslate nohighlight">\\[{_escape(content)}\\]</div>' if block
                else f'<span class="math notranslate nohighlight">\\({_escape(content)}\\)</span>')

    return MarkdownIt("commonmark", {"html": True}).enable("table").use(dollarmath_plugin, renderer=math)


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)


def markdown_html(text: str) -> str:
    """Markdown (a notebook's prose or a ``text/markdown`` output) as sanitized HTML."""
    return sanitize_html(_markdown().render(text))


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def sanitize_output(output: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """One cell output, safe to show: rich data reduced to one sanitized representation; None when nothing inert
    remains. Streams and errors are text and pass as they are (every renderer shows them as literal text)."""
    kind = output.get("output_type")
    if kind == "stream":
        return nbformat.v4.new_output("stream", name="stderr" if output.get("name") == "stderr" else "stdout",
                                      text=_joined(output.get("text", "")))
    if kind == "error":
        return nbformat.v4.new_output("error", ename=str(output.get("ename", "")), evalue=str(output.get("evalue", "")),
                                      traceback=[str(line) for line in output.get("traceback", [])])
    if kind not in ("display_data", "execute_result"):
        return None  # an output type nothing renders safely: dropped
    data = output.get("data", {})
    kept = {}
    for mime in SHOWN:
        if mime not in data:
            continue
        value = _joined(data[mime])
        if mime == "text/html":
            kept["text/html"] = sanitize_html(value)
        elif mime == "text/markdown":
            kept["text/html"] = markdown_html(value)
        elif mime.startswith("image/"):
            kept[mime] = value
        else:
            kept[mime] = value
        break
    if "text/plain" in data and "text/plain" not in kept:
        kept["text/plain"] = _joined(data["text/plain"])
    if not kept:
        return None
    clean = nbformat.v4.new_output(kind, data=kept)  # no output metadata: sizes and flags come from nowhere else
    if kind == "execute_result":
        clean["execution_count"] = output.get("execution_count") if isinstance(output.get("execution_count"), int) else None
    return clean


def sanitize_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Every code cell's outputs through ``sanitize_output`` (the notebook is changed in place and returned)."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [clean for output in cell.get("outputs", []) if (clean := sanitize_output(output)) is not None]
    return notebook
