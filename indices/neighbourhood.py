"""Maps computed over a neighbourhood of pixels, alike on any chunking: exact window sums of
counts (:func:`window_sum`), and a per-block kernel run over ``(y, x)`` DataArrays as one
block or with the overlap its reach needs (:func:`neighbourhood`). The intertidal context
(:mod:`indices.context`) and the coast's maps (:mod:`indices.coast_maps`) are computed
through them; ``tests/test_chunk_invariance.py`` checks that the chunking never shows.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr

__all__ = ["ONE_BLOCK", "neighbourhood", "window_sum"]


def window_sum(a: np.ndarray, radius: int) -> np.ndarray:
    """Sum of the integer map ``a`` over the ``(2 radius + 1)²`` square around each pixel
    (outside the map counts 0): integers, exact, so a test ``sum >= k * (2 radius + 1)²`` is
    decided alike on any block. It replaces ``scipy.ndimage.uniform_filter``'s float32 mean
    (off by up to ~3e-7 of a view on 21 x 21 windows of counts, measured: a window of exactly
    ``k`` views on average could read just below ``k``); no block dependence of that mean was
    seen (the same floats from different starts, measured), the exact sum rules it out.

    Separable: running sums along ``y``, their differences ``2 radius + 1`` rows apart, then
    the same along ``x`` (contiguous slices, not gathers); int32 where no partial sum can
    exceed it (non-negative counts, the largest times the longer side times the window's
    width), else int64: the same integers either way."""
    a = np.asarray(a)
    ny, nx = a.shape
    width = 2 * radius + 1
    small = a.size == 0 or (int(a.min()) >= 0
                            and int(a.max()) * width * max(ny, nx) < np.iinfo(np.int32).max)
    dtype = np.int32 if small else np.int64
    return _box_sum(_box_sum(a, radius, 0, dtype), radius, 1, dtype)


def _box_sum(a: np.ndarray, radius: int, axis: int, dtype) -> np.ndarray:
    """Sums of ``a`` over ``2 radius + 1`` cells along ``axis`` (outside counts 0)."""
    a = np.moveaxis(np.asarray(a), axis, 0)
    n = a.shape[0]
    # cum[k] = sum of a[:clip(k - radius, 0, n)]: zeros above, the total below
    cum = np.empty((n + 2 * radius + 1,) + a.shape[1:], dtype)
    cum[:radius + 1] = 0
    np.cumsum(a, axis=0, dtype=dtype, out=cum[radius + 1:radius + 1 + n])
    cum[radius + 1 + n:] = cum[radius + n] if n else 0
    out = cum[2 * radius + 1:] - cum[:n]
    return np.moveaxis(out, 0, axis)


ONE_BLOCK = 2048
"""Pixels a side up to which a chunked map's context is computed as one block: no overlap
to compute twice (a 2000² site in 1024² chunks with a 328 px overlap computes 7.3 M pixels
instead of 4 M). The sources read a site up to 2048 px a side whole
(``flows.sources._reader.READ_WINDOW``): such a map is in memory anyway."""


def neighbourhood(kernel, inputs: tuple, depth: int, name: str, **kw) -> xr.DataArray:
    """``kernel(*inputs, **kw)`` over ``(y, x)`` DataArrays (coordinates those of
    ``inputs[1]``, the clear views): at once on numpy; on dask as one block up to
    :data:`ONE_BLOCK` pixels a side, else block by block with ``depth`` pixels of overlap
    between blocks and none beyond the map's edges (``boundary="none"``: each block sees the
    map's edges as the whole map's kernel does; padding them with zeros made the outside of
    the map look like land next to the water, a shore); uint8, lazy when an input is."""
    arrays = [a.transpose("y", "x").data for a in inputs]
    if not any(isinstance(a, da.Array) for a in arrays):
        out = kernel(*(np.asarray(a) for a in arrays), **kw)
    else:
        arrays = [da.asarray(a) for a in arrays]
        if max(arrays[0].shape) <= ONE_BLOCK:
            chunks = tuple((n,) for n in arrays[0].shape)
        else:
            chunks = _min_chunks(arrays[0].chunks, depth)
        arrays = [a.rechunk(chunks) for a in arrays]
        if all(len(c) == 1 for c in chunks):
            out = da.map_blocks(_block, *arrays, dtype=np.uint8,
                                meta=np.empty((0, 0), np.uint8), kernel=kernel, **kw)
        else:
            depths = {i: depth if len(c) > 1 else 0 for i, c in enumerate(chunks)}
            out = da.map_overlap(_block, *arrays, depth=depths, boundary="none", trim=True,
                                 dtype=np.uint8, meta=np.empty((0, 0), np.uint8),
                                 kernel=kernel, **kw)
    return xr.DataArray(out, dims=("y", "x"), coords=inputs[1].transpose("y", "x").coords,
                        name=name)


def _block(*arrays, kernel, **kw):  # noqa: D103 (map_overlap's function)
    return kernel(*arrays, **kw)


def _min_chunks(chunks: tuple[tuple[int, ...], ...], depth: int) -> tuple:
    """Chunks of at least ``depth`` pixels (an overlap reaches one neighbour only), the
    original ones where they already are."""
    out = []
    for axis in chunks:
        if min(axis) >= depth or len(axis) == 1:
            out.append(axis)
            continue
        total = sum(axis)
        size = max(depth, max(axis))
        n = max(1, total // size)
        base, extra = divmod(total, n)
        out.append(tuple(base + (i < extra) for i in range(n)))
    return tuple(out)
