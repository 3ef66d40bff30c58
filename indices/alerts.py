"""Habitat-loss alerts: per-scene evidence, a per-pixel confirmation score, patches.

Global Mangrove Watch style (Bunting et al. 2023, doi:10.3390/rs15082050): each new clear
observation of a pixel that was habitat in the baseline either adds evidence of loss or, where
the pixel still looks like habitat, resets it; a pixel whose evidence reaches
``AlertRule.confirm`` *consecutive* clear observations is confirmed. Flagged pixels are grouped
into 8-connected patches of at least the minimum mapping unit: the alerts.

Evidence of loss, per clear observation (``1``), against a *reference*: the median composite of
the same calendar month a year earlier where the cube holds it and it saw the pixel, else the
baseline composite (so seasonality and old losses do not count as new loss):

* mangrove: NDVI < ``ndvi_max`` and an NDVI drop > ``ndvi_drop`` against the reference (GMW's
  rule). An *inundated* observation (MNDWI > ``water_mndwi_min``) is no evidence either way:
  tides flood the fringe and come back; a clearing leaves dry bare soil (MNDWI ~ -0.45).
* seagrass: the scene's seagrass score (the change table's rule and the site's water,
  :func:`indices.habitat.seagrass_offset`, wherever the bottom shows) says clearly not
  seagrass (< ``seagrass_score_max``) *and* the bottom got brighter: the deglinted blue
  bottom signal is at least ``bottom_brightening`` times the reference's, the green not
  darker. Sand under a lost meadow is several times brighter than the meadow at any depth
  (most in blue); a scene's noise on a deep (weak) bottom makes the score alone dip below
  -1 now and then, but seldom doubles the blue signal with it.

Observations that cannot be judged (cloud, shadow, nodata, an inundated mangrove pixel, an
optically deep seagrass pixel, the water of a scene with a sediment plume, see
:func:`mask_turbid_water`) leave the score as it is (``-1``); clear, judgeable observations
without evidence reset a pixel that is not yet confirmed (``0``). Confirmed pixels stay
confirmed (an alert is an event) and keep counting further evidence.

The confirmation threshold defaults to 3 consecutive clear observations (GMW uses 5 on Landsat
+ Sentinel-2 combined): on the demo it confirms every planted loss >= 1 ha by the third clear
look and confirms nothing on stable habitat, tides or glint (see ``tests/test_alerts.py``).

:func:`loss_evidence` and :func:`scan_evidence` are lazy; :func:`alert_patches` labels patches
and needs the computed pixel arrays (the flow computes them in its one ``dask.compute``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from indices.bap import filled
from indices.composite import composite, monthly_composite
from indices.evidence import SiteEvidence, baseline_composite, site_evidence
from indices.habitat import (
    RULES,
    SeagrassRule,
    bottom_signals,
    habitat_score,
    mask_turbid_water,
    scene_reflectance,
    seagrass_offset,
)
from indices.patches import MMU_HA, mmu_pixels
from indices.seagrass_rule import GLINT_COMPOSITE, place_terms
from indices.spectral import compute_indices

__all__ = ["DEFAULT_RULE", "LOSS", "NOT_OBSERVED", "NO_LOSS", "PATCH_COLUMNS", "AlertRule",
           "AlertScan", "FlaggedPixels", "alert_patches", "bottom_signal", "flagged_patches", "loss_evidence",
           "mangrove_evidence", "mask_turbid_water", "scan_evidence"]

NOT_OBSERVED, NO_LOSS, LOSS = -1, 0, 1
"""Codes of :func:`loss_evidence`: nothing to judge, a clear look at habitat, evidence of loss."""
PATCH_COLUMNS = (
    "patch", "status", "score", "first_seen", "last_seen", "confirmed_at", "n_pixels",
    "n_confirmed", "area_ha", "confirmed_ha", "row", "col", "seed_row", "seed_col",
)
"""Columns of :func:`alert_patches` (row/col: pixel-centre centroid, in pixel units)."""


@dataclass(frozen=True)
class AlertRule:
    """Thresholds of the loss alerts (defaults: GMW for mangrove, see the module docstring)."""

    confirm: int = 3
    """Consecutive clear observations with evidence of loss that confirm a pixel."""
    mmu_ha: float = MMU_HA
    """Minimum mapping unit of a patch, hectares (the change table's default)."""
    ndvi_max: float = 0.25
    """Mangrove: NDVI below this is not canopy."""
    ndvi_drop: float = 0.15
    """Mangrove: NDVI must also have dropped by more than this against the reference."""
    water_mndwi_min: float = 0.0
    """Mangrove: MNDWI above this is an inundated observation (tide), not judged."""
    seagrass_score_max: float = -1.0
    """Seagrass: scene score below this is clearly not seagrass (one tolerance beyond)."""
    bottom_brightening: float = 2.0
    """Seagrass: the blue bottom signal must reach this multiple of the reference's (and the
    green at least the reference's)."""

    def __post_init__(self) -> None:
        if isinstance(self.confirm, bool) or not isinstance(self.confirm, int) or self.confirm < 1:
            raise ValueError(f"AlertRule.confirm must be a positive integer, got {self.confirm!r}")
        if not (np.isfinite(self.mmu_ha) and self.mmu_ha >= 0):
            raise ValueError(f"AlertRule.mmu_ha must be >= 0 hectares, got {self.mmu_ha!r}")


DEFAULT_RULE = AlertRule()


def bottom_signal(refl: xr.Dataset, rule: SeagrassRule = RULES["seagrass"],
                  water: xr.DataArray | None = None):
    """Deglinted bottom signals ``(blue, green)`` above the site's deep water (``water``:
    :func:`indices.water.water_parameters`), NaN where the pixel is not water or the bottom is
    not visible: the quantities :func:`indices.habitat.seagrass_score` takes the logarithm of
    (:func:`indices.habitat.bottom_signals`)."""
    b_sig, g_sig, seen = bottom_signals(refl, rule, water)
    return b_sig.where(seen).astype(np.float32), g_sig.where(seen).astype(np.float32)


def _reference(monthly: xr.DataArray, base: xr.DataArray, like: xr.DataArray) -> xr.DataArray:
    """Per scene of ``like``: the composite of the same month a year earlier, else (that month
    not in the cube, or the pixel not seen in it) the baseline composite. Filled per month,
    then picked per scene and chunked like ``like``: a few tasks, not one per scene."""
    times = like["time"].values
    periods = monthly["period"].values.astype("datetime64[M]")
    wanted = times.astype("datetime64[M]") - np.timedelta64(12, "M")
    idx = np.searchsorted(periods, wanted)
    found = idx < len(periods)
    found[found] = periods[idx[found]] == wanted[found]
    table = xr.concat([monthly.fillna(base), base.expand_dims(period=[np.datetime64("NaT", "ns")])],
                      dim="period")
    pick = xr.DataArray(np.where(found, idx, len(periods)), dims="time", coords={"time": times})
    ref = table.isel(period=pick).drop_vars("period")
    if ref.chunks and like.chunks:
        ref = ref.chunk({"time": like.chunksizes["time"]})
    return ref


def loss_evidence(cube: xr.Dataset, habitat: str, site_mask: xr.DataArray, *,
                  baseline: tuple[dt.date, dt.date], rule: AlertRule = DEFAULT_RULE,
                  evidence: SiteEvidence | None = None) -> xr.DataArray:
    """Evidence of habitat loss per scene after the baseline and pixel, int8 ``(time, y, x)``.

    ``time`` holds the scenes acquired after ``baseline[1]``, sorted (earlier scenes only make
    the composites: judging them would be work thrown away). ``1`` evidence of loss, ``0`` a
    clear observation that looks like habitat (or at least not like loss), ``-1`` nothing to
    judge: not observed clear, an inundated mangrove or an optically deep or turbid seagrass
    observation, a pixel outside ``site_mask`` or not habitat in the baseline composite
    (``habitat_score > 0``). Lazy when the cube is.

    ``evidence``: the site's rule and evidence (:mod:`indices.evidence`), so that the alerts
    judge with the change table's rule and water; default: the default rule's, from the
    cube's baseline.
    """
    if habitat not in ("mangrove", "seagrass"):
        raise ValueError(f"unknown habitat {habitat!r}; expected 'mangrove' or 'seagrass'")
    if evidence is None:
        evidence = site_evidence(baseline_composite(cube, habitat, baseline), habitat)
    hrule = evidence.rule
    deglint = None
    if habitat == "seagrass":  # and blue and green as the change table's composites
        cube, deglint = mask_turbid_water(cube), GLINT_COMPOSITE
    base = composite(cube, *baseline, deglint=deglint)
    if habitat == "mangrove":  # filled as the walks' (indices.bap)
        base = filled(base, cube, baseline, evidence.fill)
    monitored = (habitat_score(base, habitat, hrule, **evidence.scorer) > 0) \
        & site_mask.astype(bool)
    months = monthly_composite(cube, deglint=deglint)
    times = cube["time"].values
    over = np.datetime64(pd.Timestamp(baseline[1]).date(), "D") + np.timedelta64(1, "D")
    after = np.flatnonzero(times >= over)
    scenes = cube.isel(time=after[np.argsort(times[after], kind="stable")])
    if habitat == "mangrove":
        ix = compute_indices(scenes, ["ndvi", "mndwi"])
        ndvi = ix["ndvi"]
        ref = _reference(compute_indices(months, ["ndvi"])["ndvi"],
                         compute_indices(base, ["ndvi"])["ndvi"], ndvi)
        ev = xr.apply_ufunc(mangrove_evidence, ndvi, ix["mndwi"], ref, monitored,
                            kwargs={"rule": rule}, dask="parallelized", output_dtypes=[np.int8])
        return ev.transpose("time", "y", "x").rename("loss_evidence")
    else:
        water = evidence.water
        refl = scene_reflectance(scenes)
        b_sig, g_sig = bottom_signal(refl, hrule, water)
        ref_b, ref_g = (_reference(m, b, like)
                        for m, b, like in zip(bottom_signal(months, hrule, water),
                                              bottom_signal(base, hrule, water),
                                              (b_sig, g_sig), strict=True))
        # the change table's score, wherever the bottom shows (a single scene is noisier
        # than the composites the table judges, assessable there only within 3 sigma), and
        # the bottom brighter in blue, where sand and seagrass differ most (~7 x against
        # ~3 x in green, Maritorena et al. 1994), and not darker in green
        c, offset = seagrass_offset(refl, hrule, water, gate=False)
        score = (c["threshold"] - offset) / c["tolerance"]
        if evidence.place is not None and hrule.place_test:
            # past the green gate (rule v6) the baseline judged the pixel by blue alone; a
            # scene judges it so only where the months do (``place_months``): else not at all,
            # as the months (a scene's blue carries a site-wide atmospheric residual larger
            # than the contrast there, benchmarks/measured/sg39)
            threshold_blue, _, tolerance = place_terms(evidence.place, hrule)
            blue = ((threshold_blue - b_sig) / tolerance if hrule.place_months
                    else xr.full_like(score, np.nan))
            score = xr.where(threshold_blue.notnull(), blue, score)
        judged = score.notnull()
        loss = ((score < rule.seagrass_score_max)
                & (b_sig >= rule.bottom_brightening * ref_b) & (g_sig >= ref_g))
    ev = xr.where(judged, xr.where(loss, np.int8(LOSS), np.int8(NO_LOSS)), np.int8(NOT_OBSERVED))
    ev = ev.where(monitored, np.int8(NOT_OBSERVED)).astype(np.int8)
    return ev.transpose("time", "y", "x").rename("loss_evidence")


def mangrove_evidence(ndvi: np.ndarray, mndwi: np.ndarray, ref: np.ndarray,
                      monitored: np.ndarray, *, rule: AlertRule = DEFAULT_RULE) -> np.ndarray:
    """:func:`loss_evidence` codes (int8) of mangrove scenes from their NDVI and MNDWI
    (float32), the reference NDVI and the monitored pixels (broadcast alike; numpy): the
    one definition, for the lazy cube and for a walk that judges each month's scenes as it
    reads them (:mod:`flows.site.onepass`)."""
    judged = ~np.isnan(ndvi) & ~(mndwi > rule.water_mndwi_min)
    loss = (ndvi < rule.ndvi_max) & ((ref - ndvi) > rule.ndvi_drop)
    ev = np.where(judged, np.where(loss, np.int8(LOSS), np.int8(NO_LOSS)), np.int8(NOT_OBSERVED))
    return np.where(monitored, ev, np.int8(NOT_OBSERVED)).astype(np.int8)


class AlertScan:
    """The per-pixel confirmation state of :func:`scan_evidence`, one scene at a time:
    :meth:`step` with each scene's evidence in time order, then :meth:`state`. Scene numbers
    are int32 (-1: none), so the state is 14 bytes a pixel."""

    def __init__(self, shape: tuple[int, ...], confirm: int):
        self.confirm, self.t = int(confirm), 0
        self.run = np.zeros(shape, np.int16)
        self.first = np.full(shape, -1, np.int32)
        self.last = np.full(shape, -1, np.int32)
        self.conf = np.full(shape, -1, np.int32)
        self.confirmed = np.zeros(shape, bool)

    def step(self, ev: np.ndarray) -> None:
        t, run, first, last = self.t, self.run, self.first, self.last
        hit = ev == LOSS
        reset = (ev == NO_LOSS) & ~self.confirmed
        first[hit & (run == 0)] = t
        last[hit] = t
        run[hit] += 1
        run[reset], first[reset], last[reset] = 0, -1, -1
        newly = ~self.confirmed & (run >= self.confirm)
        self.conf[newly] = t
        self.confirmed |= newly
        self.t += 1

    def state(self, times: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(score int16, first_seen, last_seen, confirmed_at)`` (datetime64[ns], NaT where
        none) after the scenes stepped, whose times are ``times``."""
        stamps = np.append(times.astype("datetime64[ns]"), np.datetime64("NaT", "ns"))
        return self.run, stamps[self.first], stamps[self.last], stamps[self.conf]  # -1: NaT


def _scan_kernel(ev: np.ndarray, times: np.ndarray, confirm: int):
    """``ev (..., time)`` int8 -> score int16, first_seen, last_seen, confirmed_at (ns)."""
    ev = np.moveaxis(ev, -1, 0)
    scan = AlertScan(ev.shape[1:], confirm)
    for t in range(ev.shape[0]):
        scan.step(ev[t])
    return scan.state(times)


def scan_evidence(evidence: xr.DataArray, *, confirm: int = AlertRule.confirm) -> xr.Dataset:
    """Per pixel, the confirmation state after the last scene of ``evidence``, lazy.

    Returns ``score`` (int16: consecutive observations with evidence of loss; for a confirmed
    pixel every observation with evidence since its run began), ``first_seen`` and
    ``last_seen`` (first and last observation with evidence of that run) and ``confirmed_at``
    (the observation that reached ``confirm``), datetime64[ns], NaT where none.
    """
    if evidence.sizes["time"] == 0:  # nothing after the baseline yet (a new site): no alert
        score = evidence.isnull().sum("time").astype(np.int16) * np.int16(0)
        never = xr.full_like(score, np.datetime64("NaT", "ns"), dtype="datetime64[ns]")
        ds = xr.Dataset({"score": score, "first_seen": never, "last_seen": never,
                         "confirmed_at": never})
        ds.attrs.update(confirm=int(confirm))
        return ds
    ev = evidence.chunk({"time": -1}) if evidence.chunks else evidence
    out = xr.apply_ufunc(
        _scan_kernel, ev, input_core_dims=[["time"]], output_core_dims=[[], [], [], []],
        kwargs={"times": evidence["time"].values, "confirm": int(confirm)},
        dask="parallelized",
        output_dtypes=[np.int16, "datetime64[ns]", "datetime64[ns]", "datetime64[ns]"],
    )
    names = ("score", "first_seen", "last_seen", "confirmed_at")
    ds = xr.Dataset({n: a.drop_vars("time", errors="ignore") for n, a in zip(names, out,
                                                                              strict=True)})
    ds.attrs.update(confirm=int(confirm))
    return ds


def _kth(values: np.ndarray, k: int, largest: bool = False):
    """k-th smallest (or largest) value, 1-based; NaT sorts last."""
    ordered = np.sort(values)
    return ordered[len(ordered) - k] if largest else ordered[k - 1]


@dataclass(frozen=True)
class FlaggedPixels:
    """The computed :func:`scan_evidence` state of the flagged pixels only (``score >= 1``,
    the only ones in patches): flat raster indices (ascending) into a map of ``shape``, and
    their score and times. Kilobytes where the dense state of a whole tile is 3 GB; a site
    walked in strips (:func:`flows.site.site_tables`) gathers it strip by strip."""

    shape: tuple[int, int]
    index: np.ndarray
    score: np.ndarray
    first_seen: np.ndarray
    last_seen: np.ndarray
    confirmed_at: np.ndarray
    attrs: dict

    @classmethod
    def of(cls, pixels: xr.Dataset, *, shape: tuple[int, int] | None = None,
           row0: int = 0) -> FlaggedPixels:
        """From computed :func:`scan_evidence` output (``(y, x)``; rows ``row0`` on of a map
        of ``shape``, for a strip)."""
        if any(v.chunks for v in pixels.data_vars.values()):
            raise ValueError("alert_patches needs computed pixels: compute scan_evidence() "
                             "first")
        arrays = [np.asarray(pixels[k].transpose("y", "x").values) for k in _STATE]
        return cls.of_arrays(*arrays, shape=shape or arrays[0].shape, row0=row0,
                             attrs=dict(pixels.attrs))

    @classmethod
    def of_arrays(cls, score, first_seen, last_seen, confirmed_at, *,
                  shape: tuple[int, int], row0: int = 0, col0: int = 0,
                  attrs: dict | None = None) -> FlaggedPixels:
        """From the computed state's arrays (a block at ``row0``, ``col0`` of a map of
        ``shape``)."""
        rows, cols = np.nonzero(score >= 1)
        fields = [a[rows, cols] for a in (score, first_seen, last_seen, confirmed_at)]
        return cls(tuple(shape), (rows + row0).astype(np.int64) * shape[1] + cols + col0,
                   *fields, attrs=dict(attrs or {}))

    @classmethod
    def concat(cls, parts: list[FlaggedPixels]) -> FlaggedPixels:
        """Strips or blocks, in any order, as one."""
        fields = [np.concatenate([getattr(p, k) for p in parts])
                  for k in ("index", "score", *_STATE[1:])]
        order = np.argsort(fields[0], kind="stable")
        return cls(parts[0].shape, *(f[order] for f in fields), attrs=parts[0].attrs)


_STATE = ("score", "first_seen", "last_seen", "confirmed_at")


def flagged_patches(pixels: FlaggedPixels, *, pixel_area_ha: float,
                    rule: AlertRule = DEFAULT_RULE) -> tuple[list[np.ndarray], pd.DataFrame]:
    """:func:`alert_patches` of the flagged pixels: ``(members, table)``, the flat raster
    indices of each patch's pixels (raster order) in the table's order, and its table.

    8-connected patches are found among the flagged pixels only (a graph of neighbouring
    indices), numbered as :func:`scipy.ndimage.label` numbers them: by their first pixel in
    raster order."""
    idx, width = pixels.index, pixels.shape[1]
    m = mmu_pixels(rule.mmu_ha, pixel_area_ha)
    n = idx.size
    if n:
        col = idx % width
        a, b = [], []
        for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):
            ok = (col + dc >= 0) & (col + dc < width)
            want = idx[ok] + dr * width + dc
            at = np.minimum(np.searchsorted(idx, want), n - 1)
            hit = idx[at] == want
            a.append(np.flatnonzero(ok)[hit])
            b.append(at[hit])
        i, j = np.concatenate(a), np.concatenate(b)
        graph = sparse.coo_matrix((np.ones(i.size, np.int8), (i, j)), shape=(n, n))
        _, comp = connected_components(graph, directed=False)
        _, first, sizes = np.unique(comp, return_index=True, return_counts=True)
        number = np.empty(first.size, np.int64)
        number[np.argsort(first, kind="stable")] = np.arange(first.size)  # raster order
        keep = sizes >= m
        new_id = np.zeros(first.size, np.int32)
        kept = np.flatnonzero(keep)
        new_id[kept[np.argsort(number[kept], kind="stable")]] = np.arange(1, kept.size + 1)
        label = new_id[comp]
    else:
        label = np.zeros(0, np.int32)
    order = np.argsort(label, kind="stable")[int((label == 0).sum()):]  # raster order
    bounds = np.flatnonzero(np.diff(label[order])) + 1
    rows, members = [], []
    for at in np.split(order, bounds) if order.size else []:
        flat = idx[at]
        s = pixels.score[at]
        first = pixels.first_seen[at]
        k_score = int(_kth(s, m, largest=True))
        confirmed = k_score >= rule.confirm
        t_first = _kth(first, m)
        seed = int(flat[first <= t_first].min())
        n_conf = int((s >= rule.confirm).sum())
        members.append(flat)
        rows.append({
            "patch": int(label[at[0]]),
            "status": "confirmed" if confirmed else "candidate",
            "score": k_score,
            "first_seen": t_first,
            "last_seen": pixels.last_seen[at].max(),
            "confirmed_at": (_kth(pixels.confirmed_at[at], m) if confirmed
                             else np.datetime64("NaT", "ns")),
            "n_pixels": at.size, "n_confirmed": n_conf,
            "area_ha": at.size * pixel_area_ha, "confirmed_ha": n_conf * pixel_area_ha,
            "row": float((flat // width).mean()), "col": float((flat % width).mean()),
            "seed_row": seed // width, "seed_col": seed % width,
        })
    table = pd.DataFrame(rows, columns=list(PATCH_COLUMNS))
    for key in ("first_seen", "last_seen", "confirmed_at"):
        table[key] = table[key].astype("datetime64[ns]")
    table = table.astype({"patch": np.int32, "score": np.int32, "n_pixels": np.int64,
                          "n_confirmed": np.int64, "seed_row": np.int64, "seed_col": np.int64,
                          "area_ha": np.float64, "confirmed_ha": np.float64,
                          "row": np.float64, "col": np.float64})
    return members, table


def alert_patches(pixels: xr.Dataset, *, pixel_area_ha: float,
                  rule: AlertRule = DEFAULT_RULE) -> tuple[np.ndarray, pd.DataFrame]:
    """Group flagged pixels (``score >= 1``) into 8-connected patches of at least the MMU.

    ``pixels`` is the *computed* output of :func:`scan_evidence` (numpy-backed). Order
    statistics make a patch robust to single noisy pixels: with ``m`` the MMU in pixels, its
    ``score`` is the m-th largest pixel score (so ``status`` is ``confirmed`` exactly when at
    least one MMU of it is confirmed), ``first_seen`` the m-th earliest pixel first_seen (when
    the patch reached the MMU), ``confirmed_at`` the m-th earliest confirmation. ``seed_row``,
    ``seed_col`` is the first pixel in raster order among those seen by ``first_seen``: it does
    not move as the patch grows, so ids derived from it are stable from night to night.

    Returns ``(labels, table)``: int32 ``(y, x)`` patch labels (0: none, else the ``patch``
    column), and one row per patch with :data:`PATCH_COLUMNS`, sorted by ``patch``.
    (:func:`flagged_patches` gives the same without the dense labels.)
    """
    flagged = FlaggedPixels.of(pixels)
    members, table = flagged_patches(flagged, pixel_area_ha=pixel_area_ha, rule=rule)
    labels = np.zeros(flagged.shape, np.int32)
    for patch, flat in zip(table["patch"].to_numpy(), members, strict=True):
        labels.ravel()[flat] = patch
    return labels, table
