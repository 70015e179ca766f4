"""Is each experiment's canonical report still what the current inputs would produce, and if not, why?

Two answers besides "no run yet": *fresh* — the execution key is unchanged (a prose-only edit keeps it so: the
site renders the stored outputs with the notebook's current prose, and the run is never rewritten);
*re-execute* — the execution key changed, naming what changed (a module path, the notebook code, the parameters,
the data or the pinned requirements).
"""

from __future__ import annotations

from dataclasses import dataclass

from expbook.run.catalogue import notebook_path
from expbook.run.keys import changed_inputs, key_components, render_key, upstream_runs
from expbook.run.params import read_parameter_specs, resolve_parameters
from expbook.run.store import RunRecord, Store

FRESH, REEXECUTE, NO_RUN = "fresh", "re-execute", "no run"


@dataclass(frozen=True)
class ExperimentStatus:
    experiment: str
    state: str  # FRESH, REEXECUTE or NO_RUN
    reason: str
    canonical: RunRecord | None
    latest_failure: RunRecord | None  # a failed run with default parameters, newer than the canonical one

    @property
    def run_id(self) -> str | None:
        return self.canonical.run_id if self.canonical else None

    @property
    def label(self) -> str:
        """What the overview shows: *fresh*, or *stale* with what a build would do."""
        return self.state if self.state in (FRESH, NO_RUN) else "stale"


def experiment_status(experiment: str, store: Store | None = None) -> ExperimentStatus:
    """Compare the canonical run's stored execution and render keys with the current notebook, code and data."""
    store = store or Store()
    path = notebook_path(experiment)
    canonical = store.canonical(experiment)
    defaults = [r for r in store.runs(experiment) if r.is_default and not r.unreadable]
    failure = defaults[-1] if defaults and defaults[-1].status == "failed" and (
        canonical is None or defaults[-1].run_id > canonical.run_id) else None
    if canonical is None:
        return ExperimentStatus(experiment, NO_RUN, "no successful run with default parameters yet", None, failure)
    current = key_components(path, resolve_parameters(experiment, read_parameter_specs(path), {}),
                             upstream_runs(path, store))
    provenance = canonical.results.get("provenance", {})
    changed = changed_inputs(provenance.get("key_components", {}), current)
    if changed:
        shown = ", ".join(changed[:2]) + (f" and {len(changed) - 2} more" if len(changed) > 2 else "")
        return ExperimentStatus(experiment, REEXECUTE, f"re-execute: {shown}", canonical, failure)
    if provenance.get("render_key") != render_key(path):
        return ExperimentStatus(experiment, FRESH, "inputs unchanged; prose edited since the run, shown as it is now",
                                canonical, failure)
    return ExperimentStatus(experiment, FRESH, "inputs unchanged", canonical, failure)
