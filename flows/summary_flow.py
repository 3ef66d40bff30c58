"""The monthly partner summary as a Prefect flow: ``monthly_summary`` reports one month.

Deployed by ``prefect.yaml`` (``monthly-summary``, 06:00 UTC on the 1st) and by
``bluecarbon serve``. With no ``month`` it reports the month *before the run's scheduled
time*, so a run that starts late, or is retried on the 2nd, still reports the right month.

The steps are those of ``bluecarbon report`` (:func:`flows.report.cli_report`), one task each:
SMTP settings checked before any work, every partner's summary rendered in memory
(:func:`flows.report.build_reports`), recipients checked (:func:`flows.deliver.plan`), the
month's folder written in one swap (:func:`flows.report.write_reports`), then the emails sent
(:func:`flows.deliver.deliver`). Bad input or a failed delivery ends the run ``Failed`` with a
one-line message; SMTP credentials never reach a task argument or a log line.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from aoi import SitesError
from flows import deliver as delivery
from flows import store
from flows.report import PartnerReport, ReportError, build_reports, parse_month, write_reports
from flows.report_pdf import PdfError

__all__ = ["monthly_summary", "previous_month"]

_REPORT_ERRORS = (ReportError, PdfError, SitesError, store.StoreError, delivery.DeliveryError)


def previous_month(when: dt.date | dt.datetime) -> str:
    """``YYYY-MM`` of the calendar month before ``when`` (a datetime is taken in UTC)."""
    if isinstance(when, dt.datetime):
        when = (when.astimezone(dt.UTC) if when.tzinfo else when).date()
    last_day = when.replace(day=1) - dt.timedelta(days=1)
    return f"{last_day.year:04d}-{last_day.month:02d}"


@task(name="build-reports", cache_policy=NO_CACHE)
def build_reports_task(out: str, month: dt.date, sites: str | None) -> list[PartnerReport]:
    reports = build_reports(out, month, sites)
    get_run_logger().info("%d partner summaries of %s rendered", len(reports), f"{month:%Y-%m}")
    return reports


@task(name="write-reports", cache_policy=NO_CACHE)
def write_reports_task(out: str, month: dt.date, reports: list[PartnerReport]) -> str:
    return str(write_reports(out, month, reports))


@task(name="deliver-reports", cache_policy=NO_CACHE)
def deliver_reports_task(reports: list[PartnerReport], out: str) -> list[str]:
    """Failures, one line each. Settings are read here from the environment, so credentials
    are never a task argument."""
    settings = delivery.load_settings(os.environ)
    return delivery.deliver(delivery.plan(reports, settings), settings, out)


@flow(name="monthly-summary", log_prints=True)
def monthly_summary(
    month: str | None = None,
    out: str = "results",
    sites: str | None = None,
    deliver: bool = False,
):
    """Partner summaries of one month (``YYYY-MM``; None: the month before the scheduled run)
    from the Parquet results in ``out``, written to ``<out>/reports/<YYYY-MM>/``; ``deliver``
    also emails each partner its summary (``BLUECARBON_SMTP_*``; without a host, to
    ``<out>/outbox/``). ``sites``: the sites GeoJSON file or folder (None: the bundled sites)."""
    logger = get_run_logger()
    if month is None:
        month = previous_month(flow_run.scheduled_start_time)
    try:
        first_day = parse_month(month)
        if deliver:  # bad SMTP settings or addresses: refused before anything is written
            delivery.load_settings(os.environ)
        reports = build_reports_task(out, first_day, sites)
        if deliver:
            delivery.plan(reports, delivery.load_settings(os.environ))
        folder = write_reports_task(out, first_day, reports)
        failures = deliver_reports_task(reports, out) if deliver else []
    except _REPORT_ERRORS as exc:
        logger.error("monthly summary of %s: %s", month, exc)
        return Failed(message=f"monthly summary of {month}: {exc}")
    logger.info("monthly summary of %s: %d partner(s) in %s", month, len(reports), folder)
    if failures:
        return Failed(message=f"summaries of {month} written to {folder}, but "
                              f"{len(failures)} delivery(ies) failed: {'; '.join(failures)}")
    return Completed(message=f"summaries of {month} written to {Path(folder)}")
