"""``python -m expbook``: run notebooks, build the site, show what is stale."""

from __future__ import annotations

import argparse
import os
import sys

from expbook import commands
from expbook.errors import ExpbookError


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a timeout must be more than 0 seconds, got {text}")
    return value


TIMEOUT_HELP = ("stop a run after this many seconds, its kernel and workers with it, and keep it as a failed run "
                "(default: the notebook's metadata.expbook.timeout)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="expbook", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute one notebook (or --all) as a versioned run; reuses a matching run")
    run.add_argument("experiment", nargs="?", help="notebook name in notebooks/, e.g. churn_model")
    run.add_argument("-p", "--param", action="append", nargs="+", metavar="NAME VALUE",
                     help="override a parameter: -p seed 7  or  -p seed=7 (repeatable)")
    run.add_argument("-f", "--file", help="YAML file of parameter overrides")
    run.add_argument("--all", action="store_true", help="run every experiment with its default parameters")
    run.add_argument("-j", "--jobs", type=int, help="with --all: experiments run at once, each in its own process "
                     "and kernel, the cores split between them (default: every core)")
    run.add_argument("--scheduler", help="with --all: run the experiments on this Dask scheduler, e.g. tcp://127.0.0.1:8786")
    run.add_argument("--force", action="store_true", help="execute even if a run with the same execution key exists")
    run.add_argument("--timeout", type=_seconds, help=TIMEOUT_HELP)
    run.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    run.add_argument("--wait", action="store_true", help="wait for another process writing the run store")
    run.set_defaults(handler=commands.cmd_run)
    build = sub.add_parser("build", help="what `make book` runs: every experiment whose inputs changed (as run --all), "
                           "then the site (as book)")
    build.add_argument("-j", "--jobs", type=int, help="experiments run at once (default: every core)")
    build.add_argument("--scheduler", help="run the experiments on this Dask scheduler")
    build.add_argument("--force", action="store_true", help="execute even if a run with the same execution key exists")
    build.add_argument("--timeout", type=_seconds, help=TIMEOUT_HELP)
    build.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    build.add_argument("--wait", action="store_true", help="wait for another process writing the run store")
    build.set_defaults(handler=commands.cmd_build)
    gc = sub.add_parser("gc", help="list (and with --yes remove) old failed and variant runs; never a canonical run, "
                        "a released one or one of an unfinished sweep")
    gc.add_argument("--older-than", help="only runs older than this, e.g. 30d, 12h, 2w")
    gc.add_argument("--keep", type=int, help="keep the newest N failed or variant runs of each experiment")
    gc.add_argument("--yes", action="store_true", help="remove them (without it, only list them)")
    gc.add_argument("--wait", action="store_true", help="wait for another process writing the run store")
    gc.set_defaults(handler=commands.cmd_gc)
    book = sub.add_parser("book", help="build the static site from the run store into book/_build/html")
    book.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    book.add_argument("--wait", action="store_true", help="wait for another process writing the run store")
    book.set_defaults(handler=commands.cmd_book)
    compare = sub.add_parser("compare", help="parameter diff, metric deltas and changed verdicts of two runs")
    compare.add_argument("run_a", help="run id (or a unique prefix)")
    compare.add_argument("run_b", help="run id (or a unique prefix)")
    compare.add_argument("--limit", type=int, default=40, help="metrics to list (largest change first)")
    compare.add_argument("--figures", metavar="DIR", help="write side-by-side and difference PNGs of the shared figures")
    compare.set_defaults(handler=commands.cmd_compare)
    sweep = sub.add_parser("sweep", help="run a grid of variants (local processes or a Dask cluster) and summarise")
    sweep.add_argument("experiment")
    sweep.add_argument("-p", "--param", action="append", nargs=2, metavar=("NAME", "V1,V2"),
                       help="an axis of the grid: -p seed 1,2,3 (repeatable: the grid is their product)")
    sweep.add_argument("-j", "--jobs", type=int, default=1, help="local worker processes")
    sweep.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://127.0.0.1:8786")
    sweep.add_argument("--timeout", type=_seconds, help=TIMEOUT_HELP)
    sweep.add_argument("--wait", action="store_true", help="wait for another process writing the run store")
    sweep.set_defaults(handler=commands.cmd_sweep)
    status = sub.add_parser("status", help="each experiment's canonical run and why it would re-run")
    status.set_defaults(handler=commands.cmd_status)
    rel = sub.add_parser("release", help="freeze the built site as version NAME under book/_versions/")
    rel.add_argument("name", help="the version's name, e.g. v1 or 2026-11")
    rel.add_argument("--force", action="store_true", help="replace an existing NAME, or release stale/failed reports")
    rel.add_argument("--wait", action="store_true", help="wait for another process writing the run store")
    rel.set_defaults(handler=commands.cmd_release)
    rdiff = sub.add_parser("release-diff", help="what changed in the findings between two releases")
    rdiff.add_argument("a")
    rdiff.add_argument("b")
    rdiff.set_defaults(handler=commands.cmd_release_diff)
    pub = sub.add_parser("publish", help="put every release on a gh-pages branch with ghp-import and push it")
    pub.add_argument("--remote", default="origin")
    pub.add_argument("--branch", default="gh-pages")
    pub.set_defaults(handler=commands.cmd_publish)
    new = sub.add_parser("new", help="write a new experiment: notebook, package module and tests, green as written")
    new.add_argument("name", help="a lowercase Python identifier, e.g. churn_model")
    new.set_defaults(handler=commands.cmd_new)
    check = sub.add_parser("check", help="check notebooks against the contract (parameters, EXPERIMENT, record, no def)")
    check.add_argument("name", nargs="?", help="one experiment (default: every notebook)")
    check.set_defaults(handler=commands.cmd_check)
    params = sub.add_parser("params", help="list an experiment's parameters with defaults and documentation")
    params.add_argument("experiment")
    params.set_defaults(handler=commands.cmd_params)
    return parser


def _sigterm_as_interrupt() -> None:
    """SIGTERM unwinds like Ctrl-C: runs in progress stop, with their kernels and workers, and nothing partial is
    kept."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _sigterm_as_interrupt()
    try:
        return args.handler(args)
    except ExpbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: no partial run was kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`expbook status | head -2`): stop quietly, and keep the interpreter's final
        # flush of stdout from raising again (the recipe of the Python docs, "Note on SIGPIPE")
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
