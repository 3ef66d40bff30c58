"""Spectral indices: the registry and :func:`compute_indices`.

Symbols in formulas are surface reflectance: B=B02, G=B03, R=B04, N=B08, S1=B11, S2=B12.
One fused numba kernel, generated from the formulas of the requested set and compiled once per
set and process, reads each needed band once per pixel (uint16 DN), applies the scene's
``boa_offset`` and the SCL/nodata mask and writes every requested index in the same pass
(:func:`indices._kernels.fused_kernel`). Measured on the 2-core machine, ndvi+ndwi+mndwi+mvi: a
generated kernel ~1.1 Gpx/s, one kernel with run-time flags per index ~0.4 Gpx/s.

Where only aggregates are needed, :func:`indices.sums.index_sums` (and
:func:`indices.sums.reduce_dn`, behind ``indices.summary.scene_statistics``; both still
importable from here) runs the same index arithmetic in a kernel that reduces
to per-scene sums and counts (:func:`indices._reduce_kernels.reduce_kernel`): no float32 layer is
written, and a chunk task returns a few numbers. 4 indices of an 8192² cube in 2048² chunks,
2 cores: the kernel ~1.5 Gpx/s, ``index_sums`` ~1.0 Gpx/s with dask's overhead (~10x
``compute_indices(...).sum()``, whose fresh layers and second pass cost more than the indices).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import dask.array as da
import numpy as np
import xarray as xr

from indices import _kernels
from indices.masks import VALID_SCL

__all__ = ["INDICES", "SYMBOLS", "IndexSpec", "compute_indices"]

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


def _variable(data, template: xr.DataArray, spec: IndexSpec) -> xr.DataArray:
    attrs = {"long_name": spec.long_name, "formula": spec.formula, "reference": spec.reference,
             "units": "1"}
    return xr.DataArray(data, dims=template.dims, coords=template.coords, name=spec.name,
                        attrs=attrs)
