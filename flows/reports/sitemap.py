"""A site's change map as the reports show it: the month's change classes inside the site
boundary, with a scale bar, a north arrow, numbered loss alerts, and a locator inset of the
coastline around the site; the legend and the coordinates go into the page's HTML, where they
stay readable at any width (:class:`MapImage`).

The change classes come from the maps COG ``<out>/maps/<site_id>/<YYYY-MM>_change.tif``
(:func:`change_map_path`); where it is missing or unreadable, the site outline is drawn in its
UTM zone with the note :data:`MAP_UNAVAILABLE`. The locator's coastline is the bundled Natural
Earth 1:10m land (public domain, ``aoi/data/SOURCE.md``), good to a few kilometres: context,
not measurement. Site names never go into the figure (matplotlib reads ``$...$`` as math).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from pyproj import Transformer

from aoi import Site, site_grid, to_grid_crs
from aoi.land import land_within

__all__ = ["CHANGE_MAP_CLASSES", "LOCATOR_COLORS", "MAP_UNAVAILABLE", "MapImage", "MapPoint",
           "OUTLINE", "change_map", "change_map_path", "lonlat_label"]

log = logging.getLogger(__name__)

CHANGE_MAP_CLASSES: dict[int, tuple[str, str]] = {
    0: ("not habitat", "#efebe4"),
    1: ("unchanged habitat", "#2a9d8f"),
    2: ("gain since baseline", "#90be6d"),
    3: ("loss since baseline", "#d62828"),
}
"""Class codes of a change COG (band 1, uint8: :mod:`indices.maps`), with legend label and
colour. Other values and the file's nodata are drawn transparent."""
OUTLINE = "#c8553d"
"""Site boundary colour (:data:`flows.reports.figures.COLORS` ``outline``)."""
LOCATOR_COLORS = {"land": "#d8d2c4", "sea": "#e8f1f7", "site": "#c8553d"}
MAP_UNAVAILABLE = "change map not available for this month"
LOCATOR_HALF_DEG = 6.0
"""Half-height of the locator's window, degrees of latitude (~670 km): the coast of the
region, enough to place the site on it."""
_DPI = 150
_FIG_IN = (4.0, 2.9)
"""Figure size, inches: the map (2.8 x 2.8) and a column with the locator and north arrow. The
page shows it at about its size (1 in = 96 CSS px: 384 px), so its text is at its point size."""


@dataclass(frozen=True)
class MapPoint:
    """A numbered marker on the map (a loss alert's centroid), lon/lat."""

    label: str
    lon: float
    lat: float


@dataclass(frozen=True)
class MapImage:
    """A rendered change map: PNG bytes, a note when it is not a real change map, and the
    legend's entries ``(label, colour, kind)`` (kind ``area``, ``line`` or ``marker``)."""

    png: bytes
    note: str | None = None
    legend: tuple[tuple[str, str, str], ...] = ()


def change_map_path(out: str | Path, site_id: str, month: dt.date) -> Path:
    """Where the maps writer puts a site's change COG for ``month``."""
    return Path(out) / "maps" / site_id / f"{month:%Y-%m}_change.tif"


def lonlat_label(lon: float, lat: float, digits: int = 3) -> str:
    """``3.317° N, 101.248° E``."""
    return (f"{abs(lat):.{digits}f}° {'N' if lat >= 0 else 'S'}, "
            f"{abs(lon):.{digits}f}° {'E' if lon >= 0 else 'W'}")


def change_map(site: Site, month: dt.date, out: str | Path,
               points: tuple[MapPoint, ...] = ()) -> MapImage:
    """The site's change map for ``month`` with ``points`` (loss alerts) numbered on it."""
    path = change_map_path(out, site.id, month)
    if path.is_file():
        try:
            return _map_from_cog(site, path, points)
        except Exception as exc:  # a broken map must not stop the reports
            log.warning("change map %s unreadable (%s); drawing the outline", path,
                        type(exc).__name__)
    return _map_outline(site, points)


# --------------------------------------------------------------------------- drawing


def _png(fig: Figure) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, facecolor="white")
    return buf.getvalue()


def _figure(bounds: tuple[float, float, float, float]) -> tuple[Figure, Axes]:
    """The figure and its map axes, whose limits hold ``bounds`` (padded) at the axes' own
    aspect, so the map fills its square."""
    fig = Figure(figsize=_FIG_IN)
    side = _FIG_IN[1] - 0.1
    ax = fig.add_axes((0.05 / _FIG_IN[0], 0.05 / _FIG_IN[1], side / _FIG_IN[0], side / _FIG_IN[1]))
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#bbbbbb")
    left, bottom, right, top = bounds
    half = 0.56 * max(right - left, top - bottom)
    cx, cy = (left + right) / 2, (bottom + top) / 2
    ax.set_xlim(cx - half, cx + half)
    ax.set_ylim(cy - half, cy + half)
    ax.set_aspect("equal", adjustable="box")
    return fig, ax


def _draw_outline(ax: Axes, geometry) -> None:
    for part in getattr(geometry, "geoms", [geometry]):
        for ring in (part.exterior, *part.interiors):
            xs, ys = ring.xy
            ax.plot(xs, ys, color=OUTLINE, lw=2)


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
            fontsize=8, color="#222222",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})


