"""Figures of the monthly partner summary: the extent time series and the per-site change map.

Both return PNG bytes (matplotlib, Agg backend, no display needed). Site names never go into a
figure: matplotlib reads ``$...$`` as math, so names stay in the (escaped) HTML around it.

The change map's first choice is the maps COG ``<out>/maps/<site_id>/<YYYY-MM>_change.tif``
(:func:`change_map_path`); where it is missing or unreadable, the site outline is drawn in its
UTM zone with the note :data:`MAP_UNAVAILABLE`.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import StrMethodFormatter

from aoi import Site, site_grid, to_grid_crs

__all__ = [
    "CHANGE_MAP_CLASSES",
    "COLORS",
    "MAP_UNAVAILABLE",
    "MapImage",
    "change_map",
    "change_map_path",
    "extent_chart",
]

log = logging.getLogger(__name__)

COLORS = {
    "extent": "#087e8b",     # extent line and its interval band
    "baseline": "#5c677d",   # baseline extent line and baseline period shading
    "low_valid": "#e07a5f",  # months seen too little
    "outline": "#c8553d",    # site outline on maps
    "month": "#f2cc8f",      # the reported month
}
"""Figure colours; the page's CSS uses none of them, so tests can find the figures by colour."""

CHANGE_MAP_CLASSES: dict[int, tuple[str, str]] = {
    0: ("not habitat", "#efebe4"),
    1: ("unchanged habitat", "#2a9d8f"),
    2: ("gain since baseline", "#90be6d"),
    3: ("loss since baseline", "#d62828"),
}
"""Class codes expected in a change COG (band 1, uint8), with legend label and colour. Other
values and the file's nodata are drawn transparent. Align with the maps writer when it lands."""

MAP_UNAVAILABLE = "change map not available for this month"
_DPI = 150


@dataclass(frozen=True)
class MapImage:
    """A rendered change map: PNG bytes, and a note when it is not a real change map."""

    png: bytes
    note: str | None = None


def change_map_path(out: str | Path, site_id: str, month: dt.date) -> Path:
    """Where the maps writer puts a site's change COG for ``month``."""
    return Path(out) / "maps" / site_id / f"{month:%Y-%m}_change.tif"


def _png(fig: Figure) -> bytes:
    """PNG of a pyplot-free Figure (Agg canvas: no display, no global figure registry)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, facecolor="white")
    return buf.getvalue()


def extent_chart(history: pd.DataFrame, month: dt.date, *, min_valid: float,
                 baseline: tuple[dt.date, dt.date]) -> bytes:
    """Habitat extent per month with its likely range, the baseline extent, the baseline period,
    months seen over less than ``min_valid`` of the site, and ``month`` highlighted.

    ``history``: change rows of one site (``period, extent_ha, extent_ci_low_ha,
    extent_ci_high_ha, baseline_extent_ha, valid_fraction, n_observations``)."""
    h = history.sort_values("period")
    x = pd.to_datetime(h["period"]) + pd.Timedelta(days=14)  # plot mid-month
    fig = Figure(figsize=(7.2, 2.7), layout="constrained")
    ax = fig.subplots()
    ax.axvspan(pd.Timestamp(baseline[0]), pd.Timestamp(baseline[1]) + pd.Timedelta(days=1),
               color=COLORS["baseline"], alpha=0.08, lw=0, label="baseline period")
    first = pd.Timestamp(month)
    ax.axvspan(first, first + pd.offsets.MonthBegin(1), color=COLORS["month"], alpha=0.5, lw=0,
               label="this month", zorder=0)
    ax.fill_between(x, h["extent_ci_low_ha"], h["extent_ci_high_ha"], color=COLORS["extent"],
                    alpha=0.18, lw=0, label="likely range")
    ax.plot(x, h["extent_ha"], color=COLORS["extent"], lw=2, marker="o", ms=3.5,
            label="habitat extent")
    base = h["baseline_extent_ha"].dropna()
    if len(base):
        ax.axhline(float(base.iloc[-1]), color=COLORS["baseline"], lw=1.2, ls="--",
                   label="baseline extent")
    low = (h["valid_fraction"].fillna(0) < min_valid) | (h["n_observations"].fillna(0) == 0)
    if low.any():
        ax.plot(x[low], h["extent_ha"][low], ls="none", marker="o", ms=8, mfc="white",
                mec=COLORS["low_valid"], mew=2,
                label=f"under {min_valid:.0%} of site seen")
    ax.set_ylabel("hectares")
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    lo = np.nanmin(h[["extent_ci_low_ha", "extent_ha"]].to_numpy(float))
    hi = np.nanmax(h[["extent_ci_high_ha", "extent_ha"]].to_numpy(float))
    if np.isfinite(lo) and np.isfinite(hi):
        pad = max(0.08 * (hi - lo), 0.02 * max(abs(hi), 1.0))
        ax.set_ylim(max(0.0, lo - pad), hi + pad)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(axis="y", color="#e5e5e5", lw=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7.5)
    return _png(fig)


def change_map(site: Site, month: dt.date, out: str | Path) -> MapImage:
    """The site's change map for ``month``: from the maps COG when there is one, else the
    site outline in UTM with the note :data:`MAP_UNAVAILABLE`."""
    path = change_map_path(out, site.id, month)
    if path.is_file():
        try:
            return MapImage(_map_from_cog(site, path))
        except Exception as exc:  # a broken map must not stop the month's reports
            log.warning("change map %s unreadable (%s); drawing the outline", path,
                        type(exc).__name__)
    return MapImage(_map_outline(site), MAP_UNAVAILABLE)


def _draw_outline(ax: Axes, geometry) -> None:
    parts = getattr(geometry, "geoms", [geometry])
    for part in parts:
        for ring in (part.exterior, *part.interiors):
            xs, ys = ring.xy
            ax.plot(xs, ys, color=COLORS["outline"], lw=2)


def _scale_bar(ax: Axes) -> None:
    """A bar of a round length (1, 2 or 5 x 10^n metres) about a fifth of the map's width."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    target = (x1 - x0) / 5
    exp = 10 ** math.floor(math.log10(target))
    length = max(m * exp for m in (1, 2, 5) if m * exp <= target)
    left, bottom = x0 + 0.05 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    ax.plot([left, left + length], [bottom, bottom], color="#222222", lw=3, solid_capstyle="butt")
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(left + length / 2, bottom + 0.02 * (y1 - y0), label, ha="center", va="bottom",
            fontsize=7, color="#222222")


