"""Where things are, in the partner summaries: a site's coordinates, and the loss alerts of a
month with their locations (numbered as on the change map)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from aoi import Site
from flows.reports.sitemap import MapPoint, lonlat_label

__all__ = ["AlertPlace", "alert_places", "site_place"]


def site_place(site: Site) -> str:
    """The site's centre as ``3.317° N, 101.248° E`` (its polygon's centroid)."""
    return lonlat_label(*site.centroid_lonlat)


@dataclass(frozen=True)
class AlertPlace:
    """One loss alert as the summary lists it."""

    label: str
    """Its number on the map (1, 2, ...)."""
    status: str
    """``confirmed this month`` or ``under watch``."""
    area: str
    first_seen: str
    lon: float
    lat: float

    @property
    def where(self) -> str:
        return lonlat_label(self.lon, self.lat, digits=4)

    @property
    def point(self) -> MapPoint:
        return MapPoint(self.label, self.lon, self.lat)


def alert_places(alerts: pd.DataFrame | None, month: dt.date, limit: int = 12, *,
                 until: dt.date | None = None) -> tuple[AlertPlace, ...]:
    """The alerts :func:`flows.reports.text.alerts_text` counts for ``month`` (confirmed in it,
    and candidates seen in it and not confirmed; with ``until``, from ``month`` to the end of
    the month ``until``), largest first, at most ``limit``, with their centroids
    (``centroid_lon``, ``centroid_lat`` of the alerts table)."""
    if alerts is None or alerts.empty:
        return ()
    start = pd.Timestamp(month, tz="UTC")
    end = pd.Timestamp(until or month, tz="UTC") + pd.offsets.MonthBegin(1)
    confirmed = (alerts["confirmed_at"] >= start) & (alerts["confirmed_at"] < end)
    watched = ((alerts["status"] == "candidate") & (alerts["last_seen"] >= start)
               & (alerts["first_seen"] < end))
    rows = alerts[confirmed | watched].assign(_confirmed=confirmed[confirmed | watched])
    rows = rows[rows["centroid_lon"].notna() & rows["centroid_lat"].notna()]
    size = rows["confirmed_ha"].where(rows["_confirmed"], rows["area_ha"])
    rows = rows.assign(_size=size).sort_values(["_size", "first_seen"], ascending=[False, True])
    out = []
    for i, (_, r) in enumerate(rows.head(limit).iterrows(), start=1):
        out.append(AlertPlace(
            str(i), ("confirmed this month" if until is None else "confirmed")
            if r["_confirmed"] else "under watch",
            f"{r['_size']:,.1f} ha", f"{pd.Timestamp(r['first_seen']):%d %b %Y}",
            float(r["centroid_lon"]), float(r["centroid_lat"])))
    return tuple(out)
