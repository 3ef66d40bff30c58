"""The analysis grid of a site: a UTM pixel grid aligned with Sentinel-2 tiles.

Geometry only: which CRS, where the pixels are, and which pixel centres fall in the
site polygon. Sources resample scenes onto this grid; ``indices`` never sees lon/lat.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from aoi.sites import Site

__all__ = [
    "SiteGrid",
    "geometry_ids",
    "geometry_mask",
    "site_grid",
    "site_mask",
    "to_grid_crs",
    "utm_epsg",
]

S2_ALIGNMENT_M = 60.0
"""Grid origins are multiples of 60 m, like every Sentinel-2 MGRS tile origin, so that
10, 20 and 60 m band pixels nest exactly in ours and B11/B12 need no sub-pixel shift."""


@dataclass(frozen=True)
class SiteGrid:
    """A north-up pixel grid in a UTM CRS."""

    epsg: int
    """EPSG code of the UTM zone: 326xx north, 327xx south."""
    left: float
    """Easting of the outer (west) edge of the top-left pixel, metres."""
    top: float
    """Northing of the outer (north) edge of the top-left pixel, metres."""
    width: int
    """Number of pixels along x (columns)."""
    height: int
    """Number of pixels along y (rows)."""
    res: float = 10.0
    """Pixel size, metres (square pixels)."""

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"SiteGrid.{name} must be a positive integer, got {value!r}")
        if not (math.isfinite(self.res) and self.res > 0):
            raise ValueError(f"SiteGrid.res must be a positive number of metres, got {self.res!r}")

    @property
    def crs(self) -> str:
        """The CRS as an ``"EPSG:nnnnn"`` string (for pyproj, rasterio, rioxarray)."""
        return f"EPSG:{self.epsg}"

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``, the shape of a ``(y, x)`` array on this grid."""
        return (self.height, self.width)

    @property
    def transform(self) -> tuple[float, ...]:
        """Affine coefficients ``(res, 0, left, 0, -res, top)``: ``affine.Affine(*transform)``."""
        return (float(self.res), 0.0, float(self.left), 0.0, -float(self.res), float(self.top))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Outer edges ``(left, bottom, right, top)`` in metres."""
        return (
            float(self.left),
            float(self.top - self.height * self.res),
            float(self.left + self.width * self.res),
            float(self.top),
        )

    def x_coords(self) -> np.ndarray:
        """Pixel-centre eastings, float64, increasing, length ``width``."""
        return self.left + (np.arange(self.width, dtype=np.float64) + 0.5) * self.res

    def y_coords(self) -> np.ndarray:
        """Pixel-centre northings, float64, decreasing (north-up), length ``height``."""
        return self.top - (np.arange(self.height, dtype=np.float64) + 0.5) * self.res

    @property
    def pixel_area_ha(self) -> float:
        """Area of one pixel in hectares (grid metres; UTM scale error within a zone is below about 0.3 %)."""
        return float(self.res) * float(self.res) / 10_000.0


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the UTM zone holding ``(lon, lat)``: 326xx north (lat >= 0), 327xx south.

    Follows the MGRS exceptions Sentinel-2 tiles use (zone 32V over south-west Norway,
    zones 31/33/35/37X over Svalbard).
    """
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90 or abs(lon) > 180:
        raise ValueError(f"not a WGS84 lon/lat position: ({lon!r}, {lat!r})")
    zone = min(int(math.floor((lon + 180.0) / 6.0)) + 1, 60)
    if 56.0 <= lat < 64.0 and 3.0 <= lon < 12.0:
        zone = 32
    elif 72.0 <= lat <= 84.0 and 0.0 <= lon < 42.0:
        zone = 31 if lon < 9.0 else 33 if lon < 21.0 else 35 if lon < 33.0 else 37
    return (32600 if lat >= 0 else 32700) + zone


