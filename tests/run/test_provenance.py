"""Provenance: the git state, the installed versions of the pinned packages, the thread settings of a run."""

from expbook.run.provenance import THREAD_VARIABLES, environment, git, git_state, pinned_versions


def test_git_state_names_a_commit_and_a_dirty_flag():
    state = git_state()
    assert set(state) == {"commit", "dirty"} and isinstance(state["dirty"], bool)
    assert state["commit"] == (git("rev-parse", "HEAD") or "unknown")


def test_every_pinned_package_is_reported_with_its_installed_version():
    versions = pinned_versions()
    assert {"papermill", "torch", "jupyter-book"} <= set(versions)
    assert versions["torch"].startswith("2.13.0") and "not installed" not in versions.values()


def test_the_thread_settings_come_from_the_environment_given():
    env = environment({"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"})
    assert env["threads"] == {name: {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}.get(name)
                              for name in THREAD_VARIABLES}
    assert env["cpu_count"] >= 1 and env["python"].startswith("3.11") and len(env["package_code"]) == 16
