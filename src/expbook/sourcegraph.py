"""The project source a piece of code depends on: the transitive import graph, read statically with ``ast``.

One helper for both keys that must follow the code: a run's execution key (the modules its notebook imports) and
the cache key of an intermediate value (the modules the function that computes it imports). Only the project's
own source is followed — a module whose file lies outside the interpreter's prefixes (the standard library and
site-packages are covered by the pinned package versions instead). Nothing is imported to find a module's file:
the search walks ``sys.path`` on disk, so keying a run never loads torch.
"""

from __future__ import annotations

import ast
import hashlib
import sys
import sysconfig
from collections.abc import Iterable
from functools import lru_cache
from importlib.machinery import PathFinder
from pathlib import Path

from expbook.pysource import parse


@lru_cache(maxsize=1)
def _installed_roots() -> tuple[Path, ...]:
    """Folders whose modules are installed, not the project's: the standard library and site-packages."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    roots |= {path for name in ("stdlib", "platstdlib", "purelib", "platlib") if (path := sysconfig.get_path(name))}
    return tuple(Path(r).resolve() for r in roots)


@lru_cache(maxsize=None)
def _top_level(name: str) -> Path | None:
    """The file (or package ``__init__.py``) of a top-level module when it is project source, else None."""
    try:
        spec = PathFinder.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    origin = Path(spec.origin).resolve()
    if any(origin.is_relative_to(root) for root in _installed_roots()):
        return None
    return origin


def module_file(name: str) -> Path | None:
    """``expbook.models.sasrec`` -> ``…/src/expbook/models/sasrec.py`` (a package: its ``__init__.py``); None when
    the module is not project source or does not exist."""
    parts = name.split(".")
    top = _top_level(parts[0])
    if top is None:
        return None
    if len(parts) == 1:
        return top
    if top.name != "__init__.py":
        return None
    base = top.parent.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=4096)
def _parsed(path: Path, mtime_ns: int, size: int) -> tuple[bytes, ast.AST]:
    data = path.read_bytes()
    return data, parse(data.decode())


def _read(path: Path) -> tuple[bytes, ast.AST]:
    stat = path.stat()
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


def imported_names(tree: ast.AST, current: str) -> set[str]:
    """Every module name an ``import`` or ``from … import`` in ``tree`` may load (``from pkg import sub`` included);
    ``current`` is the module the tree belongs to (for relative imports)."""
    names: set[str] = set()
    file = module_file(current)
    package = current if file is not None and file.name == "__init__.py" else current.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def closure(roots: Iterable[str]) -> list[str]:
    """The project modules ``roots`` load, transitively (parent packages included, as importing ``a.b.c`` runs
    ``a`` and ``a.b`` first), sorted."""
    seen: set[str] = set()
    pending = [name for name in roots if module_file(name)]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        pending += [".".join(parts[:i]) for i in range(1, len(parts)) if module_file(".".join(parts[:i]))]
        _, tree = _read(module_file(name))
        pending += [n for n in imported_names(tree, name) if n not in seen and module_file(n)]
    return sorted(seen)


def source_hashes(modules: Iterable[str], relative_to: Path | None = None) -> dict[str, str]:
    """``{file path: content hash}`` of each module (paths relative to ``relative_to`` where they lie under it)."""
    hashes = {}
    for name in modules:
        path = module_file(name)
        data, _ = _read(path)
        shown = path.relative_to(relative_to).as_posix() if relative_to and path.is_relative_to(relative_to) else name
        hashes[shown] = hashlib.sha256(data).hexdigest()[:16]
    return dict(sorted(hashes.items()))
