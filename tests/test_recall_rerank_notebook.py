"""The recall-rerank notebook at tiny size: the gate follows gate_top1 across the measured Top-1%."""

import pytest

from expbook.runner import run_experiment

pytestmark = pytest.mark.slow
QUIET = {"progress": False, "echo": lambda *_: None}


def _verdicts(record):
    results = record.results
    return {v["id"]: v for v in results["verdicts"]} | {"Gate": results["gate"]}


def test_gate_verdict_flips_when_gate_top1_crosses_the_measured_value(tiny_store):
    base = run_experiment("recall_rerank", {}, store=tiny_store, **QUIET).record
    measured = _verdicts(base)["H5.1"]["value"]
    ndcg_gain = _verdicts(base)["H5.2"]["verdict"]
    below = _verdicts(run_experiment("recall_rerank", {"gate_top1": round(measured - 0.01, 4)}, store=tiny_store,
                                     **QUIET).record)
    above = _verdicts(run_experiment("recall_rerank", {"gate_top1": round(measured + 0.01, 4)}, store=tiny_store,
                                     **QUIET).record)
    assert below["H5.1"]["verdict"] is True and above["H5.1"]["verdict"] is False
    assert below["Gate"]["verdict"] is ndcg_gain and above["Gate"]["verdict"] is False
    assert ndcg_gain, "at this size re-ranking should raise NDCG, so the gate itself flips"


def test_m_values_variant_runs_and_records_its_sweep(tiny_store):
    record = run_experiment("recall_rerank", {"m_values": [10, 30]}, store=tiny_store, **QUIET).record
    assert record.results["overrides"] == {"m_values": [10, 30]}
    assert [row["M"] for row in record.results["metrics"]["m_sweep"]] == [10, 30]
    assert len(record.results["figures"]) == 4


def test_the_two_kuailive_reports_share_one_feature_build(tiny_store, tiny_run):
    """Same data parameters (tiny defaults of both notebooks) -> the same cached feature table."""
    rerank = run_experiment("recall_rerank", {}, store=tiny_store, force=True, **QUIET).record  # after tiny_run built it
    assert rerank.results["diagnostics"]["feature_key"] == tiny_run.results["diagnostics"]["feature_key"]
    assert rerank.results["diagnostics"]["feature_cache_hit"] is True
