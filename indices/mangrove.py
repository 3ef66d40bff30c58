"""A mangrove site's own numbers, from its baseline: its MVI threshold and its canopy cover.

The published MVI threshold (Baloloy et al. 2020, 4.5) separates mangrove from terrestrial
vegetation on the index authors' sites; its authors later wrote that "the range of MVI values
may vary depending on factors such as land cover classes, climatic conditions, or tidal
conditions" and explored an automatic threshold per scene with Otsu's method (Neri, Baloloy &
Blanco 2021, ISPRS Arch. XLVI-4/W6:235-242, doi:10.5194/isprs-archives-XLVI-4-W6-2021-235-2021,
abstract). A site whose mangrove lies below 4.5 loses most of it to the published number. What
varies per site is estimated here from the site itself, from two samples of its baseline
composite that need no threshold:

* the canopy along the coast's water (:func:`indices.context.shore_band`: vegetation within
  ``shore_gap_m`` of the sea, the tidal flats and the creeks, but not within B11's 20 m
  sample of the water, :func:`water_footprint`, whose SWIR1 is partly water's), which on a
  mangrove coast is the mangrove fringe: the site's own mangrove MVI distribution;
* the site's vegetation (NDVI >= ``ndvi_min``) that a rule at the lowest threshold a site
  may estimate (``mvi_floor``, :func:`floor_rule`) reaches from the shore: the population
  among which the threshold decides (vegetation no path reaches is not mangrove whatever
  the threshold, so it does not weigh on it); and the vegetation that the published rule
  found no path to from the shore (:func:`indices.context.intertidal_context`): the
  terrestrial vegetation, and whatever mangrove the published threshold missed.

**Threshold** (:func:`scene_threshold`): the reached vegetation's MVI histogram is split
into the shore canopy's distribution, scaled to the vegetation above the shore canopy's
median (where vegetation is mangrove), and the rest (terrestrial); the Bayes boundary with
the site's own class frequencies is, below the shore canopy's median, the first MVI where
the rest is the more frequent. The shore canopy is a biased sample of the stand: its pixels
lie next to water (their MVI the fringe's, raised where B11 still sees some water), so the
stand's lower tail falls to "the rest" and the boundary sits too high (rule v5 on the
independent scenarios: extent within 10 % in 65, 70, 60 % of seeds, mostly short by
10-30 %). Where that boundary lies below the published threshold (the site's mangrove is
lower), the threshold is the lower of it and Otsu's split of the reached vegetation's log
MVI histogram (Otsu 1979, IEEE Trans. Syst. Man Cybern. 9:62-66; the automatic per-scene MVI
threshold Neri et al. 2021 explored), as long as three quarters of the shore canopy stay
above it; Otsu alone never lowers the published threshold (a palm plantation can share the
mangrove's MVI, Neri et al. 2021: a split of a population with palms in it is no evidence
that the site's mangrove lies lower). It is used only where the shore canopy is a
population of its own:
its median above the 90th percentile of the vegetation the published rule left unconnected
(on real Welsh and Irish coasts the canopy along the water is no different from the inland
vegetation, and nothing is estimated: ``tests/test_realdata_mangrove.py``), and it is
bounded: never above the published 4.5 (the scene may only say that its mangrove lies lower),
never below ``mvi_floor`` (3.0, about the median MVI of terrestrial forest and grassland on
real Sentinel-2: 2.9 and 3.1 on the Aberystwyth scene, measured in the same test). Partners'
calibration polygons (:mod:`indices.calibration`) replace the estimate.

**Canopy over water.** Above MVI ``mvi_max`` (16.5) SWIR1 nears green: water in or under the
pixel. Baloloy's upper bound takes such pixels for water; at a creek's edge or over a flooded
floor (periodically submerged mangrove: Jia et al. 2019, Remote Sens. 11:2043,
doi:10.3390/rs11172043) the pixel is canopy with water beside or beneath it. There the canopy
cover decides, as the project's canopy-closure definition has it (:mod:`indices.canopy`:
two-endmember unmixing of NDVI with the site's baseline endmembers): a pixel whose NDVI is
that of at least ``canopy_cover`` (half) of the site's closed canopy over its bare flat is
canopy, ``ndvi_half``.

**Discriminant axis** (rule v8, :mod:`indices.mangrove_axis`): the same two samples, the
shore canopy and the unconnected vegetation, give Fisher's axis over four log reflectances;
where the shore canopy is a population of its own on it, the site's score reads the axis
and its boundary instead of the MVI threshold (the MVI still above ``mvi_floor``), as long
as the shore canopy is a closed canopy (rule v9: at least half of it with NDVI >= 0.7, Digital
Earth Pacific's upper mangrove class; on the real Welsh and Irish coasts it is salt marsh and
pasture, an open canopy, and the axis stays off).

**A stand in the terrestrial sample** (rule v14). Where most of a stand lies below the
published threshold, the published rule does not connect it, and it falls into the
unconnected vegetation that the axis takes for terrestrial (a third of that sample on the
independent scenarios' seeds 915 and 1707): the shore canopy is then no population of its own
against it (its 90th percentile in the stand), and the axis, fitted against a sample that is
partly the stand, stays off (``benchmarks/measured/mang32``, cause A: 83-94 % of the stand
missed). Where the first axis finds the shore canopy no population of its own, yet three
quarters of the shore canopy lie above the first axis's allocation midpoint (``z`` 0.5 between
the two means: the pixels Fisher's rule allocates to the shore canopy; the rule's three-quarters
test), the terrestrial sample is the unconnected vegetation less those pixels and the axis is
fitted again against it: one concentration step, as the C-step of FAST-MCD refits on the
observations the current fit holds closest (Rousseeuw & Van Driessen 1999, Technometrics
41:212-223). The second axis passes the same tests as the first (a population of its own,
three quarters, closed canopy). Where the shore canopy and the unconnected vegetation are one
population, the noise axis keeps only about half the shore canopy above its midpoint: nothing
is trimmed (for two normal populations of equal spread a distance apart, the share above the
midpoint reaches three quarters only where the first test passes anyway). That holds for
equal spreads only: a land sample 1.5-2.5 times as spread as the shore canopy, with no stand
in it, fails the first test with three quarters of the shore canopy above the midpoint, and
the trim would cut it at ``z`` 0.5 and map 37-56 % of it. So the trim also needs the
**land guard** (:func:`indices.mangrove_axis.land_excess`): the sample holds more above the
midpoint than its own land part predicts, that land estimated robustly from the sample's
lower half (median and lower-half MAD: a stand located above it is under half the sample,
Huber's 1964 contamination model; Rousseeuw & Croux 1993), the excess past a one-sided 1 %
binomial margin on the sample size. Measured: a wide land sample 0.000-0.003 excess against
margins ~0.007; a third of the sample the stand 0.065-0.075; seeds 915 and 1707 0.32 and 0.31
against 0.002 and 0.004 (``benchmarks/measured/mang36``). The MVI threshold is not touched:
only the axis's terrestrial sample (``benchmarks/measured/mang34``).

All numbers come from exact integer histograms (:mod:`indices.histogram`) and exact fixed-point
moments, so they do not depend on the chunking; lazy when the composite is.
"""

