"""The ``bluecarbon`` command line.

    bluecarbon run      [--config F] [--sites F] [--source demo] [--start DATE] [--end DATE]
                        [--out DIR] [--dask-address tcp://HOST:PORT] [--seed N] [--mmu-ha HA]
    bluecarbon sites validate F

Exit codes: 0 done; 1 the run finished but some sites failed (the others were written);
2 bad input (one line on stderr, nothing written); 3 every site done but some scenes could
not be fetched (recorded in ``<out>/runs/<run_id>.json``; the next run tries them again).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def _quiet_prefect(verbose: bool) -> None:
    """Prefect settings for a local run: no telemetry, a patient ephemeral API, calm logs."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "WARNING")


class _OneLineTaskFailures(logging.Filter):
    """Without ``-v``, a task that failed is logged in one line, not with its traceback: the
    flow catches a site's failure, prints it and records it with its reason, and a traceback
    on stderr would read as a crash to whoever runs or schedules the command (``-v`` keeps
    it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


def _quiet_task_failures(verbose: bool) -> None:
    if not verbose:
        logging.getLogger("prefect.task_runs").addFilter(_OneLineTaskFailures())


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        self.exit(EXIT_USAGE, f"bluecarbon: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bluecarbon", description="Mangrove and seagrass monitoring from Sentinel-2.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="run the monitoring flow (no arguments: the offline demo)")
    run.add_argument("--config", type=Path, help="TOML file of run settings ([run] table)")
    run.add_argument("--sites", help="sites GeoJSON file or folder (default: the bundled sites)")
    run.add_argument("--source", help="scene source: demo (default)")
    run.add_argument("--catalog", help="STAC API URL or catalog path (stac source)")
    run.add_argument("--start", help="first day to report, YYYY-MM-DD (default: baseline start)")
    run.add_argument("--end", help="last day to report, YYYY-MM-DD (default: today)")
    run.add_argument("--out", help="results folder (default: ./results)")
    run.add_argument("--dask-address", help="run on a dask.distributed cluster, tcp://HOST:PORT")
    run.add_argument("--seed", help="seed of the demo source (default 0)")
    run.add_argument("--mmu-ha", help="minimum mapping unit for gain/loss, hectares (default 0.1)")
    run.add_argument("--max-area-ha", help="refuse sites larger than this (hectares)")
    run.add_argument("--chunks", help="spatial chunk size in pixels (default 1024)")
    run.add_argument("--max-cloud", help="scene cloud cover limit for catalogue searches, percent")
    run.add_argument("--full", action="store_true",
                     help="recompute every row (default: only scenes not yet in the store)")
    run.add_argument("-v", "--verbose", action="store_true", help="show Prefect's logs")

    report = sub.add_parser("report", help="monthly partner summaries (HTML, PDF, CSV)")
    report.add_argument("--month", required=True, help="month to report, YYYY-MM")
    report.add_argument("--out", default="results", help="results folder (default: ./results)")
    report.add_argument("--sites", help="sites GeoJSON file or folder (default: the bundled sites)")
    report.add_argument("--deliver", action="store_true",
                        help="email each partner its summary (SMTP settings from the environment; "
                             "without them, written to an outbox folder)")

    serve = sub.add_parser("serve", help="run the nightly and monthly schedules in this process")
    serve.add_argument("--sites", help="sites GeoJSON file or folder (default: the bundled sites)")
    serve.add_argument("--out", default="results", help="results folder (default: ./results)")
    serve.add_argument("--source", default="demo", help="scene source (default: demo)")
    serve.add_argument("--deliver", action="store_true", help="email the monthly summaries")

    sites = sub.add_parser("sites", help="work with sites files")
    sites_sub = sites.add_subparsers(dest="sites_command", parser_class=_Parser)
    validate = sites_sub.add_parser("validate", help="check a sites GeoJSON file or folder")
    validate.add_argument("path", type=Path)
    validate.add_argument("--max-area-ha", type=float, default=None)
    return parser


def _fail(message: str) -> int:
    print(f"bluecarbon: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _cmd_sites_validate(args: argparse.Namespace) -> int:
    from aoi import DEFAULT_MAX_AREA_HA, SitesError, load_sites
    from flows.config import ConfigError, check_sites_path

    try:
        check_sites_path(args.path)  # a FIFO or /dev/zero would never finish reading
        sites = load_sites(args.path, max_area_ha=args.max_area_ha or DEFAULT_MAX_AREA_HA)
    except (SitesError, ConfigError) as exc:
        return _fail(str(exc))
    for site in sites:
        print(f"ok  {site.id:<40} {site.habitat:<9} {site.area_ha:10.1f} ha  "
              f"baseline {site.baseline_start}..{site.baseline_end}")
    print(f"{len(sites)} site(s) valid")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from aoi import SitesError, load_sites
    from flows.config import ConfigError, load_config

    overrides: dict[str, Any] = {
        "sites": args.sites, "source": args.source, "catalog": args.catalog,
        "start": args.start, "end": args.end, "out": args.out,
        "dask_address": args.dask_address, "seed": args.seed, "mmu_ha": args.mmu_ha,
        "max_area_ha": args.max_area_ha, "chunks": args.chunks, "max_cloud": args.max_cloud,
    }
    try:
        config = load_config(args.config, **overrides)
        sites = load_sites(config.sites, max_area_ha=config.max_area_ha)
    except (ConfigError, SitesError) as exc:
        return _fail(str(exc))

    _quiet_prefect(args.verbose)
    from flows.localapi import TemporaryAPI

    # no server configured: boot Prefect's temporary API now, while the pipeline is imported
    api = None if os.environ.get("PREFECT_API_URL") else TemporaryAPI().start()
    try:
        return _run(args, config, sites, api)
    finally:
        if api is not None:
            _flush_prefect()
            api.stop()


def _flush_prefect(timeout: float = 10.0) -> None:
    """Send Prefect's queued logs and events while the temporary API still answers. Left to
    Prefect's exit hook, they would go to a stopped server, whose client retries each batch
    with backoff: a run that ended with warnings (failed scenes) then lingered for ~75 s
    before exiting, printing "Error logging to API"."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout)


