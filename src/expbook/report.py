"""What a notebook calls to report: verdicts from explicit rules, figures saved with the run, ``record``.

The runner executes a notebook with ``EXPBOOK_RUN_DIR`` pointing at the run's folder;
``record`` writes ``results.json`` there and ``save_figure`` writes ``figures/<name>.png``.
Run interactively (no runner), both write to ``notebooks/.scratch/<experiment>/``.
"""

from __future__ import annotations

import json
import math
import operator
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from expbook import PROJECT_ROOT

RUN_DIR_ENV = "EXPBOOK_RUN_DIR"
FIGURE_DPI = 120
PASS_MARK, FAIL_MARK = "✅", "❌"

_COMPARATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_SYMBOLS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}
Formatter = str | Callable[[float], str]


def _format(fmt: Formatter, value: float) -> str:
    return fmt(value) if callable(fmt) else fmt.format(value)


@dataclass(frozen=True)
class Verdict:
    """One hypothesis or gate: the question, the measured value, the rule, and whether it holds."""

    id: str
    question: str
    value: float
    rule: str
    verdict: bool
    evidence: str = ""
    value_text: str = ""

    @property
    def mark(self) -> str:
        return PASS_MARK if self.verdict else FAIL_MARK


def threshold_rule(id: str, question: str, value: float, op: str, threshold: float, *, label: str,
                   evidence: str = "", fmt: Formatter = "{:.3f}") -> Verdict:
    """Verdict ``value <op> threshold``; ``label`` names the value in the rule text. NaN never passes.

    ``fmt`` (a format string or a function) renders both the threshold in the rule and the measured value.
    """
    holds = bool(not math.isnan(value) and _COMPARATORS[op](value, threshold))
    return Verdict(id, question, float(value), f"{label} {_SYMBOLS[op]} {_format(fmt, threshold)}", holds, evidence,
                   _format(fmt, value))


def all_of(id: str, question: str, parts: list[Verdict], *, evidence: str = "") -> Verdict:
    """Holds when every part holds; rule = the parts' rules joined by AND; value = the first part's value."""
    return Verdict(id, question, parts[0].value, " AND ".join(p.rule for p in parts), all(p.verdict for p in parts),
                   evidence, "; ".join(p.value_text for p in parts))


def verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    """The conclusions table: question → measured value → rule → ✅ yes / ❌ no → evidence."""
    return pd.DataFrame({
        "": [v.id for v in verdicts],
        "question": [v.question for v in verdicts],
        "measured": [v.value_text or f"{v.value:.3f}" for v in verdicts],
        "rule": [v.rule for v in verdicts],
        "verdict": [f"{v.mark} {'yes' if v.verdict else 'no'}" for v in verdicts],
        "evidence": [v.evidence for v in verdicts],
    })


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
           tables: dict[str, pd.DataFrame] | None = None, diagnostics: dict[str, Any] | None = None) -> None:
    """Write the notebook's results to ``results.json`` in the run folder (the runner adds provenance).

    ``key_metric`` is (label, value) shown on the overview; ``gate`` (optional) is the pass/fail
    decision the overview shows as the experiment's status; ``tables`` are stored as records;
    ``diagnostics`` hold what may differ between identical runs (timings, cache hits), kept out of ``metrics``.
    """
    folder = run_dir(experiment)
    figures = sorted(p.relative_to(folder).as_posix() for p in (folder / "figures").glob("*.png"))
    payload = {
        "experiment": experiment,
        "question": question,
        "headline": headline,
        "key_metric": {"name": key_metric[0], "value": key_metric[1]},
        "metrics": metrics,
        "verdicts": [asdict(v) for v in verdicts],
        "gate": asdict(gate) if gate else None,
        "figures": figures,
        "tables": {name: table.to_dict(orient="records") for name, table in (tables or {}).items()},
        "diagnostics": diagnostics or {},
    }
    (folder / "results.json").write_text(json.dumps(_jsonable(payload), indent=1, ensure_ascii=False))
