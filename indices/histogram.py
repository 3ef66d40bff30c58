"""Exact integer histograms of maps and their quantiles, numpy or lazy (dask).

The site parameters (water fit, mangrove thresholds, the discriminant axis) are reduced
through counts of values in fixed bins, not through floating-point sums or sorts, so that
they do not depend on the chunking: the walks of :mod:`indices.summary` must agree bit for
bit. Bins are of equal ratio (log-spaced) over a range ``lo_hi``; values below the range
fall in the first bin, above it in the last, NaN nowhere.

A quantile is the **first bin whose cumulative count reaches** ``q`` of the total (the
inverse of the empirical distribution function, Hyndman & Fan 1996, Am. Stat. 50:361-365,
definition 1), read as the bin's index (:func:`quantile_bin`) or its geometric centre
(:func:`quantile`).
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr

__all__ = ["BINS", "LOG_RANGE", "bins", "centres", "histogram", "quantile", "quantile_bin"]

BINS = 256
LOG_RANGE = (5e-4, 0.5)
"""Reflectance histograms: 256 bins of equal ratio (2.7 %) from 0.0005 to 0.5, fine where
the water is dark (0.00014 wide at 0.005) and coarse where a bin's width does not matter."""


def bins(x, lo_hi=LOG_RANGE):
    """numpy: the bin index (int64, 0 to ``BINS - 1``) of each value of ``x``."""
    lo, hi = np.log(lo_hi[0]), np.log(lo_hi[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (np.log(np.maximum(x, lo_hi[0])) - lo) / (hi - lo) * BINS
    return np.clip(np.floor(t), 0, BINS - 1).astype(np.int64)


def centres(lo_hi=LOG_RANGE) -> np.ndarray:
    """Bin centres (geometric) of the histograms over ``lo_hi``."""
    lo, hi = np.log(lo_hi[0]), np.log(lo_hi[1])
    return np.exp(lo + (np.arange(BINS) + 0.5) * (hi - lo) / BINS)


def _hist_block(*arrays, lo_hi=LOG_RANGE):
    """``(mask, a[, b])`` blocks -> (1, 1, BINS[**2]) counts of the masked values."""
    mask, *values = arrays
    ok = mask & np.all([np.isfinite(v) for v in values], axis=0)
    if len(values) == 1:
        h = np.bincount(bins(values[0][ok], lo_hi), minlength=BINS)
    else:
        h = np.bincount(bins(values[0][ok], lo_hi) * BINS + bins(values[1][ok], lo_hi),
                        minlength=BINS * BINS)
    return h[None, None, :]


def histogram(mask: xr.DataArray, *values: xr.DataArray, lo_hi=LOG_RANGE):
    """Exact counts of ``values`` (one or two maps) where ``mask``: a 1-D (BINS or BINS**2)
    int64 array, dask when the inputs are."""
    arrays = [a.transpose("y", "x").data for a in (mask, *values)]
    width = BINS ** len(values)
    if not any(isinstance(a, da.Array) for a in arrays):
        return _hist_block(*(np.asarray(a) for a in arrays), lo_hi=lo_hi)[0, 0]
    arrays = [da.asarray(a) for a in arrays]
    arrays = [a.rechunk(arrays[0].chunks) for a in arrays]
    ny, nx = arrays[0].numblocks
    parts = da.map_blocks(_hist_block, *arrays, new_axis=2, lo_hi=lo_hi,
                          chunks=((1,) * ny, (1,) * nx, (width,)), dtype=np.int64)
    return parts.sum(axis=(0, 1))


def quantile_bin(counts, q: float):
    """The first bin of histogram ``counts`` at which its cumulative count reaches ``q`` of
    the total (0 where empty), lazy when ``counts`` is."""
    lib = da if isinstance(counts, da.Array) else np
    cum = lib.cumsum(counts)
    return lib.argmax(cum >= q * cum[-1])


def quantile(counts, q: float, lo_hi=LOG_RANGE):
    """The ``q`` quantile of histogram ``counts`` over ``lo_hi`` (the centre of
    :func:`quantile_bin`), NaN when empty: a float, or lazy when ``counts`` is."""
    if not isinstance(counts, da.Array):
        counts = np.asarray(counts)
        return float(centres(lo_hi)[quantile_bin(counts, q)]) if counts.sum() > 0 else np.nan
    return da.where(counts.sum() > 0, da.asarray(centres(lo_hi))[quantile_bin(counts, q)],
                    np.nan)
