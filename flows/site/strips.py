"""The month walk in strips of rows (``walk="strips"``): a whole Sentinel-2 tile in a few
bytes a pixel, whatever the number of months (:class:`indices.strips.StripWalk`)."""

from __future__ import annotations

import dask
import numpy as np
import xarray as xr

from aoi import Site
from flows.runtime.memory import release_pages, trim_memory
from flows.site.walks import (
    as_month,
    assemble,
    inputs_of,
    map_stores,
    merge_status,
    month_layers,
)
from indices.alerts import FlaggedPixels
from indices.evidence import SiteEvidence
from indices.strip_parts import Spill
from indices.strips import STRIP_PIXELS, StripWalk
from indices.summary import monthly_inputs

__all__ = ["walk_strips"]


def walk_strips(site: Site, cube: xr.Dataset, mask: xr.DataArray, lazy: tuple, *,
                pixel_area_ha: float, mmu_ha: float, maps: bool,
                evidence: SiteEvidence | None = None, base: list | None = None) -> tuple:
    """:func:`walk_streamed`, each month computed and walked in strips of the cube's chunk
    rows (:class:`indices.strips.StripWalk`): no map of the whole site is ever in memory
    but the walk's bits (and, with products, the alerts' state and the maps' pages).

    Three passes over the scenes: the first computes the per-scene rows and the plume flags,
    the second, strip by strip, the baseline's composites (into a temporary file) and, with
    products, the alerts' state (of which only the flagged pixels are kept: a whole tile's
    dense state is 3 GB), the third each month's strips. Each strip's fetch status comes
    with it (``fetch_status_rows``): a scene failing in a later pass is failed. ``base``: as
    for :func:`flows.site.walks.inputs_of` (a whole site's composite: the run passes none)."""
    baseline = (site.baseline_start, site.baseline_end)
    inputs = inputs_of(site, cube, mask, evidence, base)
    per_scene, status, alert_state = lazy
    if isinstance(lazy, list):  # the caller's list: its graphs are not held past their use
        lazy.clear()
    del lazy
    # the baseline's observed fraction is counted over the strips of the second pass: here,
    # dask would hold every baseline scene's blocks for it while the per-scene rows read them
    per_scene, status, turbid, scene_turbid = dask.compute(
        per_scene, status, inputs.turbid, inputs.scene_turbid)
    evidence = inputs.evidence
    del inputs  # the first inputs' graph, before the second is built
    trim_memory()
    inputs = monthly_inputs(cube, mask, site.habitat, baseline=baseline,
                            scene_turbid=scene_turbid, evidence=evidence)
    periods = inputs.scores["period"].values
    times = cube["time"].values
    scene_month = times.astype("datetime64[M]")
    # per-row read status (the sources here give it; without it, later passes go unchecked)
    rows_status = (cube["fetch_status_rows"]
                   if status is not None and "fetch_status_rows" in cube else None)
    status = None if status is None else np.array(status)
    # strips of the source's read rows (each read once a pass), else of the cube's chunks
    heights = (rows_status if rows_status is not None else cube["SCL"]).chunksizes.get("y") \
        or (mask.sizes["y"],)
    starts = np.cumsum((0,) + tuple(heights))[:-1]
    spans = [slice(int(a), int(a + h)) for a, h in zip(starts, heights, strict=True)]
    yx = ("y", "x")

    def strip_codes(scenes: np.ndarray, rows: slice) -> list:
        """The read status of ``scenes`` in the strip ``rows``, lazy (none without it)."""
        return ([] if rows_status is None
                else [rows_status.isel(time=scenes, y=rows).max("y").data])

    def strips(layers: list[xr.DataArray], scenes: np.ndarray):
        """``(first row, computed layers)`` per strip, merging the strip's fetch status."""
        for rows in spans:
            parts = [a.isel(y=rows).transpose(*yx).data for a in layers]
            codes = strip_codes(scenes, rows)
            got = dask.compute(*parts, *codes)
            trim_memory()
            if codes:
                merge_status(status, scenes, got[-1])
            yield rows.start, tuple(np.asarray(a) for a in got[:len(parts)])

    # the baseline's composites (and the alerts' state, kept for the flagged pixels only),
    # computed block by block: assembling a strip's blocks would hold them twice
    base_scenes = np.flatnonzero((times >= np.datetime64(baseline[0]))
                                 & (times < np.datetime64(baseline[1]) + np.timedelta64(1, "D")))
    if alert_state is not None:  # every scene: after the baseline, and the references
        base_scenes = np.arange(times.size)
    shape = (mask.sizes["y"], mask.sizes["x"])
    base_file, flagged, seen, judged = None, [], 0, 0
    inside = mask.transpose(*yx).values
    assessed = np.zeros(shape, bool)  # the water the baseline judged (a seagrass month's)
    # the baseline's maps (MonthlyInputs.base), those that read no scene computed apart
    apart = _reads_none(inputs.base, cube)
    try:
        for rows in spans:
            parts = [_blocks(a.isel(y=rows).transpose(*yx).data) for a in inputs.base]
            blocks = [b for b, alone in zip(parts, apart, strict=True) if not alone]
            flags = []
            if alert_state is not None:
                state = [alert_state[v].isel(y=rows).transpose(*yx).data
                         for v in ("score", "first_seen", "last_seen", "confirmed_at")]
                flags = [_flagged_blocks(state, shape, rows.start, alert_state.attrs)]
            codes = strip_codes(base_scenes, rows)
            blocks, flags, codes = dask.compute(blocks, flags, codes)
            alone = iter(dask.compute(*[b for b, a in zip(parts, apart, strict=True) if a]))
            together = iter(blocks)
            blocks = [next(alone) if a else next(together) for a in apart]
            del parts, together, alone
            trim_memory()
            if codes:
                merge_status(status, base_scenes, codes[0])
            flagged += [f for part in flags for f in part.ravel()]
            if base_file is None:
                base_file = Spill(shape, tuple(grid[0][0].dtype for grid in blocks))
            for j, grid in enumerate(blocks):
                layer = np.block(grid)
                grid.clear()
                if j == 0:  # the score: judged (assessable); 1, red: seen clear
                    assessed[rows] = ~np.isnan(layer)
                    judged += int((assessed[rows] & inside[rows]).sum())
                elif j == 1:
                    seen += int((~np.isnan(layer) & inside[rows]).sum())
                base_file.write(j, rows.start, layer)
                del layer
        alert_state = FlaggedPixels.concat(flagged) if flagged else None
        if site.habitat == "seagrass":  # the months' scores then read their own scenes only
            inputs = monthly_inputs(cube, mask, site.habitat, baseline=baseline,
                                    scene_turbid=scene_turbid, evidence=inputs.evidence,
                                    judged=xr.DataArray(assessed, dims=yx,
                                                        coords={d: mask[d] for d in yx}))
        del assessed
        # MonthlyInputs.baseline_observed_fraction and .assessable_fraction
        observed = (seen / inside.sum(), judged / inside.sum())

        def base():  # in the walk's parts, not the cube's strips
            step = max(1, STRIP_PIXELS // shape[1])
            for r0 in range(0, shape[0], step):
                rows = slice(r0, min(r0 + step, shape[0]))
                yield r0, tuple(base_file.read(j, rows) for j in range(len(base_file.dtypes)))

        stores = map_stores(len(periods), mask, spill=True) if maps else []
        table = []
        with StripWalk(base, inside, habitat=site.habitat,
                       pixel_area_ha=pixel_area_ha, mmu_ha=mmu_ha, maps=maps,
                       plume_months=bool(np.asarray(turbid).any()),
                       green=inputs.green) as walk:
            base_file.close()
            base_file = None
            for p, period in enumerate(periods):
                scenes = np.flatnonzero(scene_month == period.astype("datetime64[M]"))
                layers = [a.sel(period=period) for a in month_layers(inputs)]
                month = ((r0, as_month(layers)) for r0, layers in strips(layers, scenes))

                def emit(r0, classes, change, p=p):
                    for store, rows in zip(stores, (classes, change), strict=True):
                        store[p, r0:r0 + rows.shape[0]] = rows
                        release_pages(store[p, r0:r0 + rows.shape[0]])

                table.append(walk.step(month, emit if maps else None))
    finally:
        if base_file is not None:
            base_file.close()
    monthly, out_maps = assemble(site, mask, periods, table, stores, turbid, observed,
                                 mmu_ha=mmu_ha)
    trim_memory()  # the walk's arrays, before the maps are written
    return per_scene, status, alert_state, monthly, out_maps


def _reads_none(layers: tuple[xr.DataArray, ...], cube: xr.Dataset) -> list[bool]:
    """Per layer, whether its graph reads none of ``cube``'s variables (numpy, or a graph of
    computed arrays: :attr:`indices.summary.MonthlyInputs.base_ends` of the computed
    context, chunked as the cube by :func:`flows.site.tables.site_tables`).

    The baseline pass computes such layers in a ``dask.compute`` of their own (a getitem and a
    comparison a block, nothing read twice): in the one compute with the composites, the
    alerts' state and the status of the baseline's scenes, the ends (rule v12) moved dask's
    ordering (``dask.order``) to hold more of the scenes' blocks at once (their
    time-selected copies, ``cube.isel(time=...)``), measured at 1026² x 11 months
    (``tests/test_memory.py``'s strips walk, ``benchmarks/measured/perf34``): the pass's
    traced peak 206 -> 126 MiB (6034e97, before the ends: 126). The same values either
    way. A layer of a lazy context (a walk given no computed evidence) reads the scenes: it
    stays in the one compute."""
    import dask.array as da

    reads = set()
    for var in cube.data_vars.values():
        if isinstance(var.data, da.Array):
            reads |= set(var.data.dask.layers)
    return [not isinstance(a.data, da.Array) or not (set(a.data.dask.layers) & reads)
            for a in layers]


def _blocks(array) -> list[list]:
    """The blocks of a 2-d dask array as rows of dask arrays: computed together with others,
    they share their reads and are not assembled (which would hold them twice)."""
    import dask.array as da

    array = da.asarray(array)
    ny, nx = array.numblocks
    return [[array.blocks[i, j] for j in range(nx)] for i in range(ny)]


def _flagged_blocks(state: list, shape: tuple[int, int], row0: int, attrs: dict):
    """Per block of the (y, x) alert state arrays (score, first_seen, last_seen,
    confirmed_at; rows ``row0`` on of a map of ``shape``), its
    :class:`indices.alerts.FlaggedPixels`: a dask array of objects, one per block."""
    import dask.array as da

    def flag(*arrays, block_info=None):
        (r0, _), (c0, _) = block_info[0]["array-location"]
        out = np.empty((1, 1), object)
        out[0, 0] = FlaggedPixels.of_arrays(*arrays, shape=shape, row0=row0 + r0, col0=c0,
                                            attrs=attrs)
        return out

    arrays = [da.asarray(a) for a in state]
    return da.map_blocks(flag, *arrays, dtype=object,
                         chunks=tuple((1,) * n for n in arrays[0].numblocks),
                         meta=np.empty((0, 0), object))
