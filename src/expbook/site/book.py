"""Assemble the static site from the run store: overview, canonical reports, history, run pages.

Generated pages go into ``book/`` (git-ignored) next to the hand-written ones; then Jupyter
Book 1 renders them strictly (``-W -n --keep-going``) with execution off. A digest of every
input is kept in ``book/.build-stamp``: when nothing changed, the build is skipped.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import yaml

from expbook import PROJECT_ROOT
from expbook.errors import ExpbookError
from expbook.project import Project
from expbook.run.provenance import git
from expbook.run.runner import list_experiments, notebook_path
from expbook.run.store import RunRecord, Store
from expbook.run.sweep import load_sweeps, render_sweep_markdown
from expbook.site.compare import compare_runs, flatten_metrics, render_markdown
from expbook.site.status import ExperimentStatus, experiment_status
from expbook.verdicts import badge_html, state_from_record

HAND_WRITTEN = ("method.md", "_static/expbook.css", "_static/expbook_compare.js", "_static/expbook_versions.js")
WIDE_PAGE = "---\nhtml_theme.sidebar_secondary.remove: true\n---\n\n"  # no right sidebar: room for the table
STAMP_NAME = ".build-stamp"


def version_stamp() -> str:
    """``<commit date> · <commit>`` (+dirty): identifies the code that built the site, reproducibly."""
    commit = git("rev-parse", "--short=10", "HEAD")
    if not commit:
        return "uncommitted working tree"
    dirty = "+dirty" if git("status", "--porcelain", "--untracked-files=no") else ""
    return f"{git('log', '-1', '--format=%cs')} · {commit}{dirty}"


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _title(experiment: str) -> str:
    notebook = nbformat.read(notebook_path(experiment), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return experiment.replace("_", " ")


def _short_title(experiment: str) -> str:
    """The title up to its colon: "Two-stage diagnosis: why ...?" -> "Two-stage diagnosis"."""
    return _title(experiment).split(":")[0]


def _verdicts(results: dict[str, Any]) -> str:
    """Every verdict as a text badge (``H1 yes``, ``H2 inconclusive`` …), the gate first."""
    badges = [badge_html(state_from_record(v), v["id"]) for v in results.get("verdicts", [])]
    gate = results.get("gate")
    if gate:
        badges.insert(0, badge_html(state_from_record(gate), "gate"))
    return " ".join(badges)


def _key_metric(results: dict[str, Any]) -> str:
    key = results.get("key_metric") or {}
    value = key.get("value")
    return f"{key.get('name', '')}: {value:.3f}" if isinstance(value, (int, float)) else ""


def _override_label(record: RunRecord, default: str) -> str:
    """``seed=7, scale=0.5`` — the run's parameters that differ from the defaults — or ``default``."""
    return ", ".join(f"{k}={v}" for k, v in record.overrides.items()) or default


def _params_diff(record: RunRecord) -> str:
    return ", ".join(f"`{k}={v!r}`" for k, v in record.overrides.items()) or "defaults"


def _started(record: RunRecord) -> str:
    return record.results.get("provenance", {}).get("started", "")[:16].replace("T", " ")


def _run_page(record: RunRecord, canonical: RunRecord | None, prefix: str) -> str | None:
    if canonical and record.run_id == canonical.run_id:
        return f"{prefix}reports/{record.experiment}.ipynb"
    if record.ok:
        return f"{prefix}runs/{record.experiment}/{record.run_id}.ipynb"
    return None


def overview_page(statuses: list[ExperimentStatus], stamp: str) -> str:
    lines = [WIDE_PAGE + "# Experiment reports", "",
             f"Every report is a parameterized notebook executed by papermill; each execution is a versioned run. "
             f"This site was built from the run store at version **{stamp}**. *Fresh* means the canonical run "
             f"still matches the current notebook, code, pinned requirements and data; *stale* says what changed.", "",
             "| Experiment | Question | Headline | Verdicts | Key metric | Canonical run | Status |",
             "|---|---|---|---|---|---|---|"]
    for status in statuses:
        title = _title(status.experiment)
        failure = ""
        if status.latest_failure:
            error = status.latest_failure.results.get("error", {})
            failure = f" ⚠️ latest run `{status.latest_failure.run_id}` failed: {error.get('exception', '')}"
        if status.canonical is None:
            lines.append(f"| {_cell(title)} | | no successful run yet | | | | {_cell(status.state + failure)} |")
            continue
        results = status.canonical.results
        lines.append(
            f"| [{_cell(title)}](reports/{status.experiment}.ipynb) | {_cell(results.get('question', ''))} "
            f"| {_cell(results.get('headline', ''))} | {_cell(_verdicts(results))} | {_cell(_key_metric(results))} "
            f"| [`{status.canonical.run_id}`](history/{status.experiment}.md) ({_started(status.canonical)}) "
            f"| **{status.label}**: {_cell(status.reason + failure)} |")
    lines += ["", "Each report's **history** page lists every run of it, variants included.", ""]
    return "\n".join(lines)


