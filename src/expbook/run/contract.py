"""The notebook contract: what a notebook must look like for the runner, the site and the tests to handle it.

A notebook ``notebooks/<name>.ipynb`` is an experiment when

1. its first cell is markdown opening with ``# Title: the question`` (the site's title and table of contents);
2. it has one code cell tagged ``parameters`` of ``name = literal`` lines (papermill injects the overrides after
   it, so a value computed there would not follow an override), each with a trailing comment saying what it is,
   and a ``range: [low, high]`` for every number;
3. it sets ``EXPERIMENT = "<name>"``, the file's own name;
4. it calls ``record(...)`` (``expbook.record``) once, with the headline, key metric, verdicts and metrics;
5. it defines no function or class: the logic lives in ``src/expbook`` with its tests, the notebook narrates.

Its ``metadata.expbook`` may add ``order`` (reading order), ``data_check`` (``module:function``), ``needs``
(reports whose stored findings it quotes), ``expected_seconds``, ``timeout`` (seconds) and ``smoke`` (the
parameter overrides of the test suite's smoke run). ``python -m expbook check`` applies this module to every
notebook; the site's *Adding an experiment* page says the same for people.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from expbook.errors import ParameterError
from expbook.pysource import parse
from expbook.run.catalogue import Cell, notebook_cells, notebook_metadata
from expbook.run.params import parameters_cell, parse_parameters_cell, read_parameter_specs, resolve_parameters

METADATA_KEYS = {"order", "data_check", "needs", "expected_seconds", "timeout", "smoke"}


@dataclass(frozen=True)
class Problem:
    notebook: str
    cell: int | None  # 1-based, as the notebook shows them; None: the notebook as a whole
    message: str

    def __str__(self) -> str:
        where = f"cell {self.cell}" if self.cell else "notebook"
        return f"{self.notebook}: {where}: {self.message}"


def _python(source: str) -> ast.Module | None:
    """A code cell as Python, IPython's ``%magic`` and ``!shell`` lines left out; None when it does not parse."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        return parse("\n".join(lines))
    except SyntaxError:
        return None


def _parameter_problems(name: str, number: int, source: str) -> list[Problem]:
    try:
        specs = parse_parameters_cell(source)
    except (ValueError, SyntaxError) as exc:
        return [Problem(name, number, str(exc))]
    problems = []
    for spec in specs.values():
        if not spec.comment:
            problems.append(Problem(name, number, f"parameter '{spec.name}' has no comment saying what it is"))
        elif spec.numeric and spec.bounds is None:
            problems.append(Problem(name, number, f"parameter '{spec.name}' is a number without a range: add "
                                                  f"'range: [low, high]' to its comment"))
    return problems


def _experiment_constant(tree: ast.Module) -> str | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "EXPERIMENT" for t in node.targets):
            return node.value.value if isinstance(node.value, ast.Constant) else "<not a string literal>"
    return None


def _records(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.Call) and (getattr(node.func, "id", None) == "record"
                                               or getattr(node.func, "attr", None) == "record")
               for node in ast.walk(tree))


def check_notebook(path: Path) -> list[Problem]:
    """Every way the notebook at ``path`` departs from the contract (see the module docstring); [] when none."""
    name = path.name
    try:
        cells: tuple[Cell, ...] = notebook_cells(path)
        metadata = notebook_metadata(path)
    except ParameterError as exc:
        return [Problem(name, None, str(exc))]
    problems = []
    if not cells or cells[0].cell_type != "markdown" or not cells[0].source.startswith("# "):
        problems.append(Problem(name, 1, "the first cell must be markdown opening with '# Title: the question'"))
    try:
        parameters_cell(cells)
    except ParameterError:
        problems.append(Problem(name, None, "no code cell is tagged 'parameters'"))
    constant, recorded = None, False
    for number, cell in enumerate(cells, start=1):
        if cell.cell_type != "code":
            continue
        if "parameters" in cell.tags:
            problems += _parameter_problems(name, number, cell.source)
            continue
        tree = _python(cell.source)
        if tree is None:
            problems.append(Problem(name, number, "the cell is not valid Python"))
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                kind = "class" if isinstance(node, ast.ClassDef) else "def"
                problems.append(Problem(name, number, f"'{kind} {node.name}' in a notebook: move it into "
                                                      f"src/expbook and test it there"))
        constant = constant or _experiment_constant(tree)
        recorded = recorded or _records(tree)
    if constant is None:
        problems.append(Problem(name, None, f"no EXPERIMENT constant: set EXPERIMENT = {path.stem!r}"))
    elif constant != path.stem:
        problems.append(Problem(name, None, f"EXPERIMENT is {constant!r} but the file is {path.stem!r}"))
    if not recorded:
        problems.append(Problem(name, None, "no record(...) call: the run would store no results"))
    unknown = sorted(set(metadata) - METADATA_KEYS)
    if unknown:
        problems.append(Problem(name, None, f"unknown metadata.expbook keys {unknown} (known: {sorted(METADATA_KEYS)})"))
    smoke = metadata.get("smoke", {})
    if not isinstance(smoke, dict):
        problems.append(Problem(name, None, "metadata.expbook.smoke must map parameter names to values"))
    else:
        try:
            resolve_parameters(path.stem, read_parameter_specs(path), smoke)
        except (ParameterError, ValueError) as exc:
            problems.append(Problem(name, None, f"metadata.expbook.smoke: {exc}"))
    return problems
