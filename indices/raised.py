"""Baseline views of a seagrass site's water raised above the pixel's own bottom (rule v4).

Over a baseline of a few months the bottom does not change, so a clear view of a water pixel
differs from the pixel's other views by what lies above the bottom: noise, and what only adds
light, a patch of sediment plume, haze or glint left after the NIR correction. Suspended
matter raises the water's reflectance (Nechad, Ruddick & Park 2010, Remote Sens. Environ.
114:854-866, doi:10.1016/j.rse.2009.11.022, eq. 1: suspended matter ``A rho / (1 - rho / C)``
from one band's reflectance, monotonic), and a median of four views with one or two raised
by a plume is raised: over optically deep water it shows a green bottom signal that is not
there, as a dark (vegetated) bottom would, which a month without the plume then "loses". A
plume over part of a scene is not caught by :func:`indices.seagrass_rule.turbid_scenes`,
which judges whole scenes (generator seed 13: 10 of 24 scenes with plume patches, none
flagged). The test is on green, the band the score places the bottom by.

Two steps, so that no block of the site depends on another's pixels:

1. :func:`view_spread`, a first pass: the site's spread of a view's deglinted green about its
   pixel's median, one number (the median over the water of each pixel's ``1.4826 x`` median
   absolute deviation across the baseline's views: a normal law's sigma, robust, so the
   raised views do not widen it), reduced through a histogram per block (summed; nothing per
   pixel kept), computed once and handed on as a number (as the mangrove site parameters
   are: :func:`flows.site.evidence.site_evidence_of`);
2. :func:`raised_views` with that number: per pixel, the views more than ``raised_sigmas``
   spreads above the pixel's median of its clear water views (with at least
   ``raised_min_views`` of them), block by block (a reduction over time only).

A spread of 0 (constant water) or none (no pixel with ``raised_min_views`` views: a baseline
of one or two views) drops nothing. Deglint: Hedley et al. 2005's flat glint above the
rule's deep-water NIR (``rule.deep_water[2]``, as the plume-scene test; a constant of the
rule, which calibration does not fit: not the site's fitted deep water, which needs the
composite this step makes). Only deviations from the pixel's own median are read, so the
reference cancels where NIR lies above it in every view; glint under it (NIR below 0.002)
is not removed, and a slightly glinty view may be dropped as raised (review of stop 28:
deglinting against the pixel's own median NIR is the next step).
"""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import xarray as xr

from indices.masks import scene_reflectance
from indices.water import water_mask

__all__ = ["SPREAD_EDGES", "mask_raised_views", "raised_views", "view_spread"]

SPREAD_EDGES = np.concatenate([[0.0], np.geomspace(1e-5, 1.0, 1025)])
"""Bins of the per-pixel spreads (reflectance): one of [0, 1e-5) (a pixel whose views agree
to the L2A quantum), then 1024 of equal ratio (1.1 % wide) to 1: the site's median is read
to 1.1 %, the same whatever the chunks."""
_MIDS = np.concatenate([[0.0], np.sqrt(SPREAD_EDGES[1:-1] * SPREAD_EDGES[2:])]).astype(
    np.float32)
_MAD_SIGMA = np.float32(1.4826)


def _green(cube: xr.Dataset, rule) -> xr.DataArray:
    """Deglinted green of the cube's clear water views ``(time, y, x)`` float32, NaN elsewhere:
    ``G - max(NIR - NIR_deep, 0)`` with the rule's deep-water NIR (module doc)."""
    refl = scene_reflectance(cube[[b for b in ("B03", "B04", "B08", "SCL") if b in cube]])
    water = water_mask(refl, rule) & refl["B03"].notnull() & refl["B08"].notnull()
    glint = np.maximum(refl["B08"] - np.float32(rule.deep_water[2]), np.float32(0))
    return (refl["B03"] - glint).where(water).astype(np.float32).transpose("time", "y", "x")


