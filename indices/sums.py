"""Spectral indices reduced in the kernel: per-scene sums and counts, no index layer.

:func:`index_sums` is the aggregate of :func:`indices.spectral.compute_indices` without its
layers; :func:`reduce_dn` (behind ``indices.summary.scene_statistics``) adds per-pixel counts
and run-time constants. One fused task per chunk reads the uint16 DN once
(:func:`indices._reduce_kernels.reduce_kernel`) and returns a few numbers. Split out of
:mod:`indices.spectral` (the registry and the index layers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dask.array as da
import numpy as np
import xarray as xr
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from indices import _kernels
from indices._reduce_kernels import reduce_kernel
from indices.masks import VALID_SCL
from indices.spectral import (
    INDICES,
    SYMBOLS,
    _band_arrays,
    _dn_inputs,
    _resolve,
    kernel_expression,
)

__all__ = ["index_sums", "reduce_dn", "table_columns"]


@dataclass(frozen=True)
class _ReduceBlock:
    """Block function of :func:`index_sums`: one chunk ``(*bands, [scl], [site], offsets)``
    -> ``(T, 1, 1, width)`` float64 partial sums and counts (see
    :func:`indices._reduce_kernels.reduce_kernel`). Hashable specs only, as :class:`indices.spectral._FusedBlock`."""

    symbols: tuple[str, ...]
    outputs: tuple[tuple[str, str, tuple[str, ...]], ...]
    valid_scl: tuple[int, ...] | None
    where: bool
    prelude: tuple[str, ...] = ()
    counts: tuple[str, ...] = ()
    constants: tuple[str, ...] = ()
    """Names of the run-time constants (a site's water parameters), given as a last
    ``(len(constants),)`` float64 argument (each a float32 value, except ``wide``'s)."""
    wide: tuple[str, ...] = ()
    """Those of ``constants`` the kernel reads as float64
    (:func:`indices._reduce_kernels.reduce_kernel`)."""
    switch: tuple[str, ...] = ()
    """Those of ``constants`` that are flags (1, or anything else read as 0): a kernel is
    compiled for each value (``reduce_kernel(..., fixed=...)``) and the block runs the one of
    its value, so a branch on the flag costs nothing in the pixel loop (a run-time branch
    there stopped LLVM vectorising it: ~4x the time of the mangrove kernel)."""
    parallel: bool = False
    """Run the kernel on every core (a direct numpy call). In a dask task it runs on the task's
    thread: dask keeps one task running a core, and serial kernels need no launch lock, no
    thread team per dask thread, and no wake-up of idle kernel threads between chunks (the
    parallel kernel behind the launch lock took ~1.3x the serial kernels' time for 16 chunks of
    2048²)."""
    __name__ = "fused-sums"

    @property
    def width(self) -> int:
        return 2 * len(self.outputs) + len(self.counts)

    def __dask_tokenize__(self) -> tuple:
        return ("bluecarbon-sums", self.symbols, self.outputs, self.valid_scl, self.where,
                self.prelude, self.counts, self.constants, self.wide, self.switch,
                self.parallel)

    def __call__(self, *blocks: np.ndarray) -> np.ndarray:
        consts, fixed = (), ()
        if self.constants:
            *blocks, values = blocks
            consts = (np.ascontiguousarray(values, dtype=np.float64),)
            fixed = tuple((c, 1.0 if consts[0][self.constants.index(c)] == 1 else 0.0)
                          for c in self.switch)
        kernel = reduce_kernel(self.symbols, self.outputs, self.valid_scl,
                               where=self.where, prelude=self.prelude, counts=self.counts,
                               constants=self.constants, wide=self.wide, fixed=fixed)
        *layers, offsets = blocks
        args = [np.ascontiguousarray(b) for b in layers]
        if self.where:
            args[-1] = np.ascontiguousarray(args[-1], dtype=np.uint8)
        T, Y, _ = args[0].shape
        out = np.empty((T * Y, self.width), np.float64)
        offsets = [np.ascontiguousarray(offsets, dtype=np.int32), *consts]
        if out.size and self.parallel:
            with _kernels.KERNEL_LOCK:
                kernel(*args, *offsets, out)
        elif out.size:
            kernel.serial(*args, *offsets, out)
        # rows -> chunk: exact for counts (integers below 2**53), float64 for sums
        return out.reshape(T, Y, self.width).sum(axis=1)[:, np.newaxis, np.newaxis, :]


def reduce_dn(cube: xr.Dataset, names: Sequence[str], *, where: xr.DataArray | None = None,
              mask: bool = True, extra_symbols: Sequence[str] = (), prelude: Sequence[str] = (),
              counts: Sequence[str] = (), constants: Mapping[str, float] | None = None,
              wide: Sequence[str] = (), switch: Sequence[str] = ()
              ) -> tuple[object, list[str]]:
    """Sums and counts of indices (and per-pixel counts) per scene of a DN cube, reduced
    inside one fused kernel per chunk: ``(array (time, width) float64, index names in kernel
    order)``, lazy when the cube is dask-backed. Columns as in
    :func:`indices._reduce_kernels.reduce_kernel`; ``extra_symbols`` are bands read for ``prelude``
    and ``counts`` only; ``constants``: float32 values the prelude and counts read as
    ``c_<name>`` (:func:`indices._reduce_kernels.reduce_kernel`; numbers, or 0-d arrays, lazy or
    not, cast to float32; those named in ``wide`` kept float64; those named in ``switch``
    flags, see :class:`_ReduceBlock`). For :func:`index_sums` and
    :mod:`indices.summary`."""
    ordered = [n for n in INDICES if n in _resolve(names)] if names else []
    outputs = tuple((n, *kernel_expression(n)) for n in ordered)
    symbols = tuple(s for s in SYMBOLS
                    if s in extra_symbols or any(s in used for _, _, used in outputs))
    bands, arrays = _band_arrays(cube, symbols, f"sums of {list(names)}")
    if any(a.dtype.kind != "u" or a.dtype.itemsize > 2 for a in arrays):
        raise ValueError(f"index sums take uint16 DN bands; got {[str(a.dtype) for a in arrays]}")
    if set(arrays[0].dims) == {"y", "x"}:
        cube = cube.expand_dims("time")
        arrays = [cube[b] for b in bands]
    if any(set(a.dims) != {"time", "y", "x"} for a in arrays):
        raise ValueError(f"DN bands need dims (time, y, x) or (y, x), got "
                         f"{[a.dims for a in arrays]}")
    grids, off = _dn_inputs(cube, arrays, mask)
    args: list[tuple[object, tuple[str, ...]]] = [(g, ("t", "y", "x")) for g in grids]
    if where is not None:
        if set(where.dims) != {"y", "x"} or any(where.sizes[d] != cube.sizes[d]
                                                for d in ("y", "x")):
            raise ValueError(f"where must be a (y, x) mask of the cube's grid "
                             f"{(cube.sizes['y'], cube.sizes['x'])}, got {dict(where.sizes)}")
        site = where.transpose("y", "x").data
        # a uint8 mask passes as it is (bits beyond the first are for ``counts``: nonzero is
        # inside); anything else is a boolean mask
        if isinstance(site, da.Array):
            site = site if site.dtype == np.uint8 else site.astype(bool).astype(np.uint8)
        else:
            site = (np.ascontiguousarray(site) if np.asarray(site).dtype == np.uint8
                    else np.ascontiguousarray(site, dtype=bool).view(np.uint8))
        args.append((site, ("y", "x")))
    constants = dict(constants or {})
    block = _ReduceBlock(symbols, outputs, VALID_SCL if mask else None, where is not None,
                         tuple(prelude), tuple(counts), tuple(constants),
                         tuple(c for c in constants if c in wide),
                         tuple(c for c in constants if c in switch))
    # each value rounded to float32 (exact in the float64 array) unless it is ``wide``
    types = [np.float64 if c in wide else np.float32 for c in constants]
    values = [v.data if isinstance(v, xr.DataArray) else v for v in constants.values()]
    lazy = any(isinstance(v, da.Array) for v in values)
    if not lazy and not any(isinstance(a, da.Array) for a, _ in args + [(off, ())]):
        block = dataclasses.replace(block, parallel=True)
        extra = ([np.array([t(v) for t, v in zip(types, values, strict=True)], np.float64)]
                 if constants else [])
        return (block(*(np.asarray(a) for a, _ in args), np.asarray(off), *extra)[:, 0, 0, :],
                ordered)
    flat = [x for a, ind in args for x in (da.asarray(a), ind)]
    extra = []
    if constants:  # one small array every block reads whole
        stacked = (da.stack([da.asarray(v).astype(t).astype(np.float64).reshape(())
                             for t, v in zip(types, values, strict=True)])
                   if lazy else np.array([t(v) for t, v in zip(types, values, strict=True)],
                                         np.float64))
        extra = [da.asarray(stacked).rechunk(-1), ("c",)]
    parts = da.blockwise(block, ("t", "y", "x", "k"), *flat, da.asarray(off), ("t",), *extra,
                         new_axes={"k": block.width}, adjust_chunks={"y": 1, "x": 1},
                         concatenate=True, dtype=np.float64,
                         meta=np.empty((0, 0, 0, 0), np.float64))
    return _sum_blocks(parts), ordered


def _column(block: np.ndarray, j: int, dtype) -> np.ndarray:
    return block[:, j].astype(dtype)


def table_columns(table, picks: Sequence[tuple[int, type]]) -> list:
    """Columns ``j`` of a ``(time, width)`` table from :func:`reduce_dn`, each as ``dtype``:
    numpy in, numpy out; dask in, one task per time chunk and column (built directly: dask's
    own slicing and casting cost more to build and optimise than these tasks take to run)."""
    if not isinstance(table, da.Array):
        return [np.asarray(table)[:, j].astype(dtype) for j, dtype in picks]
    out = []
    for j, dtype in picks:
        name = f"column-{j}-{np.dtype(dtype).name}-{table.name}"
        graph = {(name, t): (_column, (table.name, t, 0), j, dtype)
                 for t in range(table.numblocks[0])}
        hlg = HighLevelGraph.from_collections(name, graph, dependencies=[table])
        out.append(da.Array(hlg, name, chunks=(table.chunks[0],), dtype=dtype,
                            meta=np.empty((0,), dtype)))
    return out


def _add_blocks(blocks: list[np.ndarray]) -> np.ndarray:
    total = blocks[0][:, 0, 0, :].copy()
    for b in blocks[1:]:
        total += b[:, 0, 0, :]
    return total


def _sum_blocks(parts: da.Array) -> da.Array:
    """``parts.sum(axis=(1, 2))`` of per-chunk partial results ``(T, ny, nx, width)`` (one
    ``(t, 1, 1, width)`` block per chunk) as one task per time chunk, in a fixed order.

    The partials are a few numbers each, so a tree reduction buys nothing, and its per-chunk
    ``sum`` tasks and partial aggregates cost dask more to build, optimise and run than they
    compute (~10 ms against ~50 ms of kernels for 16 chunks of 2048², with the columns of
    :func:`table_columns`).
    """
    name = f"sum-chunks-{tokenize(parts)}"
    _, ny, nx, _ = parts.numblocks
    graph = {(name, t, 0): (_add_blocks, [(parts.name, t, y, x, 0)
                                          for y in range(ny) for x in range(nx)])
             for t in range(parts.numblocks[0])}
    hlg = HighLevelGraph.from_collections(name, graph, dependencies=[parts])
    return da.Array(hlg, name, chunks=(parts.chunks[0], (parts.shape[3],)), dtype=np.float64,
                    meta=np.empty((0, 0), np.float64))


def index_sums(cube: xr.Dataset, names: str | Sequence[str], *,
               where: xr.DataArray | None = None, mask: bool = True) -> xr.Dataset:
    """Per scene, the sum and the count of each index's valid values, reduced in the kernel.

    The aggregate of :func:`compute_indices` without its layers: one fused task per chunk
    reads the uint16 DN once and returns a few numbers, so nothing of full resolution is
    written or held (``compute_indices(...).sum()`` writes 4 bytes a pixel and an index,
    then reads them again). Values are those of :func:`compute_indices`, bit for bit; they
    are summed in float32 over runs of 256 pixels, then in float64: counts are exact, sums
    within ~1e-7 of the float64 sum of the same values (relative to the sum of magnitudes).

    Parameters
    ----------
    cube
        Scene cube (uint16 DN bands, ``SCL``, coord ``boa_offset``), ``(time, y, x)`` or one
        scene ``(y, x)``.
    names
        Keys of :data:`INDICES`.
    where
        Optional ``(y, x)`` boolean mask of the cube's grid (a site polygon): only pixels
        where it is True count.
    mask
        As for :func:`compute_indices`.

    Returns
    -------
    xr.Dataset
        ``<name>_sum`` (float64) and ``<name>_count`` (int64: pixels where the index is
        defined, unmasked and inside ``where``) per name, along ``time`` with the cube's time
        coords. Mean = sum / count. Lazy when the cube is dask-backed.
    """
    names = _resolve(names)
    table, ordered = reduce_dn(cube, names, where=where, mask=mask)
    single = set(cube[SYMBOLS[kernel_expression(names[0])[1][0]]].dims) == {"y", "x"}
    coords = {k: v for k, v in cube.coords.items() if v.dims == ("time",) or k == "time"}
    picks = [(2 * ordered.index(n) + k, dtype) for n in names
             for k, dtype in ((0, np.float64), (1, np.int64))]
    columns = iter(table_columns(table, picks))
    out = {f"{n}_{what}": xr.Variable("time", next(columns))  # (DataArrays would be aligned)
           for n in names for what in ("sum", "count")}
    ds = xr.Dataset(out, coords=coords if not single else None)
    return ds.isel(time=0) if single else ds
