"""The site's generated pages, as text: the overview, each experiment's history, sweep summaries, and the report
notebook with its run banner and computed answer. Every value from a run goes through ``site.escape``.

Pages Sphinx renders are MyST Markdown (overview, sweeps, the answer cells of a report) or a raw HTML block
inside one (the history table, which pages and filters itself in the browser). Run and compare pages are
standalone HTML (``site.runpage``), linked from the history page, so adding a run never grows Sphinx's work.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pandas as pd

from expbook.escape import Markup, html_attr, json_script, md_cell, md_code, md_text, tag
from expbook.run.store import RunRecord, Store
from expbook.run.sweep import summarise, sweep_records
from expbook.site.status import ExperimentStatus
from expbook.verdicts import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, badge_html, note_from_record, state_from_record

WIDE_PAGE = "---\nhtml_theme.sidebar_secondary.remove: true\n---\n\n"  # no right sidebar: room for the table
PAPERMILL_TAGS = {"injected-parameters"}


def short_title(title: str) -> str:
    """The title up to its colon: "Two-stage diagnosis: why ...?" -> "Two-stage diagnosis"."""
    return title.split(":")[0]


def url(*parts: str) -> str:
    """A relative URL from path segments, each percent-encoded (run ids and names are folder names: hostile too)."""
    return "/".join(quote(part, safe="") if part not in ("..", ".") else part for part in parts)


def verdicts_of(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The gate first, then the verdicts, as stored."""
    return ([results["gate"]] if results.get("gate") else []) + list(results.get("verdicts", []))


def verdict_note(verdict: dict[str, Any]) -> str:
    """What a reader needs beside the badge: why it is *n/a*, or what would decide an inconclusive verdict."""
    return note_from_record(verdict)


def badges(results: dict[str, Any]) -> Markup:
    """Every verdict as a text badge (``gate yes``, ``H2 inconclusive`` …) carrying its note as a tooltip."""
    return Markup(" ".join(badge_html(state_from_record(v), "gate" if v is results.get("gate") else v["id"],
                                      note=verdict_note(v)) for v in verdicts_of(results)))


def key_metric(results: dict[str, Any]) -> str:
    key = results.get("key_metric") or {}
    value = key.get("value")
    return f"{key.get('name', '')}: {value:.3f}" if isinstance(value, (int, float)) else ""


def override_label(record: RunRecord, default: str) -> str:
    """``seed=7, scale=0.5`` — the run's parameters that differ from the defaults — or ``default``."""
    return ", ".join(f"{k}={v!r}" for k, v in record.overrides.items()) or default


def params_markdown(record: RunRecord) -> str:
    return ", ".join(md_code(f"{k}={v!r}") for k, v in record.overrides.items()) or "defaults"


def started(record: RunRecord) -> str:
    return str(record.results.get("provenance", {}).get("started", ""))[:16].replace("T", " ")


def failure_text(record: RunRecord) -> str:
    error = record.results.get("error", {})
    where = f" ({error['path']})" if error.get("path") else ""
    return f"{record.status}: {error.get('exception', '')}{where}"


# --- the overview ---------------------------------------------------------------------------------------------------

def overview_page(statuses: list[ExperimentStatus], titles: dict[str, str], stamp: str) -> str:
    lines = [WIDE_PAGE + "# Experiment reports", "",
             f"Every report is a parameterized notebook executed by papermill; each execution is a versioned run. "
             f"This site was built from the run store at version **{md_text(stamp)}**. *Fresh* means the canonical run "
             f"still matches the current notebook, code, pinned requirements and data; *stale* says what changed. "
             f"Hover a verdict for why it is *n/a* or what would decide it.", "",
             "| Experiment | Question | Headline | Verdicts | Key metric | Canonical run | Status |",
             "|---|---|---|---|---|---|---|"]
    for status in statuses:
        experiment, title = status.experiment, md_text(titles[status.experiment])
        failure = ""
        if status.latest_failure:
            failure = f" ⚠️ latest default run {md_code(status.latest_failure.run_id)} " + md_text(
                failure_text(status.latest_failure))
        if status.canonical is None:
            lines.append(f"| {title} | | no successful run yet | | | | {md_text(status.state)}{failure} |")
            continue
        results = status.canonical.results
        lines.append(
            f"| [{title}]({url('reports', experiment + '.ipynb')}) | {md_cell(results.get('question', ''))} "
            f"| {md_cell(results.get('headline', ''), strong=True)} | {md_cell(badges(results))} "
            f"| {md_cell(key_metric(results))} "
            f"| [{md_code(status.canonical.run_id)}]({url('history', experiment + '.md')}) "
            f"({md_text(started(status.canonical))}) | **{md_text(status.label)}**: {md_text(status.reason)}{failure} |")
    lines += ["", "Each report's **history** page lists every run of it, variants included.", ""]
    return "\n".join(lines)


