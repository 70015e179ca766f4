"""Every notebook in notebooks/, whatever it is called: it follows the contract, and its smoke run (its own
``metadata.expbook.smoke`` sizes) succeeds with a headline and verdicts in known states."""

import pytest

from expbook.run.catalogue import list_experiments
from expbook.run.contract import check_notebook
from expbook.run.runner import run_experiment
from tests.helpers import NOTEBOOKS

SMOKE_RUNS: dict[str, float] = {}  # experiment → seconds, for the summary at the end of `make test`
STATES = {"holds", "does not hold", "inconclusive", "not applicable"}


@pytest.mark.parametrize("experiment", list_experiments(NOTEBOOKS))
def test_the_notebook_follows_the_contract(experiment):
    assert [str(p) for p in check_notebook(NOTEBOOKS / f"{experiment}.ipynb")] == []


@pytest.mark.slow
@pytest.mark.parametrize("experiment", list_experiments(NOTEBOOKS))
def test_the_smoke_run_succeeds(experiment, tiny_store):
    results = run_experiment(experiment, {}, store=tiny_store, progress=False, echo=lambda *_: None).record.results
    SMOKE_RUNS[experiment] = results["duration_s"]
    assert results["status"] == "ok" and results["headline"].strip()
    assert results["verdicts"] and {v["state"] for v in results["verdicts"]} <= STATES
    assert all(v["state"] != "inconclusive" or (v.get("decide") or {}).get("text") for v in results["verdicts"])
