"""What the site consists of, keyed and not yet rendered: every Sphinx source page and every standalone page,
each with the cache key of what it depends on and a function that renders it (called only when its key changed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from markupsafe import escape

from expbook import PACKAGE_DIR, PROJECT_ROOT
from expbook.run.catalogue import list_experiments, notebook_path, notebook_title
from expbook.run.store import Store

HAND_WRITTEN = ("method.md", "data.md", "adding.md", "_static/expbook.css", "_static/expbook_compare.js",
                "_static/expbook_history.js", "_static/expbook_versions.js", "_static/expbook_figures.js",
                "_static/expbook_filter.js")
def renderer_version() -> str:
    """Hash of the site package (templates included) and the modules it renders with: a change re-renders every
    generated file."""
    digest = hashlib.sha256()
    for path in sorted((PACKAGE_DIR / "site").rglob("*")) + [PACKAGE_DIR / "escape.py", PACKAGE_DIR / "verdicts.py"]:
        if path.is_file() and path.suffix in (".py", ".html"):
            digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def file_key(*paths: Path) -> list:
    """What a stored run's page depends on, cheaply: each file's size and modification time."""
    out = []
    for path in paths:
        try:
            stat = path.stat()
            out.append([path.name, stat.st_size, stat.st_mtime_ns])
        except OSError:
            out.append([path.name, None])
    return out


def key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


@dataclass
class Generated:
    """Every generated file of the site: its cache key and how to render it (called only when the key changed)."""

    sources: dict[str, tuple[str, Callable[[], str]]]  # Sphinx sources, relative to book_dir
    standalone: dict[str, tuple[str, Callable[[], str]]]  # standalone pages, relative to the html root
    structure: str  # the toc and the config: a change makes Sphinx rebuild every page
    failures: dict[str, str]  # "<experiment>/<run id>" of every failed or unreadable run the site lists → its error
    data_dirs: list[str]  # real data folders of the canonical runs (their change makes a report stale)


def collect(store: Store, book_dir: Path, stamp: str, echo) -> Generated:
    """What the site consists of now, keyed, without rendering anything."""
    import nbformat
    import yaml

    from expbook.run.sweep import load_sweeps
    from expbook.site import pages, report, runpage
    from expbook.site.compare import compare_runs, metrics_csv
    from expbook.site.status import experiment_status

    version = renderer_version()
    sources: dict[str, tuple[str, Callable[[], str]]] = {}
    standalone: dict[str, tuple[str, Callable[[], str]]] = {}
    experiments = list_experiments()
    titles = {e: notebook_title(notebook_path(e)) for e in experiments}
    statuses = [experiment_status(e, store) for e in experiments]
    toc_reports, toc_history, failures = [], [], {}
    fragments = pages.FRAGMENTS
    for status in statuses:
        experiment, canonical, title = status.experiment, status.canonical, titles[status.experiment]
        source = notebook_path(experiment)
        prose = file_key(source)  # the prose a page shows is the notebook's as it is now
        runs = store.runs(experiment)
        for record in runs:
            if record.unreadable:
                echo(f"warning: run {experiment}/{record.run_id}: {record.results['error']['exception']} "
                     f"({record.results['error']['path']}); listed as unreadable")
            if not record.ok:
                failures[f"{experiment}/{record.run_id}"] = (
                    f"({pages.override_label(record, 'defaults')}) {pages.failure_text(record)}")
        if canonical:
            line = f"canonical run, {status.label}"
            sources[f"reports/{experiment}.ipynb"] = (
                key(version, file_key(canonical.path / "report.ipynb", canonical.path / "results.json"), line, prose),
                lambda c=canonical, line=line, source=source: nbformat.writes(report.report_notebook(
                    c, line, history_link=f"../{pages.url('history', c.experiment + '.html')}", source_path=source)))
            toc_reports.append({"file": f"reports/{experiment}", "title": pages.short_title(title)})
        for record in runs:
            if not record.ok:
                continue
            files = file_key(record.path / "report.ipynb", record.path / "results.json")
            label = pages.override_label(record, "defaults")
            standalone[f"runs/{experiment}/{record.run_id}.data.js"] = (
                key(version, files, label), lambda r=record, label=label: runpage.run_data_script(r, label))
            figures = file_key(*sorted((record.path / "figures").glob("*.png")))
            standalone[f"runs/{experiment}/{record.run_id}.figures.js"] = (
                key(version, files, figures), lambda r=record: runpage.run_figures_script(r))
            standalone[f"runs/{experiment}/{record.run_id}.results.json"] = (
                key(version, files), lambda r=record: runpage.run_results_json(r))
            standalone[f"runs/{experiment}/{record.run_id}.metrics.csv"] = (
                key(version, files), lambda r=record: runpage.run_metrics_csv(r))
            if canonical and record.run_id == canonical.run_id:
                continue
            line = "variant run" if record.overrides else "earlier default run"
            standalone[f"runs/{experiment}/{record.run_id}.html"] = (
                key(version, files, line, title, prose),
                lambda r=record, line=line, t=title, source=source: runpage.run_page(r, line, t, source))
            if canonical:
                heading = (f"Compare: canonical vs {record.run_id[:15]} "
                           f"({pages.override_label(record, 'defaults (superseded)')})")
                compared = key(version, files, canonical.run_id, file_key(canonical.path / "results.json"), title)
                standalone[f"compare/{experiment}/{record.run_id}.html"] = (
                    compared, lambda r=record, c=canonical, h=heading, t=title: runpage.compare_page(
                        compare_runs(c, r), title=h, history_title=pages.short_title(t)))
                standalone[f"compare/{experiment}/{record.run_id}.csv"] = (
                    compared, lambda r=record, c=canonical: metrics_csv(compare_runs(c, r)))
        sweeps = load_sweeps(experiment, store)
        sweep_entries = []
        for sweep in sweeps:
            if not pages.safe_id(str(sweep.get("sweep_id", ""))):
                echo(f"warning: sweep manifest of {experiment} with an unexpected id left out of the site")
                continue
            sweep_id = sweep["sweep_id"]
            members = [file_key(store.root / experiment / r.get("run_id", "") / "results.json")
                       for r in sweep.get("runs", [])]
            sources[f"sweeps/{experiment}/{sweep_id}.md"] = (
                key(version, sweep_id), lambda e=experiment, i=sweep_id: pages.sweep_source(e, i))
            sources[f"{fragments}/sweeps/{experiment}/{sweep_id}.html"] = (
                key(version, sweep, members), lambda s=sweep: pages.sweep_fragment(s, store))
            sweep_entries.append({"file": f"sweeps/{experiment}/{sweep_id}", "title": f"sweep {sweep_id[:15]}"})
        sources[f"history/{experiment}.md"] = (key(version, title), lambda e=experiment, t=title: pages.history_source(e, t))
        sources[f"{fragments}/history/{experiment}.html"] = (
            key(version, canonical.run_id if canonical else None,
                [[r.run_id, file_key(r.path / "results.json")] for r in runs], [s.get("sweep_id") for s in sweeps],
                [s.get("status") for s in sweeps]),
            lambda e=experiment, r=runs, c=canonical, s=sweeps: pages.history_fragment(e, r, c, s))
        entry = {"file": f"history/{experiment}", "title": pages.short_title(title)}
        if sweep_entries:
            entry["sections"] = list(reversed(sweep_entries))
        toc_history.append(entry)
    overview = pages.overview_fragment(statuses, titles)
    sources[f"{fragments}/overview.html"] = (key(version, overview), lambda: overview)
    overview_source = pages.overview_source(stamp)
    sources["overview.md"] = (key(version, overview_source), lambda: overview_source)
    parts = [{"caption": "Reports", "chapters": toc_reports}] if toc_reports else []
    parts += [{"caption": "Run history", "chapters": toc_history},
              {"caption": "About", "chapters": [{"file": name.removesuffix(".md")} for name in HAND_WRITTEN
                                                if name.endswith(".md")]}]
    toc = yaml.safe_dump({"format": "jb-book", "root": "overview", "parts": parts}, sort_keys=False)
    config = yaml.safe_load((PROJECT_ROOT / "_config.yml").read_text())
    footer = f"<p>expbook site version {escape(stamp)}</p>"
    config.setdefault("html", {})["extra_footer"] = footer
    # an explicit sphinx html_theme_options replaces the one Jupyter Book derives from html:, so set it there too
    config.setdefault("sphinx", {}).setdefault("config", {}).setdefault("html_theme_options", {})["extra_footer"] = footer
    config_text = yaml.safe_dump(config, sort_keys=False)
    sources["_toc.yml"] = (key(toc), lambda: toc)
    sources["_config.generated.yml"] = (key(config_text), lambda: config_text)
    data_dirs = sorted({str(s.canonical.results.get("params", {}).get("data_dir")) for s in statuses
                        if s.canonical and s.canonical.results.get("params", {}).get("data_dir")})
    return Generated(sources, standalone, key(toc, config_text), failures, data_dirs)
