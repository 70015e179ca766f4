"""The project's folders, read from the environment when asked (never frozen into module state at import).

``EXPBOOK_NOTEBOOKS``, ``EXPBOOK_RUNS`` and ``EXPBOOK_BOOK_DIR`` point a test, a bench or a Dask worker at other
folders; without them the folders are the repository's ``notebooks/``, ``runs/`` and ``book/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from expbook import PROJECT_ROOT


@dataclass(frozen=True)
class Project:
    notebooks: Path
    runs: Path
    book: Path

    @classmethod
    def current(cls) -> Project:
        return cls(Path(os.environ.get("EXPBOOK_NOTEBOOKS", PROJECT_ROOT / "notebooks")),
                   Path(os.environ.get("EXPBOOK_RUNS", PROJECT_ROOT / "runs")),
                   Path(os.environ.get("EXPBOOK_BOOK_DIR", PROJECT_ROOT / "book")))