from __future__ import annotations

import dataclasses

import dask
import dask.array as da
import numpy as np
import xarray as xr

from indices.canopy import DEFAULT_ENDMEMBERS, MIN_ENDMEMBER_PIXELS, cover_ndvi
from indices.context import COAST, CONNECTED, INTERTIDAL, SHORE, pixel_size
from indices.histogram import BINS, centres, histogram, quantile
from indices.mangrove_axis import (
    AXIS_COEFFICIENTS,
    AXIS_PARAMETERS,
    AXIS_RANGE,
    axis_boundary,
    axis_fit,
    axis_split,
    axis_value,
    closed_counts,
    closed_share,
    coefficient_list,
    mahalanobis_d2,
    moments,
)
from indices.mangrove_rule import mangrove_spectral_score
from indices.morphology import square_dilation
from indices.spectral import compute_indices
from indices.splits import bayes_split, otsu_split

__all__ = ["MANGROVE_PARAMETERS", "METHODS", "MVI_RANGE", "SWIR_FOOTPRINT_M", "floor_rule",
           "axis_report", "mangrove_parameters", "otsu_split", "scene_threshold",
           "tolerance_share", "water_footprint"]

MANGROVE_PARAMETERS = ("mvi_min", "ndvi_half", "mvi_scene", "shore_mvi", "inland_mvi_q90",
                       "n_shore", "n_inland", "canopy_red", "canopy_nir", "bare_red",
                       "bare_nir", "estimated", "mvi_tolerance_share", "mvi_method",
                       *AXIS_PARAMETERS, "axis_closed_share")
