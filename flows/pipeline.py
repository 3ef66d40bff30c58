"""One site, end to end, without Prefect: search -> load -> indices -> change -> table rows.

The Prefect flow in :mod:`flows.monitor` wraps these steps in tasks; tests and notebooks can
call them directly. The cube stays lazy until ``site_tables`` computes the two summaries in one
``dask.compute``, so every scene is read (or simulated) once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import dask
import numpy as np
import pandas as pd
import xarray as xr

from aoi import Site, site_grid, site_mask
from flows import PROCESSING_VERSION
from flows.sources import FETCH_OK, SceneRef, Source, failed_scenes
from indices.summary import (
    MONTHLY_COLUMNS,
    OBSERVATION_INDICES,
    monthly_inputs,
    monthly_table,
    scene_statistics,
    walk_months,
)

__all__ = ["SitePlan", "SiteTables", "SiteTooLarge", "load_range", "month_start", "plan_site",
           "recovery_trajectory", "site_tables", "stream_memory", "walk_memory", "WALKS",
           "CLOSURE_RATIO"]

CLOSURE_RATIO = 0.9
"""Canopy closure: the restored area's NDVI reaches this fraction of the reference's."""


@dataclass(frozen=True)
class SiteTables:
    """What one site contributes to the store."""

    site_id: str
    observations: pd.DataFrame
    change: pd.DataFrame
    n_scenes: int
    failed_scenes: dict[str, str] = field(default_factory=dict)
    """Scenes the source could not deliver, with the reason; they have no observation row."""
    alerts: Any = None
    """:class:`flows.alerts_io.SiteAlerts` of this run (None when not computed)."""
    maps: xr.Dataset | None = None
    """Computed monthly ``class`` and ``change`` maps (:func:`flows.maps.site_maps`; numpy maps
    on temporary files for a site walked month by month)."""
    walk: str = "memory"
    """How the months were walked: ``"memory"`` (all at once) or ``"stream"`` (month by month)."""


@dataclass(frozen=True)
class SitePlan:
    """What a run has to do for one site, given what the store already holds."""

    new_scene_ids: frozenset[str]
    """Scenes found that the store does not hold yet (all found scenes on a full run)."""
    since: dt.date | None
    """First month whose change row the new scenes can alter; None: nothing to do."""

    @property
    def up_to_date(self) -> bool:
        return self.since is None


def plan_site(scenes: list[SceneRef], stored: pd.DataFrame, *, report_from: dt.date,
              full: bool = False) -> SitePlan:
    """Incremental processing: only scenes the store does not hold, and the months from the
    first of them on (later months carry its pixels forward). ``stored`` is the site's
    ``observations`` rows; a different ``processing_version`` there forces a full run.
    Scenes before ``report_from`` (the baseline, read for context) are never rows."""
    if not full and len(stored) and (stored["processing_version"] != PROCESSING_VERSION).any():
        full = True
    known = set() if full else set(stored["scene_id"])
    new = [s for s in scenes if s.scene_id not in known and s.datetime.date() >= report_from]
    if not new:
        return SitePlan(frozenset(), None)
    since = month_start(min(s.datetime for s in new).date())
    return SitePlan(frozenset(s.scene_id for s in new), since)


WALK_BYTES_PER_PIXEL_MONTH = 48
"""Peak memory of the monthly change walk of :func:`site_tables` with every month in memory
(``walk="memory"``) per site-grid pixel and month, measured with the flow's products (alerts
and maps): ~38 B (``tests/test_memory.py``; ~70 B before the walk ran once in this process
instead of three dask tasks on single-chunk copies)."""
WALK_BYTES_PER_PIXEL = 128
"""Its fixed part per pixel (baseline composites, masks, walk state: ~110 B measured)."""
STREAM_BYTES_PER_PIXEL = 160
"""The same for the walk month by month (``walk="stream"``): one month's maps, the walk's
state and the baseline's maps (~110 B measured, ``tests/test_memory.py``)."""
STRIPS_BYTES_PER_PIXEL = 6
"""The walk month by month in row strips (``walk="strips"``), per pixel of the site: the
walk's bits (3-5 B, :mod:`indices.strips`) and the site mask. Nothing per month: the alerts
keep their flagged pixels only and the maps' pages are released as they are written."""
STRIPS_BYTES_PER_STRIP_PIXEL = 60
"""Its part per pixel of a strip (the cube's chunk rows, or the source's requests): the
strip's layers, the composites being computed and the strip's temporaries."""
STRIPS_BYTES = 256 * 2**20
"""Its fixed part. Measured (with products, maps not written): a whole tile (10980² x 12
scenes, 1024-row strips) +1.07 GiB over the warmed-up process (2.02 GB peak RSS in all),
5490² +0.64 GiB; the estimates say 1.56 and 0.74 GiB."""
STREAM_BYTES_PER_PIXEL_MONTH = 24
"""Its part per month (~17 B measured): the alerts' monthly reference composites, and the
maps' pages in their temporary files; nothing without products."""


