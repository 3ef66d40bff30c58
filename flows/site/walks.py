"""The month walks of :func:`flows.site.site_tables`: every month at once, or one at a time.

Both walk :func:`indices.summary.walk_months` over computed monthly maps and give the monthly
table (and the class and change maps); :mod:`flows.site.strips` walks in strips of rows.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import xarray as xr
from dask.array.core import slices_from_chunks

from aoi import Site
from flows.runtime.memory import release_pages
from flows.runtime.scheduler import computes_here
from flows.site.maps import maps_dataset
from flows.sources import FETCH_OK
from indices.change import GREEN_NDVI
from indices.evidence import SiteEvidence
from indices.maps import labelled
from indices.summary import MONTHLY_COLUMNS, monthly_inputs, monthly_table, walk_months

__all__ = ["as_month", "assemble", "computes_here", "fractions", "inputs_of", "map_stores", "merge_status",
           "month_layers", "walk_computed", "walk_streamed", "walk_whole"]


def walk_whole(site: Site, cube: xr.Dataset, mask: xr.DataArray, lazy: tuple, *,
               pixel_area_ha: float, mmu_ha: float, maps: bool,
               evidence: SiteEvidence | None = None, base: list | None = None) -> tuple:
    """``lazy`` (per-scene statistics, fetch status, alert state) and every month's maps in one
    ``dask.compute`` (each scene read once), then the month walk over them in this process:
    the numbers of :func:`monthly_change` (and :func:`flows.site.maps.site_maps`), walked once
    for the table, the canopy and the maps instead of once each, and without dask's
    single-chunk copies of every month. ``evidence``: the site's computed
    :class:`indices.evidence.SiteEvidence` (:mod:`flows.site.evidence`), as for the others.
    The months' chunks are written into this process's arrays where dask computes here
    (:func:`computes_here`); on a cluster each block comes back as computed and is placed
    into them here. ``base``: as for :func:`inputs_of`."""
    inputs = inputs_of(site, cube, mask, evidence, base)
    layers = [a.transpose("period", "y", "x").data for a in month_layers(inputs)]
    arrays = [np.empty(a.shape, a.dtype) for a in layers]
    places = None
    if computes_here(layers):
        # each chunk task writes its block into the whole arrays: no assembling copy of every
        # month's maps (dask's concatenate3: ~1 GiB and ~4 CPU s at 2000² x 23 months) while
        # the chunks it copies from are still held
        todo = da.store(layers, arrays, lock=False, compute=False)
    else:  # a task elsewhere would write into its own copy of the arrays: its block comes
        # back as it is (no worker assembles a whole layer) and is placed here
        places = [list(slices_from_chunks(a.chunks)) for a in layers]
        todo = [a.to_delayed(optimize_graph=False).ravel().tolist() for a in layers]
    *computed, base, turbid, observed, got = dask.compute(
        *lazy, inputs.base, inputs.turbid, fractions(inputs), todo)
    if places is not None:
        for array, where, blocks in zip(arrays, places, got, strict=True):
            while blocks:  # each block released once placed: one layer's worth held, not two
                array[where.pop()] = blocks.pop()
    periods, green = inputs.scores["period"].values, inputs.green
    del layers, got, todo, inputs  # the inputs' baseline maps: the walk drops its own
    months = (as_month(tuple(a[p] for a in arrays)) for p in range(arrays[0].shape[0]))
    monthly, out_maps = walk_computed(site, mask, months, periods, base,
                                      turbid, observed, pixel_area_ha=pixel_area_ha,
                                      mmu_ha=mmu_ha, maps=maps, spill=False, green=green)
    return (*computed, monthly, out_maps)


def walk_streamed(site: Site, cube: xr.Dataset, mask: xr.DataArray, lazy: tuple, *,
                  pixel_area_ha: float, mmu_ha: float, maps: bool,
                  evidence: SiteEvidence | None = None, base: list | None = None) -> tuple:
    """``lazy`` (per-scene statistics, fetch status, alert state), computed, then the monthly
    table (and maps) of :func:`monthly_change` (and :func:`flows.site.maps.site_maps`), walking
    the months one at a time: each month's composites are computed when the walk reaches it,
    so memory holds one month whatever their number.

    Two passes over the scenes: the first computes ``lazy``, the baseline composite and the
    per-scene plume flags (seagrass: each scene is judged against the median of all); the
    second reads each month's scenes for its composites, with their fetch status (a scene
    that fails only then is failed, so that a later run retries it). Maps go to unlinked
    temporary files under ``TMPDIR`` (on disk, unless that is a tmpfs), freed with the arrays.
    ``base``: as for :func:`inputs_of`.
    """
    baseline = (site.baseline_start, site.baseline_end)
    inputs = inputs_of(site, cube, mask, evidence, base)
    *computed, base, turbid, observed, scene_turbid = dask.compute(
        *lazy, inputs.base, inputs.turbid, fractions(inputs), inputs.scene_turbid)
    per_scene, status, alert_state = computed
    inputs = monthly_inputs(cube, mask, site.habitat, baseline=baseline,
                            scene_turbid=scene_turbid, evidence=inputs.evidence,
                            judged=base[0].notnull())
    periods = inputs.scores["period"].values
    scene_month = cube["time"].values.astype("datetime64[M]")
    fetched = cube["fetch_status"] if status is not None else None
    status = None if status is None else np.array(status)
    yx = ("y", "x")

    def month_maps():
        for period in periods:
            layers = [a.sel(period=period).transpose(*yx).data for a in month_layers(inputs)]
            scenes = np.flatnonzero(scene_month == period.astype("datetime64[M]"))
            codes = [] if fetched is None else [fetched.isel(time=scenes).data]
            got = dask.compute(*layers, *codes)
            if codes:
                merge_status(status, scenes, got[-1])
            yield as_month(tuple(np.asarray(a) for a in got[:len(layers)]))

    monthly, out_maps = walk_computed(site, mask, month_maps(), periods, base, turbid, observed,
                                      pixel_area_ha=pixel_area_ha, mmu_ha=mmu_ha, maps=maps,
                                      spill=True, green=inputs.green)
    return per_scene, status, alert_state, monthly, out_maps


def inputs_of(site: Site, cube: xr.Dataset, mask: xr.DataArray,
              evidence: SiteEvidence | None, base: list | None):
    """:func:`indices.summary.monthly_inputs` of the site. ``base``: None, or a list holding
    the baseline composite computed already (mangrove:
    :func:`flows.site.evidence.site_evidence_of` with ``keep_base``), emptied here: the
    inputs keep the baseline maps they read from it (computed now, from numpy), not the
    whole composite through the walk."""
    return monthly_inputs(cube, mask, site.habitat,
                          baseline=(site.baseline_start, site.baseline_end), evidence=evidence,
                          base=base.pop() if base else None)


def fractions(inputs) -> tuple:
    """The baseline's observed and assessable fractions of the site (lazy), as
    :func:`assemble` takes them."""
    return (inputs.baseline_observed_fraction, inputs.assessable_fraction)


def merge_status(status: np.ndarray, scenes: np.ndarray, codes) -> None:
    """Fold a later pass's fetch status of ``scenes`` into ``status``, in place: a scene that
    failed in any pass is failed (the first failure's code kept), so a later run retries it."""
    status[scenes] = np.where(status[scenes] != FETCH_OK, status[scenes], codes)


def month_layers(inputs) -> list[xr.DataArray]:
    """The maps a month of the walk reads: score, [the maps' score,] NDVI, clear views. The
    maps' score only where it is another array (seagrass): a mangrove site's is the table's,
    and computing it twice would assemble every month's score twice."""
    scores = [inputs.scores] + ([inputs.map_scores] if inputs.map_scores is not inputs.scores
                                else [])
    return [*scores, inputs.ndvi, inputs.n_clear]


def as_month(maps: tuple) -> tuple:
    """``(score, map_score, ndvi, n_clear)`` for :func:`walk_months` from the computed
    :func:`month_layers`."""
    return maps if len(maps) == 4 else (maps[0], *maps)


def walk_computed(site: Site, mask: xr.DataArray, months, periods: np.ndarray, base: tuple,
                  turbid, observed, *, pixel_area_ha: float, mmu_ha: float, maps: bool,
                  spill: bool, green: float = GREEN_NDVI
                  ) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The month walk (:func:`indices.summary.walk_months`) of ``months``' computed maps,
    assembled as :func:`monthly_change`'s table and :func:`flows.site.maps.site_maps`' maps
    (``spill``: on unlinked temporary files; ``green``: the site's rule's ``ndvi_min``,
    :attr:`indices.summary.MonthlyInputs.green`)."""
    yx = ("y", "x")
    stores = map_stores(len(periods), mask, spill=spill) if maps else []
    rows = []
    base_maps = [b.transpose(*yx).values for b in base]
    if isinstance(base, list):  # the caller's list: its maps go when the walk drops them
        base.clear()
    del base  # walk_months drops the baseline's maps once its walks are set up
    walk = walk_months(months, base_maps, mask.transpose(*yx).values,
                       habitat=site.habitat, pixel_area_ha=pixel_area_ha, mmu_ha=mmu_ha,
                       maps=maps, plume_months=bool(np.asarray(turbid).any()), green=green)
    for p, (row, pair) in enumerate(walk):
        rows.append(row)
        if maps:
            for store, month in zip(stores, pair, strict=True):
                store[p] = month
                release_pages(store[p])
    return assemble(site, mask, periods, rows, stores, turbid, observed, mmu_ha=mmu_ha)


def map_stores(n_periods: int, mask: xr.DataArray, *, spill: bool) -> list[np.ndarray]:
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


def assemble(site: Site, mask: xr.DataArray, periods: np.ndarray, rows: list, stores: list,
             turbid, observed, *, mmu_ha: float) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The monthly table from the walk's rows, and the maps from their filled stores.
    ``observed``: the baseline's observed and assessable fractions (:func:`fractions`)."""
    table = np.array(rows, np.float64).reshape(len(periods), len(MONTHLY_COLUMNS))
    observed, assessable = observed
    monthly = monthly_table(
        xr.Dataset({name: ("period", table[:, i]) for i, name in enumerate(MONTHLY_COLUMNS)},
                   coords={"period": periods}), float(observed), turbid, float(assessable))
    if not stores:
        return monthly, None
    coords = {"period": periods, "y": mask["y"].values, "x": mask["x"].values}
    dims = ("period", "y", "x")
    return monthly, maps_dataset(*labelled(xr.DataArray(stores[0], dims=dims, coords=coords),
                                           xr.DataArray(stores[1], dims=dims, coords=coords)),
                                 mmu_ha)
