"""The month walk of a mangrove site in one pass over its scenes (``site_tables(walk="once")``).

The cube is computed in batches of whole months, in time order, each batch in one
``dask.compute`` of everything its scenes give: the per-scene statistics and fetch status,
the months' composites (score, NDVI, clear views) and, with products, the scenes' NDVI and
MNDWI for the loss alerts. The first batch holds every month with a baseline scene, and the
baseline composite with it: each scene is read once; given the baseline composite computed
already (``base``: the run's evidence step read the baseline's scenes for it), batches take
no account of the baseline, so the first holds no more months than the others. While this thread walks a batch's
months (:func:`flows.site.walks.walk_computed`), a helper thread computes the next batch and
judges its scenes for the alerts (:func:`indices.alerts.mangrove_evidence` against the
composite of the same month a year earlier, kept from the earlier batches, else the
baseline's; :class:`indices.alerts.AlertScan`), so reading and compositing overlap the
walk, and memory holds two batches, not every month. Each batch's maps and judged scenes are
computed into arrays allocated here (:class:`_Into`), not assembled from dask's chunks.

The same rows, alerts and maps as the in-memory walk, bit for bit
(``tests/test_walk_stream.py``). Not for seagrass: its plume flags judge each scene against
the median of all scenes, so its months need every scene first (the two-pass
``walk="stream"``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import xarray as xr

from aoi import Site
from flows.runtime.memory import trim_memory
from flows.site.walks import (
    as_month,
    computes_here,
    fractions,
    inputs_of,
    month_layers,
    walk_computed,
)
from indices.alerts import DEFAULT_RULE, AlertScan, mangrove_evidence
from indices.evidence import SiteEvidence
from indices.spectral import compute_indices

__all__ = ["BATCH_PIXELS", "walk_once"]

BATCH_PIXELS = 4 * 2**20
"""Site pixels x months a batch holds at least (a 400² site: every month in one batch, as
the in-memory walk; 2000²: one month). Fewer, larger computes cost less scheduling."""


@dataclass
class _Batch:
    periods: np.ndarray
    scenes: np.ndarray
    """Indices of the batch's scenes in the cube, in time order."""
    layers: list | None = None
    stats: xr.Dataset | None = None
    status: np.ndarray | None = None
    extra: tuple = ()


