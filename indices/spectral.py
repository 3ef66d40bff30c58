"""Spectral indices: the registry and :func:`compute_indices`.

Symbols in formulas are surface reflectance: B=B02, G=B03, R=B04, N=B08, S1=B11, S2=B12.
One fused numba kernel, generated from the formulas of the requested set and compiled once per
set and process, reads each needed band once per pixel (uint16 DN), applies the scene's
``boa_offset`` and the SCL/nodata mask and writes every requested index in the same pass
(:func:`indices._kernels.fused_kernel`). Measured on the 2-core machine, ndvi+ndwi+mndwi+mvi: a
generated kernel ~1.1 Gpx/s, one kernel with run-time flags per index ~0.4 Gpx/s.

Where only aggregates are needed, :func:`index_sums` (and :func:`reduce_dn`, behind
``indices.summary.scene_statistics``) runs the same index arithmetic in a kernel that reduces
to per-scene sums and counts (:func:`indices._kernels.reduce_kernel`): no float32 layer is
written, and a chunk task returns a few numbers. 4 indices of an 8192² cube in 2048² chunks,
2 cores: the kernel ~1.5 Gpx/s, ``index_sums`` ~1.0 Gpx/s with dask's overhead (~10x
``compute_indices(...).sum()``, whose fresh layers and second pass cost more than the indices).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dask.array as da
import numpy as np
import xarray as xr
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from indices import _kernels
from indices.masks import VALID_SCL

__all__ = ["INDICES", "SYMBOLS", "IndexSpec", "compute_indices", "index_sums"]

SYMBOLS = {"B": "B02", "G": "B03", "R": "B04", "N": "B08", "S1": "B11", "S2": "B12"}
"""Formula symbol -> Sentinel-2 band id."""


@dataclass(frozen=True)
class IndexSpec:
    """A spectral index: what it reads, how it is computed, where it comes from."""

    name: str
    """Variable name in the output, lower case (``"ndvi"``)."""
    bands: tuple[str, ...]
    """Band ids the formula reads, in ``SYMBOLS`` order."""
    formula: str
    """Python expression over ``SYMBOLS``, ``abs`` and other index names; ``/`` by zero is NaN."""
    reference: str
    """Citation, with DOI where one exists."""
    long_name: str
    """Human-readable name (CF ``long_name``)."""


INDICES: dict[str, IndexSpec] = {s.name: s for s in (
    IndexSpec("ndvi", ("B04", "B08"), "(N - R) / (N + R)",
              "Rouse, J.W., Haas, R.H., Schell, J.A., Deering, D.W. (1974). Monitoring vegetation "
              "systems in the Great Plains with ERTS. Third ERTS Symposium, NASA SP-351, 309-317 "
              "(no DOI; NTRS 19740022614)",
              "Normalized Difference Vegetation Index"),
    IndexSpec("ndwi", ("B03", "B08"), "(G - N) / (G + N)",
              "McFeeters, S.K. (1996). The use of the Normalized Difference Water Index (NDWI) in "
              "the delineation of open water features. Int. J. Remote Sens. 17(7), 1425-1432. "
              "doi:10.1080/01431169608948714",
              "Normalized Difference Water Index (McFeeters)"),
    IndexSpec("mndwi", ("B03", "B11"), "(G - S1) / (G + S1)",
              "Xu, H. (2006). Modification of normalised difference water index (NDWI) to enhance "
              "open water features in remotely sensed imagery. Int. J. Remote Sens. 27(14), "
              "3025-3033. doi:10.1080/01431160600589179",
              "Modified Normalized Difference Water Index"),
    IndexSpec("ndmi", ("B08", "B11"), "(N - S1) / (N + S1)",
              "Gao, B.-C. (1996). NDWI - A normalized difference water index for remote sensing "
              "of vegetation liquid water from space. Remote Sens. Environ. 58(3), 257-266. "
              "doi:10.1016/S0034-4257(96)00067-3",
              "Normalized Difference Moisture Index (Gao's NDWI)"),
    IndexSpec("mvi", ("B03", "B08", "B11"), "abs(N - G) / abs(S1 - G)",
              "Baloloy, A.B., Blanco, A.C., Sta. Ana, R.R.C., Nadaoka, K. (2020). Development and "
              "application of a new mangrove vegetation index (MVI) for rapid and accurate "
              "mangrove mapping. ISPRS J. Photogramm. Remote Sens. 166, 95-117. "
              "doi:10.1016/j.isprsjprs.2020.06.001",
              "Mangrove Vegetation Index"),
    IndexSpec("cmri", ("B03", "B04", "B08"), "ndvi - ndwi",
              "Gupta, K., Mukhopadhyay, A., Giri, S., et al. (2018). An index for discrimination "
              "of mangroves from non-mangroves using LANDSAT 8 OLI imagery. MethodsX 5, "
              "1129-1139. doi:10.1016/j.mex.2018.09.011",
              "Combined Mangrove Recognition Index"),
    IndexSpec("evi", ("B02", "B04", "B08"), "2.5 * (N - R) / (N + 6 * R - 7.5 * B + 1)",
              "Huete, A., Didan, K., Miura, T., Rodriguez, E.P., Gao, X., Ferreira, L.G. (2002). "
              "Overview of the radiometric and biophysical performance of the MODIS vegetation "
              "indices. Remote Sens. Environ. 83, 195-213. doi:10.1016/S0034-4257(02)00096-2",
              "Enhanced Vegetation Index"),
    IndexSpec("savi", ("B04", "B08"), "1.5 * (N - R) / (N + R + 0.5)",
              "Huete, A.R. (1988). A soil-adjusted vegetation index (SAVI). Remote Sens. Environ. "
              "25(3), 295-309. doi:10.1016/0034-4257(88)90106-X",
              "Soil-Adjusted Vegetation Index (L = 0.5)"),
)}
"""Every index :func:`compute_indices` knows, by name."""


class _ToKernel(ast.NodeTransformer):
    """Formula AST -> kernel expression: ``/`` -> ``safe_div``, numbers -> float32, inline
    references to other indices."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Div):
            return ast.Call(ast.Name("safe_div", ast.Load()), [node.left, node.right], [])
        if not isinstance(node.op, ast.Add | ast.Sub | ast.Mult):
            raise ValueError(f"operator {type(node.op).__name__} not allowed in formulas")
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Call(ast.Name("f32", ast.Load()), [node], [])

    def visit_Call(self, node: ast.Call) -> ast.AST:
        """``abs(b - a)`` -> ``abs(a - b)`` for symbols in :data:`SYMBOLS` order: the same
        float (a rounded difference is the negated rounded difference), and the kernel
        then computes ``a - b`` once for every index that uses it (MVI's ``abs(N - G)`` and
        NDWI's ``G - N``)."""
        self.generic_visit(node)
        order = list(SYMBOLS)
        if (isinstance(node.func, ast.Name) and node.func.id == "abs" and len(node.args) == 1
                and isinstance(diff := node.args[0], ast.BinOp) and isinstance(diff.op, ast.Sub)
                and all(isinstance(x, ast.Name) and x.id in SYMBOLS
                        for x in (diff.left, diff.right))
                and order.index(diff.left.id) > order.index(diff.right.id)):
            node.args[0] = ast.BinOp(diff.right, ast.Sub(), diff.left)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in INDICES:
            return _kernel_ast(node.id)
        if node.id not in SYMBOLS and node.id != "abs":
            raise ValueError(f"unknown symbol {node.id!r} in a formula")
        return node