def _grid_north_angle(site: Site, crs) -> float:
    """Angle (radians, clockwise) from the map's grid north to true north at the site."""
    lon, lat = site.centroid_lonlat
    to_map = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    (x0, x1), (y0, y1) = to_map.transform([lon, lon], [lat, min(lat + 0.01, 89.99)])
    return math.atan2(x1 - x0, y1 - y0)


def _north_arrow(fig: Figure, angle: float) -> None:
    ax = fig.add_axes((2.95 / _FIG_IN[0], 0.1 / _FIG_IN[1], 1.0 / _FIG_IN[0], 0.9 / _FIG_IN[1]))
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_aspect("equal")
    ax.axis("off")
    dx, dy = 0.62 * math.sin(angle), 0.62 * math.cos(angle)
    ax.annotate("", xy=(dx, dy), xytext=(-dx, -dy),
                arrowprops={"arrowstyle": "-|>,head_width=0.35,head_length=0.7",
                            "color": "#222222", "lw": 1.6})
    ax.text(1.35 * dx, 1.35 * dy, "N", ha="center", va="center", fontsize=9,
            fontweight="bold", color="#222222")


def _locator(fig: Figure, site: Site) -> None:
    """The coastline around the site (bundled Natural Earth land) with the site marked."""
    ax = fig.add_axes((2.95 / _FIG_IN[0], 1.1 / _FIG_IN[1], 1.0 / _FIG_IN[0], 1.75 / _FIG_IN[1]))
    lon, lat = site.centroid_lonlat
    half_lon = LOCATOR_HALF_DEG / max(math.cos(math.radians(lat)), 0.2)
    south, north = max(lat - LOCATOR_HALF_DEG, -90.0), min(lat + LOCATOR_HALF_DEG, 90.0)
    west, east = lon - half_lon, lon + half_lon
    ax.set_facecolor(LOCATOR_COLORS["sea"])
    for shift in (-360.0, 0.0, 360.0):  # a window across the antimeridian takes both sides
        a, b = max(west + shift, -180.0), min(east + shift, 180.0)
        if a >= b:
            continue
        for polygon in land_within((a, south, b, north)):
            for part in getattr(polygon, "geoms", [polygon]):
                if part.geom_type != "Polygon":
                    continue
                xs, ys = part.exterior.xy
                ax.fill(np.asarray(xs) - shift, ys, color=LOCATOR_COLORS["land"], lw=0)
    ax.plot([lon], [lat], marker="s", ms=6, mfc="none", mec=LOCATOR_COLORS["site"], mew=2)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(1 / max(math.cos(math.radians(lat)), 0.2), adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#999999")


def _points(ax: Axes, points: tuple[MapPoint, ...], crs) -> None:
    if not points:
        return
    to_map = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    xs, ys = to_map.transform([p.lon for p in points], [p.lat for p in points])
    for p, x, y in zip(points, xs, ys, strict=True):
        ax.annotate(p.label, (x, y), ha="center", va="center", fontsize=7, fontweight="bold",
                    color="#111111", zorder=5,
                    bbox={"boxstyle": "circle,pad=0.25", "fc": "white", "ec": "#111111",
                          "lw": 1.2})


def _decorate(fig: Figure, ax: Axes, site: Site, crs, points: tuple[MapPoint, ...]) -> None:
    _scale_bar(ax)
    _points(ax, points, crs)
    _locator(fig, site)
    _north_arrow(fig, _grid_north_angle(site, crs))


def _legend_tail(points: tuple[MapPoint, ...]) -> tuple[tuple[str, str, str], ...]:
    tail = (("site boundary", OUTLINE, "line"),)
    if points:
        tail += (("loss alert (numbered as in the list)", "#111111", "marker"),)
    return tail


def _map_outline(site: Site, points: tuple[MapPoint, ...]) -> MapImage:
    grid = site_grid(site)
    polygon = to_grid_crs(site, grid)
    fig, ax = _figure(polygon.bounds)
    ax.set_facecolor("#f7f7f5")
    _draw_outline(ax, polygon)
    crs = f"EPSG:{grid.epsg}"
    _decorate(fig, ax, site, crs, points)
    ax.text(0.5, 0.97, MAP_UNAVAILABLE.capitalize(), transform=ax.transAxes, ha="center",
            va="top", fontsize=8, color="#444444",
            bbox={"boxstyle": "round,pad=0.35", "fc": "white", "ec": "#cccccc"})
    return MapImage(_png(fig), MAP_UNAVAILABLE, _legend_tail(points))


def _map_from_cog(site: Site, path: Path, points: tuple[MapPoint, ...],
                  max_px: int = 600) -> MapImage:
    import rasterio
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
    fig, ax = _figure((bounds.left, bounds.bottom, bounds.right, bounds.top))
    ax.imshow(index, cmap=cmap, vmin=-0.5, vmax=len(codes) - 0.5, interpolation="nearest",
              extent=(bounds.left, bounds.right, bounds.bottom, bounds.top))
    to_map = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    outline = shp_transform(site.geometry, lambda c: np.column_stack(to_map.transform(*c.T)))
    _draw_outline(ax, outline)
    _decorate(fig, ax, site, crs, points)
    legend = tuple((CHANGE_MAP_CLASSES[c][0], CHANGE_MAP_CLASSES[c][1], "area")
                   for c in codes if (filled == c).any())
    return MapImage(_png(fig), None, legend + _legend_tail(points))