def walk_once(site: Site, cube: xr.Dataset, mask: xr.DataArray, lazy: tuple, *,
              pixel_area_ha: float, mmu_ha: float, maps: bool,
              evidence: SiteEvidence | None = None, base: list | None = None) -> tuple:
    """``lazy`` (per-scene statistics and fetch status of the whole cube; no alert state: with
    ``maps``, the alerts are judged here) and the monthly table (and maps and alerts),
    walking the months in batches of one ``dask.compute`` each, every scene read once (see
    the module doc). ``evidence``: the site's computed :class:`indices.evidence.SiteEvidence`,
    and ``base`` (:func:`flows.site.walks.inputs_of`), as for the other walks. Returns what
    they return: ``(per_scene, status, alert_state,
    monthly, maps)``."""
    if site.habitat != "mangrove":
        raise ValueError(f"walk='once' is for mangrove sites; {site.id} is {site.habitat}")
    per_scene, status, _ = lazy
    baseline = (site.baseline_start, site.baseline_end)
    base_given = bool(base)
    inputs = inputs_of(site, cube, mask, evidence, base)
    periods = inputs.scores["period"].values
    times = cube["time"].values
    order = np.argsort(times, kind="stable")
    scene_month = times.astype("datetime64[M]")
    # with the baseline composite computed already, its months need not share a batch
    batches = _batches(periods, scene_month[order], order, times,
                       None if base_given else baseline, mask.sizes["y"] * mask.sizes["x"])
    lazy_layers = month_layers(inputs)
    after = times >= np.datetime64(baseline[1], "D") + np.timedelta64(1, "D")
    judge = _Judge(inputs, periods, mask) if maps else None  # the alerts: with products

    def compute(batch: _Batch, first: bool) -> _Batch:
        layers = _Into([a.sel(period=batch.periods).transpose("period", "y", "x").data
                        for a in lazy_layers])
        todo = [layers.todo, per_scene.isel(time=batch.scenes)]
        todo.append(None if status is None else status.isel(time=batch.scenes).data)
        judged = batch.scenes[after[batch.scenes]] if judge is not None else batch.scenes[:0]
        scenes = None
        if judged.size:
            ix = compute_indices(cube.isel(time=judged), ["ndvi", "mndwi"])
            scenes = _Into([ix[v].transpose("time", "y", "x").data for v in ("ndvi", "mndwi")])
        todo.append(None if scenes is None else scenes.todo)
        if first:
            todo.append((inputs.base, inputs.turbid, fractions(inputs)))
        # one batch (a small site: every month in one compute) reads the whole cube: its
        # graph has nothing to cull, and dask's optimisation (cull, blockwise fusion) of its
        # ~2,000 tasks cost more than it saved (400² x 24: 0.3-0.8 CPU s, 40 MB more peak)
        got = dask.compute(*todo, optimize_graph=len(batches) > 1)
        trim_memory()  # the chunks dask's threads freed, given back before the next batch
        batch.layers, batch.stats = layers.arrays(got[0]), got[1]
        batch.status = None if got[2] is None else np.asarray(got[2])
        batch.extra = got[4] if first else ()
        if judge is not None:
            if first:
                judge.start(got[4][0])
            judge.month_maps(batch.periods, batch.layers)
            if scenes is not None:
                judge.scenes(times[judged], *scenes.arrays(got[3]))
        return batch

    first = compute(batches[0], True)
    green = inputs.green  # the walk's green floor: the site's rule's ndvi_min
    inputs = None  # its baseline maps (numpy when given computed) go with the walk's list
    base, turbid, observed = first.extra
    base = list(base)  # emptied by the walk once it has what it keeps of the baseline
    first.extra = ()
    parts: list[_Batch] = []

    def months():
        with ThreadPoolExecutor(1, thread_name_prefix="bluecarbon-batch") as helper:
            ahead = None
            for b, batch in enumerate(batches):
                batch = first if b == 0 else ahead.result()
                if b + 1 < len(batches):  # the next batch is read while this one is walked
                    ahead = helper.submit(compute, batches[b + 1], False)
                parts.append(batch)
                layers, batch.layers = batch.layers, None
                for p in range(len(batch.periods)):
                    yield as_month(tuple(a[p] for a in layers))
                del layers

    monthly, out_maps = walk_computed(site, mask, months(), periods, base, turbid,
                                      observed, pixel_area_ha=pixel_area_ha, mmu_ha=mmu_ha,
                                      maps=maps, spill=len(batches) > 1, green=green)
    scenes = np.concatenate([b.scenes for b in parts])
    back = np.argsort(scenes, kind="stable")  # the cube's scene order
    stats = xr.concat([b.stats for b in parts], dim="time").isel(time=back)
    codes = None if status is None else np.concatenate([b.status for b in parts])[back]
    alerts = judge.state(cube, after) if judge is not None else None
    return stats, codes, alerts, monthly, out_maps


class _Into:
    """Dask arrays computed into numpy arrays allocated here, each chunk task writing its
    block in place (``da.store``) where dask computes in this process
    (:func:`flows.site.walks.computes_here`): no assembling copy of a batch's maps while the
    chunks it copies from are still held. Elsewhere (a cluster) the arrays as computed."""

    def __init__(self, lazy: list):
        self.here = all(isinstance(a, da.Array) for a in lazy) and computes_here(lazy)
        self.targets = [np.empty(a.shape, a.dtype) for a in lazy] if self.here else None
        self.todo = da.store(lazy, self.targets, lock=False, compute=False) if self.here \
            else lazy

    def arrays(self, got) -> list[np.ndarray]:
        """The computed arrays, given what ``dask.compute`` returned for :attr:`todo`."""
        return self.targets if self.here else [np.asarray(a) for a in got]


