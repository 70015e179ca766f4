"""Does the progress tell the truth? The ETAs and step counters of the last build, read back from its logs.

    python bench/bench_eta.py                  # the store of this checkout (runs/), after a `make book`
    python bench/bench_eta.py --store DIR      # another store
    python bench/bench_eta.py --smoke          # two tiny notebooks in a temporary store: checks the bench runs

Reads what the build printed, with the timestamps its logs keep:

* every run's ``log.txt`` (the per-cell lines ``exp: cell 9/25 · split 7/25 · … · ETA 4m10s``) against the cells'
  real start and end times (papermill's cell metadata in ``report.ipynb``): for each ETA printed once its cell
  had run 20% of its time, the ratio between the ETA and the time that was really left (of the cell, or of the
  notebook when the ETA covers the notebook); both are floored at 10 s, the cadence of the lines;
* the build's own log (``<store>/.logs/build-*.txt``, the ``build: …`` lines): every build ETA printed after the
  first experiment ended, against the time the build really had left;
* step counters: the longest time a cell's first step counter (``split 7/25``) stayed unchanged, beside the mean
  time of one of its units, leaving out the time its line said "waiting for workers" (the cluster was busy with
  other reports' jobs, none of this run's: no unit of it could complete).

Prints the worst ratio of each kind with the budget of the progress issue (cell ≤ 2×, build ≤ 1.5×) and the
counters that stood still for over 60 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^(\S+Z)  (\S+): (.*)$")
ETA = re.compile(r"ETA (?=\d|<1m)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:<1m)?( for this cell)?")  # not "ETA unknown"
UNDER = 60.0  # "ETA <1m": right while the time left is under a minute, off by (left / 60) beyond
FLOOR = 10.0


def seconds(match: re.Match) -> float | None:
    """The ETA in seconds; None for "<1m" (see ``ratio``)."""
    if match[0].startswith("ETA <1m"):
        return None
    h, m, s = (int(x) if x else 0 for x in match.groups()[:3])
    return h * 3600 + m * 60 + s


def ratio(eta: float | None, left: float) -> float:
    """How far an ETA was from the time really left (≥ 1, both floored at ``FLOOR``); "<1m" is right under a
    minute and off by left / 60 beyond."""
    if eta is None:
        return max(left / UNDER, 1.0)
    r = max(eta, FLOOR) / max(left, FLOOR)
    return max(r, 1 / r)


def stamp(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def cell_times(report: Path) -> dict[int, tuple[float, float]]:
    """Source cell number -> (start, end) epoch seconds, from papermill's metadata (injected cells skipped)."""
    cells = json.loads(report.read_text())["cells"]
    times, number = {}, 0
    for cell in cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & {"injected-parameters", "papermill-error-cell-tag"}:
            continue
        number += 1
        meta = cell.get("metadata", {}).get("papermill") or {}
        if meta.get("start_time") and meta.get("end_time"):
            times[number] = (stamp(meta["start_time"]), stamp(meta["end_time"]))
    return times


def run_ratios(run: Path) -> tuple[list[tuple[float, str]], list[tuple[float, float, str]]]:
    """([(ratio, where)], [(seconds unchanged, mean unit seconds, where)]) of one run's progress lines."""
    log, report = run / "log.txt", run / "report.ipynb"
    if not log.is_file() or not report.is_file():
        return [], []
    times = cell_times(report)
    if not times:
        return [], []
    run_end = max(end for _, end in times.values())
    ratios, still = [], []
    counter: dict[int, tuple[str, float, float]] = {}  # cell -> (counter text, since, last seen)
    for line in log.read_text().splitlines():
        match = LINE.match(line)
        if not match or " · " not in match[3]:
            continue
        when, text = stamp(match[1]), match[3]
        cell = re.match(r"cell (\d+)/", text)
        if not cell or int(cell[1]) not in times:
            continue
        number = int(cell[1])
        start, end = times[number]
        eta = ETA.search(text)
        if eta and end > start and (when - start) / (end - start) >= 0.2 and when < end:
            left = (end if eta[4] else run_end) - when
            ratios.append((ratio(seconds(eta), left), f"{run.parent.name} cell {number} at {match[1]}"))
        step = re.search(r" · ([^·]+? \d+/(\d+))", text)
        if step:
            seen = counter.get(number)
            waiting = "waiting for workers" in text  # no worker is on this run's jobs: none can complete
            if seen and seen[0] == step[1]:
                counter[number] = (seen[0], seen[1], when, seen[3] + (when - seen[2] if waiting else 0.0))
            else:
                if seen:
                    unit = (end - start) / max(int(re.search(r"/(\d+)", seen[0])[1]), 1)
                    still.append((seen[2] - seen[1] - seen[3], unit, f"{run.parent.name} cell {number} '{seen[0]}'"))
                counter[number] = (step[1], when, when, 0.0)
    for number, (text, since, last, waited) in counter.items():
        start, end = times[number]
        unit = (end - start) / max(int(re.search(r"/(\d+)", text)[1]), 1)
        still.append((last - since - waited, unit, f"{run.parent.name} cell {number} '{text}'"))
    return ratios, still


