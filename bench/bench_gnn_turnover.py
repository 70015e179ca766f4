"""Training time per fold of every turnover model at the GNN v6 report's default size (500 employees).

    python bench/bench_gnn_turnover.py               # one repeat of 5-fold CV, 2 worker processes
    python bench/bench_gnn_turnover.py --repeats 5 --workers 1

One split = one training/validation/test partition and every model trained on it (as the report does),
each model on one torch thread; ``--workers`` splits run side by side. Prints one Markdown table:
seconds per fold per model (mean over the folds), and the wall time of the whole cross-validation, for
the generated survey and for the packaged IBM attrition table (turnover only).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace

import pandas as pd
from _measure import PeakRSS  # bench/ is the script's folder, so on sys.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds: checks the bench still runs")
    args = parser.parse_args()
    if args.smoke:
        args.folds, args.repeats, args.workers = 2, 1, 1

    from expbook.data.turnover import ibm_attrition_graph, load_survey
    from expbook.data.turnover_synth import SurveySpec, generate_survey
    from expbook.experiments import turnover_pipeline as cv
    from expbook.models.gnn import GNNConfig

    folder = tempfile.mkdtemp(prefix="bench-survey-")
    generate_survey(folder, SurveySpec(employees=120) if args.smoke else SurveySpec())
    gbdt = replace(cv.BASELINE_GBDT, num_boost_round=20) if args.smoke else cv.BASELINE_GBDT
    base = GNNConfig(stage1_epochs=2, stage2_epochs=2) if args.smoke else GNNConfig()
    tables, walls = [], []
    datasets = [("survey (500)", load_survey(folder), cv.SURVEY_MODELS)]
    if not args.smoke:
        datasets.append(("IBM attrition (1,470)", ibm_attrition_graph(), cv.IBM_MODELS))
    for name, graph, models in datasets:
        splits = cv.cv_splits(graph.label, folds=args.folds, repeats=args.repeats, val_fraction=0.15, seed=0)
        with PeakRSS() as peak:
            start = time.perf_counter()
            results, _ = cv.run_cv(graph, splits, base=base, gbdt=gbdt, models=models, workers=args.workers)
            wall = time.perf_counter() - start
        tables.append(results.assign(data=name))
        walls.append((name, len(splits), wall, peak.peak))
    table = pd.concat(tables).groupby(["data", "model"], sort=False)["seconds"].mean()
    print(f"\nSeconds per fold per model, mean of {args.folds * args.repeats} folds (1 torch thread each)\n")
    print("| data | model | seconds per fold |")
    print("|---|---|---|")
    for (data, model), seconds in table.items():
        print(f"| {data} | {model} | {seconds:.2f} |")
    print("\n| data | splits | workers | wall seconds | peak RSS of this process (MiB) |\n|---|---|---|---|---|")
    for name, n, wall, rss in walls:
        print(f"| {name} | {n} | {args.workers} | {wall:.1f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
