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

__all__ = ["SiteGrid", "site_grid", "site_mask", "to_grid_crs", "utm_epsg"]

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
    """The grid covering ``site`` in the UTM zone of its centroid.

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

    Vectorised: one ``shapely.contains_xy`` call over broadcast centre coordinates
    (no meshgrid copy, no per-pixel Python loop). Centres on the boundary are outside.
    """
    polygon = to_grid_crs(site, grid)
    shapely.prepare(polygon)
    x = grid.x_coords()[np.newaxis, :]
    y = grid.y_coords()[:, np.newaxis]
    mask = shapely.contains_xy(polygon, x, y)
    return np.asarray(mask, dtype=bool).reshape(grid.shape)


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