"""What :func:`mangrove_parameters` returns, in order: the threshold used and the canopy NDVI,
then what they came from (``mvi_scene`` the unbounded boundary, NaN where none was computed;
``estimated`` the ``state`` of :func:`scene_threshold`: 1 the site's estimate, 0 the
published threshold, -1 raised for a coast without a canopy population of its own);
``mvi_tolerance_share`` the band of doubt around the threshold (:func:`tolerance_share`);
``mvi_method`` which boundary ``mvi_scene`` is where the site's estimate is used (``estimated``
1): 1 Bayes' (the shore canopy's own), 2 Otsu's (the threshold is that boundary clipped to
``[mvi_floor, mvi_min]``: Bayes' above 4.5 gives the published threshold, named ``bayes``);
0 where it is not (the published or the raised threshold: :data:`METHODS`); then the site's
discriminant axis (:data:`indices.mangrove_axis.AXIS_PARAMETERS`: weights, offset, boundary,
``axis_used`` 1 where the site's score reads it instead of the MVI, rule v8). Where
``axis_used`` is 1, ``mvi_min`` is not the test the score applies: it reads ``z`` above
``axis_boundary`` with the MVI above the rule's ``mvi_floor`` (3.0)
(:func:`indices.mangrove_rule.mangrove_spectral_score`); ``mvi_min`` stays the MVI threshold
the site would use without the axis. Last, ``axis_closed_share``: the share of the shore
canopy with NDVI >= the rule's ``axis_closed_ndvi`` (closed canopy; the axis is read only where
it is >= ``axis_closed_share``, rule v9: :mod:`indices.mangrove_axis`), NaN where the axis was
not computed."""
METHODS = {0: "none", 1: "bayes", 2: "otsu"}
"""``mvi_method`` codes of :data:`MANGROVE_PARAMETERS`."""
MVI_RANGE = (0.5, 32.0)
"""Range of the MVI histograms (256 bins of 1.6 %)."""
REFLECTANCE_RANGE = (5e-4, 0.5)


def mangrove_parameters(comp: xr.Dataset, rule, context: xr.DataArray,
                        shore: xr.DataArray, reach: xr.DataArray | None = None
                        ) -> xr.DataArray:
    """The site's parameters (module doc) from its baseline composite ``comp`` (B03 B04 B08
    B11), the context the published rule gives it (``context``), its shore band
    (``shore``, :func:`indices.context.shore_band`) and the context a rule at
    ``rule.mvi_floor`` gives it (``reach``, :func:`floor_rule`: the vegetation any site
    threshold could admit; None: all the site's vegetation): a ``(parameter,)`` float64
    DataArray over :data:`MANGROVE_PARAMETERS`, lazy when the inputs are."""
    ix = compute_indices(comp, ["ndvi", "ndwi", "mvi"])
    ndvi, ndwi, mvi = ix["ndvi"], ix["ndwi"], ix["mvi"]
    level = context.astype(np.uint8)
    samples = _samples(ix, rule, level, shore, reach)
    hists = [histogram(m, mvi, lo_hi=MVI_RANGE) for m in samples]
    canopy = (mangrove_spectral_score(comp, rule) >= 1) & (level == CONNECTED)
    bare = (ndvi < 0.25) & (ndwi < 0)
    red, nir = comp["B04"], comp["B08"]
    for mask in (canopy, bare & (level == INTERTIDAL), bare):
        hists += [histogram(mask, red, lo_hi=REFLECTANCE_RANGE),
                  histogram(mask, nir, lo_hi=REFLECTANCE_RANGE)]
    n_hist = len(hists)  # the MVI's, then the endmembers' red and NIR
    if rule.reads_axis:
        hists += _axis_parts(comp, samples, rule, ndvi)
    if any(isinstance(h, da.Array) for h in hists):
        flat = da.concatenate([da.asarray(h, dtype=np.float64) for h in hists])
        out = da.map_blocks(_finish, flat.rechunk(-1), rule=rule, n_hist=n_hist,
                            dtype=np.float64,
                            chunks=((len(MANGROVE_PARAMETERS),),), meta=np.empty(0, np.float64))
    else:
        out = _finish(np.concatenate([np.asarray(h, np.float64) for h in hists]), rule=rule,
                      n_hist=n_hist)
    return xr.DataArray(out, dims="parameter", coords={"parameter": list(MANGROVE_PARAMETERS)},
                        name="mangrove_parameters")


