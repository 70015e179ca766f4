"""Sweeps: run a grid of parameter variants on a local process pool or a Dask cluster, then summarise.

Every variant is an ordinary run (cached, atomic, failures kept). The sweep itself is a manifest
``runs/.sweeps/<experiment>/<sweep_id>.json`` listing its grid and run ids; the summary aggregates
metrics across the runs (mean, std, t-based 95% CI of the mean) and each verdict's agreement rate.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from expbook.cache import stable_hash
from expbook.errors import ParameterError
from expbook.metrics.estimates import TEstimate
from expbook.project import Project
from expbook.run.catalogue import notebook_path
from expbook.run.dispatch import Task, run_many, threads_per_run
from expbook.run.params import overrides_against_defaults, parse_value, read_parameter_specs, resolve_parameters
from expbook.run.store import RunRecord, Store, flatten_metrics, verdicts_of
from expbook.verdicts import STATES, state_from_record


def parse_grid(experiment: str, notebook: Path, axes: list[list[str]]) -> dict[str, list[Any]]:
    """``-p NAME V1,V2`` axes -> {name: [values]}; list-typed parameters take a YAML list of lists."""
    specs = read_parameter_specs(notebook)
    grid: dict[str, list[Any]] = {}
    for axis in axes:
        if len(axis) != 2:
            raise ParameterError(f"sweep axes are -p NAME V1,V2,...; got {' '.join(axis)!r}")
        name, text = axis
        spec = specs.get(name)
        if spec is not None and spec.type_text.startswith("list"):
            values = yaml.safe_load(text)
            if not (isinstance(values, list) and all(isinstance(v, list) for v in values)):
                raise ParameterError(f"{name} is a list parameter: sweep it with a list of lists, e.g. '[[50,100],[200]]'")
        else:
            values = [parse_value(v.strip()) for v in text.split(",") if v.strip()]
        grid[name] = values
    for variant in grid_variants(grid):
        resolve_parameters(experiment, specs, variant)  # every variant validated before anything runs
    return grid


def grid_variants(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


@dataclass(frozen=True)
class SweepResult:
    experiment: str
    sweep_id: str
    grid: dict[str, list[Any]]
    runs: list[dict[str, Any]]
    manifest: Path

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if r["status"] != "ok"]


def run_sweep(experiment: str, grid: dict[str, list[Any]], *, store: Store | None = None, jobs: int = 1,
              scheduler: str | None = None, echo=print, timeout: float | None = None) -> SweepResult:
    """Run every grid variant with ``jobs`` local processes, or on the Dask cluster at ``scheduler``."""
    store = store or Store()
    variants = grid_variants(grid)
    started = dt.datetime.now(dt.timezone.utc)
    sweep_id = f"{started.strftime('%Y%m%dT%H%M%SZ')}-{stable_hash(grid, length=8)}"
    threads = None if scheduler else threads_per_run(jobs)  # a Dask worker sizes its own runs
    tasks = [Task(experiment, v, str(store.root), str(Project.current().notebooks), threads, timeout=timeout,
                  scheduler=scheduler) for v in variants]
    where = f"Dask scheduler {scheduler}" if scheduler else f"{jobs} local process{'es' if jobs > 1 else ''}"
    echo(f"sweep {sweep_id}: {len(variants)} variants of {experiment} on {where}")
    manifest = store.root / ".sweeps" / experiment / f"{sweep_id}.json"
    specs = read_parameter_specs(notebook_path(experiment))
    resolved = [overrides_against_defaults(specs, resolve_parameters(experiment, specs, v)) for v in variants]
    header = {"experiment": experiment, "sweep_id": sweep_id, "grid": grid, "where": where,
              "started": started.isoformat(), "variants": resolved}  # as runs store their overrides
    _write_manifest(manifest, {**header, "status": "running", "runs": []})  # gc keeps the runs of an unfinished sweep
    results = [{k: v for k, v in r.items() if k != "experiment"} for r in run_many(tasks, jobs=jobs, scheduler=scheduler)]
    for result in results:
        echo(f"  {result['status']:6s} {result['run_id']}  {result['overrides']}")
    _write_manifest(manifest, {**header, "status": "finished", "runs": results})
    return SweepResult(experiment, sweep_id, grid, results, manifest)


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, default=str))
    tmp.replace(path)


RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,120}$")  # a run folder's name: no separator, no "..", no dotfile


def load_sweeps(experiment: str, store: Store | None = None) -> list[dict[str, Any]]:
    """The sweep manifests of ``experiment``, well-formed ones only, each naming the experiment of its folder and
    only runs whose ids are plain folder names (a manifest is a file in the store: it cannot point elsewhere)."""
    store = store or Store()
    folder = store.root / ".sweeps" / experiment
    sweeps = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            sweep = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not (isinstance(sweep, dict) and isinstance(sweep.get("sweep_id"), str)
                and isinstance(sweep.get("grid", {}), dict) and isinstance(sweep.get("runs", []), list)):
            continue
        sweep.setdefault("grid", {})
        sweep["experiment"] = experiment
        sweep["runs"] = [r for r in sweep.get("runs", []) if isinstance(r, dict) and RUN_ID.match(str(r.get("run_id", "")))
                         and isinstance(r.get("overrides", {}), dict)]
        sweeps.append(sweep)
    return sweeps


SEED_AXES = ("seed", "seeds")


def summarise(records: list[RunRecord], grid: dict[str, list[Any]] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(metrics: per setting of the grid's non-seed axes and per flattened metric, mean, std, the t-based 95% CI of
    the mean over that setting's runs (its seeds; clipped to [0, 1] when every value lies there, the range of the
    shares, capture, recall and NDCG the reports record) and n; verdicts: per id, how many runs gave each state,
    the majority state and its share). Runs of different settings are never pooled into one interval."""
    axes = [a for a in (grid or {}) if a not in SEED_AXES]
    rows = []
    keyed = [(tuple(repr(r.results.get("params", {}).get(a)) for a in axes), r) for r in records]
    for setting in dict.fromkeys(k for k, _ in keyed):
        flat = pd.DataFrame([flatten_metrics(r.results.get("metrics", {})) for k, r in keyed if k == setting])
        for name in flat.columns:
            values = flat[name].dropna().to_numpy(dtype=float)
            bounded = values.size and values.min() >= 0 and values.max() <= 1
            estimate = TEstimate.of(values, "seeds", bounds=(0.0, 1.0) if bounded else None)
            low, high = estimate.interval()
            rows.append({**dict(zip(axes, setting, strict=True)), "metric": name, "mean": estimate.value,
                         "std": estimate.sd, "ci_low": low, "ci_high": high, "n": estimate.n})
    metrics = pd.DataFrame(rows) if rows else pd.DataFrame(columns=[*axes, "metric", "mean", "std", "ci_low", "ci_high", "n"])
    outcomes: dict[str, list[str]] = {}
    questions: dict[str, str] = {}
    for record in records:
        for verdict in verdicts_of(record.results):
            outcomes.setdefault(verdict["id"], []).append(state_from_record(verdict))
            questions[verdict["id"]] = verdict["question"]
    rows = []
    for verdict_id, states in outcomes.items():
        counts = {state: states.count(state) for state in STATES}
        majority = max(STATES, key=lambda state: counts[state])  # ties: the first of STATES
        rows.append({"id": verdict_id, "question": questions[verdict_id], **counts, "runs": len(states),
                     "majority": majority, "agreement": counts[majority] / len(states)})
    verdicts = pd.DataFrame(rows)
    return metrics, verdicts


