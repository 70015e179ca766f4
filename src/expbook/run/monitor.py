"""What a running notebook is doing, for the person waiting: the cell, the step of its loops, and an ETA.

The kernel's engine tells the monitor when a cell starts (``cell_started``); the package's loops append their
progress to the run's progress file (``expbook.progress``), the kernel's and its workers' alike. A thread reads
that file and, at most every ``every`` seconds and at every cell start, makes one line::

    my_experiment: cell 10/22 · rung × seed 3/8 · epoch 12/30 · 2m10s in cell · ETA 6m05s

On a terminal the line is the tqdm bar's postfix; elsewhere (CI, files) it is printed. Every line goes to the
run's ``log.txt`` with its timestamp. The ETA of a cell comes from its loops' totals once they report, else from
the same cell's duration in the last successful run; the cells after it count with their last durations.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
import time
from pathlib import Path

from expbook.progress import describe, fraction

ACTIVE = 60.0  # seconds: a worker whose last line is older is not counted as training
ETA_FILE = "eta.json"  # a running notebook's latest estimate, in its temporary run folder


def _eta(seconds: float) -> str:
    """An estimate as people say it: "0s" when nothing is left, "<1m" under a minute (seconds there are noise),
    else the clock."""
    return "0s" if seconds <= 0 else "<1m" if seconds < 60 else _clock(seconds)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def last_cell_durations(report: Path | None) -> list[float] | None:
    """Seconds per cell of an executed notebook (papermill's cell metadata), in its cell order."""
    if report is None or not report.is_file():
        return None
    try:
        cells = json.loads(report.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None
    return [float((c.get("metadata", {}).get("papermill") or {}).get("duration") or 0.0) for c in cells]


class Monitor:
    """One running notebook's progress (see the module docstring). ``echo`` prints a line; None: log only."""

    def __init__(self, label: str, progress_file: Path, *, total_cells: int, last_durations: list[float] | None,
                 echo=None, every: float = 10.0):
        self.label, self.file, self.total, self.last = label, progress_file, total_cells, last_durations
        self.echo, self.every = echo, every
        self.lines: list[str] = []  # "timestamp  line", for log.txt
        self.bar = None  # the tqdm bar on a terminal (set by the engine)
        self.cell: int | None = None  # 0-based index in the executed notebook
        self.cell_number: int | None = None  # 1-based number in the source notebook (no injected cells)
        self.cell_text = ""
        self.cell_start = self.started = time.time()
        self._offset, self._processes = 0, {}
        self._busy: dict[int, float] = {}  # worker pid -> when its current job of this run started
        self._loop_key, self._loop_start, self._loop_done, self._units_done = None, self.cell_start, 0.0, 0
        self._worker_seconds, self._saw_jobs, self._last_job_end, self._tick = 0.0, False, 0.0, time.time()
        self._outstanding, self._moved = 0, time.time()  # jobs queued and not yet started; when the step last moved
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"monitor {label}", daemon=True)
        self._last_line = 0.0

    # --- the engine's side --------------------------------------------------------------------------------------

    def cell_started(self, index: int, number: int | None, first_line: str) -> None:
        with self._lock:
            self.cell, self.cell_number, self.cell_text = index, number, first_line
            self.cell_start = time.time()
            self._processes = {}  # the previous cell's loops are over
            self._new_loop(self.cell_start)
            self._loop_key = None
        self._emit()

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    # --- reading the progress file ------------------------------------------------------------------------------

    def _read(self) -> None:
        try:
            with self.file.open() as lines:
                lines.seek(self._offset)
                chunk = lines.read()
        except OSError:
            return
        complete = chunk[: chunk.rfind("\n") + 1]
        self._offset += len(complete.encode())
        for line in complete.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("queued"):
                self._outstanding += int(event["queued"])
            if event.get("job") == "start":
                self._busy[event["pid"]] = event["t"]
                self._outstanding = max(self._outstanding - 1, 0)
            elif event.get("job") == "end":
                self._busy.pop(event["pid"], None)
                self._last_job_end = max(self._last_job_end, event["t"])
            if event["t"] >= self.cell_start - 1:
                self._processes[event["pid"]] = event

    def _new_loop(self, now: float) -> None:
        """A new outermost loop began (or a new cell): its rate is measured from now."""
        self._loop_start, self._loop_done, self._worker_seconds, self._saw_jobs = now, 0.0, 0.0, False
        self._units_done = 0  # of the outermost loop: its rate is trusted once one unit is done

    def _track(self, stack: list, done: float | None) -> None:
        """Notice a loop that restarts or is another one (a cell may run several in turn): time it afresh."""
        key = (stack[0][0], stack[0][2]) if stack else None
        units = int(stack[0][1]) if stack else self._units_done
        if done is not None and abs(done - self._loop_done) > 1e-9:
            self._moved = time.time()
        # a restart is its count of finished units going down; the fraction may dip without one (a worker starts its
        # next job, at 0, before the kernel has counted the one it finished)
        if key is not None and (key != self._loop_key or units < self._units_done):
            if self._loop_key is not None:
                self._new_loop(time.time())
            self._loop_key = key
        self._loop_done = done if done is not None else self._loop_done
        self._units_done = units

    def tick(self) -> None:
        """Every second: read the file and add the workers busy with this run's jobs to its worker-seconds."""
        with self._lock:
            self._read()
            now = time.time()
            self._worker_seconds += len(self._busy) * (now - self._tick)
            self._saw_jobs = self._saw_jobs or bool(self._busy)
            self._tick = now

    def step(self) -> tuple[str, float | None]:
        """(the loops' step text, the cell's fraction done) from the latest lines of the kernel and its workers."""
        now = time.time()
        main = [e for e in self._processes.values() if not e["worker"] and e["stack"]]
        workers = sorted((e for e in self._processes.values() if e["worker"] and e["stack"]
                          and now - e["t"] < ACTIVE), key=lambda e: e["t"])
        stack = main[-1]["stack"] if main else []
        text = describe(stack)
        if workers:
            text = " · ".join(t for t in (text, describe(workers[-1]["stack"])) if t)
        if not stack:
            done = fraction(workers[-1]["stack"]) if len(workers) == 1 else None
            self._track(workers[-1]["stack"] if len(workers) == 1 else [], done)
            return text, done
        inner = sum(fraction(w["stack"]) or 0.0 for w in workers)
        innermost = stack[-1]
        adjusted = [*stack[:-1], [innermost[0], innermost[1] + min(inner, max((innermost[2] or 0) - innermost[1], 0)),
                                   innermost[2]]]
        done = fraction(adjusted)
        self._track(stack, done)
        return text, done

    def waiting(self) -> bool:
        """The run has jobs queued on the cluster that no worker has started, none is busy with this run now (the
        cluster is on other reports' jobs) and its step has not moved for 10 s: no rate says when it will go on."""
        now = time.time()
        return self._outstanding > 0 and not self._busy and now - self._last_job_end > 5 and now - self._moved > 10

    def eta(self, done: float | None) -> tuple[float, str] | None:
        """(seconds left, what they cover): the whole notebook when the last run's cell durations are known,
        else the running cell alone (from its loops' totals); None when nothing says.

        A loop's rate is measured from when it began (a cell may run several loops in turn), and trusted once its
        first unit is done (before, its inner loops may be one of several per unit). Where its jobs run on
        workers shared with other reports, the rate is per busy worker-second, and what is left is divided by the
        workers busy with this run now: the estimate follows the share of the cluster the run has."""
        now = time.time()
        elapsed, in_loop = now - self.cell_start, now - self._loop_start
        if done is not None and self._units_done >= 1 and in_loop > 5:
            if self._saw_jobs and self._busy:
                cell_left = self._worker_seconds * (1 - done) / done / len(self._busy)
            elif self._saw_jobs and self._outstanding > 0:
                return None  # queued behind other reports' jobs: no rate says when they start
            else:  # the kernel's own loop, or its work between batches of jobs
                cell_left = in_loop * (1 - done) / done
        elif self.last and self.cell is not None and self.cell < len(self.last):
            cell_left = max(self.last[self.cell] - elapsed, 0.0)
        else:
            return None
        if self.last is None or self.cell is None:
            return cell_left, " for this cell"
        return cell_left + sum(self.last[self.cell + 1:]), ""

    def line(self) -> str:
        with self._lock:
            self._read()
            text, done = self.step()
            eta = self.eta(done)
            where = f"cell {self.cell_number}/{self.total}" if self.cell_number else "starting"
            unknown = "ETA unknown (waiting for workers)" if self.waiting() else "ETA unknown"
            parts = [where, text, f"{_clock(time.time() - self.cell_start)} in cell",
                     f"ETA {_eta(eta[0])}{eta[1]}" if eta is not None else unknown]
            self._publish(eta)
        first = f" {self.cell_text!r}" if self.cell_text and not text else ""
        return f"{self.label}: " + " · ".join(p for p in parts if p) + first

    def _emit(self) -> None:
        line = self.line()
        self._last_line = time.time()
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.lines.append(f"{stamp}  {line}")
        if self.bar is not None:
            self.bar.set_postfix_str(line.split(": ", 1)[1], refresh=True)
        elif self.echo is not None:
            self.echo(f"  {line}")

    def _publish(self, eta: tuple[float, str] | None) -> None:
        """The run's latest estimate beside its progress file (``eta.json``), for the build's line."""
        try:  # written whole, then renamed: the build never reads half a file
            partial = self.file.parent / f".{ETA_FILE}.partial"
            partial.write_text(json.dumps({
                "t": time.time(), "left": None if eta is None else round(eta[0], 1), "notebook": bool(eta and not eta[1])}))
            partial.replace(self.file.parent / ETA_FILE)
        except OSError:
            pass

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self.tick()
            if time.time() - self._last_line >= self.every:
                self._emit()


def print_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class BuildProgress:
    """The build as a whole, one line at least every ``every`` seconds (and at every start and end)::

        build: 2 done · 2 running (gnn_turnover_v6 4m10s, seqrec_upgrades 3m02s) · 1 waiting · 6m40s · ETA 5m20s

    Each experiment is expected to take its last default run's duration, else its notebook's ``expected_seconds``
    hint (measured on 2 cores) scaled by this machine's speed so far: the finished experiments' actual ÷ expected
    time. The ETA schedules what is left on ``slots`` runs at once, longest first, as the build does. The lines go
    to stderr and, with their timestamps, to ``log`` (the bench reads them back)."""

    def __init__(self, expected: dict[str, tuple[float, bool]], slots: int, *, log: Path | None = None,
                 echo=None, every: float = 10.0, store: Path | None = None):
        self.expected = expected  # experiment -> (seconds, measured here before: a last run's duration)
        self.store = store  # where the running notebooks publish their own estimates (``Monitor._publish``)
        self.slots, self.log, self.echo, self.every = max(1, slots), log, echo, every
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.begin = time.time()
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="build progress", daemon=True)

    def start(self, experiment: str) -> None:
        with self._lock:
            self.started[experiment] = time.time()
        self.emit()

    def end(self, experiment: str) -> None:
        with self._lock:
            self.ended[experiment] = time.time()
        self.emit()

    def speed(self) -> float:
        """Actual ÷ expected seconds of the finished experiments whose expectation is a hint (1 without any)."""
        pairs = [(self.ended[e] - self.started[e], self.expected[e][0]) for e in self.ended
                 if e in self.started and self.expected.get(e, (0, True))[0] > 0 and not self.expected[e][1]]
        return sum(a for a, _ in pairs) / sum(b for _, b in pairs) if pairs else 1.0

    def eta(self, now: float) -> float | None:
        speed = self.speed()

        def expect(e: str) -> float:
            seconds, measured = self.expected.get(e, (0.0, False))
            return seconds * (1.0 if measured else speed)

        running = [e for e in self.started if e not in self.ended]
        waiting = sorted((e for e in self.expected if e not in self.started), key=expect, reverse=True)
        if any(expect(e) <= 0 for e in running + waiting):
            return None
        left = [self._left(e, expect(e), now) for e in running]
        if any(x is None for x in left):
            return None
        free = sorted(left)
        free += [0.0] * max(self.slots - len(free), 0)
        free = sorted(free)[: max(self.slots, len(running))]
        for e in waiting:
            free[0] += expect(e)
            free.sort()
        return max(free, default=0.0)

    def _published(self, experiment: str) -> dict | None:
        """The running notebook's own latest estimate (``eta.json`` in its temporary run folder), if fresh."""
        if self.store is None:
            return None
        from expbook.run.store import TMP_PREFIX

        best = None
        for path in (self.store / experiment).glob(f"{TMP_PREFIX}*/{ETA_FILE}"):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if data.get("t", 0) >= self.started.get(experiment, 0) and (best is None or data["t"] > best["t"]):
                best = data
        return best

    def _left(self, experiment: str, expected: float, now: float) -> float:
        """Seconds a running experiment has left: its notebook's own estimate where it covers the notebook; else
        its expectation less its elapsed time (a loop's first units are too noisy to overrule it); past its
        expectation, its running cell's estimate (cells are too unequal to extrapolate), and None (unknown) when the
        cell has none."""
        elapsed = now - self.started[experiment]
        own = self._published(experiment)
        if own and own.get("left") is not None and own.get("notebook"):
            return float(own["left"])
        if expected - elapsed > 0:
            return expected - elapsed
        # past its expectation: its running cell's estimate, less the estimate's age; None (unknown) when it has none
        return max(float(own["left"]) - (now - float(own["t"])), 0.0) if own and own.get("left") is not None else None

    def line(self) -> str:
        now = time.time()
        with self._lock:
            running = [e for e in self.started if e not in self.ended]
            waiting = [e for e in self.expected if e not in self.started]
            eta = self.eta(now)
        parts = [f"{len(self.ended)} done", f"{len(running)} running" + (
            " (" + ", ".join(f"{e} {_clock(now - self.started[e])}" for e in running) + ")" if running else ""),
                 f"{len(waiting)} waiting", _clock(now - self.begin),
                 f"ETA {_eta(eta)}" if eta is not None else "ETA unknown"]
        return "build: " + " · ".join(parts)

    def emit(self) -> None:
        line = self.line()
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.log is not None:
            try:
                self.log.parent.mkdir(parents=True, exist_ok=True)
                with self.log.open("a") as out:
                    out.write(f"{stamp}  {line}\n")
            except OSError:
                pass
        if self.echo is not None:
            self.echo(f"  {line}")

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.emit()

    def __enter__(self) -> BuildProgress:
        self.emit()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.emit()
