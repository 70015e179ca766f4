"""Honest provenance: an untracked module under the code paths makes the code dirty; a git that cannot answer
makes it unknown, never clean."""

import subprocess

from expbook.cache import package_versions
from expbook.run import provenance
from expbook.run.provenance import THREAD_VARIABLES, environment, git, git_state


def test_git_state_names_a_commit_and_a_dirty_flag():
    state = git_state()
    assert set(state) == {"commit", "dirty"} and isinstance(state["dirty"], bool)
    assert state["commit"] == (git("rev-parse", "HEAD") or "unknown")


def test_every_pinned_package_is_reported_with_its_installed_version():
    versions = package_versions()
    assert {"papermill", "torch", "jupyter-book", "python"} <= set(versions)
    assert versions["torch"].startswith("2.13.0") and "not installed" not in versions.values()


def test_the_thread_settings_come_from_the_environment_given():
    env = environment({"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"})
    assert env["threads"] == {name: {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}.get(name)
                              for name in THREAD_VARIABLES}
    assert env["cpu_count"] >= 1 and env["python"].startswith("3.11") and len(env["package_code"]) == 16


def _repo(path):
    (path / "src").mkdir(parents=True)
    (path / "src" / "module.py").write_text("x = 1\n")
    for args in (["init", "-q"], ["add", "."], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "c"]):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)


def test_an_untracked_module_under_src_makes_the_code_dirty(tmp_path, monkeypatch):
    _repo(tmp_path)
    monkeypatch.setattr(provenance, "PROJECT_ROOT", tmp_path)
    assert provenance.git_state()["dirty"] is False
    (tmp_path / "notes.txt").write_text("not code\n")  # outside the code paths: still clean
    assert provenance.code_dirty() is False
    (tmp_path / "src" / "new_helper.py").write_text("def helper():\n    return 2\n")  # imported by a run, never added
    state = provenance.git_state()
    assert state["dirty"] is True and len(state["commit"]) == 40


def test_a_git_that_cannot_answer_gives_unknown_not_clean(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "PROJECT_ROOT", tmp_path)  # not a repository
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert provenance.git_state() == {"commit": "unknown", "dirty": None}