# --- history ------------------------------------------------------------------------------------------------------

def run_page_url(record: RunRecord, canonical: RunRecord | None, prefix: str = "../") -> str | None:
    """Where a run is shown: its report (the canonical run), its own page (another successful run), or nowhere."""
    if canonical and record.run_id == canonical.run_id:
        return prefix + url("reports", record.experiment + ".html")
    if record.ok:
        return prefix + url("runs", record.experiment, record.run_id + ".html")
    return None


def history_page(experiment: str, title: str, runs: list[RunRecord], canonical: RunRecord | None,
                 sweeps: list[dict[str, Any]] = ()) -> str:
    """Markdown heading and intro, then one raw HTML block: the filterable, paged table of every run (newest first)
    and the any-two-runs comparison, whose run data load on demand from ``runs/<experiment>/<run>.data.js``."""
    rows = []
    for record in reversed(runs):
        page = run_page_url(record, canonical)
        star = " ★" if canonical and record.run_id == canonical.run_id else ""
        name = tag("a", tag("code", record.run_id), href=page) if page else tag("code", record.run_id)
        compare = (tag("a", "vs canonical", href="../" + url("compare", experiment, record.run_id + ".html"))
                   if canonical and record.ok and record.run_id != canonical.run_id else "")
        status = record.status if record.ok else tag("b", record.status) + Markup(": ") + failure_text(
            record).split(": ", 1)[-1]
        params = ", ".join(f"{k}={v!r}" for k, v in record.overrides.items()) or "defaults"
        cells = [name + Markup(star), started(record), status, tag("code", params) if record.overrides else params,
                 key_metric(record.results), badges(record.results),
                 f"{float(record.results.get('duration_s', 0) or 0):.0f} s", compare]
        rows.append(tag("tr", Markup("".join(tag("td", c) for c in cells)), data_status=record.status,
                        data_params=params))
    header = Markup("".join(tag("th", h) for h in ("Run", "Started (UTC)", "Status", "Parameters vs defaults",
                                                   "Key metric", "Verdicts", "Duration", "Compare")))
    choices = [{"id": r.run_id, "label": override_label(r, "defaults")} for r in reversed(runs) if r.ok]
    html_block = "\n".join([
        '<div class="expbook-history-filter">Show <select id="expbook-history-status"><option value="">every status'
        '</option><option value="ok">ok</option><option value="failed">failed</option>'
        '<option value="unreadable">unreadable</option></select> with parameters containing '
        '<input id="expbook-history-params" type="search" placeholder="seed=7"> '
        '<span id="expbook-history-count"></span></div>',
        f'<table class="table expbook-history" data-page-size="50"><thead><tr>{header}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table>',
        '<div id="expbook-history-pages"></div>',
        '<h2 id="compare-any-two-runs">Compare any two runs</h2>',
        '<p>Pick run A and run B; changed verdicts and parameters are highlighted. From a shell: '
        '<code>python -m expbook compare RUN_A RUN_B</code> (ids or unique prefixes).</p>',
        '<div class="expbook-compare-pickers">A <select id="expbook-run-a"></select> '
        'B <select id="expbook-run-b"></select></div>',
        '<div id="expbook-compare-output"></div>',
        f'<script type="application/json" id="expbook-runs" data-base="{html_attr("../" + url("runs", experiment))}/">'
        f'{json_script(choices)}</script>',
        '<script src="../_static/expbook_history.js"></script>',
        '<script src="../_static/expbook_compare.js"></script>'])
    command = f'make run EXP={experiment} P="name=value ..."'
    lines = [WIDE_PAGE + f"# History: {md_text(title)}", "",
             f"Every execution of {md_code(f'notebooks/{experiment}.ipynb')}, newest first. The canonical run (★) is "
             f"the latest successful run with default parameters; the others are variants "
             f"({md_code(command)}). "
             f"{len(runs)} run{'s' if len(runs) != 1 else ''}: "
             f"{sum(r.ok for r in runs)} ok, {sum(r.status == 'failed' for r in runs)} failed"
             + (f", {sum(r.unreadable for r in runs)} unreadable" if any(r.unreadable for r in runs) else "") + ".",
             "", "```{raw} html", html_block, "```"]
    if sweeps:
        lines += ["", "## Sweeps", "", "| Sweep | Grid | Runs | Status |", "|---|---|---|---|"]
        lines += [f"| [{md_code(s['sweep_id'])}]({url('..', 'sweeps', experiment, s['sweep_id'] + '.md')}) "
                  f"| {md_cell(grid_text(s['grid']))} | {len(s.get('runs', []))} | {md_text(s.get('status', 'finished'))} |"
                  for s in reversed(sweeps)]
    return "\n".join(lines) + "\n"


