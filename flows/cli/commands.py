"""The other ``bluecarbon`` commands: ``report``, ``notebooks``, ``sites validate``, ``accuracy``.

Each handler parses what argparse could not, calls its package (:mod:`flows.reports`,
:mod:`flows.runtime.notebooks`, :mod:`aoi`, :mod:`flows.accuracy`), prints what was done and
returns the exit code; bad input is one line (:func:`flows.cli.exits.fail`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from flows.cli.exits import EXIT_FAILED, EXIT_OK, fail, warn
from flows.config import RunConfig

__all__ = ["cmd_accuracy", "cmd_notebooks", "cmd_report", "cmd_sites_validate"]


def cmd_sites_validate(args: argparse.Namespace) -> int:
    from aoi import DEFAULT_MAX_AREA_HA, CalibrationError, SitesError, load_sites
    from flows.config import ConfigError, check_sites_path

    warnings: list[str] = []
    try:
        check_sites_path(args.path)  # a FIFO or /dev/zero would never finish reading
        sites = load_sites(args.path, max_area_ha=args.max_area_ha or DEFAULT_MAX_AREA_HA,
                           warnings=warnings)
        calibrations = [_calibration_line(site) for site in sites]
    except (SitesError, ConfigError, CalibrationError) as exc:
        return fail(str(exc))
    for site, calibration in zip(sites, calibrations, strict=True):
        print(f"ok  {site.id:<40} {site.habitat:<9} {site.area_ha:10.1f} ha  "
              f"baseline {site.baseline_start}..{site.baseline_end}")
        if calibration:
            print(f"    calibration: {calibration}")
    print(f"{len(sites)} site(s) valid")
    warn(warnings)
    return EXIT_OK


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


def cmd_report(args: argparse.Namespace) -> int:
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
        return fail(str(exc))
    return EXIT_FAILED if result.failures else EXIT_OK


def _report_year(args: argparse.Namespace) -> int:
    """``bluecarbon report --year``: 0 done, 2 bad input (nothing written)."""
    from flows.reports.month import REPORT_ERRORS
    from flows.reports.year import report_year

    if args.deliver:
        return fail("--deliver sends the monthly summaries; the annual pack is written only")

    def written(folder: Path, reports: list) -> None:
        for report in reports:
            print(f"{folder / report.slug}/  {report.partner}: {len(report.sites)} site(s)")

    try:
        report_year(Path(args.out), args.year, args.sites, on_written=written)
    except REPORT_ERRORS as exc:
        return fail(str(exc))
    return EXIT_OK


def cmd_notebooks(args: argparse.Namespace) -> int:
    """``bluecarbon notebooks``: JupyterLab's exit code, 2 on bad input."""
    from flows.runtime.notebooks import NotebooksError, jupyter_command, launch

    try:
        argv, env = jupyter_command(Path(args.out), args.sites, port=args.port,
                                    browser=not args.no_browser)
    except NotebooksError as exc:
        return fail(str(exc))
    print(f"bluecarbon notebooks: JupyterLab on the result notebooks with "
          f"BLUECARBON_RESULTS={env['BLUECARBON_RESULTS']}; stop it with Ctrl-C", flush=True)
    return launch(argv, env)


def cmd_accuracy(args: argparse.Namespace) -> int:
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
                    return fail("--labels takes no --site, --period or --reference-baseline: "
                                 "the sample ids name the design")
                out, result = assess_labels(args.out, args.labels, sites=args.sites,
                                            replace=args.replace)
            else:
                if not (args.site and args.period):
                    return fail("--reference needs --site and --period")
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
            return fail("accuracy needs a command: design, assess or compare")
    except ACCURACY_ERRORS as exc:
        return fail(str(exc))
    print("\n".join(lines))
    return EXIT_OK

