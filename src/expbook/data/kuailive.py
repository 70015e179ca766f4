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

from expbook.data.csv_tables import check_header, read_table
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
NEEDS = f"a KuaiLive folder needs {', '.join(SCHEMA)}"


@dataclass(frozen=True)
class KuaiLiveData:
    """The five tables, with the columns of ``SCHEMA`` and validated dtypes."""

    click: pd.DataFrame
    gift: pd.DataFrame
    user: pd.DataFrame
    streamer: pd.DataFrame
    room: pd.DataFrame


def check_folder(data_dir: str | Path) -> None:
    """Cheap pre-flight check before a run: every file exists and has its columns (values are checked on load)."""
    for name, columns in SCHEMA.items():
        check_header(Path(data_dir) / name, columns, needs=NEEDS)


def load_kuailive(data_dir: str | Path) -> KuaiLiveData:
    """Read and validate the KuaiLive CSVs in ``data_dir``. Raises ``DataError`` naming file and column."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data_dir is not a folder")
    tables = {name.removesuffix(".csv"): read_table(data_dir / name, cols, needs=NEEDS) for name, cols in SCHEMA.items()}
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
