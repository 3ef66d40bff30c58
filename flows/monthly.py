"""The monthly partner summary as a Prefect flow: ``monthly_summary`` reports one month.

Deployed by ``prefect.yaml`` (``monthly-summary``, 06:00 UTC on the 1st) and by
``bluecarbon serve``. With no ``month`` it reports the month *before the run's scheduled
time*, so a run that starts late, or is retried on the 2nd, still reports the right month.

The steps are those of ``bluecarbon report`` (:func:`flows.reports.month.report_month`), each
a task here. Bad input or a failed delivery ends the run ``Failed`` with a one-line message;
SMTP credentials never reach a task argument or a log line.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from flows.reports.build import build_reports
from flows.reports.model import PartnerReport
from flows.reports.month import (
    REPORT_ERRORS,
    MonthSteps,
    previous_month,
    report_month,
    send_reports,
)
from flows.reports.render import write_reports

__all__ = ["monthly_summary", "previous_month"]


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
    """Failures, one line each (settings read inside, from the environment)."""
    return send_reports(reports, out)


_TASKS = MonthSteps(build=build_reports_task, write=write_reports_task, send=deliver_reports_task)


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
    ``<out>/outbox/``). ``sites``: the sites file or folder (None: the sites the runs into ``out``
    read, from their run records; without records, the bundled sites)."""
    logger = get_run_logger()
    if month is None:
        month = previous_month(flow_run.scheduled_start_time)
    try:
        result = report_month(out, month, sites, deliver=deliver, steps=_TASKS)
    except REPORT_ERRORS as exc:
        logger.error("monthly summary of %s: %s", month, exc)
        return Failed(message=f"monthly summary of {month}: {exc}")
    folder = result.folder
    logger.info("monthly summary of %s: %d partner(s) in %s", month, len(result.reports), folder)
    if result.failures:
        return Failed(message=f"summaries of {month} written to {folder}, but "
                              f"{len(result.failures)} delivery(ies) failed: "
                              f"{'; '.join(result.failures)}")
    return Completed(message=f"summaries of {month} written to {Path(folder)}")
