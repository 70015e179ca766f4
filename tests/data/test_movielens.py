"""The MovieLens adapter: both layouts, genres, clear errors, and the packaged subset without network."""

import socket

import pandas as pd
import pytest

from expbook.data.movielens import check_folder, load_movielens, load_packaged_movielens
from expbook.errors import DataError


def test_ratings_file_without_timestamp_names_the_file_and_column(tmp_path):
    pd.DataFrame({"userId": [1], "movieId": [2], "rating": [4.0]}).to_csv(tmp_path / "ratings.csv", index=False)
    with pytest.raises(DataError, match=r"ratings\.csv: column 'timestamp' is missing"):
        check_folder(tmp_path)


def test_u_data_layout_and_its_missing_timestamp(tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t4\t881250949\n1\t20\t3\t881250950\n")
    events = load_movielens(tmp_path).events
    assert events.columns.tolist() == ["user", "item", "rating", "timestamp"] and len(events) == 2
    (tmp_path / "u.data").write_text("1\t10\t4\n")
    with pytest.raises(DataError, match=r"u\.data: column 'timestamp' is missing"):
        load_movielens(tmp_path)


def test_ratings_csv_with_movies_gives_genres(tmp_path):
    pd.DataFrame({"userId": [1, 1], "movieId": [2, 3], "rating": [4.0, 3.0], "timestamp": [1, 2]}).to_csv(
        tmp_path / "ratings.csv", index=False)
    pd.DataFrame({"movieId": [2, 3], "title": ["a", "b"], "genres": ["Comedy|Drama", "(no genres listed)"]}).to_csv(
        tmp_path / "movies.csv", index=False)
    genres = load_movielens(tmp_path).genres
    assert genres.columns.tolist() == ["Comedy", "Drama"] and genres.loc[3].sum() == 0


def test_packaged_movielens_needs_no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network use in a test that must not need it")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    interactions = load_packaged_movielens()
    events = interactions.events
    assert events["user"].nunique() == 671 and len(events) == 100_004 and interactions.genres.shape[1] >= 18
