"""Do the KuaiLive intervals cover another seed's result? Row bootstrap, user bootstrap and seed t-interval.

    python bench/bench_interval_coverage.py                 # 5 seeds at scale 0.1, 200 replicates
    python bench/bench_interval_coverage.py --seeds 3 --scale 0.05
    python bench/bench_interval_coverage.py --controlled       # seconds: the bounded t-interval at 2, 3 and 5 seeds
                                                              # and the seeds × users interval of the seqrec steps

``--controlled`` draws per-seed values of a measure in [0, 1] (Beta distributions near 0, in the middle and near 1,
as a distance or a capture behaves) and prints how often the reports' interval (``bounded_t_interval``: the
t-interval over seeds intersected with the range, widened by the arcsine-square-root one) covers the true mean at
2, 3 and 5 seeds, beside the plain t-interval's coverage and how often the plain one left the range.

``--controlled`` also checks ``CrossedTEstimate``, the interval of the sequential-recommender report's step verdicts:
per-user differences d_su = μ + a_s + b_u + e_su over 2, 3 and 5 seeds of the same 671 users, with a seed effect
a_s (training luck that lifts every user) from none to dominant, and skewed user effects (most users' NDCG@10
differences are zero, a few are large). It prints its coverage of μ beside the paired t-test over users on the
seed-averaged differences, which ignores a_s.

Each seed re-generates the data and retrains the models (as ``make run ... P="seed=N"`` does). For Top-1%
capture and RevCap@1% of Direct and Two-Stage, every seed's 95% interval — from resampling click rows, and
from resampling whole users — is checked against the *other* seeds' point estimates. An interval that
reflects the real uncertainty of a report should cover most of them; one that only reflects row noise
will not. The reports' own interval, the t-interval over three seeds (seeds s, s+1, s+2, cyclically), is
checked against the seeds outside its three. Prints the share covered per interval kind, metric and method.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd


def controlled(reps: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Coverage of the reports' interval of a mean over n seeds of a measure in [0, 1] (``bounded_t_interval``,
    as ``TEstimate(bounds=(0, 1))`` gives it) on Beta draws with a known mean, beside the plain t-interval."""
    import numpy as np
    from scipy import stats

    from expbook.metrics.estimates import bounded_t_interval

    rng = np.random.default_rng(seed)
    rows = []
    for a, b in ((1.0, 12.0), (4.0, 40.0), (4.0, 4.0), (40.0, 4.0), (12.0, 1.0)):  # skewed, moderate, symmetric
        truth = a / (a + b)
        for n in (2, 3, 5):
            draws = rng.beta(a, b, size=(reps, n))
            mean, sd = draws.mean(axis=1), draws.std(axis=1, ddof=1)
            half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)
            low, high = bounded_t_interval(draws, (0.0, 1.0))
            rows.append({"true mean": round(truth, 3), "seeds": n, "coverage": float(np.mean((low <= truth) & (truth <= high))),
                         "plain t coverage": float(np.mean((mean - half <= truth) & (truth <= mean + half))),
                         "unclipped left [0, 1]": float(np.mean((mean - half < 0) | (mean + half > 1))),
                         "mean width": float(np.mean(high - low))})
    return pd.DataFrame(rows)


