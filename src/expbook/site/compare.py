"""Two runs side by side: parameter diff, metric deltas (with CIs where stored), verdicts whose state changed.

Modelled on ``dvc exp diff``: only what differs is listed, largest metric changes first.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from expbook.errors import ParameterError
from expbook.run.store import RunRecord, Store
from expbook.verdicts import note_from_record, state_from_record


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of nested metrics as ``a.b.c`` keys; lists of records keyed by their first field."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            flat[name] = float(value)
        elif isinstance(value, (int, float)):
            flat[name] = float(value)
        elif isinstance(value, dict):
            flat.update(flatten_metrics(value, name + "."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value) and key != "bootstrap":
            for row in value:
                first = next(iter(row))
                flat.update(flatten_metrics({k: v for k, v in row.items() if k != first}, f"{name}.{first}={row[first]}."))
    return flat


def confidence_intervals(metrics: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """CIs stored as ``metrics.bootstrap`` rows (method, metric, ci_low, ci_high) -> ``methods.<method>.<metric>``."""
    return {f"methods.{row['method']}.{row['metric']}": (row["ci_low"], row["ci_high"])
            for row in metrics.get("bootstrap", []) if row.get("ci_low") is not None}


@dataclass(frozen=True)
class MetricDelta:
    name: str
    a: float | None
    b: float | None
    ci_a: tuple[float, float] | None
    ci_b: tuple[float, float] | None

    @property
    def delta(self) -> float:
        if self.a is None or self.b is None:
            return math.nan
        return self.b - self.a

    @property
    def relative_change(self) -> float:
        """|B − A| / |A| (|B − A| when A is 0): metrics on different scales ranked together."""
        return abs(self.delta) / abs(self.a) if self.a else abs(self.delta)

    @property
    def outside_ci(self) -> bool:
        """B's value lies outside A's interval (a hint of a real change, not a test)."""
        return bool(self.ci_a and self.b is not None and not self.ci_a[0] <= self.b <= self.ci_a[1])


@dataclass(frozen=True)
class VerdictChange:
    """A verdict's state in run A and run B (None: the run has no such verdict); any change of state counts."""

    id: str
    question: str
    a: str | None
    b: str | None
    note_a: str = ""  # why n/a, or what would decide it, in run A
    note_b: str = ""

    @property
    def changed(self) -> bool:
        return self.a != self.b


@dataclass(frozen=True)
class Comparison:
    a: RunRecord
    b: RunRecord
    params: list[tuple[str, Any, Any]]
    metrics: list[MetricDelta]
    verdicts: list[VerdictChange]

    @property
    def changed_verdicts(self) -> list[VerdictChange]:
        return [v for v in self.verdicts if v.changed]


def _verdicts(record: RunRecord) -> dict[str, dict]:
    found = {v["id"]: v for v in record.results.get("verdicts", [])}
    if record.results.get("gate"):
        found["Gate"] = record.results["gate"]
    return found


BOOKKEEPING = re.compile(r"(^|\.)(rows|n|n_[a-z_]+|count|counts|beats|users|items|events|seconds)(\.|$|=)")


def is_bookkeeping(name: str) -> bool:
    """Counts of rows, users or beats and timings: listed after the metrics a reader compares runs on."""
    return bool(BOOKKEEPING.search(name))


def compare_runs(a: RunRecord, b: RunRecord) -> Comparison:
    """A vs B: parameters that differ; verdicts, state changes first; metrics that differ, by relative change,
    bookkeeping counts last."""
    params_a, params_b = a.results.get("params", {}), b.results.get("params", {})
    params = [(k, params_a.get(k), params_b.get(k)) for k in sorted(set(params_a) | set(params_b))
              if params_a.get(k) != params_b.get(k)]
    flat_a, flat_b = flatten_metrics(a.results.get("metrics", {})), flatten_metrics(b.results.get("metrics", {}))
    ci_a, ci_b = confidence_intervals(a.results.get("metrics", {})), confidence_intervals(b.results.get("metrics", {}))
    metrics = [MetricDelta(k, flat_a.get(k), flat_b.get(k), ci_a.get(k), ci_b.get(k))
               for k in sorted(set(flat_a) | set(flat_b)) if flat_a.get(k) != flat_b.get(k)]
    metrics.sort(key=lambda d: (is_bookkeeping(d.name), -d.relative_change if not math.isnan(d.relative_change) else 0.0))
    verdicts_a, verdicts_b = _verdicts(a), _verdicts(b)
    verdicts = [VerdictChange(i, (verdicts_a.get(i) or verdicts_b.get(i))["question"],
                              state_from_record(verdicts_a[i]) if i in verdicts_a else None,
                              state_from_record(verdicts_b[i]) if i in verdicts_b else None,
                              note_from_record(verdicts_a[i]) if i in verdicts_a else "",
                              note_from_record(verdicts_b[i]) if i in verdicts_b else "")
                for i in list(verdicts_a) + [i for i in verdicts_b if i not in verdicts_a]]
    verdicts.sort(key=lambda v: not v.changed)  # state changes first, each group in recorded order
    return Comparison(a, b, params, metrics, verdicts)


def find_run(run_id: str, store: Store | None = None) -> RunRecord:
    """A run by id (or a unique prefix of one) in any experiment."""
    store = store or Store()
    matches = [r for e in store.experiments() for r in store.runs(e) if r.run_id.startswith(run_id)]
    if len(matches) != 1:
        raise ParameterError(f"run id {run_id!r} matches {len(matches)} runs in {store.root}; give more of the id")
    return matches[0]


def _state(state: str | None) -> str:
    return "–" if state is None else state


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _ci(ci: tuple[float, float] | None) -> str:
    return "" if not ci else f" [{ci[0]:.4g}, {ci[1]:.4g}]"


def render_text(c: Comparison, *, limit: int = 25) -> str:
    lines = [f"A: {c.a.experiment} {c.a.run_id}", f"B: {c.b.experiment} {c.b.run_id}", "", "parameters that differ:"]
    lines += [f"  {k}: {va!r} -> {vb!r}" for k, va, vb in c.params] or ["  none"]
    lines += ["", "verdicts:"]
    lines += [f"  {'CHANGED ' if v.changed else '        '}{v.id}: {_state(v.a)} -> {_state(v.b)}  {v.question}"
              for v in c.verdicts] or ["  none"]
    lines += ["", f"metrics that differ ({len(c.metrics)}, largest relative change first, counts last):"]
    for d in c.metrics[:limit]:
        flag = "  outside A's 95% CI" if d.outside_ci else ""
        lines.append(f"  {d.name}: {_number(d.a)}{_ci(d.ci_a)} -> {_number(d.b)}{_ci(d.ci_b)} "
                     f"(Δ {d.delta:+.4g}){flag}")
    if len(c.metrics) > limit:
        lines.append(f"  ... {len(c.metrics) - limit} more")
    return "\n".join(lines)
