"""Charts of the partner summaries: habitat extent month by month (monthly summary, annual
pack) and the carbon ledger with its interval (annual pack); the change map is
:mod:`flows.reports.sitemap` (re-exported here).

Charts are :class:`Chart`: PNG bytes (matplotlib, Agg backend, no display needed) and the
legend's entries, which the page draws in HTML (readable at a phone's width, where a legend
inside the image shrinks to a few points). Site names never go into a figure: matplotlib reads
``$...$`` as math, so names stay in the (escaped) HTML around it.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from flows.reports.sitemap import (
    CHANGE_MAP_CLASSES,
    MAP_UNAVAILABLE,
    OUTLINE,
    MapImage,
    MapPoint,
    change_map,
    change_map_path,
)

__all__ = [
    "CHANGE_MAP_CLASSES",
    "COLORS",
    "MAP_UNAVAILABLE",
    "Chart",
    "MapImage",
    "MapPoint",
    "carbon_chart",
    "change_map",
    "change_map_path",
    "extent_chart",
]

COLORS = {
    "extent": "#087e8b",     # extent line and its interval band
    "baseline": "#5c677d",   # baseline extent line and baseline period shading
    "low_valid": "#e07a5f",  # months seen too little
    "outline": OUTLINE,      # site outline on maps
    "month": "#f2cc8f",      # the reported month (or year)
    "carbon": "#6a4c93",     # carbon change line and its interval band
    "conservative": "#1b998b",  # the VM0033-conservative change
}
"""Figure colours; the page's CSS uses none of them, so tests can find the figures by colour."""

_DPI = 150
_FONT = 8
"""Chart text, points: the page shows a chart at about its size on a desktop and in the PDF."""


def _png(fig: Figure) -> bytes:
    """PNG of a pyplot-free Figure (Agg canvas: no display, no global figure registry)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, facecolor="white")
    return buf.getvalue()


@dataclass(frozen=True)
class Chart:
    """A rendered chart: PNG bytes and its legend ``(label, colour, kind)``, kind one of
    ``band`` (a shaded area), ``line``, ``dashed``, ``dot`` (line with dots) or ``ring``."""

    png: bytes
    legend: tuple[tuple[str, str, str], ...]


def _axes(size: tuple[float, float] = (5.4, 2.5)) -> tuple[Figure, Axes]:
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.subplots()
    ax.tick_params(labelsize=_FONT)
    ax.grid(axis="y", color="#e5e5e5", lw=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _dates(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _span(ax: Axes, start: dt.date, end: dt.date, color: str, alpha: float) -> None:
    """Shade ``start`` up to the day after ``end``."""
    ax.axvspan(pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1), color=color,
               alpha=alpha, lw=0, zorder=0)


def _blend(color: str, alpha: float) -> str:
    """``color`` at ``alpha`` over white, as the legend's HTML shows a shaded area."""
    rgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], float)
    return "#" + "".join(f"{round(255 - alpha * (255 - c)):02x}" for c in rgb)


def _limits(ax: Axes, values: np.ndarray, floor: float | None = None) -> None:
    lo, hi = np.nanmin(values), np.nanmax(values)
    if np.isfinite(lo) and np.isfinite(hi):
        pad = max(0.08 * (hi - lo), 0.02 * max(abs(hi), abs(lo), 1.0))
        low = lo - pad if floor is None else max(floor, lo - pad)
        ax.set_ylim(low, hi + pad)


