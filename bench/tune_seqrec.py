"""Tune the transformer on validation only: train configurations with early stopping, print validation NDCG@10.

    python bench/tune_seqrec.py "dim=64,learning_rate=0.002" "dim=64,loss=full_softmax,norm_first=True"
    python bench/tune_seqrec.py --max-epochs 40 "dim=32,dropout=0.5"
    python bench/tune_seqrec.py --fixed --max-epochs 60 "learning_rate=0.003"   # a fixed-epoch rung's plateau

Each argument is a set of ``SeqConfig`` fields over the defaults (early stopping on, ``--patience``, one torch
thread), trained on the packaged MovieLens data with every training window. Prints one JSON line per
configuration: the epoch kept, seconds per epoch and the best validation NDCG@10. Test data is never scored,
so nothing printed here can steer a choice towards the test set.

``--fixed`` trains without early stopping (a fixed-epoch rung) and prints the validation curve and, for each
epoch E, whether a rung stopped at E would pass the report's plateau check (its last three epochs within noise:
the paired gain over users of epoch E over epoch E − 2 is not significant): the earliest E from which every later
epoch passes is the fewest epochs the check accepts.
"""

from __future__ import annotations

import argparse
import ast
import json
import time


def parse(spec: str) -> dict:
    fields = {}
    for part in filter(None, spec.split(",")):
        name, value = part.split("=", 1)
        try:
            fields[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            fields[name] = value
    return fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--held-out", type=int, default=4, help="events held out of training, as the report's held_out")
    parser.add_argument("--fixed", action="store_true", help="no early stopping: the curve and the plateau check per epoch")
    parser.add_argument("--smoke", action="store_true", help="200 users, 2 epochs, dim 16: checks the bench still runs")
    args = parser.parse_args()

    from expbook.data.movielens import load_packaged_movielens
    from expbook.data.sequences import build_sequences
    from expbook.models.sasrec import SeqConfig, train_sasrec

    if args.smoke:
        args.max_epochs, args.max_len = 3, 20
    data = build_sequences(load_packaged_movielens(), max_len=args.max_len, max_users=200 if args.smoke else None,
                           held_out=args.held_out)
    for spec in args.configs:
        fields = {**({"dim": 16} if args.smoke else {}), **parse(spec)}
        config = SeqConfig(**{"epochs": args.max_epochs, "patience": args.patience, "early_stopping": not args.fixed,
                              "num_threads": 1, **fields})
        start = time.perf_counter()
        trained = train_sasrec(data, config)
        line = {**fields, "epoch_kept": trained.best_epoch, "epochs_run": len(trained.curves),
                "s_per_epoch": round(trained.seconds_per_epoch, 2), "seconds": round(time.perf_counter() - start),
                "val_ndcg@10": round(float(trained.curves["val_ndcg@10"].max()), 4)}
        if args.fixed:
            from expbook.experiments.seqrec_upgrades import last_epochs_gain

            passes = [epoch >= 3 and last_epochs_gain(trained.val_ranks[:epoch], 0.05)[1][0] <= 0
                      for epoch in range(1, len(trained.curves) + 1)]
            failing = [epoch for epoch, ok in enumerate(passes, start=1) if not ok]
            line.update({"curve": [round(v, 4) for v in trained.curves["val_ndcg@10"]],
                         "plateau_from_epoch": (failing[-1] + 1) if failing else 1,
                         "epochs_still_rising": [e for e in failing if e >= 3]})
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
