"""What the tests and benches share: tiny notebook sizes, notebook fixtures, and the CLI in a subprocess."""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat

from expbook import PROJECT_ROOT

# Small enough to execute in ~15 s on 2 cores, large enough for every metric to be defined.
TINY = {"scale": 0.004, "n_boot": 10, "num_boost_round": 80}
TINY_RERANK = {"scale": 0.004, "num_boost_round": 80, "m_values": [5, 20, 60]}
TINY_GNN = {"employees": 200, "folds": 2, "repeats": 1, "workers": 2, "hidden": 8, "stage1_epochs": 12, "stage2_epochs": 8,
            "stage1_patience": 6, "stage2_patience": 6}
TINY_SEQ = {"max_users": 80, "seeds": [0, 1], "epochs": 2, "max_epochs": 3, "patience": 1, "dim": 16, "candidates": 50}
TINY_ECG = {"minutes": 1.5, "seeds": [0, 1], "epochs": 4, "patience": 2, "warmup_epochs": 2, "n_boot": 50}


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
            "from expbook.verdicts import threshold_rule\n"
            "record(experiment='fixture', metrics={'value': x + seed}, headline=f'value is {x + seed}.',\n"
            "       key_metric=('value', x + seed), question='Is the seed even?',\n"
            "       verdicts=[threshold_rule('E', 'Is the seed even?', float(seed % 2 == 0), '>', 0.5, label='even')])"),
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