class SiteTooLarge(RuntimeError):
    """A site whose monthly change would not fit in the memory this run may use."""


def walk_memory(n_pixels: int, n_months: int) -> int:
    """Bytes the in-memory monthly change walk of a site needs at its peak (an estimate from
    measurement, on the safe side)."""
    return n_pixels * (WALK_BYTES_PER_PIXEL + WALK_BYTES_PER_PIXEL_MONTH * n_months)


def stream_memory(n_pixels: int, n_months: int) -> int:
    """Bytes the month-by-month walk (with products) needs at its peak."""
    return n_pixels * (STREAM_BYTES_PER_PIXEL + STREAM_BYTES_PER_PIXEL_MONTH * n_months)


def strips_memory(n_pixels: int, n_months: int, *, strip_pixels: int, products: bool) -> int:
    """Bytes the month-by-month walk in row strips needs at its peak: the carried bits and a
    strip of every layer, whatever the number of months, with products or not."""
    del n_months, products  # measured: neither moves it (see STRIPS_BYTES)
    return (n_pixels * STRIPS_BYTES_PER_PIXEL + strip_pixels * STRIPS_BYTES_PER_STRIP_PIXEL
            + STRIPS_BYTES)


def memory_budget(*, here: bool = False) -> int:
    """Bytes a site's computation may take: ``BLUECARBON_MEMORY_GB`` if set, else the
    smallest worker's memory limit on a dask.distributed cluster (``here``: this process's
    machine, where the month walk runs), else 90 % of the memory available on this machine
    now."""
    import os

    import psutil

    configured = os.environ.get("BLUECARBON_MEMORY_GB")
    if configured:
        return int(float(configured) * 2**30)
    if not here:
        try:
            from distributed import default_client

            limits = [w.get("memory_limit") or 0 for w in
                      default_client().scheduler_info()["workers"].values()]
            if limits and min(limits) > 0:
                return int(min(limits))
        except (ImportError, ValueError):  # no cluster: this machine
            pass
    return int(0.9 * psutil.virtual_memory().available)


WALKS = ("auto", "memory", "stream", "strips")


def _walk_mode(site: Site, grid, scenes: list[SceneRef], walk: str, *, chunks: int | None,
               products: bool) -> str:
    """``"memory"`` (every month at once, one pass over the scenes) when it fits the budget,
    else ``"stream"`` (month by month) when that fits, else ``"strips"`` (month by month in
    row strips) when that fits, else :class:`SiteTooLarge`."""
    if walk != "auto":  # as asked, unchecked (tests, benchmarks)
        return walk
    n_pixels = grid.width * grid.height
    months = len({month_start(s.datetime.date()) for s in scenes})
    # the walk runs in this process, and on a cluster a worker assembles each result array
    budget = min(memory_budget(), memory_budget(here=True))
    if walk_memory(n_pixels, months) <= budget:
        return "memory"
    if stream_memory(n_pixels, months) <= budget:
        return "stream"
    need = strips_memory(n_pixels, months, strip_pixels=min(chunks or grid.height, grid.height)
                         * grid.width, products=products)
    if need > budget:
        raise SiteTooLarge(
            f"the monthly change of {site.id} needs ~{need / 2**30:.1f} GiB even month by month "
            f"in strips ({months} months of {n_pixels / 1e6:.1f} Mpx) and "
            f"{budget / 2**30:.1f} GiB may be used: run fewer months at a time (--start/--end), "
            f"split the site, or raise BLUECARBON_MEMORY_GB")
    return "strips"


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def load_range(site: Site, start: dt.date | None, end: dt.date) -> tuple[dt.date, dt.date]:
    """Dates to load: the baseline is always needed, whatever the reporting window."""
    first = min(start or site.baseline_start, site.baseline_start)
    return first, end


