"""The ``bluecarbon`` command line: every subcommand's handler, and the exit codes.

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
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from flows.config import RunConfig

__all__ = ["EXIT_CODES", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PARTIAL",
           "EXIT_UNREACHABLE", "EXIT_USAGE", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_UNREACHABLE = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # as flows.runtime.termination.EXIT_INTERRUPTED (not imported: Prefect)
EXIT_CODES = (EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_UNREACHABLE, EXIT_INTERRUPTED)
"""Every exit status ``bluecarbon`` documents (the module doc says what each means)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        self.exit(EXIT_USAGE, f"bluecarbon: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    from flows import PROCESSING_VERSION

    parser = _Parser(prog="bluecarbon", description="Mangrove and seagrass monitoring from Sentinel-2.")
    parser.add_argument("--version", action="version", version=f"bluecarbon {PROCESSING_VERSION}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="run the monitoring flow (no arguments: the offline demo)")
    _add_run_options(run)
    run.add_argument("--full", action="store_true",
                     help="recompute every row (default: only scenes not yet in the store)")
    run.add_argument("-v", "--verbose", action="store_true",
                     help="show the run's logs (and Prefect's, with --prefect)")
    run.add_argument("--prefect", action="store_true",
                     help="run as a Prefect flow, recorded by the Prefect API configured "
                          "(PREFECT_API_URL, a Prefect profile) or, with none, by a temporary "
                          "local one on PREFECT_HOME's database (default: a Prefect flow only "
                          "when an API is configured; else no Prefect at all)")

    report = sub.add_parser("report", help="partner summaries: a month's, or a year's evidence "
                                           "pack (HTML, PDF, CSV)")
    period = report.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", help="month to report, YYYY-MM")
    period.add_argument("--year", help="year of the annual evidence pack (extent accounts, "
                                       "carbon ledger, standards' indicators), YYYY")
    report.add_argument("--out", default=str(RunConfig.out),
                        help=f"results folder (default: ./{RunConfig.out})")
    report.add_argument("--sites", help="sites file or folder (default: the sites the runs into "
                                         "--out read, from their run records)")
    report.add_argument("--deliver", action="store_true",
                        help="email each partner its summary (SMTP settings from the environment; "
                             "without them, written to an outbox folder)")

    serve = sub.add_parser("serve", help="run the nightly and monthly schedules in this process "
                                          "(the options of run are the nightly run's settings)")
    _add_run_options(serve)
    serve.add_argument("--deliver", action="store_true", help="email the monthly summaries")

    notebooks = sub.add_parser("notebooks", help="open the result notebooks in JupyterLab "
                                                 "on a results folder")
    notebooks.add_argument("--out", default=str(RunConfig.out),
                           help=f"results folder (default: ./{RunConfig.out})")
    notebooks.add_argument("--sites", type=Path, help="sites file or folder, for the maps' "
                                                      "boundaries (default: the runs' sites)")
    notebooks.add_argument("--port", type=int, help="JupyterLab's port (default: its own, 8888)")
    notebooks.add_argument("--no-browser", action="store_true", help="do not open a browser")

    sites = sub.add_parser("sites", help="work with sites files")
    sites_sub = sites.add_subparsers(dest="sites_command", parser_class=_Parser)
    validate = sites_sub.add_parser("validate", help="check a sites GeoJSON file or folder")
    validate.add_argument("path", type=Path)
    validate.add_argument("--max-area-ha", type=float, default=None)
    _accuracy_parser(sub)
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """The run settings (:class:`flows.config.RunConfig`), taken by ``run`` and ``serve``. No
    argparse defaults: a setting not given comes from ``--config``, else from RunConfig."""
    parser.add_argument("--config", type=Path, help="TOML file of run settings ([run] table)")
    parser.add_argument("--sites", help="sites file (GeoJSON, GeoPackage, shapefile or .zip, "
                                        "KML/KMZ) or folder (default: the bundled sites)")
    parser.add_argument("--source", help=f"scene source (default {RunConfig.source})")
    parser.add_argument("--catalog", help="STAC API URL or catalog path (stac, safe sources)")
    parser.add_argument("--start", help="first day to report, YYYY-MM-DD (default: baseline start)")
    parser.add_argument("--end", help="last day to report, YYYY-MM-DD (default: today)")
    parser.add_argument("--out", help=f"results folder (default: ./{RunConfig.out})")
    parser.add_argument("--dask-address", help="run on a dask.distributed cluster, tcp://HOST:PORT")
    parser.add_argument("--seed", help=f"seed of the demo source (default {RunConfig.seed})")
    parser.add_argument("--mmu-ha", help="minimum mapping unit for gain/loss, hectares "
                                         f"(default {RunConfig.mmu_ha})")
    parser.add_argument("--max-area-ha", help="refuse sites larger than this, hectares "
                                              f"(default {RunConfig.max_area_ha:g})")
    parser.add_argument("--chunks", help=f"spatial chunk size in pixels (default {RunConfig.chunks})")
    parser.add_argument("--max-cloud", help="scene cloud cover limit for catalogue searches, "
                                            "percent")
    parser.add_argument("--factors", help="factors.toml of site carbon factors from field plots "
                                          "(default: IPCC Tier 1 defaults and site properties)")


def _run_config(args: argparse.Namespace, warnings: list[str] | None = None
                ) -> tuple[Any, list]:
    """The run settings of ``run`` or ``serve`` and the sites, checked: ConfigError,
    SitesError or FactorsError (one line) on bad input, before any work; the sites'
    plausibility warnings are added to ``warnings``."""
    from aoi import load_sites
    from flows.config import check_environment, check_period, load_config
    from flows.site.carbon import site_factor_sets

    overrides: dict[str, Any] = {
        "sites": args.sites, "source": args.source, "catalog": args.catalog,
        "start": args.start, "end": args.end, "out": args.out,
        "dask_address": args.dask_address, "seed": args.seed, "mmu_ha": args.mmu_ha,
        "max_area_ha": args.max_area_ha, "chunks": args.chunks, "max_cloud": args.max_cloud,
        "factors": args.factors,
    }
    config = load_config(args.config, **overrides)
    check_environment()  # settings read deep inside the run: checked before any work
    sites = load_sites(config.sites, max_area_ha=config.max_area_ha, warnings=warnings)
    check_period(config, sites)
    site_factor_sets(sites, config.factors)  # bad carbon factors
    return config, sites


def _accuracy_parser(sub: Any) -> None:
    """``bluecarbon accuracy design | assess | compare`` (issue 18; :mod:`flows.accuracy`)."""
    acc = sub.add_parser("accuracy", help="accuracy assessment: sample design, error-adjusted "
                                          "areas with 95 %% intervals, map-to-map agreement")
    acc_sub = acc.add_subparsers(dest="accuracy_command", parser_class=_Parser)
    out_help = f"results folder (default: ./{RunConfig.out})"
    sites_help = "sites file (default: the sites of the results folder's runs, else bundled)"

    design = acc_sub.add_parser("design", help="draw a stratified random sample of a month's "
                                               "change map, for field or photo labels")
    design.add_argument("--site", required=True, help="site id")
    design.add_argument("--period", required=True, help="month of the change map, YYYY-MM")
    design.add_argument("--n", type=int, metavar="N", help="total sample points (default: enough for a "
                                              "standard error of 0.01 of overall accuracy)")
    design.add_argument("--seed", type=int, metavar="S", help="seed of the draw (default: a random one, "
                                                  "recorded in design.json)")
    design.add_argument("--floor", type=int, default=50, metavar="F",
                        help="points in each rare stratum (gain, loss; default 50)")
    design.add_argument("--out", default=str(RunConfig.out), help=out_help)
    design.add_argument("--sites", help=sites_help)
    design.add_argument("--replace", action="store_true",
                        help="replace an existing design of that month")

    assess = acc_sub.add_parser("assess", help="error-adjusted areas and accuracies from "
                                               "labelled samples or reference maps")
    given = assess.add_mutually_exclusive_group(required=True)
    given.add_argument("--labels", metavar="FILE", help="samples.csv or samples.geojson with reference_class "
                                        "filled in")
    given.add_argument("--reference", metavar="RASTER", help="reference habitat raster of the month's year "
                                           "(1 habitat, 0 not; e.g. GMW v3)")
    assess.add_argument("--reference-baseline", metavar="RASTER", help="reference habitat raster of the "
                                                     "baseline's year: change classes too")
    assess.add_argument("--site", help="site id (with --reference)")
    assess.add_argument("--period", help="month, YYYY-MM (with --reference)")
    assess.add_argument("--out", help="results folder (default: the one the labels file is "
                                      f"in, else ./{RunConfig.out})")
    assess.add_argument("--sites", help=sites_help)
    assess.add_argument("--replace", action="store_true",
                        help="let a reference map's labels replace field labels of that month")

    compare = acc_sub.add_parser("compare", help="map-to-map agreement with a reference map")
    compare.add_argument("--site", required=True, help="site id")
    compare.add_argument("--period", required=True, help="month, YYYY-MM")
    compare.add_argument("--reference", required=True, metavar="RASTER", help="reference habitat raster "
                                                            "(1 habitat, 0 not; e.g. GMW v3)")
    compare.add_argument("--out", default=str(RunConfig.out), help=out_help)
    compare.add_argument("--sites", help=sites_help)


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    """The one error line of a command, and its exit code (bad input by default)."""
    print(f"bluecarbon: error: {message}", file=sys.stderr)
    return code


def _cmd_sites_validate(args: argparse.Namespace) -> int:
    from aoi import DEFAULT_MAX_AREA_HA, CalibrationError, SitesError, load_sites
    from flows.config import ConfigError, check_sites_path

    warnings: list[str] = []
    try:
        check_sites_path(args.path)  # a FIFO or /dev/zero would never finish reading
        sites = load_sites(args.path, max_area_ha=args.max_area_ha or DEFAULT_MAX_AREA_HA,
                           warnings=warnings)
        calibrations = [_calibration_line(site) for site in sites]
    except (SitesError, ConfigError, CalibrationError) as exc:
        return _fail(str(exc))
    for site, calibration in zip(sites, calibrations, strict=True):
        print(f"ok  {site.id:<40} {site.habitat:<9} {site.area_ha:10.1f} ha  "
              f"baseline {site.baseline_start}..{site.baseline_end}")
        if calibration:
            print(f"    calibration: {calibration}")
    print(f"{len(sites)} site(s) valid")
    _warn(warnings)
    return EXIT_OK


def _warn(warnings: list[str]) -> None:
    for line in warnings:
        print(f"bluecarbon: warning: {line}", file=sys.stderr)


def _calibration_line(site: Any) -> str | None:
    """What ``sites validate`` says of a site's calibration input (:mod:`aoi.calibration`);
    raises ``CalibrationError`` (one line) for input a run would refuse."""
    from aoi import CalibrationError, calibration_input, load_calibration_polygons

    source = calibration_input(site)
    if source is None:
        return None
    if source.kind == "raster":
        if not source.path.is_file():
            raise CalibrationError(f"site {site.id!r}: calibration {source.path}: no such file")
        return f"reference raster {source.path.name} (value 1 = {site.habitat})"
    polygons = load_calibration_polygons(source.path, site)
    counts = [sum(p.habitat is h for p in polygons.polygons) for h in (True, False)]
    return (f"{counts[0]} habitat / {counts[1]} not_habitat polygons ({source.path.name})"
            + "".join(f"; {note}" for note in polygons.notes))


def _cmd_run(args: argparse.Namespace) -> int:
    from aoi import SitesError
    from flows.config import ConfigError, check_scheduler
    from flows.site.carbon import FactorsError

    warnings: list[str] = []
    try:
        config, sites = _run_config(args, warnings)
        check_scheduler(config.dask_address)
    except (ConfigError, SitesError, FactorsError) as exc:
        return _fail(str(exc))
    problem = _check_source(config)  # before Prefect: an unreachable source fails in seconds
    if problem is not None:
        return problem
    _warn(warnings)  # once, before the progress display

    from flows.runtime.prefect import configured_api_url
    from flows.runtime.termination import exit_on_interrupt

    configured = configured_api_url()
    if configured is None and not args.prefect:
        restore = exit_on_interrupt()
        try:
            return _run_plain(args, config, sites)
        finally:
            restore()

    from flows.runtime.localapi import TemporaryAPI
    from flows.runtime.prefect import quiet_prefect

    quiet_prefect(args.verbose)  # before Prefect is imported: it reads its settings once

    # --prefect and no server configured: boot Prefect's temporary API now, while the
    # pipeline is imported
    api = None if configured else TemporaryAPI().start()
    restore = exit_on_interrupt(cleanup=(lambda: api.stop(timeout=2.0)) if api else None)
    try:
        return _run(args, config, sites, api)
    finally:
        restore()
        if api is not None:
            from flows.runtime.prefect import flush_prefect

            flush_prefect()
            api.stop()


def _check_source(config: Any) -> int | None:
    """A source that cannot work (no catalog, no credentials: exit 2) or cannot be reached
    (exit 4) fails here, in one line, before any work (and before Prefect is started or
    imported)."""
    from flows.config import make_source
    from flows.sources import SourceError, SourceUnreachable

    try:
        preflight = getattr(make_source(config), "preflight", None)
        if preflight is not None:
            preflight()
    except SourceUnreachable as exc:
        return _fail(str(exc), EXIT_UNREACHABLE)
    except SourceError as exc:
        return _fail(str(exc))
    return None


def _run_plain(args: argparse.Namespace, config: Any, sites: list) -> int:
    """``bluecarbon run`` with no Prefect API configured: the run in this process, without
    Prefect (:func:`flows.nightly.run_nightly`: no server, no Prefect import)."""
    from flows.nightly import SitesFailed, run_nightly
    from flows.runtime.display import RunDisplay, show_logs

    display = RunDisplay(sites, config, starting="starting")
    show_logs(args.verbose)
    started = time.monotonic()
    with display:
        try:
            record = run_nightly(config, full=args.full)
        except SitesFailed as exc:
            display.finish(failed=exc.unreachable or str(exc))
            return EXIT_UNREACHABLE if exc.unreachable else EXIT_FAILED
    display.finish(seconds=time.monotonic() - started)
    return EXIT_PARTIAL if record.get("status") == "partial" else EXIT_OK


def _run(args: argparse.Namespace, config: Any, sites: list, api: Any) -> int:
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    from flows.monitor import SitesFailed, run_monitoring
    from flows.runtime.display import RunDisplay
    from flows.runtime.localapi import TemporaryAPIError
    from flows.runtime.prefect import quiet_task_failures

    if api is not None and get_current_settings().api.url:
        api.stop()  # a Prefect profile names a server: the run goes there
        api = None
    display = RunDisplay(sites, config)
    started = time.monotonic()
    with display:
        try:
            url = api.wait() if api is not None else None
            quiet_task_failures(args.verbose)
            with temporary_settings(updates={PREFECT_API_URL: url} if url else None):
                record = run_monitoring(config, full=args.full)
        except TemporaryAPIError as exc:
            display.finish(failed=str(exc))
            return EXIT_FAILED
        except SitesFailed as exc:
            display.finish(failed=exc.unreachable or str(exc))
            return EXIT_UNREACHABLE if exc.unreachable else EXIT_FAILED
    display.finish(seconds=time.monotonic() - started)
    return EXIT_PARTIAL if record.get("status") == "partial" else EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    """``bluecarbon report``: 0 done, 1 written but some deliveries failed, 2 bad input."""
    from flows.reports.month import REPORT_ERRORS, report_month

    def written(folder: Path, reports: list) -> None:
        for report in reports:
            states = ", ".join(f"{sum(s.status == k for s in report.sites)} {k.replace('_', ' ')}"
                               for k in ("ok", "too_few", "no_data")
                               if any(s.status == k for s in report.sites))
            print(f"{folder / report.slug}/  {report.partner}: {len(report.sites)} site(s) "
                  f"({states})")

    if args.year is not None:
        return _report_year(args)
    try:
        result = report_month(Path(args.out), args.month, args.sites, deliver=args.deliver,
                              on_written=written)
    except REPORT_ERRORS as exc:
        return _fail(str(exc))
    return EXIT_FAILED if result.failures else EXIT_OK


def _report_year(args: argparse.Namespace) -> int:
    """``bluecarbon report --year``: 0 done, 2 bad input (nothing written)."""
    from flows.reports.month import REPORT_ERRORS
    from flows.reports.year import report_year

    if args.deliver:
        return _fail("--deliver sends the monthly summaries; the annual pack is written only")

    def written(folder: Path, reports: list) -> None:
        for report in reports:
            print(f"{folder / report.slug}/  {report.partner}: {len(report.sites)} site(s)")

    try:
        report_year(Path(args.out), args.year, args.sites, on_written=written)
    except REPORT_ERRORS as exc:
        return _fail(str(exc))
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    """``bluecarbon serve``: exit 0 after a clean shutdown (SIGTERM, SIGINT), 1 when the local
    Prefect server failed to start or died, 2 on bad input (settings, sites, period, a source
    that cannot work), before anything starts."""
    from aoi import SitesError
    from flows.config import ConfigError, deployment_parameters, make_source
    from flows.runtime.serve import ServeError, ServerFailed, serve
    from flows.site.carbon import FactorsError
    from flows.sources import SourceError

    warnings: list[str] = []
    try:
        config, _ = _run_config(args, warnings)
        make_source(config)  # Prefect-free: Prefect reads its settings once, at import
    except (ConfigError, SitesError, SourceError, FactorsError) as exc:
        return _fail(str(exc))
    _warn(warnings)
    try:
        serve(deployment_parameters(config), deliver=bool(args.deliver))
    except ServerFailed as exc:
        return _fail(str(exc), EXIT_FAILED)
    except ServeError as exc:
        return _fail(str(exc))
    return EXIT_OK


def _cmd_notebooks(args: argparse.Namespace) -> int:
    """``bluecarbon notebooks``: JupyterLab's exit code, 2 on bad input."""
    from flows.runtime.notebooks import NotebooksError, jupyter_command, launch

    try:
        argv, env = jupyter_command(Path(args.out), args.sites, port=args.port,
                                    browser=not args.no_browser)
    except NotebooksError as exc:
        return _fail(str(exc))
    print(f"bluecarbon notebooks: JupyterLab on the result notebooks with "
          f"BLUECARBON_RESULTS={env['BLUECARBON_RESULTS']}; stop it with Ctrl-C", flush=True)
    return launch(argv, env)


def _cmd_accuracy(args: argparse.Namespace) -> int:
    """``bluecarbon accuracy``: 0 done, 2 bad input (one line on stderr, nothing written)."""
    from flows.accuracy import ACCURACY_ERRORS

    try:
        if args.accuracy_command == "design":
            from flows.accuracy.design import make_design

            done = make_design(args.out, args.site, args.period, n=args.n, seed=args.seed,
                               floor=args.floor, sites=args.sites, replace=args.replace)
            lines = done.lines()
        elif args.accuracy_command == "assess":
            from flows.accuracy.assess import assess_labels, assess_reference

            if args.labels is not None:
                if args.reference_baseline or args.site or args.period:
                    return _fail("--labels takes no --site, --period or --reference-baseline: "
                                 "the sample ids name the design")
                out, result = assess_labels(args.out, args.labels, sites=args.sites,
                                            replace=args.replace)
            else:
                if not (args.site and args.period):
                    return _fail("--reference needs --site and --period")
                out = Path(args.out or RunConfig.out)
                result = assess_reference(out, args.site, args.period, args.reference,
                                          baseline=args.reference_baseline, sites=args.sites,
                                          replace=args.replace)
            lines = result.lines(out)
        elif args.accuracy_command == "compare":
            from flows.accuracy.compare import compare_reference

            lines = compare_reference(args.out, args.site, args.period, args.reference,
                                      sites=args.sites).lines()
        else:
            return _fail("accuracy needs a command: design, assess or compare")
    except ACCURACY_ERRORS as exc:
        return _fail(str(exc))
    print("\n".join(lines))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "run":
        return _cmd_run(args)
    if args.command == "report":
        return _cmd_report(args)
    if args.command == "serve":
        return _cmd_serve(args)
    if args.command == "notebooks":
        return _cmd_notebooks(args)
    if args.command == "sites" and args.sites_command == "validate":
        return _cmd_sites_validate(args)
    if args.command == "accuracy":
        return _cmd_accuracy(args)
    parser.print_help()
    return EXIT_OK if args.command is None else EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