def crossed(reps: int = 4_000, users: int = 671, seed: int = 0) -> pd.DataFrame:
    """Coverage of ``CrossedTEstimate``'s 95% interval of μ, beside the paired t-interval over users (seeds averaged)."""
    import numpy as np
    from scipy import stats

    from expbook.metrics.estimates import CrossedTEstimate

    rng = np.random.default_rng(seed)
    rows = []
    for seed_sd in (0.0, 0.002, 0.006):  # the user part's standard error is about 0.0017 at 671 users
        for n in (2, 3, 5):
            covered = plain = 0
            widths = []
            for _ in range(reps):
                # sparse and skewed user effects, mean 0 over the population the users are drawn from
                user = rng.standard_exponential(users) * (rng.random(users) < 0.15) * 0.08 - 0.15 * 0.08
                noise = rng.normal(0, 0.05, (n, users)) * (rng.random((n, users)) < 0.3)
                table = 0.01 + rng.normal(0, seed_sd, (n, 1)) + user[None, :] + noise
                e = CrossedTEstimate.of(table)
                low, high = e.interval()
                covered += low <= 0.01 <= high
                widths.append(high - low)
                averaged = table.mean(axis=0)
                half = stats.t.ppf(0.975, users - 1) * averaged.std(ddof=1) / np.sqrt(users)
                plain += averaged.mean() - half <= 0.01 <= averaged.mean() + half
            rows.append({"seed sd": seed_sd, "seeds": n, "coverage": covered / reps, "users-only coverage": plain / reps,
                         "mean width": float(np.mean(widths))})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controlled", action="store_true", help="only the controlled-input coverage table")
    parser.add_argument("--smoke", action="store_true", help="the controlled table on few repetitions (seconds)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--n-boot", type=int, default=200)
    args = parser.parse_args()
    reps = 500 if args.smoke else 20_000
    table = controlled(reps=reps)
    print(f"The reports' interval of a bounded measure over seeds, nominal 95% (Beta draws, {reps:,} "
          "repetitions each)\n")
    print("| true mean | seeds | coverage | plain t-interval's coverage | plain t-interval left [0, 1] | mean width |\n"
          "|---|---|---|---|---|---|")
    for row in table.to_dict("records"):
        print(f"| {row['true mean']:.3f} | {row['seeds']} | {row['coverage']:.1%} | {row['plain t coverage']:.1%} "
              f"| {row['unclipped left [0, 1]']:.0%} | {row['mean width']:.3f} |")
    print(f"\nworst coverage {table['coverage'].min():.1%} (nominal 95%; the bar is 90%)")
    crossed_table = crossed(reps=200 if args.smoke else 4_000)
    print("\nThe seeds × users interval of the sequential-recommender steps (CrossedTEstimate), nominal 95%, "
          "671 users\n")
    print("| seed effect sd | seeds | coverage | paired t over users (seeds averaged) | mean width |\n|---|---|---|---|---|")
    for row in crossed_table.to_dict("records"):
        print(f"| {row['seed sd']:.3f} | {row['seeds']} | {row['coverage']:.1%} | {row['users-only coverage']:.1%} "
              f"| {row['mean width']:.4f} |")
    print(f"\nworst coverage {crossed_table['coverage'].min():.1%} (the bar is 90%)")
    if args.controlled or args.smoke:
        return

    from expbook.data.kuailive_synth import KuaiLiveSpec
    from expbook.experiments import two_stage_diagnosis as two_stage
    from expbook.experiments.kuailive_pipeline import fit_gift_models, prepare, score_split
    from expbook.metrics.bootstrap import bootstrap_metrics
    from expbook.metrics.estimates import TEstimate
    from expbook.metrics.ranking import revenue_capture_at_k, top_k_capture
    from expbook.models.gbdt import GBDTConfig

    metrics = {"top1%_capture": lambda t, s: top_k_capture(t, s, 0.01),
               "revcap@1%": lambda t, s: revenue_capture_at_k(t, s, 0.01)}
    rows = []
    for seed in range(args.seeds):
        start = time.perf_counter()
        data = prepare(None, KuaiLiveSpec(scale=args.scale, seed=seed), leaky=False, val_days=7, test_days=7)
        scores = score_split(data, fit_gift_models(data, GBDTConfig(seed=seed)), "test")
        methods = {m: s for m, s in two_stage.method_scores(scores).items() if m in ("Direct", "Two-Stage")}
        for kind, clusters in (("rows", None), ("users", scores.users)):
            table = bootstrap_metrics(scores.y, methods, metrics, n_boot=args.n_boot, seed=seed, clusters=clusters)
            rows += [{**r, "seed": seed, "bootstrap": kind} for r in table.to_dict("records")]
        print(f"seed {seed}: {scores.y.size:,} test clicks, {len(set(scores.users)):,} users "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    table = pd.DataFrame(rows)
    points = table[table["bootstrap"] == "rows"].set_index(["seed", "method", "metric"])["point"]
    covered = []
    for row in table.to_dict("records"):
        others = points.xs((row["method"], row["metric"]), level=("method", "metric")).drop(row["seed"])
        covered.append({"bootstrap": row["bootstrap"], "method": row["method"], "metric": row["metric"],
                        "covered": ((others >= row["ci_low"]) & (others <= row["ci_high"])).mean(),
                        "width": row["ci_high"] - row["ci_low"]})
    by_seed = points.unstack(["method", "metric"])
    for seed in range(args.seeds):
        group = [(seed + i) % args.seeds for i in range(3)]
        rest = [s for s in range(args.seeds) if s not in group]
        for method, metric in by_seed.columns:
            ci, others = TEstimate.of(by_seed.loc[group, (method, metric)], "seeds"), by_seed.loc[rest, (method, metric)]
            low, high = ci.interval()
            covered.append({"bootstrap": "3 seeds (t)", "method": method, "metric": metric,
                            "covered": ((others >= low) & (others <= high)).mean(), "width": high - low})
    summary = pd.DataFrame(covered).groupby(["metric", "method", "bootstrap"]).mean()
    spread = points.groupby(level=("method", "metric")).agg(["min", "max"])
    print(f"\nShare of the other seeds' point estimates inside each seed's 95% interval "
          f"({args.seeds} seeds, scale {args.scale}, {args.n_boot} replicates)\n")
    print("| metric | method | interval | other seeds covered | mean interval width |")
    print("|---|---|---|---|---|")
    for (metric, method, kind), row in summary.iterrows():
        print(f"| {metric} | {method} | {kind} | {row['covered']:.0%} | {row['width']:.3f} |")
    print("\n| method | metric | point estimates over seeds (min – max) |\n|---|---|---|")
    for (method, metric), row in spread.iterrows():
        print(f"| {method} | {metric} | {row['min']:.3f} – {row['max']:.3f} |")


if __name__ == "__main__":
    main()