def _batches(periods: np.ndarray, months_sorted: np.ndarray, order: np.ndarray,
             times: np.ndarray, baseline: tuple | None, n_pixels: int) -> list[_Batch]:
    """Consecutive months in batches of at least :data:`BATCH_PIXELS` pixel-months; with a
    ``baseline`` (its composite still to be computed), the first takes every month holding a
    baseline scene too (the baseline composite reads them)."""
    months = periods.astype("datetime64[M]")
    per_batch = max(1, BATCH_PIXELS // max(n_pixels, 1))
    first = 0
    if baseline is not None:
        lo = np.datetime64(baseline[0], "D")
        hi = np.datetime64(baseline[1], "D") + np.timedelta64(1, "D")
        in_base = (times[order] >= lo) & (times[order] < hi)
        first = int((months <= months_sorted[in_base].max()).sum()) if in_base.any() else 0
    first = max(first, per_batch)
    groups = [range(0, min(first, len(months)))]
    groups += [range(p, min(p + per_batch, len(months)))
               for p in range(first, len(months), per_batch)]
    return [_Batch(periods[list(g)], order[np.isin(months_sorted, months[list(g)])])
            for g in groups if len(g)]


class _Judge:
    """The loss alerts' evidence of each scene after the baseline, judged as its batch is
    computed (:func:`indices.alerts.loss_evidence`, mangrove), and the scan over it. Only
    the monitored pixels (habitat in the baseline, inside the site) are kept and judged: any
    other pixel's evidence is "nothing to judge" in every scene, so its state stays the
    scan's initial one."""

    def __init__(self, inputs, periods: np.ndarray, mask: xr.DataArray):
        self.periods = set(periods.astype("datetime64[M]").tolist())
        self.mask = mask.transpose("y", "x").values.astype(bool)
        self.history: dict = {}
        self.seen_times: list[np.datetime64] = []

    def start(self, base: tuple) -> None:
        base_score, base_ndvi = base[0], base[3]  # score, red, NIR, NDVI, NDWI, ends
        monitored = (np.asarray(base_score.transpose("y", "x").values) > 0) & self.mask
        self.index = np.flatnonzero(monitored)
        self.base_ndvi = np.asarray(base_ndvi.transpose("y", "x").values).ravel()[self.index]
        self.scan = AlertScan(self.index.shape, DEFAULT_RULE.confirm)

    def month_maps(self, periods: np.ndarray, layers: list[np.ndarray]) -> None:
        """Keep each month's composite NDVI (:func:`month_layers`' last but one) filled with
        the baseline's: the reference of the scenes a year later."""
        ndvi = layers[-2]
        for p, period in enumerate(periods.astype("datetime64[M]")):
            month = ndvi[p].ravel()[self.index]
            self.history[period.item()] = np.where(np.isnan(month), self.base_ndvi, month)

    def scenes(self, times: np.ndarray, ndvi: np.ndarray, mndwi: np.ndarray) -> None:
        """Judge the scenes at ``times`` from their (time, y, x) NDVI and MNDWI."""
        for k, when in enumerate(times):
            wanted = (when.astype("datetime64[M]") - np.timedelta64(12, "M")).item()
            ref = self.history.get(wanted) if wanted in self.periods else None
            self.scan.step(mangrove_evidence(
                ndvi[k].ravel()[self.index], mndwi[k].ravel()[self.index],
                self.base_ndvi if ref is None else ref, True, rule=DEFAULT_RULE))
            self.seen_times.append(when)
        if len(times):  # later scenes look a year back from a later month
            oldest = (times.max().astype("datetime64[M]") - np.timedelta64(12, "M")).item()
            for month in [m for m in self.history if m < oldest]:
                del self.history[month]

    def state(self, cube: xr.Dataset, after: np.ndarray) -> xr.Dataset:
        """:func:`flows.site.alerts.alert_pixels`, computed."""
        times = np.array(self.seen_times, dtype="datetime64[ns]")
        shape = self.mask.shape
        full = AlertScan(shape, DEFAULT_RULE.confirm)  # unmonitored pixels: as it starts
        for name in ("run", "first", "last", "conf"):
            getattr(full, name).ravel()[self.index] = getattr(self.scan, name)
        score, first, last, confirmed = full.state(times)
        yx = {"y": cube["y"].values, "x": cube["x"].values}
        ds = xr.Dataset({name: (("y", "x"), value) for name, value in (
            ("score", score), ("first_seen", first), ("last_seen", last),
            ("confirmed_at", confirmed))}, coords=yx)
        ds.attrs.update(confirm=int(DEFAULT_RULE.confirm))
        later = cube["time"].values[after]
        ds.attrs["window"] = (str(later.min()), str(later.max())) if later.size else ()
        return ds
