"""One writer at a time: an advisory ``flock`` on ``runs/.lock`` that says who holds it.

The kernel releases the lock when the holder dies, so a killed build never leaves a stale lock; whoever takes
the lock next removes the temporary run folders that killed runs left behind (``Store.remove_orphans``).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import sys
from contextlib import contextmanager
from pathlib import Path

from expbook.errors import StoreLocked
from expbook.run.store import Store


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return "another process"
    return f"pid {info.get('pid')} on {info.get('host')} ({info.get('command')}, since {info.get('since')})"


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def store_lock(root: str | Path, *, wait: bool = False, echo=_to_stderr):
    """Hold the run store's lock; without ``wait`` raise ``StoreLocked`` naming the holder if it is taken."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    acquired = False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(path)
            if not wait:
                raise StoreLocked(f"the run store {root} is being written by {holder}; "
                                  f"try again when it finishes, or pass --wait") from None
            echo(f"waiting for the run store lock held by {holder} ...")
            fcntl.flock(fd, fcntl.LOCK_EX)
        acquired = True
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "command": " ".join(["expbook", *sys.argv[1:]])[:200],
                                 "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}).encode())
        orphans = Store(root).remove_orphans()
        if orphans:
            echo(f"removed {len(orphans)} orphaned temporary run folder(s) of killed runs: "
                 f"{', '.join(p.relative_to(root).as_posix() for p in orphans)}")
        yield
    finally:
        if acquired:  # never erase the holder's note when we did not get the lock
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
