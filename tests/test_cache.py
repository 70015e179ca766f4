"""The one cache: keyed by the transitive source of what computes a value, its arguments, its data and the package
versions; frames built once, generated folders written once, nothing keyed by a hand-made list."""

import importlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from expbook import cache
from expbook.cache import cache_key, cache_root, cached_folder, cached_frame, canonical, fingerprint_folder, stable_hash


def test_stable_hash_depends_on_content_not_on_key_order():
    assert stable_hash({"a": 1, "b": [2, 3]}) == stable_hash({"b": [2, 3], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2}) and len(stable_hash("x", length=8)) == 8


def _table(n: int) -> pd.DataFrame:
    frame = pd.DataFrame({"x": np.arange(n)})
    frame.attrs["made"] = n
    return frame


def test_a_frame_is_computed_once_then_read_with_its_attrs(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPBOOK_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    first, hit_first = cached_frame("tables", _table, 3)
    second, hit_second = cached_frame("tables", _table, 3)
    third, hit_third = cached_frame("tables", _table, 4)
    assert (hit_first, hit_second, hit_third) == (False, True, False)
    pd.testing.assert_frame_equal(first, second)
    assert second.attrs["made"] == 3 and len(third) == 4
    assert not list((tmp_path / "tables").glob(".*tmp"))  # written aside and renamed


def _write_modules(root: Path, helper_body: str) -> None:
    package = root / "cachetarget"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text(f"def scale(x):\n    return {helper_body}\n")
    (package / "compute.py").write_text("from cachetarget.helper import scale\n\n\n"
                                        "def value(n):\n    return scale(n)\n")


def test_the_key_changes_when_a_helper_in_another_module_changes(tmp_path, monkeypatch):
    """The function's own module is unchanged; the module it imports changes: the cache must miss."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("EXPBOOK_CACHE", str(tmp_path / "cache"))
    _write_modules(tmp_path, "x * 2")
    compute = importlib.import_module("cachetarget.compute")
    try:
        before = cache_key(compute.value, 3)
        assert cache_key(compute.value, 3) == before and cache_key(compute.value, 4) != before
        time.sleep(0.01)  # a new mtime, as an edit makes
        _write_modules(tmp_path, "x * 3")
        assert cache_key(compute.value, 3) != before
        _write_modules(tmp_path, "x * 2")  # the same source again: the same key (content, not time)
        assert cache_key(compute.value, 3) == before
    finally:
        for name in [n for n in sys.modules if n.startswith("cachetarget")]:
            del sys.modules[name]


def test_the_key_follows_the_package_versions(monkeypatch):
    before = cache_key(_table, 3)
    monkeypatch.setattr(cache, "package_versions", lambda: {"python": "3.11", "numpy": "0.0"})
    assert cache_key(_table, 3) != before


def test_the_data_under_a_path_argument_is_part_of_the_key(tmp_path):
    (tmp_path / "a.csv").write_text("1\n")
    before = cache_key(_table, tmp_path)
    (tmp_path / "a.csv").write_text("1\n2\n")
    assert cache_key(_table, tmp_path) != before
    assert fingerprint_folder(tmp_path) == canonical(tmp_path)["folder"]


def test_arrays_frames_and_dataclasses_are_keyed_by_content_and_unknown_objects_refused():
    a = np.arange(4.0)
    assert canonical(a) == canonical(a.copy()) and canonical(a) != canonical(a + 1)
    assert canonical(pd.DataFrame({"x": [1, 2]})) != canonical(pd.DataFrame({"x": [1, 3]}))
    assert canonical(Spec(3)) != canonical(Spec(4))
    with pytest.raises(TypeError, match="cannot key"):
        canonical(object())


@dataclass(frozen=True)
class Spec:
    n: int


def _generate(folder: Path, spec: Spec) -> dict:
    folder.mkdir(parents=True)
    (folder / "data.txt").write_text("x" * spec.n)
    return {"bytes": spec.n}


def test_a_generated_folder_is_written_once_per_spec(tmp_path):
    a = cached_folder("demo", _generate, Spec(3), root=tmp_path)
    assert cached_folder("demo", _generate, Spec(3), root=tmp_path) == a
    assert cached_folder("demo", _generate, Spec(4), root=tmp_path) != a
    assert (a / "DONE").is_file() and (a / "data.txt").read_text() == "xxx"
    assert not list((tmp_path / "demo").glob(".*tmp*"))


def test_a_generator_whose_imported_module_changes_writes_new_data(tmp_path, monkeypatch):
    """The acceptance case: ``ecg_synth`` imports the DS1/DS2 lists from ``wfdb_beats``; a change there must
    regenerate. Simulated by changing what the source graph reports for that module."""
    from expbook import sourcegraph
    from expbook.data.ecg_synth import EcgSpec, generate_ecg

    spec = EcgSpec(seed=0)
    before = cache_key(generate_ecg, spec)
    real = sourcegraph.source_hashes

    def edited(modules, relative_to=None):
        hashes = real(modules, relative_to)
        return {k: ("edited" if k.endswith("data/wfdb_beats.py") else v) for k, v in hashes.items()}

    monkeypatch.setattr(cache, "source_hashes", edited)
    assert "src/expbook/data/wfdb_beats.py" in real(sourcegraph.closure(["expbook.data.ecg_synth"]),
                                                    cache.PROJECT_ROOT)
    assert cache_key(generate_ecg, spec) != before