def build_ratios(store: Path) -> list[tuple[float, str]]:
    logs = sorted((store / ".logs").glob("build-*.txt"))
    if not logs:
        return []
    lines = [LINE.match(line) for line in logs[-1].read_text().splitlines()]
    lines = [m for m in lines if m and m[2] == "build"]
    if not lines:
        return []
    end = stamp(lines[-1][1])
    ratios = []
    for match in lines:
        done = re.search(r"(\d+) done", match[3])
        eta = ETA.search(match[3])
        if done and int(done[1]) >= 1 and eta and stamp(match[1]) < end:
            ratios.append((ratio(seconds(eta), end - stamp(match[1])), f"build at {match[1]}"))
    return ratios


def report(store: Path) -> None:
    ratios, still = [], []
    runs = [p for p in store.glob("*/*") if p.is_dir() and not p.parent.name.startswith(".")]
    for run in sorted(runs):
        r, s = run_ratios(run)
        ratios += r
        still += s
    build = build_ratios(store)
    print(f"\nProgress read back from {len(runs)} runs in {store} (ratios floored at {FLOOR:.0f} s)\n")
    print("| what | lines checked | worst ratio | where | budget |\n|---|---|---|---|---|")
    for name, found, budget in (("cell / notebook ETA, after 20% of the cell", ratios, 2.0),
                                ("build ETA, after the first experiment ended", build, 1.5)):
        worst = max(found, default=(float("nan"), "–"))
        verdict = "–" if not found else ("within" if worst[0] <= budget else "OVER")
        print(f"| {name} | {len(found)} | {worst[0]:.2f} | {worst[1]} | ≤ {budget} ({verdict}) |")
    stuck = sorted((s for s in still if s[0] > 60 and s[0] > 2 * s[1]), reverse=True)
    print(f"\nstep counters unchanged for over 60 s and over twice their mean unit time, while the run had workers: "
          f"{len(stuck)}")
    for held, unit, where in stuck[:10]:
        print(f"- {where}: {held:.0f} s (a unit takes {unit:.0f} s on average)")


def smoke() -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.helpers import fixture_notebook

    tmp = Path(tempfile.mkdtemp(prefix="bench-eta-"))
    for name in ("first", "second"):
        fixture_notebook(tmp / "notebooks", name, body="from expbook.progress import steps\nimport time\n"
                         "for i in steps(range(3), 'unit'):\n    time.sleep(0.3)")
    env = {"EXPBOOK_NOTEBOOKS": str(tmp / "notebooks"), "EXPBOOK_RUNS": str(tmp / "runs"),
           "EXPBOOK_CACHE": str(tmp / "cache")}
    import os

    subprocess.run([sys.executable, "-m", "expbook", "run", "--all", "-j", "1"], cwd=ROOT, env={**os.environ, **env},
                   check=True, capture_output=True)
    return tmp / "runs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=ROOT / "runs")
    parser.add_argument("--smoke", action="store_true", help="two tiny notebooks in a temporary store")
    args = parser.parse_args()
    report(smoke() if args.smoke else args.store)


if __name__ == "__main__":
    main()
