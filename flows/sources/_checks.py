"""Checks of a raster before its pixels are used (:mod:`flows.sources._reader`): a silently
wrong raster (floating-point reflectance, signed or wider integers that a cast to uint16 would
wrap, no CRS or the wrong one, a footprint that does not cover the site where its catalogue item
says, more than one band, SCL classes beyond 11) fails its scene with the reason
(:data:`~flows.sources.FETCH_REASONS`), logged once, and is never stored as observed.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
import rasterio
import rasterio.errors
import shapely
from rasterio.warp import transform_bounds

from aoi.grid import SiteGrid
from flows.sources.base import (
    BANDS,
    FETCH_BANDS,
    FETCH_DTYPE,
    FETCH_GEOREF,
    FETCH_RANGE,
    SourceError,
    redact,
)

__all__ = ["MAX_VALUE", "MIN_COVER", "Unusable", "check_raster", "check_values", "log_once"]

log = logging.getLogger("flows.sources._reader")

MAX_VALUE = {band: 65535 for band in BANDS} | {"SCL": 11}
"""Largest valid value: L2A DN are uint16; SCL classes run 0..11."""
MIN_COVER = 0.5
"""Share of the part of the site grid an item's footprint covers that its raster must cover."""


class Unusable(SourceError):
    """A raster that must not be used (see :func:`check_raster`); ``code`` is its
    ``fetch_status`` (:data:`~flows.sources.FETCH_REASONS`)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_raster(src: Any, href: str, band: str, grid: SiteGrid,
                 footprint: tuple[float, float, float, float] | None) -> None:
    """Raise :class:`Unusable` unless ``src`` is one band of integers with a CRS whose
    footprint covers the site where its catalogue says (module doc)."""
    shown = redact(href)
    if src.count != 1:
        raise Unusable(FETCH_BANDS, f"{band} asset {shown} has {src.count} bands, not one")
    kind = np.dtype(src.dtypes[0]).kind
    if kind not in "ui":
        raise Unusable(FETCH_DTYPE, f"{band} of {shown} is {src.dtypes[0]}: L2A pixels are "
                                    "integer digital numbers (floats would be reflectance)")
    if src.crs is None:
        raise Unusable(FETCH_GEOREF, f"{band} of {shown} has no CRS")
    grid_box = shapely.box(*grid.bounds)
    try:
        raster = shapely.box(*transform_bounds(src.crs, grid.crs, *src.bounds,
                                               densify_pts=21))
        target = grid_box
        if footprint is not None:
            item = shapely.box(*transform_bounds("EPSG:4326", grid.crs, *footprint,
                                                 densify_pts=21))
            target = item.intersection(grid_box)
    except (rasterio.errors.RasterioError, ValueError, shapely.errors.GEOSException) as exc:
        raise Unusable(FETCH_GEOREF, f"{band} of {shown} cannot be placed on the site's grid "
                                     f"({' '.join(str(exc).split())[:120]})") from None
    covered = raster.intersection(target).area if target.area > 0 else 0.0
    if footprint is None or target.area <= 0:
        ok = raster.intersects(grid_box) and raster.area > 0
    else:
        ok = covered >= MIN_COVER * target.area
    if not ok:
        share = covered / target.area if target.area > 0 else 0.0
        raise Unusable(FETCH_GEOREF, f"{band} of {shown} covers {share:.0%} of the site where "
                                     f"its item lies (its CRS {src.crs}, bounds "
                                     f"{tuple(round(v) for v in src.bounds)})")


_LOGGED: set[str] = set()
_LOGGED_LOCK = threading.Lock()


def log_once(message: str) -> None:
    """Log a warning once per process (every block of an unusable raster fails alike)."""
    with _LOGGED_LOCK:
        if message in _LOGGED or len(_LOGGED) > 10_000:
            return
        _LOGGED.add(message)
    log.warning("%s", message)


def check_values(values: np.ndarray, band: str, href: str, dtype: Any) -> None:
    """Raise :class:`Unusable` when a window read holds values the cube's ``dtype`` cannot
    hold as they are (negative, beyond 65535) or an SCL class beyond 11."""
    if not values.size:
        return
    if values.dtype != dtype:
        low, high = int(values.min()), int(values.max())
        if low < 0 or high > MAX_VALUE[band]:
            raise Unusable(FETCH_RANGE, f"{band} of {redact(href)} holds values "
                                        f"{low}..{high}, outside 0..{MAX_VALUE[band]}")
    elif band == "SCL" and int(values.max()) > MAX_VALUE[band]:
        raise Unusable(FETCH_RANGE, f"SCL of {redact(href)} holds class "
                                    f"{int(values.max())}; SCL classes are 0..11")
