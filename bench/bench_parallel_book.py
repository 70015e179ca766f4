"""Wall time of `run --all --force` with -j 1 and -j 2: what running whole experiments side by side saves.

    python bench/bench_parallel_book.py            # the five real notebooks at their default sizes (~20 min)
    python bench/bench_parallel_book.py --tiny     # the test suite's tiny sizes (a couple of minutes)

Each setting runs into its own temporary run store with the same notebooks and a shared, pre-warmed data cache
(generated data is built once, before timing), via the same CLI `make book` calls.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.helpers import TINY, TINY_ECG, TINY_GNN, TINY_RERANK, TINY_SEQ, with_defaults  # noqa: E402

TINY_SIZES = {"two_stage_diagnosis": TINY, "recall_rerank": TINY_RERANK, "class_imbalance_repair": TINY_ECG,
              "gnn_turnover_v6": TINY_GNN, "seqrec_upgrades": TINY_SEQ}


def run_all(jobs: int, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "expbook", "run", "--all", "--force", "-q", "-j", str(jobs)], cwd=ROOT,
                   env={**os.environ, **env}, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny notebook sizes")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-parallel-"))
    notebooks = tmp / "notebooks"
    for name, tiny in TINY_SIZES.items():
        with_defaults(ROOT / "notebooks" / f"{name}.ipynb", notebooks / f"{name}.ipynb", tiny if args.tiny else {})
    env = {"EXPBOOK_NOTEBOOKS": str(notebooks), "EXPBOOK_CACHE": str(tmp / "cache")}
    run_all(2, {**env, "EXPBOOK_RUNS": str(tmp / "warm")})  # generated data and feature caches, not timed
    times = {jobs: run_all(jobs, {**env, "EXPBOOK_RUNS": str(tmp / f"runs_j{jobs}")}) for jobs in (1, 2)}
    print(f"\n`run --all --force` of the five notebooks ({'tiny' if args.tiny else 'default'} sizes), "
          f"{os.cpu_count()} cores, warm data cache\n")
    print("| jobs | wall time | vs -j 1 |\n|---|---|---|")
    for jobs, seconds in times.items():
        print(f"| -j {jobs} | {seconds:.0f} s | {seconds / times[1]:.0%} |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
