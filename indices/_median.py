"""The median over time and the monthly composite, as numba kernels: per tile of pixels the
valid observations are gathered and sorted by a Batcher merge-exchange network (branch-free, so
the compiler vectorises it across pixels), cached on disk by numba (``cache=True``).

Like every kernel of :mod:`indices._kernels`: C-contiguous blocks in, float32 into a
preallocated output, parallel over rows, launches serialised by
:data:`indices._kernels.KERNEL_LOCK`.
"""

from __future__ import annotations

import functools
import types

import numpy as np
from numba import prange

from indices._kernels import _HALF, _INF, _NAN, KERNEL_LOCK, _jit, dn_reflectance, scl_in

__all__ = ["composite_kernel", "composite_kernel_serial", "median_over_time", "sorting_network",
           "sorting_networks"]

_TILE = 256
"""Pixels per tile in the median kernels: a (n_obs, 256) float32 buffer stays in L1/L2."""


@functools.cache
def sorting_network(n: int) -> np.ndarray:
    """Comparators ``(i, j)``, ``i < j``, of Batcher's merge-exchange network for ``n`` lines.

    Knuth, TAOCP vol. 3, 5.2.2 Algorithm M; valid for any ``n``. Applying the compare-exchanges
    in order sorts ascending. Returned read-only, shape ``(m, 2)`` int32.
    """
    pairs: list[tuple[int, int]] = []
    if n > 1:
        t = (n - 1).bit_length()
        p = 1 << (t - 1)
        while p > 0:
            q, r, d = 1 << (t - 1), 0, p
            while True:
                pairs += [(i, i + d) for i in range(n - d) if i & p == r]
                if q == p:
                    break
                d, q, r = q - p, q >> 1, p
            p >>= 1
    out = np.array(pairs, dtype=np.int32).reshape(-1, 2)
    out.flags.writeable = False
    return out


