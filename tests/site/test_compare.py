"""Comparing runs: parameter diff, metric deltas with CIs, changed verdicts flagged."""

import pytest

from expbook.run.store import RunRecord, flatten_metrics
from expbook.site.compare import compare_runs, render_text
from expbook.site.runpage import compare_page
from tests.helpers import run_cli


def _record(run_id, params, metrics, verdicts):
    return RunRecord("exp", run_id, None, {"params": params, "metrics": metrics, "verdicts": verdicts})


def _verdict(holds, state=None):
    return {"id": "H1", "question": "Does it hold?", "verdict": holds, **({"state": state} if state else {})}


def test_comparison_lists_only_what_differs_and_flags_changed_verdicts():
    a = _record("a", {"seed": 0, "k": 1}, {"m": {"x": 1.0, "y": 2.0}, "bootstrap": [
        {"method": "D", "metric": "top", "ci_low": 0.4, "ci_high": 0.6}], "methods": {"D": {"top": 0.5}}}, [_verdict(True)])
    b = _record("b", {"seed": 7, "k": 1}, {"m": {"x": 1.0, "y": 3.5}, "methods": {"D": {"top": 0.7}}}, [_verdict(False)])
    c = compare_runs(a, b)
    assert c.params == [("seed", 0, 7)]
    assert [d.name for d in c.metrics] == ["m.y", "methods.D.top"]
    top = c.metrics[1]
    assert top.delta == pytest.approx(0.2) and top.ci_a == (0.4, 0.6) and top.outside_ci
    assert [v.id for v in c.changed_verdicts] == ["H1"]
    assert "CHANGED H1: holds -> does not hold" in render_text(c)
    assert '<tr class="expbook-changed"><td>H1</td>' in compare_page(c, title="t", history_title="E")


def test_a_move_to_inconclusive_is_a_changed_verdict():
    a = _record("a", {"seed": 0}, {"x": 1.0}, [_verdict(True)])
    b = _record("b", {"seed": 1}, {"x": 1.0}, [_verdict(None, "inconclusive")])
    c = compare_runs(a, b)
    assert [(v.a, v.b) for v in c.changed_verdicts] == [("holds", "inconclusive")]
    assert "CHANGED H1: holds -> inconclusive" in render_text(c)


def test_identical_runs_have_nothing_to_show():
    a = _record("a", {"seed": 0}, {"x": 1.0}, [_verdict(True)])
    c = compare_runs(a, a)
    assert c.params == [] and c.metrics == [] and c.changed_verdicts == []


def test_records_are_flattened_by_their_first_field():
    assert flatten_metrics({"sweep": [{"M": 50, "ndcg": 0.1}, {"M": 100, "ndcg": 0.2}], "best": 100}) == {
        "sweep.M=50.ndcg": 0.1, "sweep.M=100.ndcg": 0.2, "best": 100.0}


@pytest.mark.slow
def test_cli_compares_two_stored_runs(tiny_store, tiny_run):
    from expbook.run.runner import run_experiment
    from tests.helpers import example_experiment

    variant = run_experiment(example_experiment(), {"seed": 7}, store=tiny_store, progress=False,
                             echo=lambda *_: None).record
    result = run_cli("compare", tiny_run.run_id, variant.run_id[:20], env={"EXPBOOK_RUNS": str(tiny_store.root)})
    assert result.returncode == 0, result.stderr
    assert "seed: 0 -> 7" in result.stdout and "metrics that differ" in result.stdout


def test_state_changes_come_first_then_metrics_by_relative_change_and_counts_last():
    verdicts_a = [{"id": "A", "question": "q", "verdict": True}, {"id": "B", "question": "q", "verdict": True}]
    verdicts_b = [{"id": "A", "question": "q", "verdict": True}, {"id": "B", "question": "q", "verdict": False}]
    a = _record("a", {}, {"auc": 0.5, "revenue": 1000.0, "rows": {"test": 100}}, verdicts_a)
    b = _record("b", {}, {"auc": 0.75, "revenue": 1100.0, "rows": {"test": 900}}, verdicts_b)
    c = compare_runs(a, b)
    assert [v.id for v in c.verdicts] == ["B", "A"]
    assert [d.name for d in c.metrics] == ["auc", "revenue", "rows.test"]  # +50% before +10% (Δ 100); counts last