def site_tables(site: Site, source: Source, scenes: list[SceneRef], *, start: dt.date | None,
                end: dt.date, run_id: str, mmu_ha: float = 0.1,
                chunks: int | None = 1024, plan: SitePlan | None = None,
                products: bool = False, walk: str = "auto") -> SiteTables:
    """Load the site's scenes, compute its observation and change rows (with ``products``,
    its alerts and monthly maps too).

    With a ``plan`` (incremental run), only the rows of its new scenes and of the months from
    ``plan.since`` on are returned; the baseline and earlier months are still read because the
    monthly maps carry each pixel's last observation forward.

    ``walk``: how the months are walked. ``"memory"``: every month's maps at once, all in one
    ``dask.compute`` (each scene read once; ~40 B a pixel and month with products);
    ``"stream"``: month by month, each month's composites computed when the walk reaches it
    (memory for one month whatever their number, see :func:`_walk_streamed`; each scene read
    twice); ``"strips"``: month by month in strips of rows (a few bytes a pixel whatever the
    months: a whole Sentinel-2 tile, see :func:`_walk_strips`; each scene read three times
    with products); ``"auto"``: memory if it fits :func:`memory_budget`, else stream if that
    fits, else strips if they fit, else :class:`SiteTooLarge` before anything is read. Other
    values are taken as asked, unchecked. Same rows and maps either way.
    """
    if walk not in WALKS:
        raise ValueError(f"walk must be one of {WALKS}, got {walk!r}")
    report_from = start or site.baseline_start
    grid = site_grid(site)
    mask = xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                        coords={"y": grid.y_coords(), "x": grid.x_coords()})
    if not scenes:
        return SiteTables(site.id, _observation_rows(site, scenes, None, run_id),
                          _empty_change(), 0)
    # refuse before reading anything, not with the machine out of memory mid-run
    mode = _walk_mode(site, grid, scenes, walk, chunks=chunks, products=products)
    cube = source.load(site, scenes, chunks=chunks)
    if mode == "memory":  # month by month, a batch would be read again for each of its months
        cube = _batch_small_scenes(cube)
    per_scene = scene_statistics(cube, mask, site.habitat, pixel_area_ha=grid.pixel_area_ha)
    status = cube["fetch_status"] if "fetch_status" in cube else None
    alert_state = maps = None
    if products:  # alerts (and monthly maps), from the same cube
        from flows.alerts_io import alert_pixels

        alert_state = alert_pixels(site, cube, mask)
    walker = {"memory": _walk_whole, "stream": _walk_streamed, "strips": _walk_strips}[mode]
    per_scene, status, alert_state, monthly, maps = walker(
        site, cube, mask, (per_scene, status, alert_state), pixel_area_ha=grid.pixel_area_ha,
        mmu_ha=mmu_ha, maps=products)
    failed = failed_scenes(cube["scene_id"].values, status) if status is not None else {}
    obs = _observation_rows(site, scenes, per_scene, run_id)
    obs = obs[~obs["scene_id"].isin(failed)]
    obs = obs[(obs["datetime"].dt.date >= report_from) & (obs["datetime"].dt.date <= end)]
    change = _change_rows(site, monthly, obs_all=_observation_rows(site, scenes, per_scene, run_id),
                          run_id=run_id)
    change = change[(change["period"] >= month_start(report_from)) & (change["period"] <= end)]
    if plan is not None:
        obs = obs[obs["scene_id"].isin(plan.new_scene_ids)]
        change = change[change["period"] >= (plan.since or dt.date.max)]
    alerts = None
    if alert_state is not None:
        from flows.alerts_io import alert_rows

        alerts = alert_rows(site, alert_state, run_id=run_id, grid=grid)
    return SiteTables(site.id, obs.reset_index(drop=True), change.reset_index(drop=True),
                      len(scenes), failed, alerts, maps, walk=mode)


