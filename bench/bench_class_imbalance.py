"""Time per training epoch and peak memory of the heartbeat CNN at the report's default size.

    python bench/bench_class_imbalance.py            # default data (5 min per patient), one seed, then the report
    python bench/bench_class_imbalance.py --minutes 30 --no-report   # the real records' length, epochs only

Generates the 44 records into a temporary folder, reads them, then trains three configurations
(no rebalancing, the stacked sampler + CE weights, focal loss) for a fixed number of epochs with
early stopping off, on the fixed two torch threads. Prints one Markdown table, then (unless --no-report)
the wall time of the whole default report (`python -m expbook run class_imbalance_repair --force`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from _measure import PeakRSS  # bench/ is the script's folder, so on sys.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--no-report", action="store_true", help="skip timing the whole default report")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds: checks the bench still runs")
    args = parser.parse_args()
    if args.smoke:
        args.minutes, args.epochs, args.no_report = 0.1, 1, True

    from expbook.data.ecg_synth import EcgSpec, generate_ecg
    from expbook.data.wfdb_beats import DS1, load_beats
    from expbook.models.ecg_cnn import TrainConfig, train_classifier

    rows = []
    folder = tempfile.mkdtemp(prefix="bench-ecg-")
    start = time.perf_counter()
    with PeakRSS() as peak:
        generate_ecg(folder, EcgSpec(minutes=args.minutes))
    rows.append(("generate 44 records", time.perf_counter() - start, "", peak.peak))
    start = time.perf_counter()
    with PeakRSS() as peak:
        beats = load_beats(folder, records=list(DS1))
    rows.append((f"read DS1 ({len(beats):,} beats)", time.perf_counter() - start, "", peak.peak))
    train, val = beats.take(slice(0, len(beats) * 3 // 4)), beats.take(slice(len(beats) * 3 // 4, None))
    configs = {"no rebalancing": TrainConfig(),
               "stacked sampler + CE weights": TrainConfig(sampler="power", class_weights=True),
               "focal loss (γ=2)": TrainConfig(loss="focal")}
    for name, config in configs.items():
        config = TrainConfig(**{**config.__dict__, "epochs": args.epochs, "patience": args.epochs + 1})
        with PeakRSS() as peak:
            result = train_classifier(train, val, config)
        rows.append((f"train: {name}", result.seconds_per_epoch * len(result.history),
                     f"{result.seconds_per_epoch:.2f}", peak.peak))
    print(f"\nHeartbeat CNN, {args.minutes:g} min per patient, {len(train):,} training beats, batch 256, 2 threads\n")
    print("| step | seconds | s / epoch (train + validation) | peak RSS (MiB) |")
    print("|---|---|---|---|")
    for step, seconds, per_epoch, rss in rows:
        print(f"| {step} | {seconds:.1f} | {per_epoch} | {rss:.0f} |")
    if not args.no_report:
        runs = tempfile.mkdtemp(prefix="bench-ecg-runs-")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "expbook", "run", "class_imbalance_repair", "--force", "-q"], check=True,
                       env={**os.environ, "EXPBOOK_RUNS": runs}, capture_output=True)
        print(f"\nthe whole default report (5 seeds × 9 configurations, every stopping score from the same runs): "
              f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
