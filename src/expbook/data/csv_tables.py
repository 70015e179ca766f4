"""Reading CSV tables with a declared schema: every error names the file, the column and the data row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from expbook.errors import DataError


def check_header(path: Path, columns: dict[str, str], *, needs: str) -> None:
    """``DataError`` unless ``path`` exists and its header has every column of ``columns``."""
    if not path.is_file():
        raise DataError(f"{path}: file not found ({needs})")
    try:
        header = pd.read_csv(path, nrows=0).columns
    except Exception as exc:  # empty or unreadable file
        raise DataError(f"{path}: cannot read the CSV header ({exc})") from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{path.name}: column {missing[0]!r} is missing (found: {', '.join(header)})")


def read_table(path: Path, columns: dict[str, str], *, needs: str) -> pd.DataFrame:
    """Read ``columns`` of a CSV; kinds: "int" (integer), "num" (numeric), "str" (text). Errors name file, column, row."""
    check_header(path, columns, needs=needs)
    dtypes = {c: "string" for c, kind in columns.items() if kind == "str"}
    try:
        table = pd.read_csv(path, usecols=list(columns), dtype=dtypes, engine="c", low_memory=False)
    except Exception as exc:
        raise DataError(f"{path.name}: malformed CSV ({exc})") from None
    for column, kind in columns.items():
        if kind == "str":
            continue
        values = table[column]
        if not pd.api.types.is_numeric_dtype(values):
            converted = pd.to_numeric(values, errors="coerce")
            bad = converted.isna() & values.notna()
            row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else None
            if row is not None:
                raise DataError(f"{path.name}: column {column!r} has non-numeric value {values.iloc[row]!r} "
                                f"in data row {row + 1}")
            values = converted
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise DataError(f"{path.name}: column {column!r} is empty in data row {row + 1}")
        if kind == "int":
            if not np.all(np.mod(values.to_numpy(), 1) == 0):
                row = int(np.flatnonzero(np.mod(values.to_numpy(), 1) != 0)[0])
                raise DataError(f"{path.name}: column {column!r} must hold integers, "
                                f"found {float(values.iloc[row])!r} in data row {row + 1}")
            values = values.astype(np.int64)
        table[column] = values
    return table
