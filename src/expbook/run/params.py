"""Notebook parameters: the ``parameters`` cell is the single source of names, defaults, types, docs.

We parse the cell ourselves (``ast``) instead of trusting papermill, which only warns on unknown
names and drops ``x: int | None = None`` annotations. Each line must be ``name = literal`` or
``name: type = literal`` with a trailing ``# comment`` documenting it. Types: int, float, str, bool,
dict, list[T], unions with ``|`` and ``Literal["a", "b"]`` for a fixed set of choices.

A numeric parameter declares its bounds in its comment, where papermill reads them as plain help text:
``epochs = 20  # maximum epochs; range: [1, inf)`` — brackets are closed ends, parentheses open ones,
``inf`` an open end. For a list parameter the bounds apply to every element.
"""

from __future__ import annotations

import ast
import difflib
import io
import math
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from expbook.errors import ParameterError
from expbook.pysource import parse

Checker = Callable[[Any], bool]
RANGE = re.compile(r"range:\s*([\[(])\s*([^,\s]+)\s*,\s*([^\])\s]+)\s*([\])])")


@dataclass(frozen=True)
class Bounds:
    """An interval of allowed values: ``[low, high]`` with each end closed or open (an infinite end is open)."""

    low: float
    high: float
    low_closed: bool
    high_closed: bool

    @classmethod
    def parse(cls, comment: str) -> Bounds | None:
        match = RANGE.search(comment)
        if not match:
            return None
        opening, low, high, closing = match.groups()
        try:
            return cls(float(low), float(high), opening == "[" and math.isfinite(float(low)),
                       closing == "]" and math.isfinite(float(high)))
        except ValueError:
            raise ValueError(f"range bounds must be numbers or inf, got {match.group(0)!r}") from None

    def contains(self, value: float) -> bool:
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return bool(above and below)

    def __str__(self) -> str:
        def end(x: float) -> str:
            return ("-inf" if x < 0 else "inf") if math.isinf(x) else f"{x:g}"
        return f"{'[' if self.low_closed else '('}{end(self.low)}, {end(self.high)}{']' if self.high_closed else ')'}"


def _numbers(value: Any) -> list[float]:
    """The numeric values a range applies to: the value itself, or a list's elements; none for None or text."""
    items = value if isinstance(value, list) else [value]
    return [x for x in items if isinstance(x, (int, float)) and not isinstance(x, bool)]


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: Any
    type_text: str
    comment: str
    check: Checker
    bounds: Bounds | None = None

    def accepts(self, value: Any) -> bool:
        return self.check(value)

    def in_range(self, value: Any) -> bool:
        return self.bounds is None or all(self.bounds.contains(x) for x in _numbers(value))

    @property
    def numeric(self) -> bool:
        return bool(re.search(r"\b(int|float)\b", self.type_text))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_SIMPLE: dict[str, Checker] = {
    "int": _is_int,
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "dict": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, list),
    "None": lambda v: v is None,
}


def _checker(node: ast.expr) -> Checker:
    if isinstance(node, ast.Name) and node.id in _SIMPLE:
        return _SIMPLE[node.id]
    if isinstance(node, ast.Constant) and node.value is None:
        return _SIMPLE["None"]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = _checker(node.left), _checker(node.right)
        return lambda v: left(v) or right(v)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "list":
        item = _checker(node.slice)
        return lambda v: isinstance(v, list) and all(item(x) for x in v)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "Literal":
        choices = ast.literal_eval(node.slice)
        choices = choices if isinstance(choices, tuple) else (choices,)
        return lambda v: any(v == c and type(v) is type(c) for c in choices)
    raise ValueError(f"unsupported parameter type annotation {ast.unparse(node)!r}")


def _inferred_type(default: Any) -> str:
    if default is None:
        raise ValueError("a None default needs a type annotation, e.g. `data_dir: str | None = None`")
    if isinstance(default, list):
        kinds = {_inferred_type(x) for x in default}
        return f"list[{kinds.pop()}]" if len(kinds) == 1 else "list"
    return type(default).__name__


def _trailing_comments(source: str) -> dict[int, str]:
    comments = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    return comments


