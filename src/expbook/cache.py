"""The one cache of intermediate values (generated data, feature tables, model scores), keyed by what computes them.

A value is ``compute(*args, **kwargs)``; its key is found by code, never listed by hand:

* the **transitive source** of ``compute``: its module and every project module that module imports, found
  statically as a run's execution key finds a notebook's modules (``expbook.sourcegraph``);
* its **arguments**: dataclasses field by field, arrays and frames by content, and every ``Path`` by the
  fingerprint of the files under it — the **data** (paths, sizes and modification times, not the folder's name,
  so a moved folder of the same files still hits);
* the **installed versions** of the pinned packages (``requirements.txt``) and the Python version.

So a change to the function, to a helper it calls in another module, to its data or to a package version
computes the value again. Two reports asking for the same value with the same code read one file.

This module sits below the science and the platform: both import it, it imports neither.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from expbook import PROJECT_ROOT
from expbook.sourcegraph import closure, source_hashes


def cache_root() -> Path:
    """``$EXPBOOK_CACHE`` or ``<project>/.cache/expbook``."""
    return Path(os.environ.get("EXPBOOK_CACHE", PROJECT_ROOT / ".cache" / "expbook"))


def stable_hash(*parts: object, length: int = 16) -> str:
    """SHA-256 of the JSON form of ``parts`` (bytes hashed as-is)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:length]


def fingerprint_folder(folder: str | Path) -> str:
    """Hash of every file's relative path, size and mtime under ``folder`` (cheap: no content read)."""
    folder = Path(folder)
    entries = sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                     for p in folder.rglob("*") if p.is_file())
    return stable_hash(entries)


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """The installed version of every package ``requirements.txt`` pins, and Python's (once per process)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": sys.version.split()[0]}
    path = PROJECT_ROOT / "requirements.txt"
    lines = path.read_text().splitlines() if path.is_file() else []
    for line in lines:
        match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*==", line)
        if match:
            try:
                versions[match[1]] = version(match[1])
            except PackageNotFoundError:
                versions[match[1]] = "not installed"
    return versions


def code_key(compute: Callable[..., Any]) -> dict[str, Any]:
    """What identifies the code of ``compute``: its name and the hash of every project module its module loads."""
    if isinstance(compute, partial):
        return {"partial": code_key(compute.func), "args": canonical(compute.args),
                "keywords": canonical(compute.keywords)}
    module = getattr(compute, "__module__", None) or ""
    modules = closure([module])
    if not modules:  # defined outside any project module (an interactive session): its own source is all there is
        import inspect

        return {"name": getattr(compute, "__qualname__", repr(compute)), "source": inspect.getsource(compute)}
    return {"name": f"{module}.{compute.__qualname__}", "modules": source_hashes(modules, PROJECT_ROOT)}


def canonical(value: Any) -> Any:
    """``value`` as JSON-able data that changes whenever the value does; refuses what it cannot describe."""
    import numpy as np

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Path):
        if value.is_dir():
            return {"folder": fingerprint_folder(value)}
        if value.is_file():
            stat = value.stat()
            return {"file": [stat.st_size, stat.st_mtime_ns]}
        return {"missing": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"type": type(value).__qualname__,
                "fields": {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, dict):
        return {"dict": [[canonical(k), canonical(v)] for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))]}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return {"array": [str(data.dtype), list(data.shape), hashlib.sha256(data.tobytes()).hexdigest()]}
    import pandas as pd

    if isinstance(value, (pd.DataFrame, pd.Series)):
        hashed = pd.util.hash_pandas_object(value, index=True).to_numpy()
        names = list(map(str, value.columns)) if isinstance(value, pd.DataFrame) else [str(value.name)]
        return {"frame": [names, hashlib.sha256(hashed.tobytes()).hexdigest()]}
    raise TypeError(f"the cache cannot key an argument of type {type(value).__name__}: pass data it can hash "
                    "(numbers, strings, paths, dataclasses, arrays, frames)")


def cache_key(compute: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """The key of ``compute(*args, **kwargs)``: code, arguments (data included) and package versions."""
    return stable_hash(code_key(compute), canonical(list(args)), canonical(kwargs), package_versions(), length=20)


def cached_frame(kind: str, compute: Callable[..., pd.DataFrame], *args: Any, **kwargs: Any
                 ) -> tuple[pd.DataFrame, bool]:
    """``compute(*args, **kwargs)``, read from ``<cache>/<kind>/<key>.parquet`` when its key was computed before;
    else computed and written atomically. Second value: was it a hit? ``frame.attrs`` survive the round trip."""
    import pandas as pd

    path = cache_root() / kind / f"{cache_key(compute, *args, **kwargs)}.parquet"
    if path.is_file():
        return pd.read_parquet(path), True
    frame = compute(*args, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return frame, False


def cached_folder(kind: str, write: Callable[..., dict], *args: Any, root: str | Path | None = None,
                  **kwargs: Any) -> Path:
    """The folder ``<root>/<kind>/<key>`` that ``write(folder, *args, **kwargs)`` fills, written once and renamed
    into place when complete; ``DONE`` in it records the arguments and what ``write`` returned (its counts)."""
    target = Path(root or cache_root()) / kind / cache_key(write, *args, **kwargs)
    if (target / "DONE").is_file():
        return target
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    counts = write(tmp, *args, **kwargs)
    (tmp / "DONE").write_text(json.dumps({"args": canonical(list(args)), "kwargs": canonical(kwargs),
                                          "counts": counts}, indent=1, default=str))
    try:
        tmp.rename(target)
    except OSError:  # another process finished first: theirs is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return target
