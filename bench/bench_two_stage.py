"""Wall time and peak memory of each stage of the two-stage diagnosis pipeline, per data scale.

    python bench/bench_two_stage.py                 # scales 0.1 and 1.0 (~4.9M clicks)
    python bench/bench_two_stage.py --scales 0.02   # quick look

Each scale runs in a fresh subprocess so peak memory is not inherited. Peak RSS per stage is
sampled every 20 ms by a background thread (LightGBM and numpy allocate outside Python's
tracemalloc, so RSS is the honest number). Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import PeakRSS  # bench/ is the script's folder, so on sys.path

STAGES = ("generate", "load", "features", "train", "evaluate", "leakage audit")


def measure_one_scale(scale: float, n_boot: int, threads: int) -> dict:
    """Run every stage once at ``scale``; return {stage: (seconds, peak MiB)} plus row counts."""
    from expbook.data.kuailive import load_kuailive
    from expbook.data.kuailive_synth import KuaiLiveSpec, generate_kuailive
    from expbook.experiments import two_stage_diagnosis as two_stage
    from expbook.experiments.kuailive_pipeline import PreparedData, fit_gift_models, score_test
    from expbook.features import kuailive_audit
    from expbook.features.kuailive import assign_split, build_features
    from expbook.models.gbdt import GBDTConfig

    results, folder = {}, Path(tempfile.mkdtemp(prefix="bench-kuailive-"))

    def stage(name, work):
        with PeakRSS() as memory:
            start = time.perf_counter()
            value = work()
            seconds = time.perf_counter() - start
        results[name] = (seconds, memory.peak)
        return value

    spec = KuaiLiveSpec(scale=scale, seed=0)
    rows = stage("generate", lambda: generate_kuailive(folder, spec))
    data = stage("load", lambda: load_kuailive(folder))

    def features():
        table = build_features(data)
        table.frame["split"] = assign_split(table.frame["day"].to_numpy(), val_days=7, test_days=7)
        return PreparedData(table.frame, table.feature_columns, folder, "bench", "bench", False)

    prepared = stage("features", features)
    config = GBDTConfig(num_threads=threads, seed=0)
    models = stage("train", lambda: fit_gift_models(prepared, config))

    def evaluate():
        scores = score_test(prepared, models)
        methods = two_stage.method_scores(scores)
        two_stage.evaluate_methods(scores.y, methods, ndcg_k=100, whale_quantile=0.9)
        draws = two_stage.resampled_draws(scores.y, methods, ndcg_k=100, n_boot=n_boot, seed=0)
        two_stage.interval_table(scores.y, methods, draws, ndcg_k=100)

    stage("evaluate", evaluate)
    stage("leakage audit", lambda: kuailive_audit.leakage_audit(data, prepared.frame, prepared.feature_columns, leaky=False,
                                                            max_single_feature_auc=0.95))
    return {"scale": scale, "clicks": rows["click"], "gifts": rows["gift"],
            "stages": results, "total_s": sum(s for s, _ in results.values()),
            "peak_mib": max(m for _, m in results.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="0.1,1.0", help="comma-separated data scales (1.0 = 4.9M clicks)")
    parser.add_argument("--n-boot", type=int, default=100, help="bootstrap replicates in the evaluation stage")
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)  # internal: measure one scale, print JSON
    parser.add_argument("--smoke", action="store_true", help="a tiny scale, seconds: checks the bench still runs")
    args = parser.parse_args()
    if args.smoke:
        args.scales, args.n_boot = "0.01", 5
    if args.one is not None:
        print(json.dumps(measure_one_scale(args.one, args.n_boot, args.threads)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    rows = []
    for scale in (float(s) for s in args.scales.split(",")):
        output = subprocess.run([sys.executable, __file__, "--one", str(scale), "--n-boot", str(args.n_boot),
                                 "--threads", str(args.threads)], capture_output=True, text=True, env=env, check=True)
        rows.append(json.loads(output.stdout.strip().splitlines()[-1]))
    print(f"two_stage_diagnosis pipeline, {os.cpu_count()} CPUs, {args.threads} LightGBM threads, "
          f"n_boot={args.n_boot}; seconds / peak RSS (MiB) per stage\n")
    print("| scale | clicks | gifts | " + " | ".join(STAGES) + " | total | peak |")
    print("|---" * (len(STAGES) + 5) + "|")
    for row in rows:
        cells = [f"{row['stages'][s][0]:.1f} s / {row['stages'][s][1]:,.0f}" for s in STAGES]
        print(f"| {row['scale']} | {row['clicks']:,} | {row['gifts']:,} | " + " | ".join(cells)
              + f" | {row['total_s']:.1f} s | {row['peak_mib']:,.0f} MiB |")


if __name__ == "__main__":
    main()
