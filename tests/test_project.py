"""The project's folders come from the environment when asked, never frozen at import."""

from expbook import PROJECT_ROOT
from expbook.project import Project


def test_folders_default_to_the_repository_and_follow_the_environment(monkeypatch, tmp_path):
    for name in ("EXPBOOK_NOTEBOOKS", "EXPBOOK_RUNS", "EXPBOOK_BOOK_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert Project.current() == Project(PROJECT_ROOT / "notebooks", PROJECT_ROOT / "runs", PROJECT_ROOT / "book")
    monkeypatch.setenv("EXPBOOK_RUNS", str(tmp_path / "elsewhere"))
    assert Project.current().runs == tmp_path / "elsewhere"
