"""The class-imbalance notebook at tiny size, and bad WFDB input refused before the run store is touched."""

import shutil

import pytest

from expbook.data.ecg_synth import EcgSpec, generate_ecg
from expbook.run.runner import run_experiment
from tests.helpers import folders, run_cli

pytestmark = pytest.mark.slow
QUIET = {"progress": False, "echo": lambda *_: None}


def test_tiny_run_records_every_configuration_verdict_and_figure(tiny_store):
    record = run_experiment("class_imbalance_repair", {}, store=tiny_store, **QUIET).record
    results = record.results
    assert results["status"] == "ok"
    assert [v["id"] for v in results["verdicts"]] == ["C1", "C2", "C3", "C4", "C5"]  # whatever the outcome
    assert all(v["state"] in ("holds", "does not hold", "inconclusive", "not applicable") for v in results["verdicts"])
    configurations = results["metrics"]["configurations"]
    assert "stacked sampler + CE weights" in configurations and len(configurations) == 9
    assert "original report's final configuration" in configurations
    recommended = results["metrics"]["recommended"]
    assert configurations[recommended]["flagged seeds"] == min(c["flagged seeds"] for c in configurations.values())
    assert sorted(results["figures"]) == ["figures/confusion_matrices.png", "figures/learning_curves.png",
                                          "figures/prediction_shares.png"]
    literature = results["tables"]["literature"]
    rows = [row[next(iter(row))] for row in literature] if isinstance(literature, list) else list(literature)
    assert any("reference model" in str(label) for label in rows)  # the simple baseline beside the CNN
    log = (record.path / "log.txt").read_text()
    assert "class weights (loss): N=" in log and "expected batch mix: N=0.25 S=0.25 V=0.25 O=0.25" in log


@pytest.fixture(scope="module")
def two_records(tmp_path_factory):
    source = tmp_path_factory.mktemp("ecg-source")
    generate_ecg(source, EcgSpec(minutes=0.5))
    return source


@pytest.mark.parametrize("case, message", [
    ("empty", "no WFDB records (*.hea files) found"),
    ("no_atr", "record 101: annotation file 101.atr is missing"),
    ("one_ds2", "the inter-patient split needs MIT-BIH record names; found DS1 0, DS2 1"),
    ("one_ds1", "needs at least 2 DS1 records (training and validation patients); found 1 (101)"),
])
def test_bad_wfdb_folder_fails_naming_the_record_and_writes_nothing(tmp_path, two_records, case, message):
    data = tmp_path / "data"
    data.mkdir()
    if case == "no_atr":
        for path in two_records.glob("10[01].*"):
            shutil.copy(path, data / path.name)
        (data / "101.atr").unlink()
    if case in ("one_ds2", "one_ds1"):
        for path in two_records.glob(f"{'100' if case == 'one_ds2' else '10[01]'}.*"):
            shutil.copy(path, data / path.name)
    runs = tmp_path / "runs"
    result = run_cli("run", "class_imbalance_repair", "-p", f"data_dir={data}", env={"EXPBOOK_RUNS": str(runs)})
    assert result.returncode == 3, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert folders(runs) == []
