
import math

import pytest

from expbook import PROJECT_ROOT
from expbook.errors import ParameterError
from expbook.run.params import (
    overrides_against_defaults,
    parse_assignments,
    parse_parameters_cell,
    parse_value,
    read_parameter_specs,
    resolve_parameters,
)
from tests.helpers import example_experiment, run_cli

CELL = '''
data_dir: str | None = None  # real data folder
seed = 0  # random seed
scale = 0.1  # size
m_values = [50, 100]  # sweep
leaky = False  # switch
pool: Literal["test", "day"] = "test"  # candidate pool
'''


def specs():
    return parse_parameters_cell(CELL)


def test_cell_gives_defaults_types_and_comments():
    s = specs()
    assert [n for n in s] == ["data_dir", "seed", "scale", "m_values", "leaky", "pool"]
    assert s["data_dir"].type_text == "str | None" and s["data_dir"].comment == "real data folder"
    assert s["m_values"].type_text == "list[int]"


def test_unknown_name_is_rejected_with_the_closest_valid_name():
    with pytest.raises(ParameterError, match="unknown parameter 'sede'.*did you mean 'seed'"):
        resolve_parameters("exp", specs(), {"sede": 7})


@pytest.mark.parametrize("name,value", [("seed", 0.5), ("seed", "7x"), ("leaky", 1), ("m_values", [1, "a"]),
                                        ("scale", True), ("data_dir", 3), ("pool", "dya")])
def test_wrong_types_are_rejected(name, value):
    with pytest.raises(ParameterError, match=f"parameter '{name}'"):
        resolve_parameters("exp", specs(), {name: value})


def test_valid_overrides_resolve_and_ints_widen_to_float():
    resolved = resolve_parameters("exp", specs(), {"scale": 1, "data_dir": "/data", "m_values": [100, 300],
                                                   "pool": "day"})
    assert resolved["scale"] == 1.0 and isinstance(resolved["scale"], float)
    assert overrides_against_defaults(specs(), resolved) == {"scale": 1.0, "data_dir": "/data", "m_values": [100, 300],
                                                             "pool": "day"}
    assert overrides_against_defaults(specs(), resolve_parameters("exp", specs(), {"seed": 0})) == {}


@pytest.mark.parametrize("text,value", [("7", 7), ("0.5", 0.5), ("1e-3", 0.001), ("[100,300]", [100, 300]),
                                        ("true", True), ("None", None), ("null", None), ("abc", "abc")])
def test_command_line_values_parse_as_yaml(text, value):
    assert parse_value(text) == value


def test_assignments_accept_both_forms():
    assert parse_assignments([["seed", "7"], ["scale=0.5"]]) == {"seed": 7, "scale": 0.5}
    with pytest.raises(ParameterError):
        parse_assignments([["seed"]])


def test_derived_values_in_the_parameters_cell_are_refused():
    with pytest.raises(ValueError, match="literal"):
        parse_parameters_cell("a = 1\nb = a * 2\n")


def test_a_range_in_the_comment_bounds_the_value_and_its_message_names_it():
    specs = parse_parameters_cell("epochs = 20  # maximum epochs; range: [1, inf)\n"
                                  "share = 0.5  # a share; range: [0, 1]\n"
                                  "rate = 0.1  # open at zero; range: (0, 1]\n"
                                  "seeds = [0, 1]  # every element; range: [0, inf)\n"
                                  "cap: float | None = None  # optional; range: [1, inf)\n")
    assert str(specs["epochs"].bounds) == "[1, inf)" and str(specs["rate"].bounds) == "(0, 1]"
    for name, bad in (("epochs", -3), ("share", 1.5), ("rate", 0.0), ("seeds", [0, -1]), ("cap", 0.5)):
        with pytest.raises(ParameterError, match=rf"parameter '{name}' of demo must be in .*, got"):
            resolve_parameters("demo", specs, {name: bad})
    assert resolve_parameters("demo", specs, {"share": 1, "rate": 1.0, "cap": None, "seeds": [3]})["share"] == 1.0


def test_a_default_outside_its_own_range_is_refused():
    with pytest.raises(ValueError, match="outside its range"):
        parse_parameters_cell("p = 1.5  # a probability; range: [0, 1]\n")


def test_every_numeric_parameter_of_every_notebook_declares_a_range():
    for path in sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")):
        unbounded = [s.name for s in read_parameter_specs(path).values() if s.numeric and s.bounds is None]
        assert not unbounded, f"{path.name}: {unbounded}"


def _out_of_range(experiment: str) -> list[str]:
    """``name=value`` just outside the range of each bounded scalar parameter of ``experiment`` (three at most)."""
    out = []
    for spec in read_parameter_specs(PROJECT_ROOT / "notebooks" / f"{experiment}.ipynb").values():
        if spec.bounds is None or isinstance(spec.default, list) or not spec.numeric:
            continue
        low, high = spec.bounds.low, spec.bounds.high
        value = low - 1 if math.isfinite(low) else high + 1
        out.append(f"{spec.name}={value:g}")
    return out[:3]


@pytest.mark.slow
def test_out_of_range_values_exit_2_before_any_kernel_and_write_nothing(tmp_path):
    experiment = example_experiment()
    assignments = _out_of_range(experiment)
    assert assignments
    for assignment in assignments:
        result = run_cli("run", experiment, "-p", assignment, env={"EXPBOOK_RUNS": str(tmp_path / "runs")},
                         python=("-X", "importtime"))
        assert result.returncode == 2 and "papermill" not in result.stderr
        result.stderr = "\n".join(line for line in result.stderr.splitlines() if not line.startswith("import time:"))
        name = assignment.split("=")[0]
        assert f"parameter '{name}' of {experiment} must be in [" in result.stderr or \
            f"parameter '{name}' of {experiment} must be in (" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()
