"""A month's partner summaries, step by step: the one sequence ``bluecarbon report`` and the
monthly Prefect flow both run.

1. delivery settings checked (``--deliver``), before any work;
2. every partner's summary rendered in memory (:func:`flows.reports.build.build_reports`);
3. recipients checked (:func:`flows.reports.deliver.plan`), before anything is written;
4. the month's folder written in one swap (:func:`flows.reports.render.write_reports`);
5. the messages sent, or written to the outbox (:func:`send_reports`).

Bad input raises one of :data:`REPORT_ERRORS` (one line) before anything is written. The flow
passes its Prefect tasks as the steps (:class:`MonthSteps`); SMTP credentials are read from the
environment inside the sending step, never passed around.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aoi import SitesError
from flows.reports import deliver as delivery
from flows.reports.build import build_reports, parse_month
from flows.reports.model import PartnerReport, ReportError
from flows.reports.pdf import PdfError
from flows.reports.render import write_reports
from flows.results.files import StoreError
from flows.results.runs import recorded_sites

__all__ = ["REPORT_ERRORS", "MonthResult", "MonthSteps", "previous_month", "report_month",
           "send_reports"]

REPORT_ERRORS = (ReportError, PdfError, SitesError, StoreError, delivery.DeliveryError)
"""What bad input for a month's summaries raises (each with a one-line message)."""


def send_reports(reports: list[PartnerReport], out: str | Path) -> list[str]:
    """Email (or write to the outbox) every partner's summary; one line per failure. The
    settings are read here from the environment, so credentials are never an argument."""
    settings = delivery.load_settings(os.environ)
    return delivery.deliver(delivery.plan(reports, settings), settings, out)


@dataclass(frozen=True)
class MonthSteps:
    """The steps that do work, replaceable by the flow's Prefect tasks of the same signature."""

    build: Callable[..., list[PartnerReport]] = build_reports
    """``(out, month, sites) -> reports``"""
    write: Callable[..., Path | str] = write_reports
    """``(out, month, reports) -> folder``"""
    send: Callable[..., list[str]] = send_reports
    """``(reports, out) -> failures``"""


@dataclass(frozen=True)
class MonthResult:
    month: dt.date
    folder: Path
    reports: list[PartnerReport]
    failures: list[str]
    """Deliveries that failed, one line each (the reports are written anyway)."""


def previous_month(when: dt.date | dt.datetime) -> str:
    """``YYYY-MM`` of the calendar month before ``when`` (a datetime is taken in UTC)."""
    if isinstance(when, dt.datetime):
        when = (when.astimezone(dt.UTC) if when.tzinfo else when).date()
    last_day = when.replace(day=1) - dt.timedelta(days=1)
    return f"{last_day.year:04d}-{last_day.month:02d}"


def _recorded_sites(out: str | Path) -> str | list[str | None] | None:
    """The sites of the results folder's runs (:func:`flows.results.runs.recorded_sites`):
    one file, several (a list), or None (no record, or the bundled sites)."""
    found = recorded_sites(out)
    for path in found:
        if path is not None and not Path(path).exists():
            raise ReportError(f"{out}: its runs read the sites from {path}, which is gone: "
                              "pass --sites")
    if len(found) > 1:
        return found
    return found[0] if found else None


def report_month(out: str | Path, month: str, sites: str | Path | list | None = None, *,
                 deliver: bool = False, steps: MonthSteps = MonthSteps(),
                 on_written: Callable[[Path, list[PartnerReport]], None] | None = None,
                 ) -> MonthResult:
    """Summaries of ``month`` (``YYYY-MM``) from the results in ``out``, written to
    ``<out>/reports/<YYYY-MM>/`` (and delivered with ``deliver``); ``on_written`` is called
    once the folder is written, before sending. ``sites`` None: the sites the results folder's
    runs read (their run records), else the bundled sites."""
    first_day = parse_month(month)
    if sites is None:
        sites = _recorded_sites(out)
    if deliver:  # bad SMTP settings: refused before any work
        delivery.load_settings(os.environ)
    reports = steps.build(out, first_day, sites)
    if deliver:  # bad or missing addresses: refused before anything is written
        delivery.plan(reports, delivery.load_settings(os.environ))
    folder = Path(steps.write(out, first_day, reports))
    if on_written is not None:
        on_written(folder, reports)
    failures = steps.send(reports, out) if deliver else []
    return MonthResult(first_day, folder, reports, failures)