def site_grid(site: Site, res: float = 10.0, pad_px: int = 0) -> SiteGrid:
    """The grid covering ``site`` in the UTM zone of its centroid (for a site split at the
    antimeridian, the centroid where the site is, not near longitude 0: :mod:`aoi.antimeridian`).

    The polygon's UTM bounding box, widened by ``pad_px`` pixels on every side, is
    snapped outward to multiples of 60 m (:data:`S2_ALIGNMENT_M`), so the grid lines of
    Sentinel-2's 10, 20 and 60 m bands all coincide with ours. ``res`` must divide
    60 m (10, 20, 30, 60, ...) or be a multiple of it.
    """
    step = _alignment(res)
    if isinstance(pad_px, bool) or not isinstance(pad_px, int | np.integer) or pad_px < 0:
        raise ValueError(f"pad_px must be a non-negative integer, got {pad_px!r}")
    epsg = utm_epsg(*site.centroid_lonlat)
    minx, miny, maxx, maxy = _to_crs(site.geometry, epsg).bounds
    pad = pad_px * res
    left = math.floor((minx - pad) / step) * step
    right = math.ceil((maxx + pad) / step) * step
    bottom = math.floor((miny - pad) / step) * step
    top = math.ceil((maxy + pad) / step) * step
    return SiteGrid(
        epsg=epsg,
        left=float(left),
        top=float(top),
        width=max(1, round((right - left) / res)),
        height=max(1, round((top - bottom) / res)),
        res=float(res),
    )


def to_grid_crs(site: Site, grid: SiteGrid) -> BaseGeometry:
    """The site polygon transformed from WGS84 lon/lat to the grid's UTM CRS."""
    return _to_crs(site.geometry, grid.epsg)


def site_mask(site: Site, grid: SiteGrid) -> np.ndarray:
    """Boolean ``(height, width)`` array, True where the pixel centre lies inside the site.

    Exactly ``shapely.contains_xy`` at every pixel centre (centres on the boundary are
    outside), by scanlines: :func:`centres_inside`.
    """
    return centres_inside(to_grid_crs(site, grid), grid.x_coords(), grid.y_coords())


def geometry_mask(geometry: BaseGeometry, grid: SiteGrid) -> np.ndarray:
    """Like :func:`site_mask` for any WGS84 lon/lat (multi)polygon, e.g. one class of a
    site's calibration polygons (``aoi.calibration``): True where the pixel centre is inside."""
    return centres_inside(_to_crs(geometry, grid.epsg), grid.x_coords(), grid.y_coords())


def geometry_ids(geometries: list[BaseGeometry], grid: SiteGrid) -> np.ndarray:
    """int64 ``(y, x)``: the index in ``geometries`` (WGS84 lon/lat (multi)polygons, e.g. a
    site's calibration polygons) of the one whose inside holds each pixel centre, as
    :func:`geometry_mask` decides it (a later one where they overlap), -1 where none does.
    Each is scanned over the rows and columns of its own bounds only, so many small polygons
    on a whole tile cost their own windows, not a tile each."""
    ids = np.full(grid.shape, -1, np.int64)
    xs, ys = np.asarray(grid.x_coords(), np.float64), np.asarray(grid.y_coords(), np.float64)
    for index, geometry in enumerate(geometries):
        polygon = _to_crs(geometry, grid.epsg)
        x0, y0, x1, y1 = polygon.bounds
        cols, rows = np.flatnonzero((xs >= x0) & (xs <= x1)), np.flatnonzero((ys >= y0) & (ys <= y1))
        if polygon.is_empty or not cols.size or not rows.size:
            continue
        window = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]  # the axes are monotonic
        ids[window][centres_inside(polygon, xs[window[1]], ys[window[0]])] = index
    return ids


_NEAR_M = 1e-6
"""Centres closer than this to a crossing (metres) are decided by shapely's exact predicate."""