def _samples(ix: xr.Dataset, rule, level: xr.DataArray, shore: xr.DataArray,
             reach: xr.DataArray | None) -> list[xr.DataArray]:
    """The shore canopy, the reached and the unconnected vegetation (module doc)."""
    mvi = ix["mvi"]
    veg = (ix["ndvi"] >= rule.ndvi_min) & (mvi <= rule.mvi_max) & mvi.notnull()
    return [veg & (shore == SHORE) & ~water_footprint(shore),
            veg if reach is None else veg & (reach.astype(np.uint8) != 0), veg & (level == 0)]


def axis_report(comp: xr.Dataset, rule, context: xr.DataArray, shore: xr.DataArray,
                reach: xr.DataArray | None = None) -> dict[str, float]:
    """numpy, for the record: how the site's discriminant axis was split, from the inputs of
    :func:`mangrove_parameters`: :func:`indices.mangrove_axis.axis_split`'s steps and the
    two samples' Mahalanobis ``d2`` (:func:`indices.mangrove_axis.mahalanobis_d2`), the
    shore canopy's share of closed canopy among them (``closed``, rule v9), and ``trimmed``
    (1 where the terrestrial sample is the trimmed one, rule v14:
    :func:`indices.mangrove_axis.axis_fit`; the steps and ``d2`` are then on the second
    axis), with the land guard's ``land_excess`` and ``land_margin`` on the first axis (:func:`indices.mangrove_axis.land_excess`: the trim
    needs the first above the second); only ``d2`` NaN where no axis was computed."""
    ix = compute_indices(comp, ["ndvi", "ndwi", "mvi"])
    samples = _samples(ix, rule, context.astype(np.uint8), shore, reach)
    parts, inland, trimmed, excess = _fit_parts(comp, samples, rule, ix["ndvi"])
    # one pass: the axis's parts, the record's moments and the trim's test together
    *parts, shore_m, inland_m, trimmed, excess = dask.compute(
        *parts, moments(samples[0], comp), moments(inland, comp), trimmed, excess)
    coef, *hists, counts = (np.asarray(h, np.float64) for h in parts)
    if not np.isfinite(coef).all():
        return {"d2": np.nan}
    out = axis_split(*hists, rule, closed_share(counts))
    out["d2"] = mahalanobis_d2(np.asarray(shore_m, np.int64), np.asarray(inland_m, np.int64))
    out["trimmed"] = float(bool(trimmed))
    out["land_excess"], out["land_margin"] = (float(v) for v in np.asarray(excess))
    return out


def _axis_parts(comp: xr.Dataset, samples: list, rule, ndvi: xr.DataArray) -> list:
    """The discriminant axis's coefficients (:func:`indices.mangrove_axis.axis_fit`), the
    ``exp(z)`` histograms of the shore canopy, the reached vegetation and the terrestrial
    sample on it and the shore canopy's closed-canopy counts (``[pixels, closed]``, NDVI >=
    ``rule.axis_closed_ndvi``) (:mod:`indices.mangrove_axis`), lazy when ``comp`` is."""
    return _fit_parts(comp, samples, rule, ndvi)[0]


def _fit_parts(comp: xr.Dataset, samples: list, rule, ndvi: xr.DataArray) -> tuple:
    """``(parts, terrestrial sample, trimmed, excess)``: :func:`_axis_parts`' list and the
    rest of :func:`indices.mangrove_axis.axis_fit`'s answer, from one fit."""
    coef, inland, trimmed, excess = axis_fit(comp, samples, rule)
    ez = np.exp(axis_value(comp, coefficient_list(coef)))
    parts = ([coef] + [histogram(m, ez, lo_hi=AXIS_RANGE) for m in (*samples[:2], inland)]
             + [closed_counts(samples[0], ndvi, rule.axis_closed_ndvi)])
    return parts, inland, trimmed, excess


def floor_rule(rule):
    """``rule`` at the lowest threshold a site's estimate may give (``mvi_min`` =
    ``rule.mvi_floor``): its context (:func:`indices.mangrove_rule.mangrove_context`) is the
    vegetation reached from the coast's water through canopy any site threshold could
    admit, the population :func:`scene_threshold` splits (module doc)."""
    return dataclasses.replace(rule, mvi_min=float(rule.mvi_floor))


SWIR_FOOTPRINT_M = 20.0
"""Sentinel-2 B11 (SWIR1, the MVI's denominator) is sampled at 20 m (ESA, Sentinel-2 MSI
User Guide, spatial resolution): brought to the 10 m grid, a pixel within 20 m of water
may share its B11 sample with the water, whose SWIR1 is near nil and lifts the MVI."""