def history_page(experiment: str, runs: list[RunRecord], canonical: RunRecord | None,
                 sweeps: list[dict[str, Any]] = ()) -> str:
    lines = [WIDE_PAGE + f"# History: {_title(experiment)}", "",
             f"Every execution of `notebooks/{experiment}.ipynb`, newest first. The canonical run (★) is the latest "
             f"successful run with default parameters; the others are variants "
             f"(`make run EXP={experiment} P=\"name=value ...\"`).", "",
             "| Run | Started (UTC) | Status | Parameters vs defaults | Key metric | Verdicts | Duration | Compare |",
             "|---|---|---|---|---|---|---|---|"]
    for record in reversed(runs):
        compare = (f"[vs canonical](../compare/{experiment}/{record.run_id}.md)"
                   if canonical and record.ok and record.run_id != canonical.run_id else "")
        page = _run_page(record, canonical, "../")
        star = " ★" if canonical and record.run_id == canonical.run_id else ""
        name = f"[`{record.run_id}`]({page}){star}" if page else f"`{record.run_id}`"
        status = record.status if record.ok else f"**failed**: {record.results.get('error', {}).get('exception', '')}"
        lines.append(f"| {name} | {_started(record)} | {_cell(status)} | {_cell(_params_diff(record))} "
                     f"| {_cell(_key_metric(record.results))} | {_cell(_verdicts(record.results))} "
                     f"| {record.results.get('duration_s', 0):.0f} s | {compare} |")
    lines += ["", "## Compare any two runs", "",
              "Pick run A and run B; changed verdicts and parameters are highlighted. From a shell: "
              "`python -m expbook compare RUN_A RUN_B` (ids or unique prefixes).", "", _compare_widget(runs)]
    if sweeps:
        lines += ["", "## Sweeps", "", "| Sweep | Grid | Runs |", "|---|---|---|"]
        lines += [f"| [`{s['sweep_id']}`](../sweeps/{experiment}/{s['sweep_id']}.md) "
                  f"| {_cell(', '.join(f'{k} ∈ {v}' for k, v in s['grid'].items()))} | {len(s['runs'])} |"
                  for s in reversed(sweeps)]
    return "\n".join(lines) + "\n"


def _compare_widget(runs: list[RunRecord]) -> str:
    """Raw HTML: two run pickers and the runs' params, verdicts and flat metrics as embedded JSON."""
    data = {}
    for record in reversed([r for r in runs if r.ok]):
        verdicts = {v["id"]: [v["question"], state_from_record(v)] for v in record.results.get("verdicts", [])}
        if record.results.get("gate"):
            gate = record.results["gate"]
            verdicts["Gate"] = [gate["question"], state_from_record(gate)]
        data[record.run_id] = {"label": _override_label(record, "defaults"),
                               "params": record.results.get("params", {}), "verdicts": verdicts,
                               "metrics": flatten_metrics(record.results.get("metrics", {}))}
    payload = json.dumps(data, sort_keys=True, default=str).replace("</", "<\\/")
    return "\n".join([
        "```{raw} html",
        '<div class="expbook-compare-pickers">A <select id="expbook-run-a"></select> '
        'B <select id="expbook-run-b"></select></div>',
        '<div id="expbook-compare-output"></div>',
        f'<script type="application/json" id="expbook-runs">{payload}</script>',
        '<script src="../_static/expbook_compare.js"></script>',
        "```"])


