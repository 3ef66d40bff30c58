"""One site, end to end, without Prefect: load -> indices -> change -> table rows.

The Prefect flow in :mod:`flows.monitor` wraps these steps in tasks; tests and notebooks can
call them directly. The cube stays lazy until the chosen walk computes it (every month at once
in one ``dask.compute``, or month by month, or in strips: :mod:`flows.site.budget`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from aoi import Site, site_grid, site_mask
from flows.site.alerts import alert_pixels, alert_rows
from flows.site.budget import WALKS, choose_walk, fill_pixels
from flows.site.evidence import site_evidence_of
from flows.site.notices import context_warning, fill_warning, site_warnings
from flows.site.onepass import walk_once
from flows.site.plan import SitePlan, fill_settled, month_start
from flows.site.rows import change_rows, empty_change, observation_rows
from flows.site.strips import walk_strips
from flows.site.walks import walk_streamed, walk_whole
from flows.sources import CHUNKS, SceneRef, Source, failed_scenes
from indices.patches import MMU_HA
from indices.summary import scene_statistics

__all__ = ["SiteTables", "context_warning", "site_tables"]


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
    """:class:`flows.results.alerts.SiteAlerts` of this run (None when not computed)."""
    maps: xr.Dataset | None = None
    """Computed monthly ``class`` and ``change`` maps (:func:`flows.site.maps.site_maps`; numpy maps
    on temporary files for a site walked month by month)."""
    walk: str = "memory"
    """How the months were walked: ``"memory"`` (all at once), ``"once"`` (month by month,
    one pass), ``"stream"`` (month by month, two passes) or ``"strips"``."""
    evidence: dict[str, Any] = field(default_factory=dict)
    """The site's rule, its parameters and where they came from (defaults with citations, or
    calibration), and its fitted water or context: for the run record
    (:func:`flows.site.evidence.site_evidence_of`); ``"warnings"`` when there are any."""
    warnings: tuple[str, ...] = ()
    """One line each for what makes the site's rows less than a measurement (a mangrove
    baseline that could not build the intertidal context: :func:`context_warning`; a
    calibration whose labels could not teach a threshold); the run logs them and keeps them
    in its record."""
    plan: SitePlan | None = None
    """The plan the rows were cut by (:func:`flows.site.plan.fill_settled`: the run's plan,
    or a rewrite from the baseline when a fill window's scene changed the mangrove fill);
    its ``since`` is where the run's maps and rows start. None: no plan given."""


def site_tables(site: Site, source: Source, scenes: list[SceneRef], *, start: dt.date | None,
                end: dt.date, run_id: str, mmu_ha: float = MMU_HA,
                chunks: int | None = CHUNKS, plan: SitePlan | None = None,
                products: bool = False, walk: str = "auto", share: int = 1) -> SiteTables:
    """Load the site's scenes, compute its observation and change rows (with ``products``,
    its alerts and monthly maps too).

    With a ``plan`` (incremental run), only the rows of its new scenes and of the months from
    ``plan.since`` on are returned; a mangrove plan's fill candidates are settled once the
    fill is computed (:func:`flows.site.plan.fill_settled`: the site rewritten from its
    first stored row, not ``start``, when one changed the fill; :attr:`SiteTables.plan`
    says which); the baseline and earlier months are still read because the monthly maps carry each
    pixel's last observation forward.

    ``walk``: how the months are walked. ``"memory"``: every month's maps at once, all in one
    ``dask.compute`` (each scene read once; ~40 B a pixel and month with products);
    ``"once"`` (mangrove): month by month in one pass, each batch of months computed while
    the one before is walked (each scene read once; ~200 B a pixel whatever the months, see
    :func:`flows.site.onepass.walk_once`); ``"stream"``: month by month, each month's
    composites computed when the walk reaches it (memory for one month whatever their number,
    see :func:`walk_streamed`; each scene read twice); ``"strips"``: month by month in strips
    of rows (a few bytes a pixel whatever the months: a whole Sentinel-2 tile, see
    :func:`walk_strips`; each scene read three times with products); ``"auto"``: the first
    of once (mangrove) or memory (seagrass), stream, strips that fits :func:`memory_budget`
    divided by ``share`` (the sites computed at once), else :class:`SiteTooLarge` before
    anything is read (:func:`flows.site.budget.choose_walk`). Other values are taken as
    asked, unchecked. Same rows and maps either way.
    """
    if walk not in WALKS:
        raise ValueError(f"walk must be one of {WALKS}, got {walk!r}")
    grid = site_grid(site)
    mask = xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                        coords={"y": grid.y_coords(), "x": grid.x_coords()})
    if not scenes:
        return SiteTables(site.id, observation_rows(site, scenes, None, run_id),
                          empty_change(), 0)
    # refuse before reading anything, not with the machine out of memory mid-run
    mode = choose_walk(site, grid, scenes, walk, chunks=chunks, products=products, share=share)
    cube = source.load(site, scenes, chunks=chunks)
    if mode == "memory":  # month by month, a batch would be read again for each of its months
        cube = _batch_small_scenes(cube)
    # the rule (calibrated at the start of the run) and the baseline's evidence, computed once
    # and read by every walk, the per-scene statistics and the alerts alike
    # (mangrove: with the baseline composite, which the walk's inputs then do not composite
    # again; not for the strips walk, which never holds a whole composite)
    max_fill = None if site.habitat != "mangrove" else fill_pixels(
        site, grid, scenes, mode, chunks=chunks, products=products, share=share)
    got = site_evidence_of(site, cube, grid, mask,
                           keep_base=site.habitat == "mangrove" and mode != "strips",
                           max_fill=max_fill, lean=mode == "strips")
    evidence, record = got.evidence, got.record
    base = None if got.base is None else [got.base]  # the walk takes it out: not held through it
    del got
    warning = context_warning(site, evidence, mask, scenes, cube)
    warnings = site_warnings(record, warning)
    if warnings:
        record = {**record, "warnings": list(warnings)}
    lazy_mask = mask
    if mode == "strips":  # the graphs' site mask and context in the cube's chunks
        lazy_mask = _chunked(mask, cube)
        if evidence.context is not None:
            evidence = evidence.with_arrays((_chunked(evidence.context, cube),
                                             evidence.params))
        if evidence.place is not None:  # seagrass rule v6's place map, as the context
            evidence = evidence.with_arrays((evidence.water, _chunked(evidence.place, cube)))
    per_scene = scene_statistics(cube, lazy_mask, site.habitat,
                                 pixel_area_ha=grid.pixel_area_ha, evidence=evidence)
    status = cube["fetch_status"] if "fetch_status" in cube else None
    alert_state = maps = None
    if products and mode != "once":  # alerts (and monthly maps), from the same cube (the
        alert_state = alert_pixels(site, cube, lazy_mask, evidence=evidence)  # one pass
    walker = {"memory": walk_whole, "stream": walk_streamed, "strips": walk_strips,
              "once": walk_once}[mode]
    # the lazy graphs go to the walker only: it drops them once computed (not held here)
    lazy = [per_scene, status, alert_state]
    del per_scene, alert_state
    per_scene, status, alert_state, monthly, maps = walker(
        site, cube, lazy_mask, lazy, pixel_area_ha=grid.pixel_area_ha,
        mmu_ha=mmu_ha, maps=products, evidence=evidence, base=base)
    del lazy_mask
    failed = failed_scenes(cube["scene_id"].values, status) if status is not None else {}
    # the fill window's scenes the store did not hold get their observation rows whatever
    # the start: else, a start after them, they stayed candidates and every run rewrote the
    # site (review of v17). Taken before fill_settled, which settles them.
    window_rows = frozenset()
    if plan is not None:  # the fill computed: did a fill window's scene change it?
        window_rows = plan.fill_candidates - set(failed)
        plan = fill_settled(plan, evidence.fill, scenes, failed, site)
    # a plan may rewrite from the first stored row, whatever the start (the fill changed)
    report_from = (plan.report_from if plan is not None else None) or start \
        or site.baseline_start
    obs_all = observation_rows(site, scenes, per_scene, run_id)
    obs = obs_all[~obs_all["scene_id"].isin(failed)]
    obs = obs[((obs["datetime"].dt.date >= report_from) | obs["scene_id"].isin(window_rows))
              & (obs["datetime"].dt.date <= end)]
    change = change_rows(site, monthly, obs_all=obs_all, run_id=run_id, rule_id=evidence.rule_id,
                         filled_fraction=_filled_fraction(site, evidence, mask))
    line = fill_warning(site, change)  # of the site's whole series, before it is cut
    if line is not None:
        warnings = (*warnings, line)
        record = {**record, "warnings": list(warnings)}
    change = change[(change["period"] >= month_start(report_from)) & (change["period"] <= end)]
    if plan is not None:
        obs = obs[obs["scene_id"].isin(plan.new_scene_ids | window_rows)]
        change = change[change["period"] >= (plan.since or dt.date.max)]
    if warning is not None:  # nothing of the site could be judged: the rows say so, and
        # their intervals span what could be there (any of the site), not a certain 0
        change["assessable_fraction"] = 0.0
        site_ha = float(mask.sum()) * grid.pixel_area_ha
        for col in ("extent_ci_high_ha", "gain_ci_high_ha", "loss_ci_high_ha"):
            change[col] = site_ha
    alerts = None
    if plan is not None and plan.since is None:  # only a fill candidate, which changed
        alert_state = maps = None                # nothing: no rows, maps or alerts to write
    if alert_state is not None:
        alerts = alert_rows(site, alert_state, run_id=run_id, grid=grid)
    return SiteTables(site.id, obs.reset_index(drop=True), change.reset_index(drop=True),
                      len(scenes), failed, alerts, maps, walk=mode, evidence=record,
                      warnings=warnings, plan=plan)