def _quiet_median(v: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():  # all-NaN pixels (land, clouds) give NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(v, axis=axis)


def _deviations(green: np.ndarray, min_views: int) -> tuple[np.ndarray, np.ndarray]:
    """``(dev, judged)`` of a ``(time, ...)`` block: each view's deviation from its pixel's
    median, and the pixels with at least ``min_views`` views."""
    n = np.isfinite(green).sum(axis=0)
    dev = green - _quiet_median(green, 0)[None]
    return dev, n >= min_views


def _spread_counts(green: np.ndarray, min_views: int) -> np.ndarray:
    """Histogram (:data:`SPREAD_EDGES`) of a ``(time, y, x)`` block's per-pixel spreads,
    shaped ``(1, 1, bins)`` int64."""
    dev, judged = _deviations(green, min_views)
    spread = _MAD_SIGMA * _quiet_median(np.abs(dev[:, judged]), 0)
    idx = np.searchsorted(SPREAD_EDGES, spread[np.isfinite(spread)], side="right") - 1
    counts = np.bincount(np.clip(idx, 0, len(_MIDS) - 1), minlength=len(_MIDS))
    return counts.astype(np.int64)[None, None]


def _median_of_counts(counts: np.ndarray) -> np.ndarray:
    """The median bin's middle of a histogram (:data:`SPREAD_EDGES`), NaN if empty."""
    total = counts.sum()
    if total == 0:
        return np.array(np.nan, np.float32)
    k = int(np.searchsorted(np.cumsum(counts), total / 2))
    return np.array(_MIDS[k], np.float32)


def view_spread(cube: xr.Dataset, rule) -> xr.DataArray:
    """The site's spread of its views' deglinted green (reflectance, 1 sigma; module doc) over
    ``cube``'s scenes (the baseline's), a 0-d float32 DataArray, NaN where no pixel has
    ``rule.raised_min_views`` clear water views; lazy when the cube is, the blocks reduced
    each to a histogram (no per-pixel array kept; the same number whatever the chunks).
    Compute it in a first pass and give the number to :func:`raised_views`."""
    data = _green(cube, rule).data
    k = int(rule.raised_min_views)
    if not isinstance(data, da.Array):
        return xr.DataArray(_median_of_counts(_spread_counts(np.asarray(data), k)[0, 0]))
    data = data.rechunk({0: -1})
    ny, nx = data.numblocks[1:]
    parts = da.map_blocks(_spread_counts, data, k, drop_axis=0, new_axis=2,
                          chunks=((1,) * ny, (1,) * nx, (len(_MIDS),)), dtype=np.int64)
    counts = parts.sum(axis=(0, 1)).rechunk(-1)
    return xr.DataArray(da.map_blocks(_median_of_counts, counts, drop_axis=0, chunks=(),
                                      dtype=np.float32))


def _raised(green: np.ndarray, spread: np.ndarray, *, sigmas: float,
            min_views: int) -> np.ndarray:
    """Raised views of a ``(y, x, time)`` block (apply_ufunc's core dim last)."""
    green = np.moveaxis(green, -1, 0)
    dev, judged = _deviations(green, min_views)
    spread = np.float32(spread)
    if not spread > 0:  # 0 (constant water) or NaN (nothing to measure it on): none
        return np.zeros(np.moveaxis(green, 0, -1).shape, bool)
    return np.moveaxis(judged[None] & (dev > np.float32(sigmas) * spread), 0, -1)


def raised_views(cube: xr.Dataset, rule, spread) -> xr.DataArray:
    """Water views raised above their pixel's own bottom: ``(time, y, x)`` bool, lazy when the
    cube is; where a view's deglinted green lies more than ``rule.raised_sigmas`` times
    ``spread`` (:func:`view_spread`, a number: no block depends on another) above its
    pixel's median over ``cube``'s views (at least ``rule.raised_min_views`` of them). Only
    upward deviations: nothing over the water darkens the bottom's green within a baseline.
    None where ``spread`` is 0 or NaN (module doc)."""
    green = _green(cube, rule)
    if green.chunks:
        green = green.chunk({"time": -1})
    spread = spread if isinstance(spread, xr.DataArray) else xr.DataArray(np.float32(spread))
    out = xr.apply_ufunc(_raised, green, spread.astype(np.float32),
                         input_core_dims=[["time"], []], output_core_dims=[["time"]],
                         kwargs={"sigmas": rule.raised_sigmas,
                                 "min_views": int(rule.raised_min_views)},
                         dask="parallelized", output_dtypes=[bool])
    return out.transpose("time", "y", "x")


def mask_raised_views(cube: xr.Dataset, rule, spread) -> xr.Dataset:
    """The cube with its :func:`raised_views` masked as defective (SCL 1): for a seagrass
    site's baseline composite only (the months keep their views: a month's bottom may have
    changed, and a meadow lost brightens green as a plume does)."""
    # its own coords dropped: comparing lazy ones (boa_offset) with the cube's would compute
    raised = raised_views(cube, rule, spread).reset_coords(drop=True)
    if cube["SCL"].chunks and raised.chunks:
        raised = raised.chunk(dict(zip(cube["SCL"].dims, cube["SCL"].chunks, strict=True)))
    scl = cube["SCL"].where(~raised.transpose(*cube["SCL"].dims), np.uint8(1))
    return cube.assign(SCL=scl.astype(cube["SCL"].dtype))