def _walk_whole(site: Site, cube: xr.Dataset, mask: xr.DataArray, lazy: tuple, *,
                pixel_area_ha: float, mmu_ha: float, maps: bool) -> tuple:
    """``lazy`` (per-scene statistics, fetch status, alert state) and every month's maps in one
    ``dask.compute`` (each scene read once), then the month walk over them in this process:
    the numbers of :func:`monthly_change` (and :func:`flows.maps.site_maps`), walked once
    for the table, the canopy and the maps instead of once each, and without dask's
    single-chunk copies of every month."""
    inputs = monthly_inputs(cube, mask, site.habitat,
                            baseline=(site.baseline_start, site.baseline_end))
    layers = [a.transpose("period", "y", "x") for a in _month_layers(inputs)]
    *computed, base, turbid, observed, layers = dask.compute(
        *lazy, inputs.base, inputs.turbid, inputs.baseline_observed_fraction, layers)
    arrays = [np.asarray(a) for a in layers]
    del layers
    months = (_month(tuple(a[p] for a in arrays)) for p in range(arrays[0].shape[0]))
    monthly, out_maps = _walk(site, mask, months, inputs.scores["period"].values, base, turbid,
                              observed, pixel_area_ha=pixel_area_ha, mmu_ha=mmu_ha, maps=maps,
                              spill=False)
    return (*computed, monthly, out_maps)


def _walk_streamed(site: Site, cube: xr.Dataset, mask: xr.DataArray, lazy: tuple, *,
                   pixel_area_ha: float, mmu_ha: float, maps: bool) -> tuple:
    """``lazy`` (per-scene statistics, fetch status, alert state), computed, then the monthly
    table (and maps) of :func:`monthly_change` (and :func:`flows.maps.site_maps`), walking
    the months one at a time: each month's composites are computed when the walk reaches it,
    so memory holds one month whatever their number.

    Two passes over the scenes: the first computes ``lazy``, the baseline composite and the
    per-scene plume flags (seagrass: each scene is judged against the median of all); the
    second reads each month's scenes for its composites, with their fetch status (a scene
    that fails only then is failed, so that a later run retries it). Maps go to unlinked
    temporary files under ``TMPDIR`` (on disk, unless that is a tmpfs), freed with the arrays.
    """
    baseline = (site.baseline_start, site.baseline_end)
    inputs = monthly_inputs(cube, mask, site.habitat, baseline=baseline)
    *computed, base, turbid, observed, scene_turbid = dask.compute(
        *lazy, inputs.base, inputs.turbid, inputs.baseline_observed_fraction,
        inputs.scene_turbid)
    per_scene, status, alert_state = computed
    inputs = monthly_inputs(cube, mask, site.habitat, baseline=baseline,
                            scene_turbid=scene_turbid)
    periods = inputs.scores["period"].values
    scene_month = cube["time"].values.astype("datetime64[M]")
    fetched = cube["fetch_status"] if status is not None else None
    status = None if status is None else np.array(status)
    yx = ("y", "x")

    def month_maps():
        for period in periods:
            layers = [a.sel(period=period).transpose(*yx).data for a in _month_layers(inputs)]
            scenes = np.flatnonzero(scene_month == period.astype("datetime64[M]"))
            codes = [] if fetched is None else [fetched.isel(time=scenes).data]
            got = dask.compute(*layers, *codes)
            if codes:
                _merge_status(status, scenes, got[-1])
            yield _month(tuple(np.asarray(a) for a in got[:len(layers)]))

    monthly, out_maps = _walk(site, mask, month_maps(), periods, base, turbid, observed,
                              pixel_area_ha=pixel_area_ha, mmu_ha=mmu_ha, maps=maps, spill=True)
    return per_scene, status, alert_state, monthly, out_maps


