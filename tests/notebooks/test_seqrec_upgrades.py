"""The sequential-recommender notebook at tiny size, and an interactions file without timestamps refused up front."""

import pandas as pd
import pytest

from expbook.run.runner import run_experiment
from tests.helpers import folders, run_cli

pytestmark = pytest.mark.slow
QUIET = {"progress": False, "echo": lambda *_: None}


def test_tiny_run_records_the_ladder_the_references_and_a_verdict_per_step(tiny_store):
    results = run_experiment("seqrec_upgrades", {}, store=tiny_store, **QUIET).record.results
    assert results["status"] == "ok"
    assert [v["id"] for v in results["verdicts"]] == ["S0", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "R1"]
    ladder = results["metrics"]["ladder"]
    assert list(ladder)[0] == "baseline" and list(ladder)[-3] == "+ re-rank top-50 (LambdaRank)"  # its smoke candidates
    assert list(ladder)[-2:] == ["most popular", "item-to-item transitions"]
    steps = results["metrics"]["steps"]
    tested = [step for step in steps.values() if step["p (seeds × users)"] is not None]
    assert tested and all(step["p (Holm)"] >= step["p (seeds × users)"] for step in tested)
    assert [v["role"] for v in results["verdicts"]] == ["sanity check", *["family"] * 7, "reference"]
    assert results["metrics"]["chosen_on"] == "validation"
    per_seed = pd.DataFrame(results["metrics"]["per_seed"])
    assert per_seed.groupby("rung").size().eq(2).all() and len(per_seed) == 16
    assert sorted(results["figures"]) == ["figures/ndcg_per_rung.png", "figures/training_curves.png"]
    metrics = results["metrics"]
    assert metrics["rerank_training_lists"] > 80  # several lists per user: validation and the held-out events
    assert 0 <= metrics["rerank_val_candidate_recall"] <= 1


def test_interactions_without_timestamp_fail_naming_file_and_column_and_write_nothing(tmp_path):
    data = tmp_path / "ml"
    data.mkdir()
    pd.DataFrame({"userId": [1, 1], "movieId": [1, 2], "rating": [4.0, 5.0]}).to_csv(data / "ratings.csv", index=False)
    runs = tmp_path / "runs"
    result = run_cli("run", "seqrec_upgrades", "-p", f"data_dir={data}", env={"EXPBOOK_RUNS": str(runs)})
    assert result.returncode == 3, result.stderr
    assert "ratings.csv: column 'timestamp' is missing" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and folders(runs) == []
