"""The site as it grows: no-op `make book`, sweep parallelism, and the book build as the history grows.

    python bench/bench_store.py                 # all three tables (a few minutes on 2 cores)
    python bench/bench_store.py --growth-only   # only the last: 10, 200 and 1,000 runs

Everything happens in a temporary folder (its own run store, notebooks and book), via the same
CLI `make book` calls. Runs beyond the first executions are copies of a real executed run with
new ids and parameters: the book build cost depends on the pages, not on how they were computed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.helpers import NOTEBOOKS, example_experiment, fixture_notebook, smoke_sizes, with_defaults  # noqa: E402


def cli(*args: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "expbook", *args], cwd=ROOT, env={**os.environ, **env}, check=True,
                   capture_output=True, text=True)
    return time.perf_counter() - start


def clone_runs(store: Path, experiment: str, count: int, start: int = 0) -> None:
    """Add ``count`` variant runs of ``experiment`` by copying its first run with new ids and seeds."""
    source = next(p for p in sorted((store / experiment).iterdir()) if (p / "results.json").is_file())
    for i in range(start, start + count):
        run_id = f"20260101T{i // 3600:02d}{i // 60 % 60:02d}{i % 60:02d}000Z-bench{i:04d}"
        target = store / experiment / run_id
        shutil.copytree(source, target)
        results = json.loads((target / "results.json").read_text())
        results["run_id"], results["overrides"] = run_id, {"seed": 1000 + i}
        results["params"]["seed"] = 1000 + i
        (target / "results.json").write_text(json.dumps(results))


def book_env(tmp: Path, name: str) -> dict[str, str]:
    """A book folder with every hand-written page the site needs (the list the site checks, not a copy of it)."""
    from expbook.site.collect import HAND_WRITTEN

    book = tmp / name
    for page in HAND_WRITTEN:
        (book / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "book" / page, book / page)
    return {"EXPBOOK_BOOK_DIR": str(book)}


def growth(tmp: Path, notebooks: Path, sizes: tuple[int, ...] = (10, 200, 1000)) -> None:
    """The book build of one experiment's history of N runs: the first (full) build, the build after one more run,
    and the no-op, with the budgets of issue 22 as ratios within this one bench run."""
    rows = {}
    for total in sizes:
        store = tmp / f"grow_{total}"
        shutil.copytree(tmp / "runs" / "exp0", store / "exp0", ignore=lambda d, names: [n for n in names if "bench" in n])
        clone_runs(store, "exp0", total - 1)
        grow_env = {"EXPBOOK_RUNS": str(store), "EXPBOOK_NOTEBOOKS": str(notebooks), **book_env(tmp, f"book_{total}")}
        full = cli("book", env=grow_env)
        clone_runs(store, "exp0", 1, start=total)
        one_more = cli("book", env=grow_env)
        noop = min(cli("book", env=grow_env) for _ in range(3))
        rows[total] = (full, one_more, noop)
        print(f"| {total} | {full:.1f} s | {one_more:.1f} s | {noop:.2f} s |", flush=True)
    small, big = min(sizes), max(sizes)
    mid = sorted(sizes)[len(sizes) // 2]
    checks = [(f"after one more run at {big} ≤ 2 × full build at {small}", rows[big][1] / rows[small][0], 2.0),
              (f"full build per run at {big} ≤ per run at {mid}", (rows[big][0] / big) / (rows[mid][0] / mid), 1.0),
              (f"no-op at {big} ≤ 1.2 × no-op at {small}", rows[big][2] / rows[small][2], 1.2)]
    print("\n| budget | ratio | within |\n|---|---|---|")
    for name, ratio, limit in checks:
        print(f"| {name} | {ratio:.2f} | {'yes' if ratio <= limit else 'NO'} |")


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--growth-only", action="store_true", help="only the table of the history's growth")
    parser.add_argument("--smoke", action="store_true", help="histories of 2 and 4 runs, no sweep: checks it runs")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    notebooks = tmp / "notebooks"
    for i in range(5):
        fixture_notebook(notebooks, f"exp{i}", title=f"Experiment {i}")
    env = {"EXPBOOK_RUNS": str(tmp / "runs"), "EXPBOOK_NOTEBOOKS": str(notebooks), **book_env(tmp, "book5")}
    cli("run", "--all", "-q", env=env)
    if not args.growth_only and not args.smoke:
        # 1. five experiments, fifty runs: first `make book`, then a no-op one
        for i in range(5):
            clone_runs(tmp / "runs", f"exp{i}", 9)
        first = cli("build", "-q", env=env)
        noop = min(cli("build", "-q", env=env) for _ in range(3))
        print("| store | first `make book` | no-op `make book` (`expbook build`) |\n|---|---|---|")
        print(f"| 5 experiments, 50 runs | {first:.1f} s | {noop:.2f} s |\n")

        # 2. a sweep of 4 smoke-size variants of the example experiment on 1 and 2 local processes
        real, example = tmp / "real_notebooks", example_experiment()
        source = NOTEBOOKS / f"{example}.ipynb"
        with_defaults(source, real / source.name, smoke_sizes(source))
        rows = []
        for jobs in (1, 2):
            sweep_env = {"EXPBOOK_RUNS": str(tmp / f"sweep_runs_{jobs}"), "EXPBOOK_NOTEBOOKS": str(real)}
            rows.append((jobs, cli("sweep", example, "-p", "seed", "1,2,3,4", "-j", str(jobs), env=sweep_env)))
        print(f"| sweep: 4 smoke-size {example} variants | wall time |\n|---|---|")
        for jobs, seconds in rows:
            print(f"| -j {jobs} | {seconds:.1f} s |")
        print()

    # 3. the book build as one experiment's history grows
    print("| runs in the store | full book build | after one more run | no-op rebuild |\n|---|---|---|---|")
    growth(tmp, notebooks, (2, 3, 4) if args.smoke else (10, 200, 1000))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
