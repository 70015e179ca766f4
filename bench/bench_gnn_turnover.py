"""Training time per seed of every turnover model at the GNN v6 report's default size (500 employees).

    python bench/bench_gnn_turnover.py             # 3 seeds
    python bench/bench_gnn_turnover.py --seeds 5

One seed = one stratified split and every model trained on it (as the report does), on the fixed
two torch threads. Prints one Markdown table: seconds per model per seed (mean over seeds) and the
whole seed, for the generated survey and for the packaged IBM attrition table (turnover only).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd
from _measure import PeakRSS  # bench/ is the script's folder, so on sys.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()

    from expbook.data.turnover import ibm_attrition_graph, load_survey
    from expbook.data.turnover_synth import SurveySpec, generate_survey
    from expbook.experiments import gnn_turnover as gt
    from expbook.models.gbdt import GBDTConfig
    from expbook.models.gnn import GNNConfig

    folder = tempfile.mkdtemp(prefix="bench-survey-")
    generate_survey(folder, SurveySpec())
    gbdt = GBDTConfig(num_boost_round=300, num_leaves=7, min_data_in_leaf=10, learning_rate=0.05)
    rows = []
    for name, graph, models in (("survey (500)", load_survey(folder), ["MLP", "GBDT", "GNN v5", *gt.ABLATIONS]),
                                ("IBM attrition (1,470)", ibm_attrition_graph(), ["MLP", "GBDT", "GNN v6"])):
        for seed in range(args.seeds):
            with PeakRSS() as peak:
                start = time.perf_counter()
                results, _ = gt.run_seed(graph, seed, base=GNNConfig(), gbdt=gbdt, models=models, val=0.12, test=0.2)
                whole = time.perf_counter() - start
            rows += [{"data": name, "model": r["model"], "seconds": r["seconds"]} for r in results]
            rows.append({"data": name, "model": "whole seed (split, all models, evaluation)", "seconds": whole,
                         "peak": peak.peak})
    table = pd.DataFrame(rows).groupby(["data", "model"], sort=False).agg(seconds=("seconds", "mean"),
                                                                          peak=("peak", "max"))
    print(f"\nTraining time per seed, mean of {args.seeds} seeds (2 torch threads)\n")
    print("| data | model | seconds per seed | peak RSS (MiB) |")
    print("|---|---|---|---|")
    for (data, model), row in table.iterrows():
        peak = "" if pd.isna(row["peak"]) else f"{row['peak']:.0f}"
        print(f"| {data} | {model} | {row['seconds']:.2f} | {peak} |")


if __name__ == "__main__":
    main()