def _kernel_ast(name: str) -> ast.expr:
    return _ToKernel().visit(ast.parse(INDICES[name].formula, mode="eval").body)


def kernel_expression(name: str) -> tuple[str, tuple[str, ...]]:
    """``(expression, symbols read)`` of index ``name`` as the fused kernel computes it."""
    return _expression_of(INDICES[name].formula)


@functools.lru_cache(maxsize=256)
def _expression_of(formula: str) -> tuple[str, tuple[str, ...]]:
    # cached by formula: parsing costs ~0.1 ms an index, paid on every graph built otherwise
    tree = _ToKernel().visit(ast.parse(formula, mode="eval").body)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in SYMBOLS}
    return ast.unparse(tree), tuple(s for s in SYMBOLS if s in used)


def _resolve(names: str | Sequence[str]) -> list[str]:
    """Requested names, normalised: a str is one name; duplicates dropped; unknown refused."""
    names = [names] if isinstance(names, str) else list(dict.fromkeys(names))
    unknown = [n for n in names if n not in INDICES]
    if unknown or not names:
        raise ValueError(f"unknown index name(s) {unknown}; valid names: {sorted(INDICES)}")
    return names


@dataclass(frozen=True)
class _FusedBlock:
    """The block function: compiles (cached per process) and runs the fused kernel on one chunk,
    returning its ``k`` layers as a tuple of arrays of the chunk's shape.

    Each layer is its own allocation: a 2048² chunk's layers are 16 MB each, which glibc serves
    again from memory freed by earlier chunks, where one ``(k, ...)`` block of 64 MB is above
    its mmap threshold and comes as fresh pages every chunk (page faults: 17 against ~4 ms to
    write the four, measured in dask's threads). Holds only hashable specs, so dask tokenises
    it deterministically and distributed workers unpickle it cheaply and compile their own
    kernel.
    """

    symbols: tuple[str, ...]
    outputs: tuple[tuple[str, tuple[str, ...]], ...]
    source: str
    valid_scl: tuple[int, ...] | None = None
    parallel: bool = True
    """Run the kernel on every core (a direct numpy call); in a dask task, on the task's
    thread, as :class:`_ReduceBlock` (no launch lock, no kernel threads woken per chunk)."""
    __name__ = "fused-indices"  # dask names the chunk tasks after it

    def __dask_tokenize__(self) -> tuple:
        return ("bluecarbon-fused", self.symbols, self.outputs, self.source, self.valid_scl,
                self.parallel)

    def __call__(self, *blocks: np.ndarray) -> tuple[np.ndarray, ...]:
        kernel = _kernels.fused_kernel(self.symbols, self.outputs, self.source, self.valid_scl)
        if self.source == "dn":  # (*bands, [scl], offsets): k layers (T, Y, X)
            args = [np.ascontiguousarray(b) for b in blocks[:-1]]
            args.append(np.ascontiguousarray(blocks[-1], dtype=np.int32))
            shape = args[0].shape
        else:  # (*bands): any shape, run as rows of the last axis
            shape = blocks[0].shape
            args = [np.ascontiguousarray(b).reshape(-1, shape[-1] if shape else 1)
                    for b in blocks]
        out = tuple(np.empty(args[0].shape, dtype=np.float32) for _ in self.outputs)
        if self.parallel:
            with _kernels.KERNEL_LOCK:
                kernel(*args, out)
        else:
            kernel.serial(*args, out)
        return tuple(layer.reshape(shape) for layer in out)


