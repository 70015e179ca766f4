"""Parsing Python source from several threads at once (a threaded Dask worker runs several runs in one process).

CPython 3.11's parser keeps a recursion counter that two threads parsing at the same time can corrupt
("SystemError: AST constructor recursion depth mismatch", python/cpython#106905, fixed in 3.12): every parse of
the package goes through one lock.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str, mode: str = "exec") -> ast.AST:
    with _LOCK:
        return ast.parse(source, mode=mode)
