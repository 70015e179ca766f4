"""What a notebook calls to write its run: figures saved with the run and ``record`` (results.json).

Verdict rules are pure functions in ``expbook.verdicts``; this module only writes files.

The runner executes a notebook with ``EXPBOOK_RUN_DIR`` pointing at the run's folder;
``record`` writes ``results.json`` there and ``save_figure`` writes ``figures/<name>.png``.
Run interactively (no runner), both write to ``notebooks/.scratch/<experiment>/``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from expbook import PROJECT_ROOT, RUN_DIR_ENV
from expbook.verdicts import Verdict

FIGURE_DPI = 120


def run_dir(experiment: str) -> Path:
    """Folder this execution writes to: the runner's temporary run folder, or a scratch folder."""
    path = Path(os.environ.get(RUN_DIR_ENV) or PROJECT_ROOT / "notebooks" / ".scratch" / experiment)
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_figure(fig, name: str, *, experiment: str) -> Path:
    """Save ``fig`` as ``figures/<name>.png`` (fixed DPI) in the run folder and return the path."""
    path = run_dir(experiment) / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight", metadata={"Software": None})  # no version stamp: same figure, same bytes
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def record(*, experiment: str, metrics: dict[str, Any], verdicts: list[Verdict], headline: str,
           key_metric: tuple[str, float], question: str = "", gate: Verdict | None = None,
           tables: dict[str, pd.DataFrame] | None = None, diagnostics: dict[str, Any] | None = None,
           data_origin: str = "") -> None:
    """Write the notebook's results to ``results.json`` in the run folder (the runner adds provenance).

    ``key_metric`` is (label, value) shown on the overview; ``gate`` (optional) is the pass/fail
    decision the overview shows as the experiment's status; ``tables`` are stored as records;
    ``diagnostics`` hold what may differ between identical runs (timings, cache hits), kept out of ``metrics``.
    ``data_origin`` says where the data came from (``data_origin()``): every page that shows the run shows it.
    """
    folder = run_dir(experiment)
    figures = sorted(p.relative_to(folder).as_posix() for p in (folder / "figures").glob("*.png"))
    payload = {
        "experiment": experiment,
        "question": question,
        "headline": headline,
        "key_metric": {"name": key_metric[0], "value": key_metric[1]},
        "metrics": metrics,
        "verdicts": [v.as_dict() for v in verdicts],
        "gate": gate.as_dict() if gate else None,
        "figures": figures,
        "tables": {name: table.to_dict(orient="records") for name, table in (tables or {}).items()},
        "diagnostics": diagnostics or {},
        "data_origin": data_origin,
    }
    (folder / "results.json").write_text(json.dumps(_jsonable(payload), indent=1, ensure_ascii=False))


def data_origin(data_dir: str | None, *, default: str) -> str:
    """Where a run's data came from, for every page that shows its findings: the user's folder (by name) when
    ``data_dir`` is given, else ``default`` — say "generated …" for a generator's output, so that generated data
    never reads as real findings."""
    return f"real files from your folder {Path(data_dir).name!r}" if data_dir else default


def upstream(experiment: str) -> dict[str, Any] | None:
    """The stored results of the canonical run of ``experiment`` that this run was started against (the notebook
    declares ``needs`` in its metadata; the runner passes the run ids, and they are part of the execution key), or
    None when that report has no canonical run yet. A finding of another report is quoted from here, never typed."""
    from expbook.project import Project

    run_id = json.loads(os.environ.get("EXPBOOK_UPSTREAM") or "{}").get(experiment)
    if not run_id:
        return None
    path = Project.current().runs / experiment / run_id / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None
