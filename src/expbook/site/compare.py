"""Two runs side by side: parameter diff, metric deltas (with intervals where stored), verdicts whose state
changed, and the figures both runs produced.

Modelled on ``dvc exp diff``: only what differs is listed, grouped by the metric's top-level key, largest relative
change first, counts and timings last. A metric with an interval in run A — a bootstrap row, or a verdict's measured
value — is marked when B falls outside it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from expbook.errors import ParameterError
from expbook.run.store import RunRecord, Store, flatten_metrics, verdicts_of
from expbook.verdicts import note_from_record, state_from_record


def confidence_intervals(metrics: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """CIs stored as ``metrics.bootstrap`` rows (method, metric, ci_low, ci_high) -> ``methods.<method>.<metric>``."""
    return {f"methods.{row['method']}.{row['metric']}": (row["ci_low"], row["ci_high"])
            for row in metrics.get("bootstrap", []) if row.get("ci_low") is not None}


def verdict_values(results: dict[str, Any]) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    """Each verdict's measured value as a metric ``verdicts.<id>`` and, where it was decided by one, its interval."""
    values, intervals = {}, {}
    for v in verdicts_of(results):
        if isinstance(v.get("value"), (int, float)) and not isinstance(v.get("value"), bool):
            values[f"verdicts.{v['id']}"] = float(v["value"])
            ci = v.get("ci")
            if ci and all(isinstance(x, (int, float)) for x in ci):
                intervals[f"verdicts.{v['id']}"] = (float(ci[0]), float(ci[1]))
    return values, intervals


def metric_group(name: str) -> str:
    """The top-level key of a flattened metric name (``configurations.sampler.f1`` -> ``configurations``)."""
    return name.split(".", 1)[0]


def metric_label(name: str) -> str:
    """A readable label below the group: dots become " › ", underscores spaces, ``key=value`` row keys kept
    (``configurations.sampler only.gen pred_share_O`` -> "sampler only › gen pred share O")."""
    parts = name.split(".", 1)[1].split(".") if "." in name else [name]
    return " › ".join(part.replace("_", " ") for part in parts)


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
    figures: tuple[list[str], list[str], list[str]] = ([], [], [])  # in both, only in A, only in B

    def groups(self) -> list[tuple[str, list[MetricDelta]]]:
        """The metrics by top-level key, groups in order of their largest change, each group's order kept."""
        grouped: dict[str, list[MetricDelta]] = {}
        for delta in self.metrics:
            grouped.setdefault(metric_group(delta.name), []).append(delta)
        return list(grouped.items())

    @property
    def has_intervals(self) -> bool:
        return any(d.ci_a for d in self.metrics)

    @property
    def changed_verdicts(self) -> list[VerdictChange]:
        return [v for v in self.verdicts if v.changed]


def _verdicts(record: RunRecord) -> dict[str, dict]:
    return {v["id"]: v for v in verdicts_of(record.results)}


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
    for flat, ci, record in ((flat_a, ci_a, a), (flat_b, ci_b, b)):
        values, intervals = verdict_values(record.results)
        flat.update(values)
        ci.update(intervals)
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
    return Comparison(a, b, params, metrics, verdicts, figure_pairs(a, b))


def figure_names(record: RunRecord) -> list[str]:
    """The run's figures by name (``figures/roc.png`` -> ``roc``), as ``record`` stored them."""
    return [str(f).rsplit("/", 1)[-1].removesuffix(".png") for f in record.results.get("figures", [])
            if str(f).endswith(".png")]


def figure_pairs(a: RunRecord, b: RunRecord) -> tuple[list[str], list[str], list[str]]:
    names_a, names_b = figure_names(a), figure_names(b)
    return ([n for n in names_a if n in names_b], [n for n in names_a if n not in names_b],
            [n for n in names_b if n not in names_a])


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
    lines += ["", f"metrics that differ ({len(c.metrics)}, by group, largest relative change first, counts last):"]
    shown = 0
    for group, deltas in c.groups():
        if shown >= limit:
            break
        lines.append(f"  [{group}]")
        for d in deltas[: limit - shown]:
            flag = "  outside A's 95% interval" if d.outside_ci else ""
            lines.append(f"    {metric_label(d.name)}: {_number(d.a)}{_ci(d.ci_a)} -> {_number(d.b)}{_ci(d.ci_b)} "
                         f"(Δ {d.delta:+.4g}){flag}")
            shown += 1
    if len(c.metrics) > shown:
        lines.append(f"  ... {len(c.metrics) - shown} more")
    both, only_a, only_b = c.figures
    lines += ["", f"figures: {len(both)} in both" + (f"; only in A: {', '.join(only_a)}" if only_a else "")
              + (f"; only in B: {', '.join(only_b)}" if only_b else "")]
    return "\n".join(lines)


def csv_safe(row: list) -> list:
    """Cells a spreadsheet will not read as a formula: text starting with = + - @ (or a tab or CR) gets a leading '."""
    return [f"'{cell}" if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
            for cell in row]


def metrics_csv(c: Comparison) -> str:
    """The comparison's metric table as CSV: group, label, key, A, A's interval, B, Δ, outside."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["group", "metric", "key", "A", "A low", "A high", "B", "delta", "B outside A's interval"])
    for d in c.metrics:
        writer.writerow(csv_safe([metric_group(d.name), metric_label(d.name), d.name, d.a, *(d.ci_a or ("", "")), d.b,
                                  d.delta, d.outside_ci]))
    return out.getvalue()


def write_figure_diffs(c: Comparison, folder) -> list[str]:
    """For a terminal user: ``<name>.side.png`` (A left, B right) and ``<name>.diff.png`` (changed pixels magenta
    over a faded A) of every figure both runs have, in ``folder``; returns one line per figure."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for name in c.figures[0]:
        a = np.asarray(Image.open(c.a.path / "figures" / f"{name}.png").convert("RGBA"))
        b = np.asarray(Image.open(c.b.path / "figures" / f"{name}.png").convert("RGBA"))
        h, w = max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1])
        pad = [np.pad(x, ((0, h - x.shape[0]), (0, w - x.shape[1]), (0, 0)), constant_values=255) for x in (a, b)]
        changed = np.any(pad[0] != pad[1], axis=2)
        grey = 255 - (255 - pad[0][..., :3].mean(axis=2)) * 0.25
        diff = np.stack([np.where(changed, 255, grey), np.where(changed, 0, grey), np.where(changed, 255, grey)], axis=2)
        Image.fromarray(diff.astype(np.uint8)).save(folder / f"{name}.diff.png")
        Image.fromarray(np.concatenate([pad[0], np.full((h, 8, 4), 255, np.uint8), pad[1]], axis=1)).save(
            folder / f"{name}.side.png")
        lines.append(f"{name}: {int(changed.sum()):,} of {h * w:,} pixels differ ({changed.mean():.2%}) -> "
                     f"{folder / (name + '.side.png')}, {folder / (name + '.diff.png')}")
    return lines
