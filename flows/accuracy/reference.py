"""A reference habitat map (e.g. Global Mangrove Watch v3) brought onto a design's grid.

A reference map holds 1 where the habitat is and 0 where it is not; any other value is no
data. GMW v3 tiles declare nodata 0 although 0 is "no mangrove" in them (Bunting et al. 2022,
Remote Sens. 14:3657; the tiles' own metadata, see ../shared/realdata/gmw_N26W082_florida/
SOURCE.md), so a declared nodata of 0 or 1 is not honoured: the values decide.

Onto the grid by nearest neighbour (``rasterio.warp.reproject``): each pixel of the site grid
takes the reference value at its centre, so no class is invented by averaging; a 10 m pixel
inside a ~25 m GMW cell takes that cell's class. GDAL maps the pixel centres with its
approximate transformer (error at most 0.125 reference pixel, gdalwarp's ``-et`` default):
a centre closer than that to a reference cell's edge may take the neighbouring cell's class
(tests/test_accuracy_cli.py measures 0.2 % of the pixels on the GMW tiles, all within 0.035
cell of an edge). Pixels the reference does not cover are no data (255): samples there are
refused, and comparisons leave them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import CRS, Transformer
from rasterio.features import geometry_mask
from rasterio.transform import Affine
from rasterio.warp import Resampling, reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from flows.accuracy.folder import AccuracyError
from indices.maps import NODATA
from indices.sampling import pixel_areas_ha

__all__ = ["ReferenceOnGrid", "native_habitat_ha", "reference_on_grid"]

_PAD_PX = 2
"""Reference pixels read beyond the grid's bounds on each side (nearest neighbour at the edge)."""


@dataclass(frozen=True)
class ReferenceOnGrid:
    path: Path
    habitat: np.ndarray
    """True where the reference holds habitat (value 1)."""
    valid: np.ndarray
    """True where the reference holds 0 or 1."""

    @property
    def covered(self) -> float:
        return float(self.valid.mean()) if self.valid.size else 0.0


def _open(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise AccuracyError(f"reference map {path} not found")
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioError as exc:
        raise AccuracyError(f"reference map {path}: not a readable raster ({exc})") from None


def _window(src, bounds: tuple[float, float, float, float], crs) -> Window | None:
    """The window of ``src`` over ``bounds`` (in ``crs``), padded, clipped; None if outside."""
    try:
        left, bottom, right, top = transform_bounds(crs, src.crs, *bounds, densify_pts=21)
    except (rasterio.errors.RasterioError, ValueError) as exc:
        raise AccuracyError(f"reference map {src.name}: cannot be placed on the site grid "
                            f"({exc})") from None
    win = from_bounds(left, bottom, right, top, transform=src.transform)
    col0, row0 = int(np.floor(win.col_off)) - _PAD_PX, int(np.floor(win.row_off)) - _PAD_PX
    col1 = int(np.ceil(win.col_off + win.width)) + _PAD_PX
    row1 = int(np.ceil(win.row_off + win.height)) + _PAD_PX
    col0, row0 = max(col0, 0), max(row0, 0)
    col1, row1 = min(col1, src.width), min(row1, src.height)
    if col1 <= col0 or row1 <= row0:
        return None
    return Window(col0, row0, col1 - col0, row1 - row0)


def _check(src) -> None:
    if src.crs is None:
        raise AccuracyError(f"reference map {src.name} has no CRS")
    if src.count < 1 or not np.issubdtype(np.dtype(src.dtypes[0]), np.integer):
        raise AccuracyError(f"reference map {src.name}: band 1 must hold integer classes "
                            f"(1 habitat, 0 not), not {src.dtypes[0] if src.count else 'nothing'}")


def reference_on_grid(path: str | Path, transform, shape: tuple[int, int], crs: str
                      ) -> ReferenceOnGrid:
    """Band 1 of the raster at ``path`` on the grid ``(transform, shape, crs)``, by nearest
    neighbour. :class:`AccuracyError` (one line) if unreadable or not covering the grid."""
    dst_transform = Affine(*tuple(transform)[:6])
    height, width = shape
    bounds = (dst_transform.c, dst_transform.f + height * dst_transform.e,
              dst_transform.c + width * dst_transform.a, dst_transform.f)
    with _open(path) as src:
        _check(src)
        win = _window(src, bounds, crs)
        if win is None:
            raise AccuracyError(f"reference map {path} does not cover the site (its bounds "
                                f"{tuple(round(b, 4) for b in src.bounds)} in {src.crs})")
        values = src.read(1, window=win)
        src_transform, src_crs = src.window_transform(win), src.crs
    values = np.where((values == 0) | (values == 1), values, NODATA).astype(np.uint8)
    out = np.full(shape, NODATA, np.uint8)
    # src_nodata=None: every source value is data (0 is "not habitat"); what the source does
    # not cover stays NODATA (init_dest_nodata)
    reproject(values, out, src_transform=src_transform, src_crs=src_crs, src_nodata=None,
              dst_transform=dst_transform, dst_crs=crs, dst_nodata=NODATA,
              init_dest_nodata=True, resampling=Resampling.nearest)
    valid = out != NODATA
    if not valid.any():
        raise AccuracyError(f"reference map {path} has no data (0 or 1) over the site")
    return ReferenceOnGrid(Path(path), out == 1, valid)


def native_habitat_ha(path: str | Path, geometry_lonlat) -> tuple[float, float]:
    """``(habitat ha, covered ha)`` of the reference on its own grid inside a WGS84 polygon:
    pixels whose centre is inside, each with its own area (ellipsoidal on a geographic grid,
    :func:`indices.sampling.pixel_areas_ha`). A check of the reprojection: the same polygon's
    habitat on the site grid should agree to within the cells cut by its boundary."""
    with _open(path) as src:
        _check(src)
        to_src = Transformer.from_crs(CRS.from_epsg(4326), CRS.from_user_input(src.crs.to_wkt()),
                                      always_xy=True)
        poly = shapely.transform(geometry_lonlat, lambda xy: np.column_stack(
            to_src.transform(xy[:, 0], xy[:, 1])))
        win = _window(src, poly.bounds, src.crs)
        if win is None:
            return 0.0, 0.0
        values = src.read(1, window=win)
        transform, crs = src.window_transform(win), src.crs.to_wkt()
    inside = geometry_mask([poly], values.shape, transform, invert=True)
    areas = np.broadcast_to(pixel_areas_ha(tuple(transform)[:6], values.shape, crs), values.shape)
    valid = inside & ((values == 0) | (values == 1))
    return float(areas[valid & (values == 1)].sum()), float(areas[valid].sum())