def _run(func: _FusedBlock, args: list[tuple[object, tuple[str, ...]]], k: int) -> list:
    """Apply ``func`` blockwise: its ``k`` layers, each shaped like the output index.

    ``args`` pairs arrays with blockwise indices; the output index is the first one's. Dask
    inputs give lazy float32 dask arrays (one kernel task per chunk, chunks unified across
    inputs, and a pick of each layer from it); numpy inputs run now.
    """
    if not any(isinstance(a, da.Array) for a, _ in args):
        return list(func(*(np.asarray(a) for a, _ in args)))
    index = args[0][1]
    flat = [x for a, ind in args for x in (da.asarray(a), ind)]
    func = dataclasses.replace(func, parallel=False)
    layers = da.blockwise(func, index, *flat, dtype=object,
                          meta=np.empty((0,) * len(index), dtype=object))
    meta = np.empty((0,) * len(index), dtype=np.float32)
    return [layers.map_blocks(operator.itemgetter(i), dtype=np.float32, meta=meta,
                              name=f"index-layer-{i}-{layers.name.rsplit('-', 1)[-1]}")
            for i in range(k)]


def compute_indices(cube: xr.Dataset, names: str | Sequence[str], *,
                    mask: bool = True) -> xr.Dataset:
    """Spectral indices of a scene cube or a reflectance dataset, lazily, float32.

    Parameters
    ----------
    cube
        Either a scene cube (bands uint16 DN, ``SCL``, coord ``boa_offset`` along ``time``;
        reflectance = max(DN + boa_offset, 0) / 10000) or a reflectance dataset (float bands,
        e.g. a composite; NaN propagates; negative values are floored at 0 as for DN).
    names
        Keys of :data:`INDICES`, e.g. ``["ndvi", "ndwi", "mndwi", "mvi"]``.
    mask
        DN input only: NaN where SCL is not in :data:`indices.masks.VALID_SCL` (needs ``SCL``).
        Where a band an index reads is 0 (nodata) that index is NaN regardless.

    Returns
    -------
    xr.Dataset
        One float32 variable per name, in the order asked, with the bands' dims and coords and
        attrs ``long_name``, ``formula``, ``reference``. NaN where masked or where a denominator
        is 0. Lazy (one fused task per chunk) when the bands are dask-backed.

    Raises
    ------
    ValueError
        Unknown names, missing bands/SCL/boa_offset, or bands that are neither all uint16 (DN)
        nor all float (reflectance).
    """
    names = _resolve(names)
    ordered = [n for n in INDICES if n in names]  # one kernel per set, whatever the order
    outputs = tuple(kernel_expression(n) for n in ordered)
    symbols = tuple(s for s in SYMBOLS if any(s in used for _, used in outputs))
    bands, arrays = _band_arrays(cube, symbols, f"indices {names}")
    dims = arrays[0].dims
    if any(a.dims != dims for a in arrays):
        raise ValueError(f"bands {bands} must share dims; got {[a.dims for a in arrays]}")
    kinds = {a.dtype.kind for a in arrays}
    if kinds == {"u"} and all(a.dtype.itemsize <= 2 for a in arrays):
        if set(dims) == {"y", "x"}:  # one scene without a time dim
            return compute_indices(cube.expand_dims("time"), names, mask=mask).isel(time=0)
        stack, template = _dn_stack(cube, arrays, symbols, outputs, mask)
    elif kinds <= {"f"}:
        index = tuple(f"d{i}" for i in range(len(dims)))
        stack = _run(_FusedBlock(symbols, outputs, "reflectance"),
                     [(a.data, index) for a in arrays], len(outputs))
        template = arrays[0]
    else:
        raise ValueError(f"bands {bands} must be all uint16 (DN) or all float (reflectance); "
                         f"got {[str(a.dtype) for a in arrays]}")
    ds = xr.Dataset({n: _variable(stack[ordered.index(n)], template, INDICES[n])
                     for n in names})
    return ds.transpose(*dims)


