"""A report page: the executed notebook opening with its run banner, the computed answer (headline and
conclusions table) and its parameters as a collapsed table, right under the question, as QuantEcon's lectures
open. Every text from the run is escaped for where it lands (``expbook.escape``)."""

from __future__ import annotations

import copy
from typing import Any

import nbformat

from expbook.escape import Markup, md_cell, md_code, md_text, tag
from expbook.run.params import parse_parameters_cell
from expbook.run.store import RunRecord
from expbook.site.pages import PAPERMILL_TAGS, params_markdown, started, verdict_note, verdicts_of
from expbook.verdicts import badge_html, state_from_record


def _label(verdict: dict[str, Any]) -> str:
    """The id, with the role of a verdict declared outside the family ("S0 (sanity check)")."""
    role = verdict.get("role") or "family"
    return verdict["id"] if role == "family" else f"{verdict['id']} ({role})"


def _measured(verdict: dict[str, Any]) -> str:
    """The measured value with the interval that decided it, and which interval that is."""
    text = str(verdict.get("value_text") or verdict.get("value"))
    return f"{text} ({verdict['interval_note']})" if verdict.get("interval_note") else text


def answer_markdown(results: dict[str, Any]) -> str:
    """The run's computed answer, for the top of its page: the headline and the conclusions table (state badges,
    with the reason of an *n/a* and what would decide an inconclusive verdict)."""
    lines = [f"**Answer.** {md_text(results.get('headline', ''), strong=True)}", ""]
    verdicts = verdicts_of(results)
    if verdicts:
        lines += ["| | question | measured | rule | verdict | why n/a · what would decide it |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {md_cell(_label(v))} | {md_cell(v['question'])} | {md_cell(_measured(v))} "
                  f"| {md_cell(v['rule'])} | {md_cell(Markup(badge_html(state_from_record(v))))} "
                  f"| {md_cell(verdict_note(v))} |" for v in verdicts]
        lines += ["", "Evidence, tables, figures and the code follow below; *Conclusions* at the end explains each rule."]
    return "\n".join(lines)


def parameters_html(source: str, params: dict[str, Any]) -> str:
    """The parameters cell as a collapsed table of name, value and comment, the values this run changed from the
    notebook's defaults marked; one raw HTML block (no blank line, so MyST passes it through whole)."""
    try:
        specs = parse_parameters_cell(source)
    except (ValueError, SyntaxError):
        return ""
    changed = [name for name, spec in specs.items() if name in params and params[name] != spec.default]
    rows = []
    for name, spec in specs.items():
        value = params.get(name, spec.default)
        mark = tag("b", "changed") + Markup(f" (default {tag('code', repr(spec.default))})") if name in changed else ""
        rows.append(str(tag("tr", Markup("".join(str(tag("td", cell)) for cell in (
            tag("code", name), tag("code", repr(value)), mark, spec.comment))), class_="expbook-changed" if name in
            changed else None)))
    summary = f"Parameters: {len(specs)}" + (f", {len(changed)} changed from the defaults" if changed else
                                             ", all at their defaults")
    head = "".join(str(tag("th", h)) for h in ("name", "value", "", "what it is"))
    return (f'<details class="expbook-parameters"><summary>{tag("span", summary)}</summary>'
            f'<table class="table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></details>')


def report_notebook(record: RunRecord, status_line: str, *, history_link: str) -> nbformat.NotebookNode:
    """The executed notebook with the run banner, the computed answer and the parameters table right under the
    question; the parameters cell and papermill's injected one are left out (the table shows both)."""
    notebook = copy.deepcopy(nbformat.read(record.path / "report.ipynb", as_version=4))
    git = record.results.get("provenance", {}).get("git", {})
    code = f"{str(git.get('commit', ''))[:10]}{'+dirty' if git.get('dirty') else ''}"
    banner = (f"**Run** {md_code(record.run_id)} · started {md_text(started(record))} UTC · "
              f"{float(record.results.get('duration_s', 0) or 0):.0f} s · parameters: {params_markdown(record)} · code "
              f"{md_code(code)} · {status_line} · [all runs]({history_link})")
    source = ""
    for cell in notebook.cells:
        tags = set(cell.metadata.get("tags", []))
        if "parameters" in tags:
            source = cell.source
        if "parameters" in tags or PAPERMILL_TAGS & tags:
            cell.metadata["tags"] = sorted(tags | {"remove-cell"})
    table = parameters_html(source, record.results.get("params", {}))
    notebook.cells[1:1] = [nbformat.v4.new_markdown_cell(banner),
                           nbformat.v4.new_markdown_cell(answer_markdown(record.results)),
                           *([nbformat.v4.new_markdown_cell(table)] if table else [])]
    for cell in notebook.cells:
        cell.pop("id", None)
    notebook.nbformat_minor = 4
    return notebook
