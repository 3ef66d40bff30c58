"""What a partner summary is made of: one :class:`SiteReport` per site, gathered in one
:class:`PartnerReport` per partner and month, fully rendered (HTML, PDF, CSV)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from aoi import Site
from flows.reports.figures import Chart, MapImage
from flows.reports.places import AlertPlace

__all__ = ["AccuracySection", "PartnerReport", "ReportError", "SiteReport"]


class ReportError(Exception):
    """Bad input for a report (month, results folder, renderer); the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class AccuracySection:
    """A month's accuracy assessment of a site, as the summary shows it (issue 18)."""

    caption: str
    """'Assessed with N reference points (how) on DATE ...'."""
    rows: tuple[tuple[str, str, str, str, str], ...]
    """(label, error-adjusted estimate, 95 % interval, user's, producer's accuracy)."""
    summary: str
    """One sentence for the plain-text summary."""
    note: str = ""


@dataclass(frozen=True)
class SiteReport:
    """One site's part of a partner summary; ``status`` is ``ok``, ``too_few`` or ``no_data``."""

    site: Site
    status: str
    headline: str
    details: tuple[str, ...]
    metrics: tuple[tuple[str, str, str], ...]
    """(label, value, likely range) rows of the site's table."""
    overview: dict[str, str]
    """Cells of the 'at a glance' table: extent, net, seen, short_status."""
    chart: Chart | None
    map: MapImage
    place: str = ""
    """The site's centre, ``3.317° N, 101.248° E``."""
    alerts: tuple[AlertPlace, ...] = ()
    """The month's loss alerts with their locations, numbered as on the map."""
    accuracy: AccuracySection | None = None
    """The month's accuracy assessment, where one was made (``accuracy`` table)."""


@dataclass(frozen=True)
class PartnerReport:
    """One partner's summary for one month, fully rendered."""

    partner: str
    slug: str
    month: dt.date
    sites: tuple[SiteReport, ...]
    rows: pd.DataFrame
    simulated: bool
    versions: str
    html: str = ""
    pdf: bytes = b""

    def filename(self, ext: str) -> str:
        return f"{self.slug}-{self.month:%Y-%m}.{ext}"

    @property
    def images(self) -> dict[str, bytes]:
        """PNGs by key (``<site_id>-chart.png``, ``<site_id>-map.png``)."""
        out = {f"{s.site.id}-map.png": s.map.png for s in self.sites}
        out.update({f"{s.site.id}-chart.png": s.chart.png for s in self.sites if s.chart})
        return out

    @property
    def csv(self) -> bytes:
        return self.rows.to_csv(index=False, lineterminator="\r\n").encode("utf-8")
