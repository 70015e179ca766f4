"""Training time per epoch of every transformer rung of the upgrade ladder, on the packaged MovieLens data.

    python bench/bench_seqrec.py               # 3 epochs per rung, default sizes (dim 32, max_len 50, 2 windows/user)
    python bench/bench_seqrec.py --epochs 5

Each epoch includes the full-ranking validation pass (671 users × 9,066 items). Fixed two torch
threads. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import time

from _measure import PeakRSS  # bench/ is the script's folder, so on sys.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    from dataclasses import replace

    from expbook.data.movielens import load_packaged_movielens
    from expbook.data.sequences import build_sequences
    from expbook.experiments import seqrec
    from expbook.models.sasrec import SeqConfig, train_sasrec

    start = time.perf_counter()
    data = build_sequences(load_packaged_movielens(), max_len=50, max_windows=2)
    print(f"\nload + sequences: {time.perf_counter() - start:.1f} s; {data.n_users} users, {data.n_items:,} items, "
          f"{data.windows.shape[0]:,} training windows\n")
    rungs = seqrec.ladder(SeqConfig(epochs=args.epochs), temperature=1.0, logq_correction=True, uniform_negatives=512)
    print("| rung | s / epoch (train + full-ranking validation) | peak RSS (MiB) |")
    print("|---|---|---|")
    for name, config in rungs.items():
        with PeakRSS() as peak:
            trained = train_sasrec(data, replace(config, early_stopping=False))
        print(f"| {name} | {trained.seconds_per_epoch:.2f} | {peak.peak:.0f} |")


if __name__ == "__main__":
    main()
