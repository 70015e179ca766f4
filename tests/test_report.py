import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from expbook.report import all_of, record, save_figure, threshold_rule, verdict_table  # noqa: E402


def test_threshold_rule_states_the_rule_and_flips_at_the_threshold():
    below = threshold_rule("G", "q?", 0.54, ">=", 0.56, label="Top-1%", fmt="{:.0%}")
    above = threshold_rule("G", "q?", 0.57, ">=", 0.56, label="Top-1%", fmt="{:.0%}")
    assert (below.verdict, above.verdict) == (False, True)
    assert below.rule == "Top-1% ≥ 56%" and below.value_text == "54%"
    assert threshold_rule("G", "q?", math.nan, "<", 1.0, label="x").verdict is False


def test_all_of_needs_every_part():
    yes = threshold_rule("A", "", 1.0, ">", 0.0, label="a")
    no = threshold_rule("A", "", 0.0, ">", 0.0, label="b")
    assert all_of("A", "q", [yes, yes]).verdict and not all_of("A", "q", [yes, no]).verdict
    assert all_of("A", "q", [yes, no]).rule == "a > 0.000 AND b > 0.000"


def test_verdict_table_marks_come_from_the_verdicts():
    table = verdict_table([threshold_rule("H1", "q", 1.0, ">", 0.0, label="v"),
                           threshold_rule("H2", "q", -1.0, ">", 0.0, label="v")])
    assert list(table["verdict"]) == ["✅ yes", "❌ no"]


def test_record_writes_results_with_figures_into_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPBOOK_RUN_DIR", str(tmp_path))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    save_figure(fig, "line", experiment="demo")
    record(experiment="demo", metrics={"a": float("nan"), "b": 1}, headline="h", key_metric=("k", 0.5),
           verdicts=[threshold_rule("V", "q", 1.0, ">", 0.0, label="v")])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["figures"] == ["figures/line.png"]
    assert results["metrics"] == {"a": None, "b": 1} and results["verdicts"][0]["verdict"] is True
