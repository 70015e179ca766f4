"""What `expbook run` costs on top of plain papermill, on a notebook that does almost nothing.

    python bench/bench_run_overhead.py [-n 7]

Both commands execute the tests' fixture notebook (three small cells and a `record` call) in a fresh process on
the `expbook` kernel: `python -m expbook run fixture --force -q` (validation, keys, provenance, the store) and
`python -m papermill` on the same notebook. They alternate, A B A B …, after one warm-up each, so a drift of the
machine's speed hits both; the table gives each one's median and the median of the pairwise ratios. Budget: the
ratio ≤ 1.1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.helpers import fixture_notebook  # noqa: E402

BUDGET = 1.1


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=7, help="timed pairs")
    parser.add_argument("--smoke", action="store_true", help="one pair: checks the bench still runs")
    args = parser.parse_args()
    if args.smoke:
        args.n = 1
    tmp = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    notebook = fixture_notebook(tmp / "notebooks")
    env = {"EXPBOOK_NOTEBOOKS": str(tmp / "notebooks"), "EXPBOOK_RUNS": str(tmp / "runs"),
           "EXPBOOK_RUN_DIR": str(tmp / "scratch")}
    expbook = [sys.executable, "-m", "expbook", "run", "fixture", "--force", "-q"]
    papermill = [sys.executable, "-m", "papermill", str(notebook), str(tmp / "out.ipynb"), "-k", "expbook",
                 "--log-level", "ERROR", "--no-progress-bar"]
    run_env = {k: v for k, v in env.items() if k != "EXPBOOK_RUN_DIR"}
    timed(expbook, run_env), timed(papermill, env)  # warm-up: caches, bytecode
    pairs = [(timed(expbook, run_env), timed(papermill, env)) for _ in range(args.n)]
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    ratio = statistics.median(x / y for x, y in pairs)
    print(f"\ntrivial notebook, {args.n} pairs, {os.cpu_count()} cores\n")
    print("| `expbook run` (median) | plain papermill (median) | ratio (median of pairs) | budget |\n|---|---|---|---|")
    print(f"| {statistics.median(a):.2f} s | {statistics.median(b):.2f} s | {ratio:.2f} | ≤ {BUDGET} |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
