"""Sweeps on a local process pool and on a Dask LocalCluster (loopback): runs, manifest, summary."""

import numpy as np
import pytest
from scipy import stats

from expbook.errors import ParameterError
from expbook.run.store import Store
from expbook.run.sweep import load_sweeps, parse_grid, run_sweep, summarise, sweep_records
from tests.helpers import fixture_notebook, run_cli

pytestmark = pytest.mark.slow
QUIET = {"echo": lambda *_: None}


@pytest.fixture()
def notebooks(tmp_path, monkeypatch):
    fixture_notebook(tmp_path / "notebooks")
    monkeypatch.setenv("EXPBOOK_NOTEBOOKS", str(tmp_path / "notebooks"))
    return tmp_path / "notebooks"


def test_grid_is_validated_before_anything_runs(notebooks):
    assert parse_grid("fixture", notebooks / "fixture.ipynb", [["seed", "1,2"], ["x", "1,5"]]) == {
        "seed": [1, 2], "x": [1, 5]}
    with pytest.raises(ParameterError, match="did you mean 'seed'"):
        parse_grid("fixture", notebooks / "fixture.ipynb", [["sed", "1,2"]])
    with pytest.raises(ParameterError, match="must be int"):
        parse_grid("fixture", notebooks / "fixture.ipynb", [["seed", "1,two"]])


def test_local_pool_sweep_summarises_means_cis_and_verdict_agreement(notebooks, tmp_path):
    store = Store(tmp_path / "runs")
    result = run_sweep("fixture", {"seed": [1, 2, 3]}, store=store, jobs=2, **QUIET)
    assert [r["status"] for r in result.runs] == ["ok"] * 3
    records = sweep_records(load_sweeps("fixture", store)[0], store)
    metrics, verdicts = summarise(records, {"seed": [1, 2, 3]})
    values = np.array([2.0, 3.0, 4.0])  # value = x + seed with x = 1
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    row = metrics.set_index("metric").loc["value"]
    assert row["mean"] == pytest.approx(3.0) and row["ci_low"] == pytest.approx(3.0 - half)
    even = verdicts.set_index("id").loc["E"]
    assert even["holds"] == 1 and even["agreement"] == pytest.approx(2 / 3)


def test_a_grid_of_a_setting_and_seeds_is_summarised_per_setting_over_seeds_only(notebooks, tmp_path):
    store = Store(tmp_path / "runs")
    run_sweep("fixture", {"x": [1, 5], "seed": [1, 2]}, store=store, jobs=2, **QUIET)
    records = sweep_records(load_sweeps("fixture", store)[0], store)
    metrics, _ = summarise(records, {"x": [1, 5], "seed": [1, 2]})
    value = metrics[metrics["metric"] == "value"].set_index("x")
    assert sorted(value.index) == ["1", "5"] and (value["n"] == 2).all()  # never one interval across settings
    assert value.loc["1", "mean"] == pytest.approx(2.5) and value.loc["5", "mean"] == pytest.approx(6.5)
    half = stats.t.ppf(0.975, 1) * np.std([2.0, 3.0], ddof=1) / np.sqrt(2)
    assert value.loc["1", "ci_high"] == pytest.approx(2.5 + half)


def test_dask_sweep_on_a_loopback_local_cluster(notebooks, tmp_path):
    from dask.distributed import LocalCluster
    store = Store(tmp_path / "runs")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        result = run_sweep("fixture", {"seed": [4, 5, 6]}, store=store, scheduler=cluster.scheduler_address, **QUIET)
    assert sorted(r["overrides"]["seed"] for r in result.runs) == [4, 5, 6]
    assert all(r["status"] == "ok" for r in result.runs)
    assert len(store.runs("fixture")) == 3 and "Dask scheduler tcp://127.0.0.1" in load_sweeps("fixture", store)[0]["where"]


def test_a_threaded_dask_worker_keeps_two_concurrent_runs_apart(notebooks, tmp_path):
    """Two variants at once in one worker process (two threads): each kernel gets its own run folder and
    environment, nothing is shared through os.environ or module state."""
    from dask.distributed import LocalCluster
    store = Store(tmp_path / "runs")
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        result = run_sweep("fixture", {"seed": [10, 11], "sleep_s": [1.0]}, store=store,
                           scheduler=cluster.scheduler_address, **QUIET)
    assert [r["status"] for r in result.runs] == ["ok", "ok"], result.runs
    for run in result.runs:
        record = store.get("fixture", run["run_id"])
        assert record.results["params"]["seed"] == run["overrides"]["seed"]
        assert record.results["metrics"]["value"] == 1 + run["overrides"]["seed"]  # its own results, in its own folder


def test_a_failing_variant_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    fixture_notebook(tmp_path / "notebooks", body="if seed == 2:\n    raise RuntimeError('seed 2 breaks')")
    monkeypatch.setenv("EXPBOOK_NOTEBOOKS", str(tmp_path / "notebooks"))
    result = run_sweep("fixture", {"seed": [1, 2, 3]}, store=Store(tmp_path / "runs"), **QUIET)
    assert [r["status"] for r in result.runs] == ["ok", "failed", "ok"]
    assert "seed 2 breaks" in result.failed[0]["error"]
    assert Store(tmp_path / "runs").get("fixture", result.failed[0]["run_id"]).status == "failed"


def test_cli_sweep_prints_the_summary_and_exits_zero(tmp_path):
    fixture_notebook(tmp_path / "notebooks")
    env = {"EXPBOOK_RUNS": str(tmp_path / "runs"), "EXPBOOK_NOTEBOOKS": str(tmp_path / "notebooks")}
    result = run_cli("sweep", "fixture", "-p", "seed", "1,2", "-j", "2", env=env)
    assert result.returncode == 0, result.stderr
    assert "verdict agreement" in result.stdout and "E: holds in 50% of 2 runs" in result.stdout
    assert "value: 2.5 ± 0.707" in result.stdout