def _band_arrays(cube: xr.Dataset, symbols: Sequence[str],
                 needed_by: str) -> tuple[list[str], list[xr.DataArray]]:
    """The band ids of formula ``symbols`` and their variables in ``cube``; a ValueError
    naming the missing ones (``needed_by`` says for what) if any is absent."""
    bands = [SYMBOLS[s] for s in symbols]
    missing = [b for b in bands if b not in cube.data_vars]
    if missing:
        raise ValueError(f"{needed_by} need bands {bands}; missing {missing} "
                         f"(dataset has {sorted(map(str, cube.data_vars))})")
    return bands, [cube[b] for b in bands]


def _dn_inputs(cube: xr.Dataset, arrays: list[xr.DataArray], mask: bool):
    """DN path: check SCL/boa_offset; ``(layers (time, y, x), offsets (time,))``, the offsets
    chunked along time like the layers when those are dask arrays."""
    if set(arrays[0].dims) != {"time", "y", "x"}:
        raise ValueError(f"DN bands need dims (time, y, x) or (y, x), got {arrays[0].dims}")
    if mask and "SCL" not in cube.data_vars:
        raise ValueError("SCL is needed to mask DN bands; pass mask=False to skip SCL masking")
    if "boa_offset" not in cube.coords:
        raise ValueError("DN bands need the coord 'boa_offset' (time): reflectance = "
                         "(DN + boa_offset) / 10000; sources that harmonised it set 0")
    offsets = cube["boa_offset"]
    if offsets.dims == ():
        offsets = offsets.expand_dims(time=cube.sizes["time"])
    if offsets.dims != ("time",) or offsets.dtype.kind not in "iu":
        raise ValueError(f"boa_offset must be integer along time, got dims {offsets.dims} "
                         f"dtype {offsets.dtype}")
    layers = arrays + ([cube["SCL"]] if mask else [])
    # (xarray's transpose costs ~0.2 ms a band even when the order is already right)
    grids = [(a if a.dims == ("time", "y", "x") else a.transpose("time", "y", "x")).data
             for a in layers]
    chunked = [g.chunks[0] for g in grids if isinstance(g, da.Array)]
    off = offsets.data
    if chunked and not isinstance(off, da.Array):
        off = da.from_array(off, chunks=(chunked[0],))
    return grids, off


