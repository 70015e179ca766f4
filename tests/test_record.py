import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from expbook.claims import decide  # noqa: E402
from expbook.claims import test as claim  # noqa: E402
from expbook.metrics.estimates import TEstimate  # noqa: E402
from expbook.record import record, save_figure  # noqa: E402


def test_record_writes_results_with_figures_into_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPBOOK_RUN_DIR", str(tmp_path))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    save_figure(fig, "line", experiment="demo")
    record(experiment="demo", metrics={"a": float("nan"), "b": 1}, headline="h", key_metric=("k", 0.5),
           verdicts=decide([claim("V", "q", TEstimate.of([0.9, 1.0, 1.1], "seeds"), ">", 0.0, label="v")]))
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["figures"] == ["figures/line.png"]
    assert results["metrics"] == {"a": None, "b": 1}
    assert results["verdicts"][0]["verdict"] is True and results["verdicts"][0]["state"] == "holds"
    low, high = TEstimate.of([0.9, 1.0, 1.1], "seeds").interval(0.95)
    assert results["verdicts"][0]["ci"] == [low, high] and results["verdicts"][0]["role"] == "family"
