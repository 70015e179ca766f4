import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from expbook.record import record, save_figure  # noqa: E402
from expbook.verdicts import threshold_rule  # noqa: E402


def test_record_writes_results_with_figures_into_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPBOOK_RUN_DIR", str(tmp_path))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    save_figure(fig, "line", experiment="demo")
    record(experiment="demo", metrics={"a": float("nan"), "b": 1}, headline="h", key_metric=("k", 0.5),
           verdicts=[threshold_rule("V", "q", 1.0, ">", 0.0, label="v", ci=(0.5, 1.5))])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["figures"] == ["figures/line.png"]
    assert results["metrics"] == {"a": None, "b": 1}
    assert results["verdicts"][0]["verdict"] is True and results["verdicts"][0]["state"] == "holds"
    assert results["verdicts"][0]["ci"] == [0.5, 1.5]