def _map_axes(aspect_bounds: tuple[float, float, float, float]) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(3.6, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#bbbbbb")
    left, bottom, right, top = aspect_bounds
    pad = 0.06 * max(right - left, top - bottom)
    ax.set_xlim(left - pad, right + pad)
    ax.set_ylim(bottom - pad, top + pad)
    return fig, ax


def _map_outline(site: Site) -> bytes:
    polygon = to_grid_crs(site, site_grid(site))
    fig, ax = _map_axes(polygon.bounds)
    ax.set_facecolor("#f7f7f5")
    _draw_outline(ax, polygon)
    _scale_bar(ax)
    ax.set_title("Site boundary", fontsize=8, color="#444444")
    fig.supxlabel(MAP_UNAVAILABLE.capitalize(), fontsize=8, color="#444444",
                  bbox={"boxstyle": "round,pad=0.35", "fc": "white", "ec": "#cccccc"})
    return _png(fig)


def _map_from_cog(site: Site, path: Path, max_px: int = 600) -> bytes:
    import rasterio
    from pyproj import Transformer
    from shapely import transform as shp_transform

    with rasterio.open(path) as src:
        scale = max(1.0, max(src.width, src.height) / max_px)  # COG overviews serve this read
        shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
        data = src.read(1, out_shape=shape, masked=True)
        bounds, crs = src.bounds, src.crs
    codes = sorted(CHANGE_MAP_CLASSES)
    index = np.full(data.shape, np.nan)
    filled = np.ma.filled(data.astype(np.int64), -1)
    for i, code in enumerate(codes):
        index[filled == code] = i
    cmap = ListedColormap([CHANGE_MAP_CLASSES[c][1] for c in codes])
    fig, ax = _map_axes((bounds.left, bounds.bottom, bounds.right, bounds.top))
    ax.imshow(index, cmap=cmap, vmin=-0.5, vmax=len(codes) - 0.5, interpolation="nearest",
              extent=(bounds.left, bounds.right, bounds.bottom, bounds.top))
    to_map = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    outline = shp_transform(site.geometry, lambda c: np.column_stack(to_map.transform(*c.T)))
    _draw_outline(ax, outline)
    _scale_bar(ax)
    present = [c for c in codes if (filled == c).any()]
    handles = [Patch(fc=CHANGE_MAP_CLASSES[c][1], ec="#999999", label=CHANGE_MAP_CLASSES[c][0])
               for c in present]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=7,
                   frameon=False)
    return _png(fig)
