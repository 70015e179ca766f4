"""CPU seconds of the sequential-recommender ladder with the report's defaults, per rung, and the share of this
machine's matrix-product rate that training reaches at the report's shapes.

    python bench/bench_seqrec.py                            # the notebook's default parameters, 2 worker processes
    python bench/bench_seqrec.py --set seeds=[0] --set held_out=0    # other parameters
    python bench/bench_seqrec.py --workers 1

Reads the defaults from the parameters cell of notebooks/seqrec_upgrades.ipynb, so it measures what the report
runs. Each epoch includes the full-ranking validation pass (every user × every item). Every training has one
torch thread; ``--workers`` trainings run side by side, as in the report.

First it times single-thread matrix products at the report's shapes (the transformer's (batch·length × d) by
(d × 3d) projection in float32, and the full softmax's (256 × d) by (d × items) in float32 and bfloat16): the
machine's rate. Then, per rung: seconds per epoch, epochs, the floating-point work of an epoch from the model's
shapes (forward and backward ≈ 3× the forward's multiply-adds, ×2 flops each), and that work's rate as a share of
the float32 product rate. Prints Markdown tables and the total CPU seconds (this process and its workers).
"""

from __future__ import annotations

import argparse
import ast
import resource
import time
from pathlib import Path


def product_rate(m: int, k: int, n: int, dtype) -> float:
    """GFLOP/s of one thread on an (m × k) by (k × n) product."""
    import torch

    torch.set_num_threads(1)
    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    for _ in range(3):
        a @ b
    repeats, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.5:
        a @ b
        repeats += 1
    return 2 * m * k * n * repeats / (time.perf_counter() - start) / 1e9


def epoch_gflop(config, data) -> float:
    """Floating-point work of one training epoch: every window position through every layer (projections 4d²,
    feed-forward 4d², attention 2·L·d multiply-adds), plus the loss's products, forward and backward (× 3), × 2."""
    positions, length = data.windows.size, data.windows.shape[1]
    d, targets = config.dim, int((data.window_targets > 0).sum())
    per_position = config.layers * (8 * d * d + 2 * length * d)
    batches = -(-data.windows.shape[0] // config.batch_size)
    if config.loss == "full_softmax":
        loss = targets * data.n_items * d
    elif config.loss == "infonce_in_batch":
        loss = batches * config.infonce_positions * (config.infonce_positions + config.uniform_negatives) * d
    else:
        loss = targets * 2 * d
    return 2 * 3 * (positions * per_position + loss) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="the notebook's smoke sizes: checks the bench still runs")
    args = parser.parse_args()

    import torch

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
    for assignment in args.set:
        name, value = assignment.split("=", 1)
        p[name] = ast.literal_eval(value)
    start = time.perf_counter()
    data = build_sequences(load_packaged_movielens(), max_len=p["max_len"], max_users=p.get("max_users"),
                           max_windows=p["max_windows"], held_out=p.get("held_out", 0))
    print(f"\nload + sequences: {time.perf_counter() - start:.1f} s; {data.n_users} users, {data.n_items:,} items, "
          f"{data.windows.shape[0]:,} training windows, {int((data.window_targets > 0).sum()):,} training targets; "
          f"seeds {p['seeds']}, epochs {p['epochs']}, early-stopping cap {p['max_epochs']}\n")
    rows = p["batch_size"] * p["max_len"]
    rates = {"transformer projection, float32": product_rate(rows, p["dim"], 3 * p["dim"], torch.float32),
             "full softmax, float32": product_rate(256, p["dim"], data.n_items + 1, torch.float32),
             "full softmax, bfloat16": product_rate(256, p["dim"], data.n_items + 1, torch.bfloat16)}
    print("| one-thread product at the report's shapes | GFLOP/s |\n|---|---|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:.0f} |")
    base = SeqConfig(epochs=p["epochs"], patience=p["patience"], dim=p["dim"], heads=p["heads"], layers=p["layers"],
                     dropout=p["dropout"], learning_rate=p["learning_rate"], batch_size=p["batch_size"],
                     warmup_fraction=p["warmup_fraction"], exclude_seen=p["exclude_seen"])
    rungs = seqrec.ladder(base, max_epochs=p["max_epochs"], temperature=p["temperature"],
                          logq_correction=p["logq_correction"], uniform_negatives=p["uniform_negatives"])
    shared = seqrec.shared_trainings(rungs)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    runs = seqrec.run_ladder(data, rungs, p["seeds"], workers=args.workers)
    wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
              for before, after in zip(cpu_before, cpu_after, strict=True))
    reference_rate = rates["transformer projection, float32"]
    print("\n| rung | seed | s / epoch (train + validation) | epochs run | epoch kept | training s | GFLOP / epoch "
          "| share of the float32 product rate | validation NDCG@10 |\n|---|---|---|---|---|---|---|---|---|")
    total = 0.0
    for r in runs:
        if r.rung in shared:
            print(f"| {r.rung} | {r.seed} | read off '{shared[r.rung]}' | {r.metrics['epochs_run']} | "
                  f"{r.metrics['best_epoch']} | 0 | — | — | {r.metrics['val_ndcg@10']:.4f} |")
            continue
        seconds = r.metrics["seconds_per_epoch"] * r.metrics["epochs_run"]
        total += seconds
        gflop = epoch_gflop(rungs[r.rung], data)
        print(f"| {r.rung} | {r.seed} | {r.metrics['seconds_per_epoch']:.2f} | {r.metrics['epochs_run']} | "
              f"{r.metrics['best_epoch']} | {seconds:.0f} | {gflop:.0f} | "
              f"{gflop / r.metrics['seconds_per_epoch'] / reference_rate:.0%} | {r.metrics['val_ndcg@10']:.4f} |")
    print(f"\ntraining: {total:.0f} s of single-thread work in {wall:.0f} s wall with {args.workers} workers; "
          f"{cpu:.0f} CPU seconds in all (this process and its workers)")
    plateau = seqrec.plateau_table(runs, rungs, alpha=0.05)
    if len(plateau):
        print(f"trainings that ran to their cap and were still rising at their last epoch (the report's check): "
              f"{int((plateau['state'] == 'still rising').sum())} of {len(plateau)}")


if __name__ == "__main__":
    main()