def answer_markdown(results: dict[str, Any]) -> str:
    """The run's computed answer, for the top of its page: the headline and the conclusions table (state badges)."""
    verdicts = ([results["gate"]] if results.get("gate") else []) + list(results.get("verdicts", []))
    lines = [f"**Answer.** {results.get('headline', '')}", ""]
    if verdicts:
        lines += ["| | question | measured | rule | verdict |", "|---|---|---|---|---|"]
        lines += [f"| {v['id']} | {_cell(v['question'])} | {_cell(v.get('value_text') or v.get('value'))} "
                  f"| {_cell(v['rule'])} | {badge_html(state_from_record(v))} |" for v in verdicts]
        lines += ["", "Evidence, tables, figures and the code follow below; *Conclusions* at the end explains each rule."]
    return "\n".join(lines)


def report_notebook(record: RunRecord, status_line: str, *, depth: int) -> nbformat.NotebookNode:
    """The executed notebook with a run banner and the computed answer (headline, conclusions table) right under
    the question, as QuantEcon's lectures open; the injected parameters cell collapsed."""
    notebook = nbformat.read(record.path / "report.ipynb", as_version=4)
    notebook = copy.deepcopy(notebook)
    git = record.results.get("provenance", {}).get("git", {})
    banner = (f"**Run** `{record.run_id}` · started {_started(record)} UTC · {record.results.get('duration_s', 0):.0f} s "
              f"· parameters: {_params_diff(record)} · code `{git.get('commit', '')[:10]}"
              f"{'+dirty' if git.get('dirty') else ''}` · {status_line} · "
              f"[all runs]({'../' * depth}history/{record.experiment}.md)")
    for cell in notebook.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.metadata["tags"] = sorted(set(cell.metadata["tags"]) | {"hide-input"})
    notebook.cells[1:1] = [nbformat.v4.new_markdown_cell(banner),
                           nbformat.v4.new_markdown_cell(answer_markdown(record.results))]
    for cell in notebook.cells:
        cell.pop("id", None)
    notebook.nbformat_minor = 4
    return notebook