def parameters_cell(cells) -> str:
    """The source of the code cell tagged ``parameters`` (``catalogue.notebook_cells``)."""
    for cell in cells:
        if cell.cell_type == "code" and "parameters" in cell.tags:
            return cell.source
    raise ParameterError("the notebook has no cell tagged 'parameters'")


def parse_parameters_cell(source: str) -> dict[str, ParameterSpec]:
    """Specs of every ``name = literal`` / ``name: type = literal`` in the cell, in order."""
    comments = _trailing_comments(source)
    specs: dict[str, ParameterSpec] = {}
    for statement in parse(source).body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
            name, annotation, value = statement.targets[0].id, None, statement.value
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value:
            name, annotation, value = statement.target.id, statement.annotation, statement.value
        else:
            raise ValueError(f"parameters cell line {statement.lineno}: only `name = literal` assignments are allowed")
        try:
            default = ast.literal_eval(value)
        except ValueError:
            raise ValueError(f"parameters cell: {name} must be a literal (derived values are not recomputed "
                             "after papermill injects parameters)") from None
        type_text = ast.unparse(annotation) if annotation is not None else _inferred_type(default)
        check = _checker(parse(type_text, mode="eval").body)
        if not check(default):
            raise ValueError(f"parameters cell: default of {name} is not a {type_text}")
        comment = comments.get(statement.lineno, "")
        spec = ParameterSpec(name, default, type_text, comment, check, Bounds.parse(comment))
        if not spec.in_range(default):
            raise ValueError(f"parameters cell: default of {name} ({default!r}) is outside its range {spec.bounds}")
        specs[name] = spec
    return specs


def read_parameter_specs(notebook_path: str | Path) -> dict[str, ParameterSpec]:
    from expbook.run.catalogue import notebook_cells
    return parse_parameters_cell(parameters_cell(notebook_cells(Path(notebook_path))))


def parse_value(text: str) -> Any:
    """A command-line value as YAML (``7``, ``0.5``, ``[100,300]``, ``true``, ``null``), else the string.

    ``None`` means null and ``1e-3`` means a float (YAML 1.1 would keep both as strings).
    """
    if text.strip() in ("None", "none"):
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(text)
        except ValueError:
            return value
    return value


def resolve_parameters(experiment: str, specs: dict[str, ParameterSpec], overrides: dict[str, Any]) -> dict[str, Any]:
    """Defaults updated with ``overrides``; unknown names or wrong types raise ``ParameterError``."""
    resolved = {name: spec.default for name, spec in specs.items()}
    for name, value in overrides.items():
        if name not in specs:
            close = difflib.get_close_matches(name, list(specs), n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ParameterError(f"unknown parameter '{name}' for {experiment}: {hint}"
                                 f"(valid: {', '.join(specs)})")
        spec = specs[name]
        if not spec.accepts(value):
            raise ParameterError(f"parameter '{name}' of {experiment} must be {spec.type_text}, "
                                 f"got {value!r} ({type(value).__name__})")
        if not spec.in_range(value):
            raise ParameterError(f"parameter '{name}' of {experiment} must be in {spec.bounds}, got {value!r}")
        if spec.type_text == "float" and _is_int(value):
            value = float(value)
        resolved[name] = value
    return resolved


def overrides_against_defaults(specs: dict[str, ParameterSpec], resolved: dict[str, Any]) -> dict[str, Any]:
    """The parameters whose value differs from the notebook's default (what makes a run a variant)."""
    return {name: value for name, value in resolved.items() if name in specs and value != specs[name].default}


def parse_assignments(items: list[list[str]]) -> dict[str, Any]:
    """``-p NAME VALUE`` or ``-p NAME=VALUE`` pairs from the command line."""
    overrides = {}
    for item in items:
        if len(item) == 1 and "=" in item[0]:
            name, text = item[0].split("=", 1)
        elif len(item) == 2:
            name, text = item
        else:
            raise ParameterError(f"-p takes NAME VALUE or NAME=VALUE, got {' '.join(item)!r}")
        overrides[name.strip()] = parse_value(text)
    return overrides