def water_footprint(shore: xr.DataArray) -> xr.DataArray:
    """Pixels within :data:`SWIR_FOOTPRINT_M` of the coast's water (``shore`` levels of
    :func:`indices.context.shore_band`, a square neighbourhood like its band): their SWIR1
    may be the water's as much as the canopy's, so their MVI is not the canopy's own. The
    shore canopy that samples a site's mangrove (module doc) leaves them out: along a creek
    they would be the upper tail of its MVI, and the threshold estimated from them too
    high. Lazy when ``shore`` is (overlapping blocks: the same whatever the chunking).

    A square dilation (:func:`indices.morphology.square_dilation`, separable maximum
    filters; outside the map is not water): the booleans of the centred rolling maximum it
    replaced (``water.rolling(y=2k+1, x=2k+1, center=True, min_periods=1).max() > 0``), ~20x
    faster (that window's dask reduction over strided views took ~1 CPU s a 2000² site)."""
    k = int(round(SWIR_FOOTPRINT_M / pixel_size(shore)))  # 0 on a grid of 20 m or coarser
    water = shore == COAST
    if k == 0:  # a pixel holds its own B11 sample
        return shore != shore
    data = water.data
    if isinstance(data, da.Array):
        near = data.map_overlap(square_dilation, depth=k, boundary=0, size=2 * k + 1,
                                dtype=bool, meta=np.empty((0,) * data.ndim, bool))
    else:
        near = square_dilation(np.asarray(data), 2 * k + 1)
    return water.copy(data=near)


_N_HISTOGRAMS = 3 + 2 * 3
"""Histograms of :func:`mangrove_parameters` before the axis's parts: the three samples' MVI,
the red and NIR of three endmember masks (what it counts, ``n_hist``, and passes)."""


def _finish(flat: np.ndarray, *, rule, n_hist: int = _N_HISTOGRAMS) -> np.ndarray:
    """numpy: the histograms of :func:`mangrove_parameters` -> :data:`MANGROVE_PARAMETERS`
    (``n_hist`` of :data:`BINS` bins, then the axis's parts)."""
    h = flat[:n_hist * BINS].reshape(-1, BINS)
    shore, veg, inland = h[0], h[1], h[2]
    t, raw, state, method = scene_threshold(shore, veg, inland, rule)
    axis = _axis_finish(flat[n_hist * BINS:], rule)

    def endmember(i):  # median red and NIR of a mask's histograms, None if too few
        if h[i].sum() < MIN_ENDMEMBER_PIXELS:
            return None
        return quantile(h[i], 0.5, REFLECTANCE_RANGE), quantile(h[i + 1], 0.5, REFLECTANCE_RANGE)

    canopy = endmember(3) or DEFAULT_ENDMEMBERS[1]
    bare = endmember(5) or endmember(7) or DEFAULT_ENDMEMBERS[0]  # the flats' bare ground
    half = cover_ndvi(rule.canopy_cover, bare, canopy)
    n_shore, n_inland = shore.sum(), inland.sum()
    return np.array([t, half, raw, quantile(shore, 0.5, MVI_RANGE),
                     quantile(inland, 0.9, MVI_RANGE), n_shore, n_inland, canopy[0], canopy[1],
                     bare[0], bare[1], state,
                     tolerance_share(t, state, rule), method, *axis], np.float64)


def _axis_finish(rest: np.ndarray, rule) -> list:
    """numpy: the coefficients, ``exp(z)`` histograms and closed-canopy counts of
    :func:`_axis_parts` (empty where none were computed) -> the values of
    :data:`AXIS_PARAMETERS` and ``axis_closed_share``."""
    n = len(AXIS_COEFFICIENTS)
    if rest.size < n + 3 * BINS + 2 or not np.isfinite(rest[:n]).all():
        return [np.nan] * n + [np.nan, 0.0, np.nan]
    closed = closed_share(rest[n + 3 * BINS:].astype(np.int64))
    h = rest[n:n + 3 * BINS].reshape(3, BINS)
    boundary = axis_boundary(h[0], h[1], h[2], rule, closed)
    return [*rest[:n], boundary, float(np.isfinite(boundary)), closed]


