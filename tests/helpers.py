"""What the tests and benches share: every notebook at its smoke size, notebook fixtures, and the CLI in a subprocess."""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat

from expbook import PROJECT_ROOT

NOTEBOOKS = PROJECT_ROOT / "notebooks"


def smoke_sizes(path: Path) -> dict:
    """The notebook's smoke-run overrides (``metadata.expbook.smoke``): small enough to execute in seconds, large
    enough for every metric to be defined."""
    from expbook.run.catalogue import notebook_metadata

    return dict(notebook_metadata(path).get("smoke", {}))


def smoke_notebooks(target: Path) -> Path:
    """Every notebook of the project, copied into ``target`` with its smoke sizes as defaults (so that a smoke
    run is a *default*, canonical run)."""
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        with_defaults(path, target / path.name, smoke_sizes(path))
    return target


def example_experiment() -> str:
    """The experiment the platform tests exercise a real report with: the first in reading order that has a
    ``seed`` parameter (a variant to compare against). No test names a report."""
    from expbook.run.catalogue import list_experiments
    from expbook.run.params import read_parameter_specs

    return next(name for name in list_experiments(NOTEBOOKS) if "seed" in read_parameter_specs(NOTEBOOKS / f"{name}.ipynb"))


def with_defaults(source: Path, target: Path, defaults: dict) -> Path:
    """Copy a notebook, rewriting the defaults of its parameters cell (comments kept)."""
    notebook = nbformat.read(source, as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    lines = cell.source.splitlines()
    for name, value in defaults.items():
        index = next(i for i, line in enumerate(lines) if re.match(rf"{name}\s*(:[^=]*)?=", line))
        head, _, comment = lines[index].partition("  #")
        lines[index] = f"{head.split('=')[0].rstrip()} = {value!r}  #{comment}"
    cell.source = "\n".join(lines)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300,
            python: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``python [PYTHON] -m expbook ARGS`` in the project, with extra environment variables."""
    return subprocess.run([sys.executable, *python, "-m", "expbook", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=timeout)


def folders(path: Path) -> list[str]:
    return sorted(p.name for p in path.rglob("*") if p.is_dir()) if path.exists() else []


def fixture_notebook(folder: Path, name: str = "fixture", body: str = "y = x + 1", *, title: str = "Fixture") -> Path:
    """A tiny notebook: parameters x, seed, sleep_s; metric ``value = x + seed``; verdict "is seed even?"."""
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(f"# {title}: a tiny notebook\n\nDoes the runner handle it?"),
        nbformat.v4.new_code_cell("x = 1  # a knob\nseed = 0  # a seed\nsleep_s = 0.0  # pause",
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
        nbformat.v4.new_code_cell(
            "import time\ntime.sleep(sleep_s)\n"
            "from expbook.record import record\n"
            "from expbook.claims import check, decide\n"
            "record(experiment='fixture', metrics={'value': x + seed}, headline=f'value is {x + seed}.',\n"
            "       key_metric=('value', x + seed), question='Is the seed even?',\n"
            "       verdicts=decide([check('E', 'Is the seed even?', float(seed % 2 == 0), '>', 0.5, label='even')]))"),
    ])
    notebook.metadata["language_info"] = {"name": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


def assert_nested_close(a, b, *, rel: float = 1e-9, path: str = "") -> None:
    """``a`` and ``b`` hold the same keys, and numbers within ``rel`` (trained values: never exact equality)."""
    import math

    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), f"{path}: keys {sorted(set(a) ^ set(b))[:5]}"
        for key in a:
            assert_nested_close(a[key], b[key], rel=rel, path=f"{path}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: lengths {len(a)} and {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_nested_close(x, y, rel=rel, path=f"{path}[{i}]")
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rel, abs_tol=1e-12), f"{path}: {a} vs {b}"
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"
