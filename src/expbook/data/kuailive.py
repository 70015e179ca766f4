"""KuaiLive adapter: read the dataset's own CSV files and validate their schema.

Real KuaiLive (Qu et al., 2025) ships ``click.csv``, ``gift.csv``, ``user.csv``,
``streamer.csv``, ``room.csv`` (plus comment/like/negative files we do not use).
Timestamps are Unix milliseconds; the platform's day starts at 00:00 Beijing time (UTC+8).
Side-information counts are range strings such as ``"10000-100000"`` or ``"5000+"``.

Only the columns listed in ``SCHEMA`` are read; extra columns are ignored, so the real
files and the generator's files go through exactly the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from expbook.errors import DataError

TIMEZONE_OFFSET_MS = 8 * 3600 * 1000  # Beijing time: the day boundary of the real logs
DAY_MS = 86_400_000

# file -> {column: kind}; kind "int" = integer ids / ms timestamps, "num" = numeric, "str" = text
SCHEMA: dict[str, dict[str, str]] = {
    "click.csv": {"user_id": "int", "live_id": "int", "streamer_id": "int", "timestamp": "int",
                  "watch_live_time": "num"},
    "gift.csv": {"user_id": "int", "live_id": "int", "streamer_id": "int", "timestamp": "int",
                 "gift_price": "num"},
    "user.csv": {"user_id": "int", "gender": "str", "age": "str", "device_price": "str"},
    "streamer.csv": {"streamer_id": "int", "gender": "str", "age": "str", "live_operation_tag": "str",
                     "fans_user_num": "str", "accu_live_cnt": "str"},
    "room.csv": {"live_id": "int", "streamer_id": "int", "start_timestamp": "int"},
}


@dataclass(frozen=True)
class KuaiLiveData:
    """The five tables, with the columns of ``SCHEMA`` and validated dtypes."""

    click: pd.DataFrame
    gift: pd.DataFrame
    user: pd.DataFrame
    streamer: pd.DataFrame
    room: pd.DataFrame


def _check_header(path: Path, columns: dict[str, str]) -> None:
    if not path.is_file():
        raise DataError(f"{path}: file not found (a KuaiLive folder needs {', '.join(SCHEMA)})")
    try:
        header = pd.read_csv(path, nrows=0).columns
    except Exception as exc:  # empty or unreadable file
        raise DataError(f"{path}: cannot read the CSV header ({exc})") from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{path.name}: column {missing[0]!r} is missing (found: {', '.join(header)})")


def check_folder(data_dir: str | Path) -> None:
    """Cheap pre-flight check before a run: every file exists and has its columns (values are checked on load)."""
    for name, columns in SCHEMA.items():
        _check_header(Path(data_dir) / name, columns)


def _read_table(path: Path, columns: dict[str, str]) -> pd.DataFrame:
    _check_header(path, columns)
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
                                f"found {values.iloc[row]!r} in data row {row + 1}")
            values = values.astype(np.int64)
        table[column] = values
    return table


def load_kuailive(data_dir: str | Path) -> KuaiLiveData:
    """Read and validate the KuaiLive CSVs in ``data_dir``. Raises ``DataError`` naming file and column."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data_dir is not a folder")
    tables = {name.removesuffix(".csv"): _read_table(data_dir / name, cols) for name, cols in SCHEMA.items()}
    gift = tables["gift"]
    if (gift["gift_price"] < 0).any():
        row = int(np.flatnonzero((gift["gift_price"] < 0).to_numpy())[0])
        raise DataError(f"gift.csv: column 'gift_price' is negative in data row {row + 1}")
    if tables["click"].empty:
        raise DataError(f"{data_dir / 'click.csv'}: no rows")
    return KuaiLiveData(**tables)


def day_index(timestamp_ms: np.ndarray | pd.Series, origin_ms: int) -> np.ndarray:
    """0-based Beijing-time day of each timestamp, counted from the day containing ``origin_ms``."""
    local = np.asarray(timestamp_ms, dtype=np.int64) + TIMEZONE_OFFSET_MS
    return (local // DAY_MS - (origin_ms + TIMEZONE_OFFSET_MS) // DAY_MS).astype(np.int32)


def range_lower_bound(values: pd.Series) -> np.ndarray:
    """Numeric lower bound of KuaiLive range strings: ``"10000-100000" -> 10000``, ``"5000+" -> 5000``.

    Unknown or empty values become NaN (LightGBM treats NaN as missing).
    """
    text = values.astype("string").str.extract(r"^\s*(\d+(?:\.\d+)?)", expand=False)
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
