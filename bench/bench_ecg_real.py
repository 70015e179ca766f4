"""The heartbeat models on real MIT-BIH DS1 records, by patient-wise cross-validation (DS2 is never read).

    python bench/bench_ecg_real.py --data ../shared/data/mitdb-ds1        # reference model, LOPO, + generated DS1
    EXPBOOK_MITDB_DS1=../shared/data/mitdb-ds1 python bench/bench_ecg_real.py
    python bench/bench_ecg_real.py --data DIR --cnn                      # and the CNN's configurations, 5 patient folds
    python bench/bench_ecg_real.py --data DIR --cnn --configs "sampler only"   # one of them
    python bench/bench_ecg_real.py --smoke                               # generated records only, tiny: checks it runs

Every figure is measured on DS1 alone: each patient is held out once (leave-one-patient-out for the reference
model; ``--folds`` patient folds for the CNN), the model fitted on the other patients, and the held-out patients'
predictions pooled. S and V sensitivity and PPV come with a 95% interval from resampling whole patients (their
per-record confusion matrices), the sampling unit of the inter-patient protocol.

The same reference model on generated DS1 (the generator's defaults, patient folds too) is the generator's
calibration: its figures, averaged over ``--gen-seeds`` draws of the generated patients (one draw of 22 patients
varies as much as the real DS1 would: V sensitivity ± 0.2 between draws), should match the real records' within
±0.05 (book/data.md keeps both).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"S sensitivity": 0.70, "S PPV": 0.30, "V sensitivity": 0.80, "V PPV": 0.75}  # the literature's DS2 level


def scores_with_intervals(y: np.ndarray, predicted: np.ndarray, records: np.ndarray, *, n_boot: int = 2000,
                          seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """S/V sensitivity and PPV: (point, low, high), the interval from a bootstrap over patients."""
    from expbook.metrics import classification as cls
    from expbook.metrics.bootstrap import cluster_sums, percentile_interval

    _, index = np.unique(records, return_inverse=True)
    per_record = cls.confusion(y, predicted, 4, groups=index).astype(float)
    draws = cluster_sums(per_record, n_boot=n_boot, seed=seed)
    total = per_record.sum(axis=0)
    out = {}
    for name, k in (("S", 1), ("V", 2)):
        for measure, fn in (("sensitivity", cls.recall), ("PPV", lambda m: cls.precision(m, zero_division=np.nan))):
            point = float(fn(total)[k])
            low, high = percentile_interval(fn(draws)[:, k])
            out[f"{name} {measure}"] = (point, low, high)
    return out


def row(label: str, scores: dict, seconds: float) -> str:
    cells = [f"{p:.2f} [{lo:.2f}, {hi:.2f}]" for p, lo, hi in scores.values()]
    return f"| {label} | " + " | ".join(cells) + f" | {seconds:.0f} s |"


def reference(folder: Path, records: list[str], label: str, *, variants: bool = False) -> tuple[list[str], dict]:
    """The reference model by leave-one-patient-out (and, with ``variants``, the feature sets and models tried)."""
    import warnings

    from expbook.features.ecg import COLUMNS, REFERENCE, load_features
    from expbook.models.ecg_reference import cross_validated_predictions, patient_folds

    warnings.filterwarnings("ignore", category=UserWarning)
    beats = load_features(folder, records)
    counts = np.bincount(beats.y, minlength=4)
    print(f"{label}: {len(records)} patients, N/S/V/O beats {' / '.join(f'{c:,}' for c in counts)}", flush=True)
    tried = {"RR normalised + relative morphology (the reference)": {"columns": REFERENCE}}
    if variants:
        tried.update({
            "RR normalised only": {"columns": COLUMNS["rr_normalised"]},
            "RR (all 8) + morphology as is": {"columns": COLUMNS["rr"] + COLUMNS["morphology"]},
            "RR normalised + morphology as is": {"columns": COLUMNS["rr_normalised"] + COLUMNS["morphology"]},
            "LDA, equal priors: the reference's features": {"columns": REFERENCE, "kind": "lda"},
            "LDA, equal priors: RR normalised only": {"columns": COLUMNS["rr_normalised"], "kind": "lda"}})
    lines, first = [], None
    for name, model in tried.items():
        start = time.perf_counter()
        predicted = cross_validated_predictions(beats, patient_folds(beats.record), **model)
        scores = scores_with_intervals(beats.y, predicted, beats.record)
        first = first or scores
        lines.append(row(f"{label}: {name}", scores, time.perf_counter() - start))
        print(lines[-1], flush=True)
    return lines, first


def report_configs(epochs: int | None = None) -> dict:
    """The report's configurations with the notebook's own default parameters (read from its parameters cell)."""
    from dataclasses import replace

    from expbook.experiments import class_imbalance_repair as ci
    from expbook.models.ecg_cnn import TrainConfig
    from expbook.run.params import read_parameter_specs

    p = {name: spec.default for name, spec in read_parameter_specs(ROOT / "notebooks/class_imbalance_repair.ipynb").items()}
    base = TrainConfig(epochs=epochs or p["epochs"], patience=p["patience"], batch_size=p["batch_size"],
                       learning_rate=p["learning_rate"], early_stop=p["early_stop"])
    configs = ci.standard_configs(base, stacked_max_ratio=p["stacked_max_ratio"], sampler_power=p["sampler_power"],
                                  sampler_max_ratio=p["sampler_max_ratio"], target_mix=tuple(p["target_mix"]),
                                  focal_gamma=p["focal_gamma"], warmup_epochs=p["warmup_epochs"],
                                  final_mix=tuple(p["final_mix"]))
    return {name: replace(config, seed=0) for name, config in configs.items()}


def cnn(folder: Path, records: list[str], folds: int, epochs: int, names: list[str] | None) -> list[str]:
    """The report's configurations on patient folds: train on the other folds' patients (a fifth of them as
    the early-stopping validation, whole records), predict the held-out ones; pooled over folds."""
    from expbook.data.wfdb_beats import load_beats, split_train_val
    from expbook.models.ecg_cnn import train_classifier
    from expbook.models.ecg_reference import patient_folds

    beats = load_beats(folder, records=records)
    configs = report_configs(epochs)
    lines = []
    for name, config in configs.items():
        if names and name not in names:
            continue
        start = time.perf_counter()
        predicted = np.empty(len(beats), dtype=np.int64)
        for held_out in patient_folds(beats.record, folds):
            test = np.isin(beats.record, held_out)
            rest = sorted(set(beats.record[~test]))
            by_record = {r: beats.y[beats.record == r] for r in rest}
            train_records, val_records = split_train_val(rest, by_record, val_fraction=0.2, seed=0)
            train = beats.take(np.isin(beats.record, train_records))
            val = beats.take(np.isin(beats.record, val_records))
            predicted[test] = train_classifier(train, val, config).predict(beats.take(test))
        lines.append(row(f"CNN: {name} ({folds} patient folds)", scores_with_intervals(beats.y, predicted, beats.record),
                         time.perf_counter() - start))
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("EXPBOOK_MITDB_DS1"),
                        help="folder of the real DS1 records (or EXPBOOK_MITDB_DS1)")
    parser.add_argument("--cnn", action="store_true", help="also the CNN's main configurations on patient folds")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the notebook's)")
    parser.add_argument("--configs", nargs="*", help="only these configurations of the report (default: all)")
    parser.add_argument("--gen-seeds", type=int, default=16, help="generated DS1 draws the calibration averages")
    parser.add_argument("--smoke", action="store_true", help="generated records only, 1.5 min each: checks it runs")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    from expbook.data.ecg_synth import EcgSpec, generate_ecg
    from expbook.data.wfdb_beats import DS1

    lines, results = [], {}
    if args.data and not args.smoke:
        available = sorted(p.stem for p in Path(args.data).glob("*.hea"))
        real = [r for r in DS1 if r in available]
        found, results["real"] = reference(Path(args.data), real, "real DS1", variants=True)
        lines += found
    draws = []
    for seed in range(1 if args.smoke else args.gen_seeds):  # the generator's difficulty is a distribution over draws
        generated = Path(tempfile.mkdtemp(prefix="bench-ecg-real-"))
        generate_ecg(generated, EcgSpec(minutes=1.5, seed=seed) if args.smoke else EcgSpec(seed=seed))
        found, scores = reference(generated, list(DS1), f"generated DS1 (defaults, data seed {seed})")
        lines += found if seed == 0 else []
        draws.append([point for point, _, _ in scores.values()])
    draws = np.array(draws)
    results["generated"] = {k: (float(m),) for k, m in zip(TARGETS, draws.mean(axis=0), strict=True)}
    lines.append(f"| generated DS1 (defaults): mean ± sd over {len(draws)} data seeds | "
                 + " | ".join(f"{m:.2f} ± {sd:.2f}" for m, sd in zip(draws.mean(axis=0), draws.std(axis=0, ddof=1)
                                                                    if len(draws) > 1 else np.zeros(4), strict=True))
                 + " | |")
    if args.smoke:  # the CNN path too, on 6 generated patients, one configuration, one epoch
        lines += cnn(generated, list(DS1)[:6], 2, 1, [next(iter(report_configs()))])
    if args.cnn and args.data and not args.smoke:
        lines += cnn(Path(args.data), real, args.folds, args.epochs, args.configs)
    print("\nDS1 only, patient-wise cross-validation; 95% intervals over patients (bootstrap of whole records)\n")
    print("| model | " + " | ".join(TARGETS) + " | time |")
    print("|---|" + "---|" * (len(TARGETS) + 1))
    print("\n".join(lines))
    print("| target: the literature's DS2 level | " + " | ".join(f"≥ {v:.2f}" for v in TARGETS.values()) + " | |")
    if "real" in results:
        gap = {k: results["generated"][k][0] - results["real"][k][0] for k in TARGETS}
        print(f"\ncalibration, generated (mean of {len(draws)} data seeds) − real (reference model; the generator should "
              "be within ±0.05): "
              + ", ".join(f"{k} {v:+.2f}" for k, v in gap.items()))
    pd.set_option("display.width", 200)


if __name__ == "__main__":
    main()
