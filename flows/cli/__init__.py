"""The ``bluecarbon`` command line: its commands, their exit codes, and ``main``.

    bluecarbon run      [--config F] [--sites F] [--source demo] [--start DATE] [--end DATE]
                        [--out DIR] [--dask-address tcp://HOST:PORT] [--seed N] [--mmu-ha HA]
                        [--factors factors.toml]
    bluecarbon report   --month YYYY-MM [--out DIR] [--sites F] [--deliver]
    bluecarbon report   --year YYYY [--out DIR] [--sites F]
    bluecarbon serve    [the options of run] [--deliver]
    bluecarbon notebooks [--out DIR] [--sites F] [--port N] [--no-browser]
    bluecarbon sites validate F
    bluecarbon accuracy design  --site ID --period YYYY-MM [--n N] [--seed S] [--floor F]
    bluecarbon accuracy assess  --labels FILE | --reference RASTER [--reference-baseline
                                RASTER] --site ID --period YYYY-MM
    bluecarbon accuracy compare --site ID --period YYYY-MM --reference RASTER

Exit codes: 0 done; 1 the run finished but some sites failed (the others were written), a
report was written but some deliveries failed, or serving stopped because its Prefect server
died; 2 bad input (one line on stderr, nothing written); 3 every site done but some scenes
could not be fetched or were unusable (recorded in ``<out>/runs/<run_id>.json``; the next run
tries them again); 4 the scene source cannot be reached (no DNS answer, connection refused or
timed out: one line, within ~15 s, before any work; or met by a site during the run, which
then stops); 130 stopped by Ctrl-C (one line; the tables hold what was written). Handlers
parse and check; the work is in the packages they call.

The parser is in :mod:`flows.cli.parser`, the exit codes in :mod:`flows.cli.exits`, ``run`` and
``serve`` in :mod:`flows.cli.run`, the other commands in :mod:`flows.cli.commands`.
"""

from __future__ import annotations

import sys

from flows.cli.commands import cmd_accuracy, cmd_notebooks, cmd_report, cmd_sites_validate
from flows.cli.exits import (
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)
from flows.cli.parser import build_parser
from flows.cli.run import cmd_run, cmd_serve, run_config

_build_parser, _run_config = build_parser, run_config  # their names before the split (tests)


__all__ = ["EXIT_CODES", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PARTIAL",
           "EXIT_UNREACHABLE", "EXIT_USAGE", "main"]


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the process's arguments), run its command, return its exit code."""
    parser = _build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "serve":
        return cmd_serve(args)
    if args.command == "notebooks":
        return cmd_notebooks(args)
    if args.command == "sites" and args.sites_command == "validate":
        return cmd_sites_validate(args)
    if args.command == "accuracy":
        return cmd_accuracy(args)
    parser.print_help()
    return EXIT_OK if args.command is None else EXIT_USAGE
