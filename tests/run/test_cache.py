"""The content-addressed cache: a stable hash, parquet tables built once, generated folders keyed by spec and code."""

from dataclasses import dataclass

import pandas as pd
import pytest

from expbook.run.cache import cache_root, cached_parquet, ensure_generated, fingerprint_folder, stable_hash


def test_stable_hash_depends_on_content_not_on_key_order():
    assert stable_hash({"a": 1, "b": [2, 3]}) == stable_hash({"b": [2, 3], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2}) and len(stable_hash("x", length=8)) == 8


def test_a_parquet_table_is_built_once_then_read(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPBOOK_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    calls = []

    def build():
        calls.append(1)
        return pd.DataFrame({"x": [1, 2, 3]})

    first, hit_first = cached_parquet("tables", "k1", build)
    second, hit_second = cached_parquet("tables", "k1", build)
    assert (hit_first, hit_second) == (False, True) and len(calls) == 1
    pd.testing.assert_frame_equal(first, second)
    assert not list((tmp_path / "tables").glob(".*tmp"))  # written aside and renamed


@dataclass(frozen=True)
class Spec:
    n: int


def _generate(folder, spec):
    folder.mkdir(parents=True)
    (folder / "data.txt").write_text("x" * spec.n)
    return {"bytes": spec.n}


def test_a_generated_folder_is_keyed_by_the_spec_and_the_generators_code(tmp_path):
    source = tmp_path / "generator.py"
    source.write_text("# version 1")
    a = ensure_generated("demo", Spec(3), _generate, source=source, root=tmp_path)
    assert ensure_generated("demo", Spec(3), _generate, source=source, root=tmp_path) == a
    assert ensure_generated("demo", Spec(4), _generate, source=source, root=tmp_path) != a
    source.write_text("# version 2")  # the generator changed: its output is generated again, not reused
    assert ensure_generated("demo", Spec(3), _generate, source=source, root=tmp_path) != a
    assert (a / "DONE").is_file() and (a / "data.txt").read_text() == "xxx"


def test_a_folder_fingerprint_changes_with_any_file(tmp_path):
    (tmp_path / "a.csv").write_text("1\n")
    before = fingerprint_folder(tmp_path)
    (tmp_path / "a.csv").write_text("1\n2\n")
    assert fingerprint_folder(tmp_path) != before


@pytest.mark.parametrize("bad", ["", "generated"])
def test_cache_root_defaults_to_the_project(monkeypatch, bad):
    monkeypatch.delenv("EXPBOOK_CACHE", raising=False)
    assert cache_root().parts[-2:] == (".cache", "expbook")