def _write_if_changed(path: Path, text: str, written: set[Path]) -> bool:
    """Write ``text`` unless the file already holds it (keeps mtimes for Sphinx's incremental build)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written.add(path)
    if path.is_file() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def _remove_stale_pages(folder: Path, keep: set[Path]) -> None:
    if folder.is_dir():
        for path in folder.rglob("*"):
            if path.is_file() and path not in keep:
                path.unlink()


def assemble(store: Store | None = None, book_dir: Path | None = None) -> tuple[str, bool]:
    """Write every generated page and the toc into ``book_dir``.

    Returns a digest of all the site's inputs and whether the toc or config changed (Sphinx's incremental
    build does not notice those, so the caller then rebuilds every page).
    """
    store = store or Store()
    book_dir = book_dir or Project.current().book
    stamp = version_stamp()
    statuses = [experiment_status(e, store) for e in list_experiments()]
    written: set[Path] = set()
    toc_reports, toc_history = [], []
    for status in statuses:
        experiment = status.experiment
        runs = store.runs(experiment)
        if status.canonical:
            notebook = report_notebook(status.canonical, f"canonical run, **{status.label}**", depth=1)
            _write_if_changed(book_dir / "reports" / f"{experiment}.ipynb", nbformat.writes(notebook), written)
            toc_reports.append({"file": f"reports/{experiment}", "title": _short_title(experiment)})
        variants = []
        for record in runs:
            page = _run_page(record, status.canonical, "")
            if page and page.startswith("runs/"):
                notebook = report_notebook(record, "variant run" if record.overrides else "earlier default run",
                                           depth=2)
                _write_if_changed(book_dir / page, nbformat.writes(notebook), written)
                label = _override_label(record, "defaults (superseded)")
                compare_page = f"compare/{experiment}/{record.run_id}.md"
                comparison = compare_runs(status.canonical, record)
                _write_if_changed(book_dir / compare_page,
                                  render_markdown(comparison, title=f"Compare: canonical vs {record.run_id[:15]} ({label})"),
                                  written)
                variants.append({"file": page.removesuffix(".ipynb"), "title": f"{record.run_id[:15]} · {label}",
                                 "sections": [{"file": compare_page.removesuffix(".md"), "title": "vs canonical"}]})
        sweeps = load_sweeps(experiment, store)
        sweep_pages = []
        for sweep in sweeps:
            page = f"sweeps/{experiment}/{sweep['sweep_id']}.md"
            _write_if_changed(book_dir / page, render_sweep_markdown(sweep, store), written)
            sweep_pages.append({"file": page.removesuffix(".md"), "title": f"sweep {sweep['sweep_id'][:15]}"})
        _write_if_changed(book_dir / "history" / f"{experiment}.md",
                          history_page(experiment, runs, status.canonical, sweeps), written)
        entry: dict[str, Any] = {"file": f"history/{experiment}", "title": _short_title(experiment)}
        if variants or sweep_pages:
            entry["sections"] = list(reversed(sweep_pages)) + list(reversed(variants))
        toc_history.append(entry)
    _write_if_changed(book_dir / "overview.md", overview_page(statuses, stamp), written)
    parts = [{"caption": "Reports", "chapters": toc_reports}] if toc_reports else []
    parts += [{"caption": "Run history", "chapters": toc_history},
              {"caption": "About", "chapters": [{"file": name.removesuffix(".md")} for name in HAND_WRITTEN
                                                if name.endswith(".md")]}]
    toc = {"format": "jb-book", "root": "overview", "parts": parts}
    structure_changed = _write_if_changed(book_dir / "_toc.yml", yaml.safe_dump(toc, sort_keys=False), written)
    config = yaml.safe_load((PROJECT_ROOT / "_config.yml").read_text())
    footer = f"<p>expbook site version {stamp}</p>"
    config.setdefault("html", {})["extra_footer"] = footer
    # an explicit sphinx html_theme_options replaces the one Jupyter Book derives from html:, so set it there too
    config.setdefault("sphinx", {}).setdefault("config", {}).setdefault("html_theme_options", {})["extra_footer"] = footer
    structure_changed |= _write_if_changed(book_dir / "_config.generated.yml", yaml.safe_dump(config, sort_keys=False),
                                           written)
    for folder in ("reports", "history", "runs", "compare", "sweeps"):
        _remove_stale_pages(book_dir / folder, written)
    missing = [name for name in HAND_WRITTEN if not (book_dir / name).is_file()]
    if missing:
        raise ExpbookError(f"{book_dir}: hand-written book files missing: {', '.join(missing)}")
    digest = hashlib.sha256()
    for path in sorted(written) + [book_dir / name for name in HAND_WRITTEN]:
        digest.update(str(path.relative_to(book_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest(), structure_changed


def build_book(*, store: Store | None = None, book_dir: Path | None = None, force: bool = False, echo=print) -> Path:
    """Assemble the pages and render them with Jupyter Book into ``book_dir/_build/html``.

    Skipped when the digest of every input equals the one of the last successful build.
    """
    book_dir = book_dir or Project.current().book
    digest, structure_changed = assemble(store, book_dir)
    index = book_dir / "_build" / "html" / "index.html"
    stamp_file = book_dir / STAMP_NAME
    if not force and index.is_file() and stamp_file.is_file() and stamp_file.read_text() == digest:
        echo("book: site up to date, nothing rebuilt")
        return index
    # Build into a copy and swap it in only when complete: a failed or killed build leaves the old site whole.
    current, next_dir, old = book_dir / "_build", book_dir / ".site-next", book_dir / ".site-old"
    shutil.rmtree(next_dir, ignore_errors=True)
    if current.is_dir() and not structure_changed:
        shutil.copytree(current, next_dir / "_build", symlinks=True)  # keeps Sphinx's incremental state
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(book_dir),
               "--config", str(book_dir / "_config.generated.yml"), "--toc", str(book_dir / "_toc.yml"),
               "--path-output", str(next_dir), "-W", "-n", "--keep-going"] + (["--all"] if structure_changed else [])
    echo("book: building the site with Jupyter Book ...")
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(next_dir, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise ExpbookError(f"jupyter-book build failed (the previous site is unchanged):\n{tail}")
    shutil.rmtree(old, ignore_errors=True)
    if current.exists():
        os.rename(current, old)
    os.rename(next_dir / "_build", current)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(next_dir, ignore_errors=True)
    stamp_file.write_text(digest)
    return index
