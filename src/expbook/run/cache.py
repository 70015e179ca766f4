"""Content-addressed cache for generated data and feature tables (parquet), shared by all experiments.

Two notebooks that ask for the same data and features get the same files: the key is a
hash of what determines the content (parameters, input fingerprint, producing code).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from expbook import PROJECT_ROOT


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


def cached_parquet(kind: str, key: str, build: Callable[[], pd.DataFrame]) -> tuple[pd.DataFrame, bool]:
    """Load ``<cache>/<kind>/<key>.parquet`` or build, write (atomically) and return it; second value: hit?"""
    import pandas as pd

    path = cache_root() / kind / f"{key}.parquet"
    if path.is_file():
        return pd.read_parquet(path), True
    frame = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return frame, False


def ensure_generated(kind: str, spec: Any, generate: Callable[[Path, Any], dict], *, source: str | Path,
                     root: str | Path | None = None) -> Path:
    """Folder ``<cache>/<kind>/synthetic-<hash>`` written by ``generate(folder, spec)`` once, atomically.

    The hash covers the spec (a dataclass) and the generator's ``source`` file, so a generator
    change regenerates instead of silently reusing stale files. ``DONE`` records the spec and counts.
    """
    payload = json.dumps(asdict(spec), sort_keys=True).encode() + Path(source).read_bytes()
    target = Path(root or cache_root()) / kind / f"synthetic-{hashlib.sha256(payload).hexdigest()[:16]}"
    if (target / "DONE").is_file():
        return target
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    counts = generate(tmp, spec)
    (tmp / "DONE").write_text(json.dumps({"spec": asdict(spec), "counts": counts}, indent=1))
    try:
        tmp.rename(target)
    except OSError:  # another process finished first: theirs is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return target