@functools.cache
def sorting_networks(n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Networks for 0..n_max lines, concatenated: ``(pairs (m, 2), start (n_max + 2,))``."""
    nets = [sorting_network(n) for n in range(n_max + 1)]
    start = np.zeros(n_max + 2, dtype=np.int64)
    start[1:] = np.cumsum([len(a) for a in nets])
    pairs = np.concatenate(nets) if start[-1] else np.zeros((0, 2), np.int32)
    return pairs, start


@_jit(inline="always")
def _median_tile(buf, n, cnt, w, pairs, net_start, out_row, x0):
    """Write the median of each column ``x < w`` of ``buf[:n]`` to ``out_row[x0 + x]``.

    Missing values in ``buf`` are +inf and column ``x`` holds ``cnt[x]`` finite ones. The
    columns are sorted together by the network for ``n`` lines (each compare-exchange is a
    vectorised min/max across the tile); the median is the middle value, or the mean of the
    two middle values for even counts (as ``np.median``); NaN for none.
    """
    for q in range(net_start[n], net_start[n + 1]):
        bi = buf[pairs[q, 0]]
        bj = buf[pairs[q, 1]]
        for x in range(w):
            a = bi[x]
            b = bj[x]
            bi[x] = min(a, b)
            bj[x] = max(a, b)
    for x in range(w):
        c = cnt[x]
        h = c // 2
        if c == 0:
            out_row[x0 + x] = _NAN
        elif c % 2:
            out_row[x0 + x] = buf[h, x]
        else:
            out_row[x0 + x] = (buf[h - 1, x] + buf[h, x]) * _HALF


@_jit(parallel=True, cache=True)
def _median_kernel(arr, pairs, net_start, out):
    T, Y, X = arr.shape
    for y in prange(Y):
        buf = np.empty((T, _TILE), np.float32)
        cnt = np.empty(_TILE, np.int64)
        for x0 in range(0, X, _TILE):
            w = min(_TILE, X - x0)
            cnt[:] = 0
            n = 0  # lines kept: a time step with no value in this tile is skipped
            for t in range(T):
                row = arr[t, y]
                line = buf[n]
                seen = 0
                for x in range(w):
                    v = row[x0 + x]
                    ok = v == v
                    line[x] = v if ok else _INF
                    cnt[x] += ok
                    seen += ok
                n += seen > 0
            _median_tile(buf, n, cnt, w, pairs, net_start, out[y], x0)


def median_over_time(arr: np.ndarray) -> np.ndarray:
    """NaN-median over axis 0 of a ``(time, y, x)`` float array, as float32 ``(y, x)``.

    Equals ``np.nanmedian(arr.astype(np.float32), axis=0)`` bitwise (NaN where every value is
    NaN) for finite-or-NaN input, 10-20x faster (24 x 2048², 2 cores). Numpy in, numpy out.
    """
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if arr.ndim != 3:
        raise ValueError(f"median_over_time expects (time, y, x), got shape {arr.shape}")
    pairs, start = sorting_networks(arr.shape[0])
    out = np.empty(arr.shape[1:], np.float32)
    with KERNEL_LOCK:
        _median_kernel(arr, pairs, start, out)
    return out


def _composite(bands, scl, valid_bits, offsets, starts, pairs, net_start, keep, wet_g, wet_s,
               glint, nir_k, out):
    """Per period, median reflectance of the clear observations and their counts.

    ``bands``: tuple of ``(T, Y, X)`` uint16 DN; ``scl`` ``(T, Y, X)`` uint8; ``offsets`` ``(T,)``
    int; period ``p`` spans times ``starts[p]:starts[p + 1]``. An observation is clear where
    SCL is in the classes of ``valid_bits`` (:func:`scl_bits`) and every band of ``bands`` is
    nonzero; ``keep`` (int64) are the positions in ``bands`` of those composited, in output
    order (the clear test reads every band, the medians only these: which views a pixel's
    median takes does not depend on which bands are composited).
    ``out`` ``(len(keep) + 2, P, Y, X)`` float32: the medians (NaN where none is clear), the
    clear count, then the count of clear observations that were *wet*: green reflectance above
    NIR reflectance, i.e. NDWI > 0 (McFeeters 1996, doi:10.1080/01431169608948714), the
    land/water test of tidal-flat mapping (Murray et al. 2012, Remote Sens. 4:3417: tidal
    flat = water at high tide, land at low tide), with ``bands[wet_g]`` the green and
    ``bands[wet_s]`` the NIR band (0 when either is -1). MNDWI would not do: exposed,
    water-saturated mud absorbs SWIR1 like water and reads wet at low tide too.

    ``glint`` (float32, one per kept band) and ``nir_k`` (the NIR's position in ``keep``, -1
    none): a kept band ``k`` with ``glint[k] != 0`` is, where a pixel has three clear views
    or more, the median over its views of ``v - glint[k] NIR`` (each view's glint removed
    with its own NIR, Hedley et al. 2005's form) plus ``glint[k]`` times the NIR's median
    (:func:`indices.composite.composite`'s ``deglint``); with one or two views (a median
    that is a mean, which the linear deglint commutes with) and for the other bands, the
    median of the band's values, as without ``glint``.
    """
    nb = len(bands)
    nk = keep.shape[0]
    T, Y, X = scl.shape
    P = starts.shape[0] - 1
    for r in prange(P * Y):
        p = r // Y
        y = r - p * Y
        t0 = starts[p]
        n_t = starts[p + 1] - t0
        ok = np.empty((n_t, _TILE), np.bool_)
        used = np.empty(n_t, np.bool_)
        buf = np.empty((n_t, _TILE), np.float32)
        cnt = np.empty(_TILE, np.int64)
        deglinted = np.empty(_TILE, np.float32)
        for x0 in range(0, X, _TILE):
            w = min(_TILE, X - x0)
            cnt[:] = 0
            for i in range(n_t):
                srow = scl[t0 + i, y]
                line = ok[i]
                for x in range(w):
                    line[x] = scl_in(srow[x0 + x], valid_bits)
                for b in range(nb):
                    brow = bands[b][t0 + i, y]
                    for x in range(w):
                        line[x] &= brow[x0 + x] != 0
                seen = 0
                for x in range(w):
                    cnt[x] += line[x]
                    seen += line[x]
                used[i] = seen > 0  # scenes with nothing clear in this tile are skipped
            for k in range(nk):
                n = 0
                for i in range(n_t):
                    if used[i]:
                        brow = bands[keep[k]][t0 + i, y]
                        off = np.float32(offsets[t0 + i])
                        line = buf[n]
                        for x in range(w):
                            v = dn_reflectance(brow[x0 + x], off)
                            line[x] = v if ok[i, x] else _INF
                        n += 1
                _median_tile(buf, n, cnt, w, pairs, net_start, out[k, p, y], x0)
            many = 0  # pixels of the tile with three views or more: else nothing to redo
            for x in range(w):
                many += cnt[x] >= 3
            for k in range(nk):
                s = glint[k]
                if s == 0 or nir_k < 0 or many == 0:
                    continue
                n = 0
                for i in range(n_t):
                    if used[i]:
                        brow = bands[keep[k]][t0 + i, y]
                        nrow = bands[keep[nir_k]][t0 + i, y]
                        off = np.float32(offsets[t0 + i])
                        line = buf[n]
                        for x in range(w):
                            v = (dn_reflectance(brow[x0 + x], off)
                                 - s * dn_reflectance(nrow[x0 + x], off))
                            line[x] = v if ok[i, x] else _INF
                        n += 1
                _median_tile(buf, n, cnt, w, pairs, net_start, deglinted, 0)
                for x in range(w):
                    if cnt[x] >= 3:
                        out[k, p, y, x0 + x] = deglinted[x] + s * out[nir_k, p, y, x0 + x]
            for x in range(w):
                out[nk, p, y, x0 + x] = cnt[x]
                out[nk + 1, p, y, x0 + x] = 0
            if wet_g >= 0 and wet_s >= 0:
                for i in range(n_t):
                    if used[i]:
                        grow = bands[wet_g][t0 + i, y]
                        srow = bands[wet_s][t0 + i, y]
                        off = np.float32(offsets[t0 + i])
                        for x in range(w):
                            g = dn_reflectance(grow[x0 + x], off)
                            s1 = dn_reflectance(srow[x0 + x], off)
                            if ok[i, x] and g > s1:
                                out[nk + 1, p, y, x0 + x] += 1


def _renamed(func, name: str):
    """``func`` under another name: numba's disk cache keys a function by its name and
    signature, not by its ``parallel`` flag, so each twin needs a name of its own."""
    code = func.__code__.replace(co_name=name, co_qualname=name)
    twin = types.FunctionType(code, func.__globals__, name, func.__defaults__, func.__closure__)
    twin.__qualname__ = name
    twin.__doc__ = func.__doc__
    return twin


composite_kernel = _jit(parallel=True, cache=True)(_renamed(_composite, "composite_kernel"))
"""The composite (:func:`_composite`'s doc), parallel over rows: a direct call on numpy."""
composite_kernel_serial = _jit(cache=True)(_renamed(_composite, "composite_kernel_serial"))
"""The same loop on the calling thread, for dask tasks (one a thread, no launch lock), as the
reduce kernels' ``serial`` twins: the parallel kernel behind :data:`KERNEL_LOCK` left the other
dask thread waiting for the lock (or woke idle kernel threads) on every chunk. The same
numbers: each row of pixels is computed alone either way."""
