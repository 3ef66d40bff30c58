"""Pixel masks from the scene classification (SCL) and nodata, and single-band reflectance.

All functions take a scene cube (see ``design.md``: uint16 DN bands, ``SCL``, coord
``boa_offset``) and return lazy DataArrays when the cube is dask-backed. The heavy paths
(:func:`indices.spectral.compute_indices`, :mod:`indices.composite`) apply the same masks inside
their fused kernels; these are for the places that need a mask or one band on its own.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from indices._kernels import SCALE

__all__ = ["BANDS", "CLOUD_SCL", "INVALID_SCL", "VALID_SCL", "clear_mask", "cloud_mask",
           "nodata_mask", "reflectance"]

BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
"""Reflective bands of the scene cube."""

INVALID_SCL = (0, 1, 3, 8, 9, 10, 11)
"""SCL classes that are not a clear view of the surface: no data, saturated/defective, cloud
shadow, cloud medium/high probability, thin cirrus, snow/ice. Water (6), vegetation (4), bare
soil (5), unclassified (7) and dark area (2) stay: dark areas include water and dense mangrove."""

VALID_SCL = tuple(c for c in range(12) if c not in INVALID_SCL)
"""The complement within ESA's classes 0-11: (2, 4, 5, 6, 7). Values above 11 are not SCL
classes and count as invalid everywhere (masks and kernels agree)."""

CLOUD_SCL = (3, 8, 9, 10)
"""SCL classes counted as cloud: cloud shadow, cloud medium/high probability, thin cirrus."""


def _bands(cube: xr.Dataset) -> list[xr.DataArray]:
    present = [cube[b] for b in BANDS if b in cube.data_vars]
    if not present:
        raise ValueError(f"cube has none of the bands {BANDS}")
    return present


def _scl(cube: xr.Dataset) -> xr.DataArray:
    if "SCL" not in cube.data_vars:
        raise ValueError("cube has no SCL variable")
    return cube["SCL"]


def clear_mask(cube: xr.Dataset) -> xr.DataArray:
    """True where SCL is in :data:`VALID_SCL` (not :data:`INVALID_SCL`) and every band present
    is nonzero."""
    clear = _scl(cube).isin(VALID_SCL)
    for band in _bands(cube):
        clear = clear & (band != 0)
    return clear.rename("clear")


def cloud_mask(cube: xr.Dataset) -> xr.DataArray:
    """True where SCL is cloud or cloud shadow (:data:`CLOUD_SCL`)."""
    return _scl(cube).isin(CLOUD_SCL).rename("cloud")


def nodata_mask(cube: xr.Dataset) -> xr.DataArray:
    """True where SCL is 0 (no data) or every band present is 0."""
    empty = None
    for band in _bands(cube):
        empty = (band == 0) if empty is None else empty & (band == 0)
    return ((_scl(cube) == 0) | empty).rename("nodata")


def reflectance(cube: xr.Dataset, band: str, *, mask: bool = True) -> xr.DataArray:
    """Surface reflectance of one band, float32: ``max(DN + boa_offset, 0) / 10000``.

    NaN where the DN is 0 (nodata) and, with ``mask`` (needs ``SCL``), where SCL is not in
    :data:`VALID_SCL`. Negative reflectance (noise kept by the -1000 offset) is floored at 0,
    exactly as in the fused index and composite kernels, so the values agree bitwise.
    """
    if band not in cube.data_vars:
        raise ValueError(f"band {band!r} not in cube (has {sorted(map(str, cube.data_vars))})")
    if "boa_offset" not in cube.coords:
        raise ValueError("cube has no 'boa_offset' coord; set it to 0 for harmonised sources")
    dn = cube[band]
    shifted = (dn.astype(np.int32) + cube["boa_offset"].astype(np.int32)).clip(min=0)
    refl = shifted.astype(np.float32) * SCALE
    valid = dn != 0
    if mask:
        valid = valid & _scl(cube).isin(VALID_SCL)
    return refl.where(valid).astype(np.float32).rename(band).assign_attrs(
        long_name=f"surface reflectance {band}", units="1")


REFLECTANCE_BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
"""The bands the habitat rules read."""


def scene_reflectance(cube: xr.Dataset) -> xr.Dataset:
    """Per-scene surface reflectance (float32, offset applied, NaN where masked)."""
    return xr.Dataset({b: reflectance(cube, b) for b in REFLECTANCE_BANDS if b in cube})
