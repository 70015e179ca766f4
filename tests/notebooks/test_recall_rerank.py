"""The recall-rerank notebook at tiny size: settings chosen on validation, the gate follows gate_margin."""

import pytest

from expbook.run.runner import run_experiment

pytestmark = pytest.mark.slow
QUIET = {"progress": False, "echo": lambda *_: None}


def _verdicts(record):
    results = record.results
    return {v["id"]: v for v in results["verdicts"]} | {"Gate": results["gate"]}


def test_gate_verdict_flips_when_gate_margin_crosses_the_measured_gain(tiny_store):
    base = run_experiment("recall_rerank", {}, store=tiny_store, **QUIET).record
    h51 = _verdicts(base)["H5.1"]
    low, high = h51["ci"]
    below = _verdicts(run_experiment("recall_rerank", {"gate_margin": round(low - 0.01, 4)}, store=tiny_store,
                                     **QUIET).record)
    above = _verdicts(run_experiment("recall_rerank", {"gate_margin": round(high + 0.01, 4)}, store=tiny_store,
                                     **QUIET).record)
    assert below["H5.1"]["state"] == "holds" and above["H5.1"]["state"] == "does not hold"
    assert above["Gate"]["state"] == "does not hold"
    assert below["Gate"]["state"] == _verdicts(base)["H5.2"]["state"]  # with H5.1 holding, H5.2 decides
    assert base.results["metrics"]["selection"]["chosen_on"] == "validation"


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


def test_permuting_the_test_labels_leaves_m_and_alpha_unchanged():
    """The notebook's path from data to the chosen settings, with the test days' gift values shuffled."""
    from dataclasses import replace

    import numpy as np

    from expbook.data.kuailive_synth import KuaiLiveSpec
    from expbook.experiments import recall_rerank as rr
    from expbook.experiments.kuailive_pipeline import candidate_pools, fit_gift_models, prepare, score_split
    from expbook.models.gbdt import GBDTConfig

    data = prepare(None, KuaiLiveSpec(scale=0.004), leaky=False, val_days=7, test_days=7)
    frame = data.frame.copy()
    test = frame["split"].to_numpy() == "test"
    frame.loc[test, "label"] = np.random.default_rng(0).permutation(frame.loc[test, "label"].to_numpy())
    shuffled = replace(data, frame=frame)

    def choose(prepared):
        models = fit_gift_models(prepared, GBDTConfig(num_boost_round=80, seed=0))
        val = score_split(prepared, models, "val")
        pools = candidate_pools(prepared, "test", "val")
        return rr.choose_on_validation(rr.m_sweep(val.y, val.direct, val.m, [5, 20, 60], ndcg_k=100, pools=pools),
                                       rr.fusion_sweep(val.y, val.direct, val.m, [0.0, 0.5, 1.0], ndcg_k=100,
                                                       pools=pools), ndcg_k=100)

    assert not np.array_equal(frame.loc[test, "label"], data.frame.loc[test, "label"])
    assert choose(shuffled) == choose(data)