def grid_text(grid: dict[str, list[Any]]) -> str:
    return ", ".join(f"{k} ∈ {v}" for k, v in grid.items())


# --- sweeps ---------------------------------------------------------------------------------------------------------

def sweep_page(sweep: dict[str, Any], store: Store, *, key_metrics: int = 30) -> str:
    records = sweep_records(sweep, store)
    metrics, verdicts = summarise(records)
    lines = [f"# Sweep {md_text(sweep['sweep_id'])}", "",
             f"{len(sweep.get('runs', []))} variants of {md_code(sweep['experiment'])} over {md_text(grid_text(sweep['grid']))}, "
             f"run on {md_text(sweep.get('where', ''))}; {len(records)} succeeded"
             + ("" if sweep.get("status", "finished") == "finished" else " (the sweep did not finish)")
             + ". Means with a t-based 95% CI across runs.", "",
             "## Verdict agreement", "", "Each verdict's state in every run of the sweep and the share of runs that "
             "agree with the majority state.", "",
             "| | question | holds | does not hold | inconclusive | n/a | majority | agreement |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {md_cell(r['id'])} | {md_cell(r['question'])} | {r[HOLDS]} | {r[FAILS]} | {r[INCONCLUSIVE]} "
              f"| {r[NOT_APPLICABLE]} | {md_cell(Markup(badge_html(r['majority'])))} | {r['agreement']:.0%} |"
              for _, r in verdicts.iterrows()] or ["| | no verdicts | | | | | | |"]
    lines += ["", "## Metrics across runs", ""]
    if len(metrics):
        varying = metrics[metrics["std"] > 0].sort_values("std", ascending=False)
        shown = pd.concat([varying, metrics.drop(varying.index)]).head(key_metrics)
        lines += ["| metric | mean | std | 95% CI | n |", "|---|---|---|---|---|"]
        lines += [f"| {md_code(name)} | {r['mean']:.4g} | {r['std']:.3g} | [{r['ci_low']:.4g}, {r['ci_high']:.4g}] "
                  f"| {r['n']} |" for name, r in shown.iterrows()]
        if len(metrics) > key_metrics:
            lines.append(f"\n{len(metrics) - key_metrics} more metrics are in the runs' results.json.")
    lines += ["", "## Runs", "", "| run | parameters | status |", "|---|---|---|"]
    lines += [f"| {md_code(r['run_id'])} | {md_cell(', '.join(f'{k}={v!r}' for k, v in r['overrides'].items()))} "
              f"| {md_text(r['status'])} |" for r in sweep.get("runs", [])]
    return "\n".join(lines) + "\n"
