"""The ``bluecarbon`` argument parser: every subcommand's options, and their help.

No run setting has an argparse default (:func:`_add_run_options`): a setting not given comes
from ``--config``, else from :class:`flows.config.RunConfig`, whose defaults the help shows.
A parse error is one line and exit 2, like every other bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from flows.cli.exits import EXIT_USAGE
from flows.config import RunConfig

__all__ = ["build_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        self.exit(EXIT_USAGE, f"bluecarbon: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
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
