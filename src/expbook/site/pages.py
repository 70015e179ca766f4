"""The site's generated Sphinx pages: the overview, each experiment's history and each sweep.

Each is two files: a fixed MyST source (a heading and a ``{raw} html`` directive naming a fragment by ``:file:``)
and the fragment, rendered from a Jinja2 template with autoescape (``site.render``). Sphinx copies a raw file into
the page without parsing it, so no text of a run — a parameter, an error, a label, a folder name — is ever MyST or
Sphinx source. The MyST sources hold only the project's own names (experiment and notebook titles) and ids this
module checks.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from expbook.escape import json_script, md_text
from expbook.run.store import RunRecord, Store, data_origin, verdicts_of
from expbook.run.sweep import summarise, sweep_records
from expbook.site.render import render, url
from expbook.site.report import override_texts, started
from expbook.site.status import ExperimentStatus
from expbook.verdicts import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE

WIDE_PAGE = "---\nhtml_theme.sidebar_secondary.remove: true\n---\n\n"  # no right sidebar: room for the table
FRAGMENTS = "_fragments"  # under the book folder: the HTML files the MyST pages include unparsed
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,80}$")


def short_title(title: str) -> str:
    """The title up to its colon: "Two-stage diagnosis: why ...?" -> "Two-stage diagnosis"."""
    return title.split(":")[0]


def key_metric(results: dict[str, Any]) -> str:
    key = results.get("key_metric") or {}
    value = key.get("value")
    return f"{key.get('name', '')}: {value:.3f}" if isinstance(value, (int, float)) else ""


def override_label(record: RunRecord, default: str) -> str:
    """``seed=7, scale=0.5`` — the run's parameters that differ from the defaults — or ``default``."""
    return ", ".join(override_texts(record)) or default


def failure_text(record: RunRecord) -> str:
    error = record.results.get("error", {})
    where = f" ({error['path']})" if error.get("path") else ""
    return f"{record.status}: {error.get('exception', '')}{where}"


def raw_include(fragment: str, depth: int) -> str:
    """The MyST directive that puts a fragment file into the page without parsing it."""
    return "```{raw} html\n:file: " + "../" * depth + f"{FRAGMENTS}/{fragment}\n```\n"


def safe_id(value: str) -> bool:
    """A sweep or run id this module may put into a file name and a heading (ids the platform writes look so)."""
    return bool(SAFE_ID.match(value))


# --- the overview ---------------------------------------------------------------------------------------------------

def overview_source(stamp: str) -> str:
    return "\n".join([
        WIDE_PAGE + "# Experiment reports", "",
        f"Every report is a parameterized notebook executed by papermill; each execution is a versioned run. This site "
        f"was built from the run store at version **{md_text(stamp)}**. *Fresh* means the canonical run still matches "
        "the current notebook code, library code, pinned requirements and data; *stale* says what changed. The *Data* "
        "column says where each report's data comes from: generated files are not findings about the real world. "
        "Hover a verdict for why it is *n/a* or what would decide it.", "",
        raw_include("overview.html", 0),
        "Each report's **history** page lists every run of it, variants included.", ""])


def overview_fragment(statuses: list[ExperimentStatus], titles: dict[str, str]) -> str:
    rows = []
    for status in statuses:
        canonical = status.canonical
        results = canonical.results if canonical else {}
        rows.append({"experiment": status.experiment, "title": titles[status.experiment], "canonical": canonical,
                     "results": results, "origin": data_origin(results) if canonical else "",
                     "verdicts": verdicts_of(results), "key_metric": key_metric(results),
                     "started": started(canonical) if canonical else "", "label": status.label,
                     "reason": status.reason, "failure": status.latest_failure,
                     "failure_text": failure_text(status.latest_failure) if status.latest_failure else ""})
    return render("overview.html", rows=rows)


# --- history ------------------------------------------------------------------------------------------------------

def run_page_url(record: RunRecord, canonical: RunRecord | None, prefix: str = "../") -> str | None:
    """Where a run is shown: its report (the canonical run), its own page (another successful run), or nowhere."""
    if canonical and record.run_id == canonical.run_id:
        return prefix + url("reports", record.experiment + ".html")
    if record.ok:
        return prefix + url("runs", record.experiment, record.run_id + ".html")
    return None