def _walk_strips(site: Site, cube: xr.Dataset, mask: xr.DataArray, lazy: tuple, *,
                 pixel_area_ha: float, mmu_ha: float, maps: bool) -> tuple:
    """:func:`_walk_streamed`, each month computed and walked in strips of the cube's chunk
    rows (:class:`indices.strips.StripWalk`): no map of the whole site is ever in memory
    but the walk's bits (and, with products, the alerts' state and the maps' pages).

    Three passes over the scenes: the first computes the per-scene rows and the plume flags,
    the second, strip by strip, the baseline's composites (into a temporary file) and, with
    products, the alerts' state (of which only the flagged pixels are kept: a whole tile's
    dense state is 3 GB), the third each month's strips. Each strip's fetch status comes
    with it (``fetch_status_rows``): a scene failing in a later pass is failed."""
    from flows.maps import release_pages
    from indices.alerts import FlaggedPixels
    from indices.strips import STRIP_PIXELS, Spill, StripWalk

    baseline = (site.baseline_start, site.baseline_end)
    inputs = monthly_inputs(cube, mask, site.habitat, baseline=baseline)
    per_scene, status, alert_state = lazy
    # the baseline's observed fraction is counted over the strips of the second pass: here,
    # dask would hold every baseline scene's blocks for it while the per-scene rows read them
    per_scene, status, turbid, scene_turbid = dask.compute(
        per_scene, status, inputs.turbid, inputs.scene_turbid)
    inputs = monthly_inputs(cube, mask, site.habitat, baseline=baseline,
                            scene_turbid=scene_turbid)
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
            _trim_memory()
            if codes:
                _merge_status(status, scenes, got[-1])
            yield rows.start, tuple(np.asarray(a) for a in got[:len(parts)])

    # the baseline's composites (and the alerts' state, kept for the flagged pixels only),
    # computed block by block: assembling a strip's blocks would hold them twice
    base_scenes = np.flatnonzero((times >= np.datetime64(baseline[0]))
                                 & (times < np.datetime64(baseline[1]) + np.timedelta64(1, "D")))
    if alert_state is not None:  # every scene: after the baseline, and the references
        base_scenes = np.arange(times.size)
    shape = (mask.sizes["y"], mask.sizes["x"])
    base_file, flagged, seen = None, [], 0
    inside = mask.transpose(*yx).values
    try:
        for rows in spans:
            blocks = [_blocks(a.isel(y=rows).transpose(*yx).data) for a in inputs.base]
            flags = []
            if alert_state is not None:
                state = [alert_state[v].isel(y=rows).transpose(*yx).data
                         for v in ("score", "first_seen", "last_seen", "confirmed_at")]
                flags = [_flagged_blocks(state, shape, rows.start, alert_state.attrs)]
            codes = strip_codes(base_scenes, rows)
            blocks, flags, codes = dask.compute(blocks, flags, codes)
            _trim_memory()
            if codes:
                _merge_status(status, base_scenes, codes[0])
            flagged += [f for part in flags for f in part.ravel()]
            if base_file is None:
                base_file = Spill(shape, tuple(grid[0][0].dtype for grid in blocks))
            for j, grid in enumerate(blocks):
                layer = np.block(grid)
                grid.clear()
                if j == 0:
                    seen += int((~np.isnan(layer) & inside[rows]).sum())
                base_file.write(j, rows.start, layer)
                del layer
        alert_state = FlaggedPixels.concat(flagged) if flagged else None
        observed = seen / inside.sum()  # MonthlyInputs.baseline_observed_fraction

        def base():  # in the walk's parts, not the cube's strips
            step = max(1, STRIP_PIXELS // shape[1])
            for r0 in range(0, shape[0], step):
                rows = slice(r0, min(r0 + step, shape[0]))
                yield r0, tuple(base_file.read(j, rows) for j in range(len(base_file.dtypes)))

        stores = _map_stores(len(periods), mask, spill=True) if maps else []
        table = []
        with StripWalk(base, inside, habitat=site.habitat,
                       pixel_area_ha=pixel_area_ha, mmu_ha=mmu_ha, maps=maps,
                       plume_months=bool(np.asarray(turbid).any())) as walk:
            base_file.close()
            base_file = None
            for p, period in enumerate(periods):
                scenes = np.flatnonzero(scene_month == period.astype("datetime64[M]"))
                layers = [a.sel(period=period) for a in _month_layers(inputs)]
                month = ((r0, _month(layers)) for r0, layers in strips(layers, scenes))

                def emit(r0, classes, change, p=p):
                    for store, rows in zip(stores, (classes, change), strict=True):
                        store[p, r0:r0 + rows.shape[0]] = rows
                        release_pages(store[p, r0:r0 + rows.shape[0]])

                table.append(walk.step(month, emit if maps else None))
    finally:
        if base_file is not None:
            base_file.close()
    monthly, out_maps = _assemble(site, mask, periods, table, stores, turbid, observed,
                                  mmu_ha=mmu_ha)
    _trim_memory()  # the walk's arrays, before the maps are written
    return per_scene, status, alert_state, monthly, out_maps


def _merge_status(status: np.ndarray, scenes: np.ndarray, codes) -> None:
    """Fold a later pass's fetch status of ``scenes`` into ``status``, in place: a scene that
    failed in any pass is failed (the first failure's code kept), so a later run retries it."""
    status[scenes] = np.where(status[scenes] != FETCH_OK, status[scenes], codes)


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

    from indices.alerts import FlaggedPixels

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


def _trim_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``, as
    dask.distributed's workers do; nothing elsewhere). Dask's threads free chunk-sized
    blocks in several arenas, which otherwise stay in the process: ~5 B a pixel more per pass
    over a large site, measured."""
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        import ctypes

        try:
            _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM = None


def _month_layers(inputs) -> list[xr.DataArray]:
    """The maps a month of the walk reads: score, [the maps' score,] NDVI, clear views. The
    maps' score only where it is another array (seagrass): a mangrove site's is the table's,
    and computing it twice would assemble every month's score twice."""
    scores = [inputs.scores] + ([inputs.map_scores] if inputs.map_scores is not inputs.scores
                                else [])
    return [*scores, inputs.ndvi, inputs.n_clear]


def _month(maps: tuple) -> tuple:
    """``(score, map_score, ndvi, n_clear)`` for :func:`walk_months` from the computed
    :func:`_month_layers`."""
    return maps if len(maps) == 4 else (maps[0], *maps)


def _walk(site: Site, mask: xr.DataArray, months, periods: np.ndarray, base: tuple,
          turbid, observed, *, pixel_area_ha: float, mmu_ha: float, maps: bool,
          spill: bool) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The month walk (:func:`indices.summary.walk_months`) of ``months``' computed maps,
    assembled as :func:`monthly_change`'s table and :func:`flows.maps.site_maps`' maps
    (``spill``: on unlinked temporary files)."""
    from flows.maps import release_pages

    yx = ("y", "x")
    stores = _map_stores(len(periods), mask, spill=spill) if maps else []
    rows = []
    base_maps = [b.transpose(*yx).values for b in base]
    del base  # walk_months drops the baseline's maps once its walks are set up
    walk = walk_months(months, base_maps, mask.transpose(*yx).values,
                       habitat=site.habitat, pixel_area_ha=pixel_area_ha, mmu_ha=mmu_ha,
                       maps=maps, plume_months=bool(np.asarray(turbid).any()))
    for p, (row, pair) in enumerate(walk):
        rows.append(row)
        if maps:
            for store, month in zip(stores, pair, strict=True):
                store[p] = month
                release_pages(store[p])
    return _assemble(site, mask, periods, rows, stores, turbid, observed, mmu_ha=mmu_ha)


def _map_stores(n_periods: int, mask: xr.DataArray, *, spill: bool) -> list[np.ndarray]:
    """The class and change maps' arrays (period, y, x) uint8, to be filled (``spill``: on
    unlinked temporary files under ``TMPDIR``)."""
    import tempfile

    shape = (n_periods, mask.sizes["y"], mask.sizes["x"])
    stores = []
    for _ in range(2):
        if not spill or not n_periods:
            stores.append(np.empty(shape, np.uint8))
            continue
        with tempfile.TemporaryFile(prefix="bluecarbon-maps-") as f:  # the map keeps its own fd
            stores.append(np.memmap(f, np.uint8, "w+", shape=shape))
    return stores


def _assemble(site: Site, mask: xr.DataArray, periods: np.ndarray, rows: list, stores: list,
              turbid, observed, *, mmu_ha: float) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The monthly table from the walk's rows, and the maps from their filled stores."""
    from indices.maps import labelled

    table = np.array(rows, np.float64).reshape(len(periods), len(MONTHLY_COLUMNS))
    monthly = monthly_table(
        xr.Dataset({name: ("period", table[:, i]) for i, name in enumerate(MONTHLY_COLUMNS)},
                   coords={"period": periods}), float(observed), turbid)
    if not stores:
        return monthly, None
    from flows.maps import maps_dataset

    coords = {"period": periods, "y": mask["y"].values, "x": mask["x"].values}
    dims = ("period", "y", "x")
    return monthly, maps_dataset(*labelled(xr.DataArray(stores[0], dims=dims, coords=coords),
                                           xr.DataArray(stores[1], dims=dims, coords=coords)),
                                 mmu_ha)


def _batch_small_scenes(cube: xr.Dataset, target_pixels: int = 4 * 2**20) -> xr.Dataset:
    """Group scenes of a small site into one chunk of ~4 Mpx: a 250 x 250 px site at time=1
    would make thousands of 60k-pixel tasks whose scheduling costs more than their compute."""
    per_scene = cube.sizes["y"] * cube.sizes["x"]
    batch = max(1, target_pixels // max(per_scene, 1))
    first = next(iter(cube.data_vars.values()), None)
    if batch <= 1 or first is None or first.chunks is None or max(first.chunks[0]) > 1:
        return cube  # large scenes, numpy, or already batched by the source (demo)
    out = cube.copy()
    for name, var in cube.data_vars.items():  # data only: coords (boa_offset, ...) stay numpy
        out[name] = (var.dims, var.data.rechunk({var.get_axis_num("time"): batch}), var.attrs)
    return out


def _observation_rows(site: Site, scenes: list[SceneRef], stats: xr.Dataset | None,
                      run_id: str) -> pd.DataFrame:
    frame = pd.DataFrame({
        "site_id": site.id,
        "scene_id": [s.scene_id for s in scenes],
        "datetime": pd.to_datetime([s.datetime for s in scenes], utc=True).as_unit("us"),
        "source": [s.source for s in scenes],
    })
    columns = ["valid_fraction", "cloud_fraction", *(f"{n}_mean" for n in OBSERVATION_INDICES),
               "habitat_area_ha"]
    for col in columns:
        frame[col] = np.asarray(stats[col].values, np.float64) if stats is not None else np.nan
    frame["processing_version"] = PROCESSING_VERSION
    frame["run_id"] = run_id
    return frame


def _empty_change() -> pd.DataFrame:
    return pd.DataFrame(columns=["site_id", "habitat", "period"])


def _change_rows(site: Site, monthly: xr.Dataset, *, obs_all: pd.DataFrame,
                 run_id: str) -> pd.DataFrame:
    periods = pd.to_datetime(monthly["period"].values)
    months = obs_all["datetime"].dt.tz_convert(None).dt.to_period("M")
    usable = obs_all[obs_all["valid_fraction"] > 0]
    n_obs = usable.groupby(months[usable.index]).size()
    frame = pd.DataFrame({
        "site_id": site.id,
        "habitat": site.habitat,
        "period": [p.date() for p in periods],
        "n_observations": [int(n_obs.get(p.to_period("M"), 0)) for p in periods],
    })
    for col in ("valid_fraction", "extent_ha", "baseline_extent_ha", "gain_ha", "loss_ha",
                "net_change_ha", "extent_ci_low_ha", "extent_ci_high_ha", "gain_ci_low_ha",
                "gain_ci_high_ha", "loss_ci_low_ha", "loss_ci_high_ha",
                "baseline_observed_fraction", "canopy_20_50_ha", "canopy_50_80_ha",
                "canopy_80_100_ha", "habitat_ndvi_mean", "restored_ndvi_mean"):
        frame[col] = np.round(np.asarray(monthly[col].values, np.float64), 6)
    if site.habitat != "mangrove":
        frame[["canopy_20_50_ha", "canopy_50_80_ha", "canopy_80_100_ha"]] = np.nan
    frame["turbid"] = np.asarray(monthly["turbid"].values) > 0.5
    frame["recovery_ratio"] = np.nan  # filled by the flow for sites with a reference_site
    frame["canopy_closure_period"] = None
    frame["processing_version"] = PROCESSING_VERSION
    frame["run_id"] = run_id
    return frame


def recovery_trajectory(site_rows: pd.DataFrame, reference_rows: pd.DataFrame) -> pd.DataFrame:
    """The site's change rows with ``recovery_ratio`` and ``canopy_closure_period`` filled in.

    ``recovery_ratio`` = mean NDVI of the restoration zone / mean NDVI of the reference site's
    intact habitat, month by month; ``canopy_closure_period`` = the first month the ratio
    reaches ``CLOSURE_RATIO`` (set on that month and every later one, empty before).
    """
    reference = reference_rows.set_index("period")["habitat_ndvi_mean"]
    out = site_rows.sort_values("period").copy()
    out["recovery_ratio"] = (out["restored_ndvi_mean"] / out["period"].map(reference)).round(6)
    closed = out.loc[out["recovery_ratio"] >= CLOSURE_RATIO, "period"]
    first = closed.min() if len(closed) else None
    out["canopy_closure_period"] = [first if first is not None and p >= first else None
                                    for p in out["period"]]
    return out.reset_index(drop=True)