def sweep_records(sweep: dict[str, Any], store: Store) -> list[RunRecord]:
    records = []
    for run in sweep["runs"]:
        try:
            record = store.get(sweep["experiment"], run["run_id"])
        except KeyError:
            continue
        if record.ok:
            records.append(record)
    return records


def render_sweep_text(sweep: dict[str, Any], store: Store, *, key_metrics: int = 12) -> str:
    """The sweep's summary for a terminal: verdict agreement and the metrics that vary most."""
    records = sweep_records(sweep, store)
    metrics, verdicts = summarise(records, sweep.get("grid", {}))
    axes = [a for a in sweep.get("grid", {}) if a not in SEED_AXES]
    grid = ", ".join(f"{k} in {v}" for k, v in sweep["grid"].items())
    lines = [f"sweep {sweep['sweep_id']}: {len(sweep['runs'])} variants of {sweep['experiment']} over {grid}; "
             f"{len(records)} succeeded", "", "verdict agreement (majority state, share of runs):"]
    lines += [f"  {r['id']}: {r['majority']} in {r['agreement']:.0%} of {r['runs']} runs  {r['question']}"
              for _, r in verdicts.iterrows()] or ["  no verdicts"]
    if len(metrics):
        varying = metrics[metrics["std"] > 0].sort_values("std", ascending=False).head(key_metrics)
        lines += ["", "metrics that vary most (per setting: mean, std, 95% CI over seeds):"]
        lines += [f"  {', '.join(f'{a}={r[a]}' for a in axes) + ': ' if axes else ''}{r['metric']}: {r['mean']:.4g} "
                  f"± {r['std']:.3g} [{r['ci_low']:.4g}, {r['ci_high']:.4g}] (n={int(r['n'])})"
                  for _, r in varying.iterrows()] or ["  none: every metric is the same in every run"]
    return "\n".join(lines)