def _run(args: argparse.Namespace, config: Any, sites: list, api: Any) -> int:
    from flows.localapi import TemporaryAPIError
    from flows.monitor import SitesFailed, make_source, run_monitoring
    from flows.report_console import RunDisplay
    from flows.sources import SourceError

    try:  # a source that cannot work (no catalog, no credentials) fails before Prefect starts
        make_source(config)
    except SourceError as exc:
        return _fail(str(exc))

    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    if api is not None and get_current_settings().api.url:
        api.stop()  # a Prefect profile names a server: the run goes there
        api = None
    display = RunDisplay(sites, config)
    started = time.monotonic()
    with display:
        try:
            url = api.wait() if api is not None else None
            _quiet_task_failures(args.verbose)
            with temporary_settings(updates={PREFECT_API_URL: url} if url else None):
                record = run_monitoring(config, full=args.full)
        except TemporaryAPIError as exc:
            display.finish(failed=str(exc))
            return EXIT_FAILED
        except SitesFailed as exc:
            display.finish(failed=str(exc))
            return EXIT_FAILED
    display.finish(seconds=time.monotonic() - started)
    return EXIT_PARTIAL if record.get("status") == "partial" else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "run":
        return _cmd_run(args)
    if args.command == "report":
        from flows.report import cli_report

        return cli_report(args)
    if args.command == "serve":
        from flows.serve import cli_serve

        return cli_serve(args)
    if args.command == "sites" and args.sites_command == "validate":
        return _cmd_sites_validate(args)
    parser.print_help()
    return EXIT_OK if args.command is None else EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