def _filled_fraction(site: Site, evidence, mask: xr.DataArray) -> float | None:
    """The change rows' ``baseline_filled_fraction``: a mangrove site's share filled by its
    baseline's fill (:mod:`indices.bap`; 0 when nothing was), None for seagrass."""
    if site.habitat != "mangrove":
        return None
    fill = evidence.fill
    return 0.0 if fill is None else fill.site_fraction(mask.values)


def _chunked(array: xr.DataArray, cube: xr.Dataset) -> xr.DataArray:
    """A computed ``(y, x)`` map (the site mask, the mangrove context) wrapped as a dask array
    in the cube's ``(y, x)`` chunks, the same values: the graphs' tests on it
    (``level == CONNECTED``, ``mask.astype(np.uint8)`` ...) are then lazy, block by block. On
    numpy maps each graph built (per-scene rows, alerts, the walk's inputs, twice) held
    whole-site temporaries of its own (bool or uint8, 120 MB and more each on a 10980² tile;
    issue 22). Returned as is when the cube is not dask or the map already is."""
    import dask.array as da

    scl = cube["SCL"].transpose(..., "y", "x")
    if not isinstance(scl.data, da.Array) or isinstance(array.data, da.Array):
        return array
    array = array.transpose(..., "y", "x")  # (a layered map: its layers in one chunk)
    chunks = tuple((n,) for n in array.shape[:-2]) + scl.data.chunks[-2:]
    return array.copy(data=da.from_array(np.asarray(array.data), chunks=chunks))


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
