"""The command line: bad input is one line and an exit code, nothing written; every command is reachable."""

import pytest

from expbook.cli import build_parser, main


@pytest.mark.parametrize(("argv", "message", "code"), [
    (["run"], "name an experiment (or --all)", 2),
    (["run", "--all", "-p", "seed=1"], "--all runs every experiment with its defaults", 2),
    (["run", "alpha", "-j", "2"], "-j and --scheduler go with --all", 2),
    (["gc"], "gc needs --older-than AGE and/or --keep N", 2),
    (["gc", "--older-than", "soon"], "a number and a unit", 2),
    (["compare", "nope-a", "nope-b"], "matches 0 runs", 2),
])
def test_bad_input_is_one_line_and_an_exit_code(argv, message, code, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPBOOK_RUNS", str(tmp_path / "runs"))
    assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_every_command_has_help():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"run", "build", "book", "compare", "sweep", "status", "release", "release-diff", "publish", "params",
            "gc"} <= set(commands)
    assert all(parser.format_help() for parser in commands.values())


def test_params_lists_every_parameter_with_its_documentation(capsys):
    from tests.helpers import example_experiment

    assert main(["params", example_experiment()]) == 0
    out = capsys.readouterr().out
    assert "seed" in out and "range: [0, inf)" in out
