"""The GNN v6 notebook at tiny size, and a bad survey folder refused before the run store is touched."""

import pandas as pd
import pytest

from expbook.data.turnover_synth import SurveySpec, generate_survey
from expbook.run.runner import run_experiment
from tests.helpers import folders, run_cli

pytestmark = pytest.mark.slow
QUIET = {"progress": False, "echo": lambda *_: None}


def test_tiny_run_records_tables_verdicts_and_the_ibm_configuration(tiny_store):
    results = run_experiment("gnn_turnover_v6", {}, store=tiny_store, **QUIET).record.results
    assert results["status"] == "ok"
    ids = [v["id"] for v in results["verdicts"]]
    assert ids == ["V1", "V2", "V3", "G1", "G2", "P1", "P2", "P3", *[f"A{i}" for i in range(1, 8)], "I1", "I2", "PC1", "PC2"]
    assert [v["role"] for v in results["verdicts"]][-2:] == ["positive control"] * 2
    per_split = pd.DataFrame(results["metrics"]["per_split"])
    survey = per_split[per_split["data"] == "survey"]
    assert sorted(survey["split"].unique()) == [0, 1] and survey.groupby("split").size().eq(14).all()
    assert set(results["metrics"]["means"]["ibm_attrition"]) == {"MLP", "LightGBM", "MLP + groups",
                                                                 "LightGBM + groups", "GNN v6"}
    assert results["diagnostics"]["workers"] == 2  # the folds ran in spawned processes inside the kernel
    assert sorted(results["figures"]) == ["figures/aupr_per_fold.png", "figures/training_curves_v6.png"]


def test_preference_naming_an_unknown_employee_fails_before_anything_is_written(tmp_path):
    data = tmp_path / "survey"
    generate_survey(data, SurveySpec(employees=60))
    prefs = pd.read_csv(data / "preferences.csv")
    prefs.loc[9, "employee_id"] = 424242
    prefs.to_csv(data / "preferences.csv", index=False)
    runs = tmp_path / "runs"
    result = run_cli("run", "gnn_turnover_v6", "-p", f"data_dir={data}", env={"EXPBOOK_RUNS": str(runs)})
    assert result.returncode == 3, result.stderr
    assert "preferences.csv: data row 10, column 'employee_id': 424242 is not in employees.csv" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and folders(runs) == []