def centres_inside(polygon: BaseGeometry, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``shapely.contains_xy(polygon, xs[None, :], ys[:, None])`` for a valid (multi)polygon,
    by even-odd scanlines: per row of centres, the crossings of the rings' edges are sorted
    and the centres strictly between each pair are inside.

    ``contains_xy`` over every centre of a whole Sentinel-2 tile (120 Mpx) takes 12-16 s here;
    this takes well under a second, and its memory is two bytes a pixel. Rows through a
    vertex or along a horizontal edge, and centres within :data:`_NEAR_M` of a crossing, are
    handed to ``contains_xy`` itself, so the result is the same bit for bit.
    """
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    height, width = len(ys), len(xs)
    if polygon.is_empty or not height or not width:
        return np.zeros((height, width), bool)
    if polygon.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"centres_inside takes a Polygon or MultiPolygon, not {polygon.geom_type}")
    order = np.argsort(ys, kind="stable")  # rows by increasing northing
    ys_up = ys[order]
    rings = shapely.get_rings(shapely.get_parts(polygon))
    edges = np.concatenate([np.column_stack([c[:-1], c[1:]])
                            for c in map(shapely.get_coordinates, rings)])
    x0, y0, x1, y1 = edges.T
    lo, hi = np.minimum(y0, y1), np.maximum(y0, y1)
    # a row crosses an edge when lo <= y < hi: each vertex counts once, horizontals never
    first = np.searchsorted(ys_up, lo, "left")
    stop = np.searchsorted(ys_up, hi, "left")
    n = stop - first
    keep = n > 0
    edge = np.repeat(np.flatnonzero(keep), n[keep])
    k = np.arange(edge.size) - np.repeat(np.cumsum(n[keep]) - n[keep], n[keep]) + first[edge]
    y = ys_up[k]
    x = x0[edge] + (y - y0[edge]) * ((x1[edge] - x0[edge]) / (y1[edge] - y0[edge]))
    rows = order[k]
    sort = np.lexsort((x, rows))
    rows, x = rows[sort], x[sort]
    start, end = x[0::2], x[1::2]  # every row crosses an even number of times
    pair_rows = rows[0::2]
    c0 = np.searchsorted(xs, start, "right")  # first centre east of the entry
    c1 = np.searchsorted(xs, end, "left")  # first centre at or east of the exit
    toggles = np.zeros((height, width + 1), np.uint8)
    np.bitwise_xor.at(toggles, (pair_rows, c0), 1)
    np.bitwise_xor.at(toggles, (pair_rows, c1), 1)
    mask = np.bitwise_xor.accumulate(toggles, axis=1, out=toggles)[:, :width].view(bool)
    # exactness: rows through a vertex (incl. horizontal edges), centres near a crossing
    vertex_rows = np.flatnonzero(np.isin(ys, edges[:, 1]))
    if vertex_rows.size:
        mask[vertex_rows] = shapely.contains_xy(polygon, xs[np.newaxis, :],
                                                ys[vertex_rows, np.newaxis])
    near_r, near_c = [], []
    for crossing, c in ((start, c0), (start, c0 - 1), (end, c1), (end, c1 - 1)):
        ok = (c >= 0) & (c < width)
        close = ok & (np.abs(xs[np.clip(c, 0, width - 1)] - crossing) < _NEAR_M)
        near_r.append(pair_rows[close])
        near_c.append(c[close])
    near_r, near_c = np.concatenate(near_r), np.concatenate(near_c)
    if near_r.size:
        mask[near_r, near_c] = shapely.contains_xy(polygon, xs[near_c], ys[near_r])
    return np.ascontiguousarray(mask)


def _alignment(res: float) -> float:
    if (
        isinstance(res, bool)
        or not isinstance(res, int | float)
        or not math.isfinite(res)
        or res <= 0
    ):
        raise ValueError(f"res must be a positive number of metres, got {res!r}")
    if _is_multiple(S2_ALIGNMENT_M, res):
        return S2_ALIGNMENT_M
    if _is_multiple(res, S2_ALIGNMENT_M):
        return float(res)
    raise ValueError(
        f"res={res} m does not nest in Sentinel-2's 60 m grid; use a divisor or multiple of 60 m"
    )


def _is_multiple(a: float, b: float) -> bool:
    ratio = a / b
    return abs(ratio - round(ratio)) < 1e-9


_LOCAL = threading.local()


def _transformer(epsg: int) -> Transformer:
    """WGS84 -> UTM transformer, cached per thread (pyproj transformers are not shared
    safely across threads, and dask workers call this from several)."""
    cache: dict[int, Transformer] = _LOCAL.__dict__.setdefault("transformers", {})
    if epsg not in cache:
        cache[epsg] = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    return cache[epsg]


def _to_crs(geometry: BaseGeometry, epsg: int) -> BaseGeometry:
    transformer = _transformer(epsg)

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometry, project)