def tolerance_share(threshold: float, state: float, rule) -> float:
    """The band of doubt around the site's MVI threshold, as a share of it: the rule's
    ``mvi_tolerance_share`` (the noise of a monthly median), or, where the site's shore
    canopy showed no population of its own (``state`` -1: the threshold raised so that
    terrestrial vegetation passes at most 1 %), down to ``rule.mvi_floor``. There the scene
    could not separate its mangrove from its terrestrial vegetation: its mangrove may lie
    anywhere from the floor up, and the interval must say so (the pixels between are in
    doubt), not only the 10 % around a threshold chosen to keep false alarms out. The band
    is one-sided: this share applies below the threshold only, the rule's above it
    (:func:`indices.habitat.mangrove_spectral_score`)."""
    share = float(rule.mvi_tolerance_share)
    if state < 0 and threshold > rule.mvi_floor:
        share = max(share, (threshold - rule.mvi_floor) / threshold)
    return share


def scene_threshold(shore: np.ndarray, vegetation: np.ndarray, inland: np.ndarray, rule
                    ) -> tuple[float, float, float, int]:
    """``(threshold, boundary, state, method)`` from MVI histograms (:data:`MVI_RANGE`, 256 log bins)
    of the shore canopy, the vegetation the floor rule reaches (all vegetation without one)
    and the vegetation the published rule left unconnected (module doc). ``boundary``: the
    unbounded boundary chosen (Bayes or Otsu; the Bayes boundary where state is -1), NaN
    where none was computed; ``method`` which it is where state is 1 (:data:`METHODS`: 1
    Bayes, 2 Otsu; 0 where state is not 1). ``state``: 1 the site's estimate (bounded to
    ``[rule.mvi_floor, rule.mvi_min]``); 0 the published ``rule.mvi_min`` (a calibrated rule,
    ``rule.scene_threshold`` False, or fewer than ``rule.min_sample_px`` pixels in a
    sample); -1 no mangrove population of its own at the coast (the shore canopy's median not
    above the unconnected vegetation's 90th percentile, or boundaries below the published
    threshold with less than three quarters of the shore canopy above them): the threshold
    rises to the
    unconnected vegetation's 99th percentile where that is above the published one and the
    unconnected vegetation's median is below it (terrestrial by the published rule itself),
    so that at most 1 % of the terrestrial vegetation passes (a constant false-alarm rate:
    the 1 % of vegetated area the issue allows on coasts without mangrove); else the
    published threshold."""
    published = float(rule.mvi_min)
    if (not getattr(rule, "scene_threshold", False)
            or min(shore.sum(), inland.sum()) < rule.min_sample_px):
        return published, np.nan, 0.0, 0
    # raised only over unconnected vegetation that the published rule itself takes for
    # terrestrial (its median below the published threshold): where it is mostly above, it
    # is mangrove beyond the context's reach, not a terrestrial population to guard against
    raised = (max(published, quantile(inland, 0.99, MVI_RANGE))
              if quantile(inland, 0.5, MVI_RANGE) < published else published)
    median, inland_q90 = quantile(shore, 0.5, MVI_RANGE), quantile(inland, 0.9, MVI_RANGE)
    if not median > inland_q90:
        return raised, np.nan, -1.0, 0
    edges = np.exp(np.linspace(np.log(MVI_RANGE[0]), np.log(MVI_RANGE[1]), BINS + 1))
    bayes, shape = bayes_split(shore, vegetation, int(np.searchsorted(centres(MVI_RANGE), median)))
    # three quarters of the shore canopy above a boundary below the published threshold:
    # a choice of this project (rule v2), not a published number
    def keeps_shore(i: int) -> bool:
        return edges[i] >= published or shape[i:].sum() >= 0.75

    if not keeps_shore(bayes):
        # the shore canopy straddles a boundary below the published threshold: it is no
        # population apart, only the upper tail of the site's vegetation (and no other
        # split of the same histograms makes it one: Otsu is not asked)
        return raised, float(edges[bayes]), -1.0, 0
    # where the shore canopy puts the boundary below the published threshold, the lower of
    # Bayes' and Otsu's boundaries that keeps three quarters of the shore canopy above it;
    # Otsu alone neither lowers the published threshold nor overrides a failed Bayes
    kept = [bayes]
    if edges[bayes] < published and vegetation.sum() >= rule.min_sample_px:
        otsu = otsu_split(vegetation)
        if otsu is not None and keeps_shore(otsu):
            kept.append(otsu)
    boundary = float(edges[min(kept)])
    method = 2 if min(kept) < bayes else 1
    return float(np.clip(boundary, rule.mvi_floor, published)), boundary, 1.0, method