def extent_chart(history: pd.DataFrame, month: dt.date, *, min_valid: float,
                 baseline: tuple[dt.date, dt.date], until: dt.date | None = None,
                 highlight_label: str = "this month") -> Chart:
    """Habitat extent per month with its likely range, the baseline extent, the baseline period,
    months seen over less than ``min_valid`` of the site, and ``month`` (to the end of the month
    ``until``, default ``month`` itself) highlighted.

    ``history``: change rows of one site (``period, extent_ha, extent_ci_low_ha,
    extent_ci_high_ha, baseline_extent_ha, valid_fraction, n_observations``)."""
    h = history.sort_values("period")
    x = pd.to_datetime(h["period"]) + pd.Timedelta(days=14)  # plot mid-month
    fig, ax = _axes()
    last = pd.Timestamp(until or month) + pd.offsets.MonthEnd(0)
    _span(ax, baseline[0], baseline[1], COLORS["baseline"], 0.08)
    alpha = 0.5 if last - pd.Timestamp(month) < pd.Timedelta(days=32) else 0.25
    _span(ax, month, last.date(), COLORS["month"], alpha)
    ax.fill_between(x, h["extent_ci_low_ha"], h["extent_ci_high_ha"], color=COLORS["extent"],
                    alpha=0.18, lw=0)
    ax.plot(x, h["extent_ha"], color=COLORS["extent"], lw=2, marker="o", ms=3.5)
    legend = [("baseline period", _blend(COLORS["baseline"], 0.08), "band"),
              (highlight_label, _blend(COLORS["month"], alpha), "band"),
              ("likely range", _blend(COLORS["extent"], 0.18), "band"),
              ("habitat extent", COLORS["extent"], "dot")]
    base = h["baseline_extent_ha"].dropna()
    if len(base):
        ax.axhline(float(base.iloc[-1]), color=COLORS["baseline"], lw=1.2, ls="--")
        legend.append(("baseline extent", COLORS["baseline"], "dashed"))
    low = (h["valid_fraction"].fillna(0) < min_valid) | (h["n_observations"].fillna(0) == 0)
    if low.any():
        ax.plot(x[low], h["extent_ha"][low], ls="none", marker="o", ms=8, mfc="white",
                mec=COLORS["low_valid"], mew=2)
        legend.append((f"under {min_valid:.0%} of the site seen", COLORS["low_valid"], "ring"))
    ax.set_ylabel("hectares", fontsize=_FONT)
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    _limits(ax, h[["extent_ci_low_ha", "extent_ci_high_ha", "extent_ha"]].to_numpy(float),
            floor=0.0)
    _dates(ax)
    return Chart(_png(fig), tuple(legend))


def carbon_chart(ledger: pd.DataFrame, *, year: tuple[dt.date, dt.date],
                 baseline: tuple[dt.date, dt.date]) -> Chart:
    """Carbon change since the baseline per month (t CO2e) with its 95 % interval, and the
    conservative figure a carbon standard would count (VM0033 sec. 8.5.2) where it differs;
    the baseline period and ``year`` (first and last month) shaded.

    ``ledger``: rows of the ``carbon`` table of one site (``period, change_tco2e,
    change_ci_low_tco2e, change_ci_high_tco2e, change_conservative_tco2e``)."""
    c = ledger.sort_values("period")
    x = pd.to_datetime(c["period"]) + pd.Timedelta(days=14)
    fig, ax = _axes()
    _span(ax, baseline[0], baseline[1], COLORS["baseline"], 0.08)
    _span(ax, year[0], (pd.Timestamp(year[1]) + pd.offsets.MonthEnd(0)).date(), COLORS["month"],
          0.25)
    ax.axhline(0.0, color="#9aa5b1", lw=1.0)
    ax.fill_between(x, c["change_ci_low_tco2e"], c["change_ci_high_tco2e"],
                    color=COLORS["carbon"], alpha=0.2, lw=0)
    ax.plot(x, c["change_tco2e"], color=COLORS["carbon"], lw=2, marker="o", ms=3)
    legend = [("baseline period", _blend(COLORS["baseline"], 0.08), "band"),
              ("this year", _blend(COLORS["month"], 0.25), "band"),
              ("95 % interval", _blend(COLORS["carbon"], 0.2), "band"),
              ("change since baseline (central)", COLORS["carbon"], "dot")]
    conservative = c.get("change_conservative_tco2e")
    if conservative is not None and not np.allclose(conservative.fillna(c["change_tco2e"]),
                                                    c["change_tco2e"]):
        ax.plot(x, conservative, color=COLORS["conservative"], lw=1.6, ls="--")
        legend.append(("conservative (VM0033 deduction)", COLORS["conservative"], "dashed"))
    ax.set_ylabel("t CO\u2082e", fontsize=_FONT)
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    _limits(ax, c[["change_ci_low_tco2e", "change_ci_high_tco2e", "change_tco2e"]]
            .to_numpy(float))
    _dates(ax)
    return Chart(_png(fig), tuple(legend))
