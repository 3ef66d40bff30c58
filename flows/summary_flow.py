"""The monthly partner summary as a Prefect flow: ``monthly_summary`` reports one month.

Deployed by ``prefect.yaml`` (``monthly-summary``, 06:00 UTC on the 1st) and by
``bluecarbon serve``. With no ``month`` it reports the month *before the run's scheduled
time*, so a run that starts late, or is retried on the 2nd, still reports the right month.

The report itself is :mod:`flows.report` (``bluecarbon report``); this module only decides
which month and calls it, through :func:`write_summary`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import re

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

__all__ = ["monthly_summary", "previous_month", "write_summary", "ReportFailed"]

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class ReportFailed(RuntimeError):
    """The report could not be written; the message is one line."""


def previous_month(when: dt.date | dt.datetime) -> str:
    """``YYYY-MM`` of the calendar month before ``when`` (a datetime is taken in UTC)."""
    if isinstance(when, dt.datetime):
        when = (when.astimezone(dt.UTC) if when.tzinfo else when).date()
    last_day = when.replace(day=1) - dt.timedelta(days=1)
    return f"{last_day.year:04d}-{last_day.month:02d}"


def write_summary(month: str, out: str, sites: str | None, deliver: bool) -> None:
    """Write (and optionally deliver) the summary of ``month`` from the results in ``out``.

    Adapter onto the report's command-line entry point ``flows.report.cli_report(args)``
    (exit code 0 on success; a one-line error on stderr otherwise), called in this process.
    Raises :class:`ReportFailed` with that line when it does not succeed.
    """
    from flows.report import cli_report

    args = argparse.Namespace(command="report", month=month, out=out, sites=sites,
                              deliver=deliver)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = cli_report(args)
    if code != 0:
        lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {code}"
        raise ReportFailed(f"report for {month} failed: {reason}")


@task(name="write-summary", cache_policy=NO_CACHE)
def write_summary_task(month: str, out: str, sites: str | None, deliver: bool) -> None:
    write_summary(month, out, sites, deliver)


@flow(name="monthly-summary", log_prints=True)
def monthly_summary(
    month: str | None = None,
    out: str = "results",
    sites: str | None = None,
    deliver: bool = False,
):
    """Partner summaries of one month (``YYYY-MM``; None: the month before the scheduled run)
    from the Parquet results in ``out``; ``deliver`` also emails each partner its summary.
    ``sites``: the sites GeoJSON file or folder (None: the bundled sites)."""
    logger = get_run_logger()
    if month is None:
        month = previous_month(flow_run.scheduled_start_time)
    elif not _MONTH.match(month):
        return Failed(message=f"month must look like YYYY-MM, got {month!r}")
    logger.info("monthly summary of %s from %s (deliver=%s)", month, out, deliver)
    try:
        write_summary_task(month, out, sites, deliver)
    except ReportFailed as exc:
        logger.error("%s", exc)
        return Failed(message=str(exc))
    return Completed(message=f"summary of {month} written from {out}")