def history_source(experiment: str, title: str) -> str:
    return WIDE_PAGE + f"# History: {md_text(title)}\n\n" + raw_include(f"history/{experiment}.html", 1)


def history_fragment(experiment: str, runs: list[RunRecord], canonical: RunRecord | None,
                     sweeps: list[dict[str, Any]] = ()) -> str:
    """The filterable, paged table of every run (newest first) and the any-two-runs comparison, whose run data
    load on demand from ``runs/<experiment>/<run>.data.js``."""
    rows = []
    for record in reversed(runs):
        is_canonical = bool(canonical and record.run_id == canonical.run_id)
        rows.append({"record": record, "page": run_page_url(record, canonical), "canonical": is_canonical,
                     "started": started(record), "failure": failure_text(record).split(": ", 1)[-1],
                     "params": override_label(record, "defaults"), "origin": data_origin(record.results),
                     "key_metric": key_metric(record.results), "verdicts": verdicts_of(record.results),
                     "duration": float(record.results.get("duration_s", 0) or 0),
                     "compare": ("../" + url("compare", experiment, record.run_id + ".html")
                                 if canonical and record.ok and not is_canonical else None)})
    choices = [{"id": r.run_id, "label": override_label(r, "defaults")} for r in reversed(runs) if r.ok]
    listed = [{"sweep_id": s["sweep_id"], "grid": grid_text(s["grid"]), "runs": len(s.get("runs", [])),
               "status": s.get("status", "finished")} for s in reversed(sweeps) if safe_id(s["sweep_id"])]
    from markupsafe import Markup

    return render("history.html", experiment=experiment, runs=rows, n_ok=sum(r.ok for r in runs),
                  n_failed=sum(r.status == "failed" for r in runs), n_unreadable=sum(r.unreadable for r in runs),
                  choices_json=Markup(json_script(choices)), sweeps=listed)


def grid_text(grid: dict[str, list[Any]]) -> str:
    return ", ".join(f"{k} ∈ {v}" for k, v in grid.items())


# --- sweeps ---------------------------------------------------------------------------------------------------------

def sweep_source(experiment: str, sweep_id: str) -> str:
    return f"# Sweep {sweep_id}\n\n" + raw_include(f"sweeps/{experiment}/{sweep_id}.html", 2)


def sweep_fragment(sweep: dict[str, Any], store: Store, *, key_metrics: int = 30) -> str:
    records = sweep_records(sweep, store)
    metrics, verdicts = summarise(records, sweep.get("grid", {}))
    settings = [c for c in metrics.columns if c not in ("metric", "mean", "std", "ci_low", "ci_high", "n")]
    shown, more = [], 0
    if len(metrics):
        varying = metrics[metrics["std"] > 0].sort_values("std", ascending=False)
        ordered = pd.concat([varying, metrics.drop(varying.index)])
        more = max(0, len(ordered) - key_metrics * max(1, len(metrics[settings].drop_duplicates()) if settings else 1))
        ordered = ordered.head(len(ordered) - more)
        shown = [[*(r[c] for c in settings), r["metric"], f"{r['mean']:.4g}", f"{r['std']:.3g}",
                  f"[{r['ci_low']:.4g}, {r['ci_high']:.4g}]", r["n"]] for _, r in ordered.iterrows()]
    verdict_rows = [{"id": r["id"], "question": r["question"], "holds": r[HOLDS], "fails": r[FAILS],
                     "inconclusive": r[INCONCLUSIVE], "na": r[NOT_APPLICABLE], "majority": r["majority"],
                     "agreement": r["agreement"]} for _, r in verdicts.iterrows()]
    runs = [{"run_id": r["run_id"], "params": ", ".join(f"{k}={v!r}" for k, v in r["overrides"].items()),
             "status": r["status"]} for r in sweep.get("runs", [])]
    return render("sweep.html", n_runs=len(sweep.get("runs", [])), experiment=sweep["experiment"],
                  grid=grid_text(sweep["grid"]), where=sweep.get("where", ""), n_ok=len(records),
                  finished=sweep.get("status", "finished") == "finished", verdicts=verdict_rows,
                  metric_header=[*settings, "metric", "mean", "std", "95% CI over seeds", "n"], metrics=shown, more=more,
                  runs=runs)
