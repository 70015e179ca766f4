"""``python -m expbook``: run notebooks, build the site, show what is stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from expbook.errors import ExpbookError, ParameterError


def _cmd_run(args: argparse.Namespace) -> int:
    from expbook.params import parse_assignments
    from expbook.runner import list_experiments, run_experiment

    overrides = {}
    if args.file:
        loaded = yaml.safe_load(Path(args.file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ParameterError(f"{args.file}: expected a mapping of parameter names to values")
        overrides.update(loaded)
    overrides.update(parse_assignments(args.param or []))
    if args.all:
        if args.experiment or overrides:
            raise ParameterError("--all runs every experiment with its defaults; it takes no EXP or -p")
        failures = []
        for experiment in list_experiments():
            try:
                run_experiment(experiment, {}, force=args.force, progress=not args.quiet)
            except ExpbookError as exc:
                print(f"error: {exc}", file=sys.stderr)
                failures.append(experiment)
        if failures:
            print(f"{len(failures)} experiment(s) failed: {', '.join(failures)}", file=sys.stderr)
            return 4
        return 0
    if not args.experiment:
        raise ParameterError("name an experiment (or --all)")
    run_experiment(args.experiment, overrides, force=args.force, progress=not args.quiet)
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    from expbook.book import build_book

    site = build_book(force=args.force)
    print(f"site: {site}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from expbook.book import experiment_status
    from expbook.runner import list_experiments

    for experiment in list_experiments():
        status = experiment_status(experiment)
        print(f"{experiment:28s} {status.state:8s} {status.run_id or '-':32s} {status.reason}")
    return 0


def _cmd_params(args: argparse.Namespace) -> int:
    from expbook.params import read_parameter_specs
    from expbook.runner import notebook_path

    for spec in read_parameter_specs(notebook_path(args.experiment)).values():
        print(f"{spec.name:28s} {spec.type_text:12s} {spec.default!r:12}  {spec.comment}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="expbook", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute one notebook (or --all) as a versioned run; reuses a matching run")
    run.add_argument("experiment", nargs="?", help="notebook name in notebooks/, e.g. two_stage_diagnosis")
    run.add_argument("-p", "--param", action="append", nargs="+", metavar="NAME VALUE",
                     help="override a parameter: -p seed 7  or  -p seed=7 (repeatable)")
    run.add_argument("-f", "--file", help="YAML file of parameter overrides")
    run.add_argument("--all", action="store_true", help="run every experiment with its default parameters")
    run.add_argument("--force", action="store_true", help="execute even if a run with the same cache key exists")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_cmd_run)
    book = sub.add_parser("book", help="build the static site from the run store into book/_build/html")
    book.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    book.set_defaults(handler=_cmd_book)
    status = sub.add_parser("status", help="each experiment's canonical run and why it would re-run")
    status.set_defaults(handler=_cmd_status)
    params = sub.add_parser("params", help="list an experiment's parameters with defaults and documentation")
    params.add_argument("experiment")
    params.set_defaults(handler=_cmd_params)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ExpbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: no partial run was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
