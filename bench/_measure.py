"""Shared by the bench scripts: peak resident memory of a block of code."""

from __future__ import annotations

import threading


class PeakRSS:
    """Context manager: peak resident memory (MiB) of this process while the block runs."""

    def __init__(self):
        import psutil
        self.process = psutil.Process()
        self.peak = 0.0

    def _poll(self):
        while not self.done.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss / 2**20)
            self.done.wait(0.02)

    def __enter__(self):
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss / 2**20)
