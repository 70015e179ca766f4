"""How well a build packs the cores: the experiments phase of `run --all --force` against the CPU time it used.

    python bench/bench_parallel_book.py            # every notebook at its default size (a cold `make book`'s runs)
    python bench/bench_parallel_book.py --smoke    # two trivial notebooks (seconds): checks the bench still runs

With the trainings of every report on one shared cluster, a core freed by a finished report goes to the reports
still running, so the wall time of the phase should approach (CPU seconds of every process) / cores. The budget
is ≤ 1.05 × that bound. The notebooks are whatever `notebooks/` holds; each run gets its own temporary run store
and a pre-warmed data cache (generated data built once, before timing), through the CLI `make book` calls.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.helpers import NOTEBOOKS, fixture_notebook, with_defaults  # noqa: E402

BUDGET = 1.05


def run_all(env: dict[str, str]) -> tuple[float, float, float]:
    """(wall of the whole command, wall of its experiments phase, CPU seconds of every process it started)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "expbook", "run", "--all", "--force", "-q"], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"run --all failed:\n{done.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    phase = float(re.search(r"experiments phase: ([\d.]+) s", done.stderr).group(1))
    return wall, phase, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="two trivial notebooks: checks the bench still runs")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-parallel-"))
    notebooks = tmp / "notebooks"
    if args.smoke:
        for name in ("first", "second"):
            fixture_notebook(notebooks, name)
    else:
        for path in sorted(NOTEBOOKS.glob("*.ipynb")):
            with_defaults(path, notebooks / path.name, {})
    env = {"EXPBOOK_NOTEBOOKS": str(notebooks), "EXPBOOK_CACHE": str(tmp / "cache")}
    if not args.smoke:
        run_all({**env, "EXPBOOK_RUNS": str(tmp / "warm")})  # generated data and feature caches, not timed
    wall, phase, cpu = run_all({**env, "EXPBOOK_RUNS": str(tmp / "runs")})
    cores = os.cpu_count() or 1
    bound = cpu / cores
    print(f"\n`run --all --force` of {len(list(notebooks.glob('*.ipynb')))} notebooks "
          f"({'trivial' if args.smoke else 'default'} sizes), {cores} cores, warm data cache\n")
    print("| experiments phase (wall) | CPU seconds, every process | CPU / cores | phase ÷ (CPU / cores) | budget |")
    print("|---|---|---|---|---|")
    print(f"| {phase:.0f} s | {cpu:.0f} s | {bound:.0f} s | {phase / bound:.2f} | ≤ {BUDGET} |")
    print(f"\n(whole command {wall:.0f} s, the Dask cluster's start and stop included)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