def _dn_stack(cube: xr.Dataset, arrays: list[xr.DataArray], symbols, outputs, mask: bool):
    """DN path: run the fused DN kernel over ``(time, y, x)`` chunks."""
    grids, off = _dn_inputs(cube, arrays, mask)
    block = _FusedBlock(symbols, outputs, "dn", VALID_SCL if mask else None)
    stack = _run(block, [(g, ("t", "y", "x")) for g in grids] + [(off, ("t",))], len(outputs))
    return stack, arrays[0].transpose("time", "y", "x")


@dataclass(frozen=True)
class _ReduceBlock:
    """Block function of :func:`index_sums`: one chunk ``(*bands, [scl], [site], offsets)``
    -> ``(T, 1, 1, width)`` float64 partial sums and counts (see
    :func:`indices._kernels.reduce_kernel`). Hashable specs only, as :class:`_FusedBlock`."""

    symbols: tuple[str, ...]
    outputs: tuple[tuple[str, str, tuple[str, ...]], ...]
    valid_scl: tuple[int, ...] | None
    where: bool
    prelude: tuple[str, ...] = ()
    counts: tuple[str, ...] = ()
    constants: tuple[str, ...] = ()
    """Names of the run-time constants (a site's water parameters), given as a last
    ``(len(constants),)`` float32 argument."""
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
                self.prelude, self.counts, self.constants, self.parallel)

    def __call__(self, *blocks: np.ndarray) -> np.ndarray:
        kernel = _kernels.reduce_kernel(self.symbols, self.outputs, self.valid_scl,
                                        where=self.where, prelude=self.prelude,
                                        counts=self.counts, constants=self.constants)
        consts = ()
        if self.constants:
            *blocks, values = blocks
            consts = (np.ascontiguousarray(values, dtype=np.float32),)
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
              counts: Sequence[str] = (), constants: Mapping[str, float] | None = None
              ) -> tuple[object, list[str]]:
    """Sums and counts of indices (and per-pixel counts) per scene of a DN cube, reduced
    inside one fused kernel per chunk: ``(array (time, width) float64, index names in kernel
    order)``, lazy when the cube is dask-backed. Columns as in
    :func:`indices._kernels.reduce_kernel`; ``extra_symbols`` are bands read for ``prelude``
    and ``counts`` only; ``constants``: float32 values the prelude and counts read as
    ``c_<name>`` (:func:`indices._kernels.reduce_kernel`; numbers, or 0-d arrays, lazy or
    not, cast to float32). For :func:`index_sums` and
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
                         tuple(prelude), tuple(counts), tuple(constants))
    values = [v.data if isinstance(v, xr.DataArray) else v for v in constants.values()]
    lazy = any(isinstance(v, da.Array) for v in values)
    if not lazy and not any(isinstance(a, da.Array) for a, _ in args + [(off, ())]):
        block = dataclasses.replace(block, parallel=True)
        extra = [np.array([np.float32(v) for v in values], np.float32)] if constants else []
        return (block(*(np.asarray(a) for a, _ in args), np.asarray(off), *extra)[:, 0, 0, :],
                ordered)
    flat = [x for a, ind in args for x in (da.asarray(a), ind)]
    extra = []
    if constants:  # one small array every block reads whole
        stacked = (da.stack([da.asarray(v, dtype=np.float32).reshape(()) for v in values])
                   if lazy else np.array([np.float32(v) for v in values], np.float32))
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


def _variable(data, template: xr.DataArray, spec: IndexSpec) -> xr.DataArray:
    attrs = {"long_name": spec.long_name, "formula": spec.formula, "reference": spec.reference,
             "units": "1"}
    return xr.DataArray(data, dims=template.dims, coords=template.coords, name=spec.name,
                        attrs=attrs)
