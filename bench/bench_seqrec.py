"""Seconds per epoch, epochs used and training time of every rung of the upgrade ladder, with the report's defaults.

    python bench/bench_seqrec.py               # one seed, the notebook's default parameters, 2 worker processes
    python bench/bench_seqrec.py --seeds 0 1   # the report's seeds
    python bench/bench_seqrec.py --workers 1

Reads the defaults from the parameters cell of notebooks/seqrec_upgrades.ipynb, so it measures what the report
runs. Each epoch includes the full-ranking validation pass (every user × every item). Every training has one
torch thread; ``--workers`` trainings run side by side, as in the report. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="the notebook's smoke sizes: checks the bench still runs")
    args = parser.parse_args()

    from expbook.data.movielens import load_packaged_movielens
    from expbook.data.sequences import build_sequences
    from expbook.experiments import seqrec_upgrades as seqrec
    from expbook.models.sasrec import SeqConfig
    from expbook.run.params import read_parameter_specs

    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "seqrec_upgrades.ipynb"
    p = {name: spec.default for name, spec in read_parameter_specs(notebook).items()}
    if args.smoke:
        from expbook.run.catalogue import notebook_metadata

        p.update(notebook_metadata(notebook).get("smoke", {}))
        args.workers = 1
    start = time.perf_counter()
    data = build_sequences(load_packaged_movielens(), max_len=p["max_len"], max_users=p.get("max_users"),
                           max_windows=p["max_windows"])
    print(f"\nload + sequences: {time.perf_counter() - start:.1f} s; {data.n_users} users, {data.n_items:,} items, "
          f"{data.windows.shape[0]:,} training windows, {int((data.window_targets > 0).sum()):,} training targets\n")
    base = SeqConfig(epochs=p["epochs"], patience=p["patience"], dim=p["dim"], heads=p["heads"], layers=p["layers"],
                     dropout=p["dropout"], learning_rate=p["learning_rate"], batch_size=p["batch_size"],
                     warmup_fraction=p["warmup_fraction"], exclude_seen=p["exclude_seen"])
    rungs = seqrec.ladder(base, max_epochs=p["max_epochs"], temperature=p["temperature"],
                          logq_correction=p["logq_correction"], uniform_negatives=p["uniform_negatives"])
    start = time.perf_counter()
    runs = seqrec.run_ladder(data, rungs, args.seeds, workers=args.workers)
    wall = time.perf_counter() - start
    print("| rung | seed | s / epoch (train + validation) | epochs run | epoch kept | training s | validation NDCG@10 |")
    print("|---|---|---|---|---|---|---|")
    total = 0.0
    for r in runs:
        seconds = r.metrics["seconds_per_epoch"] * r.metrics["epochs_run"]
        total += seconds
        print(f"| {r.rung} | {r.seed} | {r.metrics['seconds_per_epoch']:.2f} | {r.metrics['epochs_run']} | "
              f"{r.metrics['best_epoch']} | {seconds:.0f} | {r.metrics['val_ndcg@10']:.4f} |")
    print(f"\ntraining: {total:.0f} s of single-thread work in {wall:.0f} s wall with {args.workers} workers")


if __name__ == "__main__":
    main()
