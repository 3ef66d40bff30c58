"""Habitat classification: mangrove and seagrass from surface reflectance.

Each classifier returns a *score*: a float32 map whose sign is the decision (> 0 habitat) and
whose magnitude is the margin in units of the rule's tolerance, NaN where the pixel was not
observed. ``|score| < 1`` marks a pixel whose class is uncertain; the change metrics turn those
into the extent interval.

Inputs are reflectance datasets: float bands ``B02 B03 B04 B08 B11 B12`` with NaN where not
observed, as returned by :func:`indices.composite.monthly_composite` or
:func:`scene_reflectance` for single scenes. Everything stays lazy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import numpy as np
import xarray as xr

from indices.canopy import DEFAULT_ENDMEMBERS, cover_ndvi
from indices.context import CONNECTED, INTERTIDAL, intertidal_context
from indices.masks import reflectance
from indices.spectral import compute_indices
from indices.water import PARAMETERS, water_mask, water_parameters

__all__ = [
    "CONTEXT_SCORE", "MangroveRule", "RULES", "RULE_TAGS", "SeagrassRule", "bottom_signals",
    "flat_score", "habitat_score", "mangrove_context", "mangrove_score", "mangrove_spectral_score",
    "mangrove_values",
    "mask_turbid_water", "rule_id", "scene_reflectance", "seagrass_constants", "seagrass_offset",
    "seagrass_score",
    "turbid_scenes", "view_scaled",
]

REFLECTANCE_BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")


@dataclass(frozen=True)
class MangroveRule:
    """Mangrove = green canopy with the mangrove vegetation index of mangrove, in intertidal
    context.

    Spectral test: MVI = |NIR - G| / |SWIR1 - G| (Baloloy et al. 2020, ISPRS J. Photogramm.
    Remote Sens. 166:95-117, doi:10.1016/j.isprsjprs.2020.06.001) at least ``mvi_min`` 4.5,
    the index authors' mangrove threshold on Sentinel-2 (the paper's text was not available
    here; the range 4.5-16.5 is checked against an implementation citing it,
    github.com/syamaniulm/mvi, ``mvi.gte(4.5).And(mvi.lte(16.5))``), or the site's own lower
    threshold estimated from its baseline (:mod:`indices.mangrove`, between ``mvi_floor`` and
    ``mvi_min``; not for a calibrated rule, ``scene_threshold`` False). And NDVI >=
    ``ndvi_min`` 0.4, the open-mangrove floor of Digital Earth Pacific's mangrove product
    (github.com/digitalearthpacific/dep-mangroves, NDVI > 0.4 inside the GMW v3 extent, > 0.7
    closed canopy), which keeps bare mud and flooded flats out (MVI explodes where SWIR1 ~ G
    over water). Above ``mvi_max`` 16.5, the authors' upper bound, SWIR1 ~ G: water in or
    under the pixel (a creek's edge, a flooded floor); there the pixel's canopy cover decides
    instead of the MVI: NDVI at least that of ``canopy_cover`` (half) of the site's canopy
    over its bare flat (:mod:`indices.mangrove`, the canopy-closure definition of
    :mod:`indices.canopy`).

    Context (:mod:`indices.context`): a spectral candidate is mangrove only where it is
    connected to the coast's water the baseline's series saw (the sea never seen dry, and
    the flats and creeks seen wet; the edge widened by ``shore_gap_m``, reached within
    ``reach_m`` through candidates; a series of ``min_views`` clear views at least). On the
    tidal flat itself NDVI alone decides. Outside it the score is ``-CONTEXT_SCORE``:
    confidently not mangrove.

    Tolerances (the ``|score| < 1`` band of doubt) are 10 % of the MVI threshold and 0.08
    for NDVI (the NDVI noise of a monthly median of a few views): a choice, not a published
    number; a month of fewer views is noisier (:func:`view_scaled`), and a site whose shore
    canopy is no population of its own doubts every MVI between ``mvi_floor`` and its
    threshold (:func:`indices.mangrove.scene_threshold`, ``mvi_tolerance_share``).
    """

    ndvi_min: float = 0.40
    ndvi_tolerance: float = 0.08
    mvi_min: float = 4.5
    mvi_tolerance_share: float = 0.1
    tolerance_views: int = 3
    """Clear views of the composite the tolerances are the noise of ("a monthly median of a
    few views"; the clear views from which a month's canopy cover moves,
    :data:`indices.canopy.MIN_VIEWS`): fewer views scale the score down
    (:func:`view_scaled`)."""
    mvi_max: float = 16.5
    canopy_cover: float = 0.5
    """Canopy cover from which a pixel is mangrove where water lowers its SWIR1 (the truth of
    a canopy-closure definition: the canopy covers half the pixel)."""
    scene_threshold: bool = True
    """Lower ``mvi_min`` to the site's own estimate (:func:`indices.mangrove.scene_threshold`)."""
    mvi_floor: float = 3.0
    """Lowest threshold a site's estimate may give: about the median MVI of terrestrial forest
    and grassland on real Sentinel-2 (Aberystwyth, May 2021: 2.9 and 3.1, measured by
    ``tests/test_realdata_mangrove.py``). A measured number, not a published one: the stored
    copies of Baloloy et al. (2020) and Neri et al. (2021) at hand are their abstracts, which
    give the index's 92 % accuracy and say that its range varies per site, not a lower bound.
    Also the lower edge of the band of doubt of a site whose shore canopy is no population
    of its own (:func:`indices.mangrove.tolerance_share`)."""
    min_sample_px: int = 100
    """Pixels (1 ha at 10 m) each of the estimate's samples needs (the shore canopy and the
    unconnected vegetation)."""
    min_views: int = 2
    """Clear views a pixel needs before being seen wet and dry counts as intertidal (one of
    each; a cloudy tropical baseline may have no more)."""
    shore_gap_m: float = 50.0
    """Width added to the intertidal zone for the upper intertidal seldom seen wet; also the
    width of the shore band whose canopy samples the site's mangrove."""
    reach_m: float = 1500.0
    """Longest path through canopy from the shore (a mangrove belt's width; creeks inside a
    wider forest are shores of their own)."""
    source: str = ("Baloloy et al. 2020 (MVI 4.5-16.5; lower where the site's shore canopy "
                   "shows it); DE Pacific (NDVI 0.4); intertidal context")

    @property
    def rule_id(self) -> str:
        """Short stable id of the rule and its parameters (see :func:`rule_id`)."""
        return rule_id("mangrove", self)


CONTEXT_SCORE = 10.0
"""Score magnitude of a decision by context alone (outside the intertidal context; land or
deep water for seagrass): far outside the band of doubt."""


@dataclass(frozen=True)
class SeagrassRule:
    """Seagrass = optically shallow water over a dark, vegetated bottom, by Lyzenga's
    depth-invariant index against the site's own sand.

    Over water (NDWI > ``water_ndwi_min``), glint is removed Hedley-style from NIR and the
    bottom signals ``b = B' - B_deep``, ``g = G' - G_deep`` decay as ``exp(-2 k_i z)``; the
    depth-invariant index (Lyzenga 1978, doi:10.1364/AO.17.000379; 1981)
    ``DII = ln b - r ln g``, ``r = k_B / k_G`` of the site (:mod:`indices.water`), depends on
    the bottom, not the depth. Against the site's sand line, a bottom whose reflectance is
    ``rho_B`` and ``rho_G`` times the sand's has ``DII - DII_sand = ln rho_B - r ln rho_G``:
    the test is that offset against the one of a bottom ``albedo_ratio_blue`` and
    ``albedo_ratio_green`` times as bright as sand, ``T = ln a_B - r ln a_G`` (or
    ``dii_max`` when a calibration set it). Vegetation is darker than sand in blue, where
    chlorophyll absorbs, than in green: at 490 nm green algae reflect 0.077 and brown algae
    0.030 against coral sand's 0.383, at 525 nm 0.231 and 0.041 against 0.423 (Maritorena,
    Morel & Gentili 1994, Limnol. Oceanogr. 39:1689-1703, Fig. 6, as tabulated with the
    OSOAA radiative transfer code), so the offset stays negative even in turbid water where
    ``r`` nears 1 and both bands fade alike with depth (there, a bottom darker by the same
    factor in both bands would not be told from deeper sand; a vegetated one is).
    """

    water_ndwi_min: float = 0.1
    water_ndvi_max: float = 0.3
    water_veg_nir: float = 0.02
    """Water for seagrass is NDWI > ``water_ndwi_min``, and not NDVI >= ``water_ndvi_max``
    with NIR >= ``water_veg_nir``: water absorbs NIR within decimetres (~3.6 /m at 842 nm:
    Hale & Querry 1973, Appl. Opt. 12:555), so a submerged bottom does not brighten NIR; a
    pixel green and bright in NIR is emergent or floating vegetation, or land. (Over dark
    water red and NIR are both a few thousandths and their NDVI is noise: the NIR floor,
    ten times dark water's, keeps it water.)"""
    deep_water: tuple[float, float, float] = (0.020, 0.008, 0.002)
    """Deep-water reflectance in B02, B03, B08: the fallback where the site's own cannot be
    fitted (:mod:`indices.water`), and the plume test's NIR (:func:`turbid_scenes`)."""
    k_ratio: float = 0.035 / 0.060
    """Fallback ``k_B / k_G`` (clear Mediterranean water) where the site's cannot be fitted."""
    deep_fraction: float = 0.05
    """Darkest share of the water over which glint is regressed on NIR (Hedley 2005)."""
    sand_quantile: float = 0.9
    """Per green bin, the blue quantile taken as the bright (sand) bottom (Lyzenga 1981)."""
    min_bin_pixels: int = 20
    min_sand_points: int = 8
    albedo_ratio_blue: float = 0.35
    albedo_ratio_green: float = 0.50
    """The bottom at the threshold, relative to the site's sand, in B02 and B03: the
    geometric means of sand (1) and of vegetation, itself the geometric mean of green and
    brown algae (Maritorena et al. 1994 via OSOAA: of sand, green algae 0.20 and brown algae
    0.078 at 490 nm, so 0.125 and a threshold of 0.35; 0.55 and 0.097 at 525 nm, so 0.23
    and 0.48, rounded up to 0.50 for B03 at 560 nm, nearer the green algae's peak: 560 nm
    itself was not in the table at hand). Derived, not published thresholds."""
    dii_max: float | None = None
    """The threshold ``T`` on ``DII - DII_sand`` itself (a site's calibration,
    :mod:`indices.calibration`); None: from the albedo ratios and the site's ``r``."""
    tolerance_share: float = 0.4
    """Band of doubt around ``T``: this share of ``|T|`` (a choice)."""
    detect_sigmas: float = 3.0
    """A pixel is *assessed* where its green bottom signal is ``detect_sigmas`` standard
    deviations above the deep water's (green places it on the site's sand line; below that,
    optically deep water's noise alone would be judged) and its blue lies ``detect_sigmas``
    standard deviations (its noise, propagated from blue and, through the line's slope, from
    green) off the threshold's line at its green, ``B'_T = exp(T) C G'^r`` with ``C = exp(DII_sand)``: the
    side it falls on is then known at 3 sigma (one pixel in ~700 on the wrong side by noise),
    the usual convention for a signal seen above noise; a choice. Judged on the pixel's
    distance to the decision, not on the precision of its own DII: a dark meadow in clear
    water shows a blue bottom signal near zero or below it (the bottom darker in blue than
    the water column: "negative bottom contrast", a known trait of blue bands over
    vegetated bottoms in clear water, e.g. watercolumncorrection.com's Landsat tutorial),
    where its DII has no precision yet its class is plain (rule lyzenga1981-v1 left such
    meadows unjudged: 15-90 % of the meadow on the independent generator)."""
    max_k_ratio: float = 1.5
    """Largest ``k_B / k_G`` assessed (blue far more attenuated than green: CDOM-rich water,
    where the blue bottom signal is gone first)."""
    noise: float = 0.0015
    """Reflectance noise of a baseline composite's bottom signal (1 sigma) where the site's
    own cannot be measured (:mod:`indices.water` measures it): single-scene L2A noise
    ~0.003 over dark water, about halved by a median of a few views. Unverified figure."""
    min_bottom_signal: float = 0.0005
    """Floor of a bottom signal (5 L2A quanta) below which its logarithm is not taken."""
    glint_min: float = 0.0
    """NIR excess over the deep water's below which no glint is removed. 0: Hedley's
    correction, ``R' = R - b (NIR - NIR_ref)``, wherever NIR exceeds the reference (a
    threshold would leave a step in the corrected water between pixels just under and just
    over it, and a median composite's residual glint is mostly under any useful one)."""
    glint_min_r: float = 0.5
    """Correlation of a visible band with NIR over the darkest water from which Hedley's
    regression slope is used (:mod:`indices.water`); below it, the flat glint (slope 1)."""
    turbid_red: float = 0.02
    turbid_excess: float = 0.3
    source: str = "Lyzenga 1981 DII, Hedley 2005 deglint, site-fitted water"

    @property
    def rule_id(self) -> str:
        """Short stable id of the rule and its parameters (see :func:`rule_id`)."""
        return rule_id("seagrass", self)


RULES = {"mangrove": MangroveRule(), "seagrass": SeagrassRule()}


def scene_reflectance(cube: xr.Dataset) -> xr.Dataset:
    """Per-scene surface reflectance (float32, offset applied, NaN where masked)."""
    return xr.Dataset({b: reflectance(cube, b) for b in REFLECTANCE_BANDS if b in cube})


def mangrove_values(rule: MangroveRule, params: xr.DataArray | None) -> tuple:
    """``(mvi_min, ndvi_half)`` as float32 scalars: the site's (:mod:`indices.mangrove`), or
    the published threshold and the canopy NDVI of the default endmembers."""
    if params is None:
        return (np.float32(rule.mvi_min),
                np.float32(cover_ndvi(rule.canopy_cover, *DEFAULT_ENDMEMBERS)))
    return tuple(params.sel(parameter=k).astype(np.float32) for k in ("mvi_min", "ndvi_half"))


def mangrove_spectral_score(refl: xr.Dataset, rule: MangroveRule = MangroveRule(),
                            params: xr.DataArray | None = None) -> xr.DataArray:
    """The spectral part of the mangrove score (NDVI and MVI only, no context), with the
    site's parameters ``params`` (:func:`indices.mangrove.mangrove_parameters`; None: the
    published threshold and default endmembers). Where MVI exceeds ``mvi_max`` (water in or
    under the pixel) the canopy cover replaces the MVI test (rule doc)."""
    ix = compute_indices(refl, ["ndvi", "mvi"])
    mvi_min, ndvi_half = mangrove_values(rule, params)
    share = (np.float32(rule.mvi_tolerance_share) if params is None
             else params.sel(parameter="mvi_tolerance_share").astype(np.float32))
    # the band of doubt is one-sided where the site could not separate its mangrove
    # (:func:`indices.mangrove.tolerance_share`): down to the floor, not as far above
    above = np.float32(rule.mvi_tolerance_share) * mvi_min
    excess = ix["mvi"] - mvi_min
    mvi_term = excess / xr.where(excess < 0, share * mvi_min, above)
    cover_term = (ix["ndvi"] - ndvi_half) / np.float32(rule.ndvi_tolerance)
    spectral = xr.where(ix["mvi"] > rule.mvi_max, cover_term, mvi_term)
    score = np.minimum((ix["ndvi"] - rule.ndvi_min) / rule.ndvi_tolerance, spectral)
    return score.astype(np.float32).rename("mangrove_score")


def mangrove_context(composite: xr.Dataset, rule: MangroveRule = MangroveRule(),
                     params: xr.DataArray | None = None) -> xr.DataArray:
    """The intertidal context (:func:`indices.context.intertidal_context`) of a composite with
    ``n_wet`` and ``n_clear`` (the site's baseline): uint8 levels ``(y, x)``, lazy. Paths
    cross the composite's spectral candidates within tolerance (score > -1, with the site's
    parameters ``params``), so that a pixel of canopy a little below a threshold does not cut
    a belt in two."""
    missing = [v for v in ("n_wet", "n_clear") if v not in composite]
    if missing:
        raise ValueError(f"the mangrove context needs a composite's view counts {missing} "
                         f"(indices.composite.composite with B03 and B11)")
    candidates = mangrove_spectral_score(composite, rule, params) > -1
    return intertidal_context(composite["n_wet"], composite["n_clear"], candidates,
                              min_views=rule.min_views, shore_gap_m=rule.shore_gap_m,
                              reach_m=rule.reach_m)


def mangrove_score(refl: xr.Dataset, rule: MangroveRule = MangroveRule(),
                   context: xr.DataArray | None = None,
                   params: xr.DataArray | None = None) -> xr.DataArray:
    """Mangrove score (module doc), NaN where not observed. ``context``: the site's intertidal
    context levels (:func:`mangrove_context` of its baseline composite): connected canopy
    takes the spectral score (NDVI and MVI, with the site's ``params``,
    :func:`indices.mangrove.mangrove_parameters`); inside the intertidal zone itself, ground
    the tide covers, NDVI alone decides, and a view under the tide is not one
    (:func:`flat_score`); elsewhere the score is ``-CONTEXT_SCORE``. A composite of fewer
    clear views than the tolerances assume is judged with its standard error
    (:func:`view_scaled`). None takes the context from ``refl`` itself when it is a
    composite with view counts, else applies none (a single scene: see
    :mod:`indices.context`)."""
    score = mangrove_spectral_score(refl, rule, params)
    if context is None and {"n_wet", "n_clear"} <= set(refl.data_vars):
        context = mangrove_context(refl, rule, params)
    if context is not None:
        level = context.astype(np.uint8)
        score = xr.where(level == INTERTIDAL, flat_score(refl, rule), score)
    score = view_scaled(score, refl, rule)
    if context is not None:
        score = score.where((level == CONNECTED) | (level == INTERTIDAL) | score.isnull(),
                            np.float32(-CONTEXT_SCORE))
    return score.astype(np.float32).rename("mangrove_score")


def view_scaled(score: xr.DataArray, refl: xr.Dataset, rule: MangroveRule) -> xr.DataArray:
    """``score`` of a composite of fewer clear views than the tolerances assume, scaled down
    by the standard error of a mean of ``n`` views against ``rule.tolerance_views``:
    ``sqrt(min(n, n_ref) / n_ref)``. The tolerances are the noise of a monthly median of a
    few views; one view is noisier by ``sqrt(n_ref)``, and its margin past a threshold is
    a smaller share of its own noise: a class changes on one or two single-view months only
    when they are past the band of doubt by that much more (a clearing's MVI and NDVI fall
    by several tolerances; a canopy near its threshold wavers by about one), and such
    months count as close calls in the interval. Composites of ``n_ref`` views or more, and
    single scenes (no ``n_clear``), are left as they are (the sign never changes)."""
    if "n_clear" not in refl.data_vars:
        return score
    n_ref = np.float32(rule.tolerance_views)
    views = np.minimum(refl["n_clear"].astype(np.float32).clip(min=1), n_ref)
    return (score * np.sqrt(views / n_ref)).astype(np.float32)


def flat_score(refl: xr.Dataset, rule: MangroveRule = MangroveRule()) -> xr.DataArray:
    """The mangrove score on the tidal flat (context level ``INTERTIDAL``): NDVI alone, NaN
    where the tide covers the flat.

    * **NDVI.** On ground the tide covers, vegetation is mangrove: the NDVI-inside-an-extent
      rule of Digital Earth Africa/Pacific (NDVI > ``ndvi_min`` 0.4 inside the GMW extent),
      the zone standing for the extent; also what a young replanting on a mudflat looks like
      before its canopy reaches the MVI threshold.
    * **The tide.** Where the observation is water (NDWI > 0, green above NIR: the wet test of
      the composite's ``n_wet``, McFeeters 1996; the land/water test of tidal-flat mapping,
      Murray et al. 2012, Remote Sens. 4:3417), the flat was under the tide and young
      seedlings with it: the view says nothing about a canopy, and the pixel is not
      observed there (NaN), as the loss alerts leave an inundated view unjudged
      (:mod:`indices.alerts`). Grown mangrove stands above the tide; seedlings and
      periodically submerged stands do not: Jia et al. 2019 (Remote Sens. 11:2043,
      doi:10.3390/rs11172043) detect such stands under the tide with an index of their
      own; this rule leaves those views unjudged instead (the alternative not taken). Without this, a month seen once at high tide is a confident
      "not mangrove" that resets a replanting's confirmation (:func:`indices.change.
      confirmed_state`) every time the tide is in."""
    ix = compute_indices(refl, ["ndvi", "ndwi"])
    score = ((ix["ndvi"] - rule.ndvi_min) / rule.ndvi_tolerance).astype(np.float32)
    return score.where(~(ix["ndwi"] > 0))


def _water_values(water: xr.DataArray) -> dict[str, xr.DataArray]:
    """The site's water parameters as float32 scalars (the arithmetic of the scores, and of
    the scene statistics' kernel, :func:`indices.summary.statistics_counts`)."""
    return {name: water.sel(parameter=name).astype(np.float32) for name in PARAMETERS}


def bottom_signals(refl: xr.Dataset, rule: SeagrassRule = SeagrassRule(),
                   water: xr.DataArray | None = None) -> tuple[
        xr.DataArray, xr.DataArray, xr.DataArray]:
    """Deglinted blue and green signals of the bottom above the site's deep water, and where
    the bottom is seen: ``(blue, green, seen)``; seen = NDWI water with both signals above
    ``min_bottom_signal``. ``water``: the site's parameters
    (:func:`indices.water.water_parameters` of its baseline; None fits them to ``refl``).
    Glint (Hedley 2005) is the NIR excess over the deep water's, times the site's slopes.
    Shared by the seagrass score and the loss alerts, so the two always judge alike."""
    if water is None:
        water = water_parameters(refl, rule)
    p = _water_values(water)
    blue, green, nir = refl["B02"], refl["B03"], refl["B08"]
    is_water = water_mask(refl, rule)
    excess = nir - p["nir_ref"]
    excess = excess.where(excess > rule.glint_min, 0.0)
    b_sig = blue - p["glint_blue"] * excess - p["deep_blue"]
    g_sig = green - p["glint_green"] * excess - p["deep_green"]
    seen = is_water & (b_sig > rule.min_bottom_signal) & (g_sig > rule.min_bottom_signal)
    return b_sig, g_sig, seen


def seagrass_score(refl: xr.Dataset, rule: SeagrassRule = SeagrassRule(),
                   water: xr.DataArray | None = None) -> xr.DataArray:
    """Seagrass score with the site's water parameters ``water``
    (:func:`indices.water.water_parameters` of its baseline composite; None fits them to
    ``refl`` itself): ``(T - (DII - DII_sand)) / (tolerance_share |T|)`` over water (rule
    doc), > 0 seagrass.

    **Not assessable** (NaN, like not observed: the change walk carries the last assessed class
    and counts the pixel in the interval, not in the extent) where the bottom is not seen
    well enough to tell sand from seagrass: its green bottom signal within ``detect_sigmas``
    noise of the deep water (nothing places the pixel on the site's sand line), or its blue
    within ``detect_sigmas`` noise of the threshold's line (rule doc), from the site's
    measured noise scaled to the pixel's clear views ``n_clear`` where ``refl`` has them (a
    month of one view is noisier than the baseline); or ``r`` above ``max_k_ratio``. A blue
    signal at or below the deep water's is floored at ``min_bottom_signal`` (a bottom darker
    than the water column in blue: far below the threshold). What is not judged is in the
    interval, not
    in the extent. Land is assessed: ``-CONTEXT_SCORE``.
    """
    c, offset = seagrass_offset(refl, rule, water)
    score = (c["threshold"] - offset) / c["tolerance"]
    land = refl["B02"].notnull() & ~water_mask(refl, rule)
    score = score.where(~land, np.float32(-CONTEXT_SCORE))
    return score.astype(np.float32).rename("seagrass_score")


def seagrass_offset(refl: xr.Dataset, rule: SeagrassRule = SeagrassRule(),
                    water: xr.DataArray | None = None, *, gate: bool = True
                    ) -> tuple[dict, xr.DataArray]:
    """``(constants, DII - DII_sand)``: the bottom's depth-invariant index against the site's
    sand, NaN where not assessable (:func:`seagrass_score`), with
    :func:`seagrass_constants`. ``gate=False``: wherever the green bottom signal is above
    ``min_bottom_signal``, however noisy (the loss alerts, which ask more of a scene than
    its score)."""
    if water is None:
        water = water_parameters(refl, rule)
    b, g, _ = bottom_signals(refl, rule, water)
    views = refl["n_clear"].clip(min=1).astype(np.float32) if "n_clear" in refl else 1
    c = seagrass_constants(water, rule, views)
    floor = np.float32(rule.min_bottom_signal)
    # the bottom is placed on the site's sand line by its green; its blue may be at or
    # below the deep water's (a bottom darker than the water column in blue)
    seen = water_mask(refl, rule) & (g > floor)
    gs = g.where(seen)
    log_g = np.log(gs)
    offset = (np.log(np.maximum(b, floor)) - c["k_ratio"] * log_g) - c["dii_sand"]
    assessable = seen & (c["k_ratio"] <= rule.max_k_ratio) & (c["has_sand"] != 0)
    if gate:  # the pixel's blue on one side of the threshold's line by detect_sigmas
        line = np.exp(c["threshold"]) * np.exp(c["dii_sand"] + c["k_ratio"] * log_g)
        sigma = np.sqrt(c["noise_b"] ** 2 + (line * c["noise_g"] / gs) ** 2)
        assessable = (assessable & (c["k_ratio"] * gs >= c["detect"] * c["noise_g"])
                      & (abs(b - line) >= c["detect"] * sigma))
    return c, offset.where(assessable)


def seagrass_constants(water: xr.DataArray, rule: SeagrassRule, views=1) -> dict:
    """The float32 terms of :func:`seagrass_score` that do not vary with the pixel's bands
    (with ``views`` = 1, none varies: what the scene statistics' kernel takes as run-time
    constants, :func:`indices.summary.statistics_counts`, computed by the same float32
    operations so that both agree bit for bit)."""
    p = _water_values(water)
    r = p["k_ratio"]
    scale = np.sqrt(p["n_views"] / views)
    if rule.dii_max is None:
        threshold = (np.float32(np.log(rule.albedo_ratio_blue))
                     - r * np.float32(np.log(rule.albedo_ratio_green)))
    else:
        threshold = xr.full_like(r, np.float32(rule.dii_max))
    magnitude = np.abs(threshold)
    return {
        **{k: p[k] for k in ("nir_ref", "glint_blue", "glint_green", "deep_blue",
                             "deep_green", "k_ratio", "dii_sand")},
        "noise_b": p["noise_blue"] * scale,
        "noise_g": r * p["noise_green"] * scale,
        "has_sand": p["dii_sand"].notnull().astype(np.float32),
        "threshold": threshold,
        "detect": xr.full_like(r, np.float32(rule.detect_sigmas)),
        "tolerance": magnitude * np.float32(rule.tolerance_share),
    }


def turbid_scenes(cube: xr.Dataset, rule: SeagrassRule = SeagrassRule()) -> tuple[
        xr.DataArray, xr.DataArray]:
    """Scenes whose water is turbid, and the water mask: ``(turbid[time], water[time, y, x])``;
    ``turbid`` is 1.0/0.0, NaN where too little water was seen to judge.

    Suspended sediment lifts red reflectance over the whole water body, while in clear water
    only the shallowest sand shows in red (red attenuates within a few metres); sun glint,
    which lifts red too, is removed with NIR first. A scene is
    turbid when the share of its clear water with red above ``turbid_red`` exceeds the site's
    median share over all scenes by ``turbid_excess``. The bottom is not visible through a plume:
    the seagrass flow drops those scenes' water from the composites and flags the months.
    """
    refl = scene_reflectance(cube)
    water = compute_indices(refl, ["ndwi"])["ndwi"] > rule.water_ndwi_min
    n_water = water.sum(("y", "x"))
    glint = np.maximum(refl["B08"] - rule.deep_water[2], 0)  # Hedley: glint is flat, NIR shows it
    red = refl["B04"] - glint
    share = ((red > rule.turbid_red) & water).sum(("y", "x")) / np.maximum(n_water, 1)

    def median(a: xr.DataArray) -> xr.DataArray:
        return xr.apply_ufunc(np.nanmedian, a.chunk({"time": -1}) if a.chunks else a,
                              input_core_dims=[["time"]], dask="parallelized",
                              output_dtypes=[np.float64])

    # judge only scenes that show a fair part of the water (not a cloud gap's edge)
    share = share.where(n_water >= 0.3 * median(n_water.astype(np.float64)))
    turbid = (share - median(share) > rule.turbid_excess).where(share.notnull())
    return turbid, water


def mask_turbid_water(cube: xr.Dataset,
                      flags: tuple[xr.DataArray, xr.DataArray] | None = None) -> xr.Dataset:
    """The cube with the water of turbid scenes (sediment plumes) masked as defective (SCL 1).

    The bottom is not seen through a plume, and a plume brightens the water like sand does:
    what the seagrass change table, its maps and the alerts' baseline all do before
    compositing. ``flags``: :func:`turbid_scenes` of the cube, when already at hand.
    """
    turbid, water = flags if flags is not None else turbid_scenes(cube)
    return cube.assign(SCL=cube["SCL"].where(~((turbid > 0) & water), np.uint8(1)))


_SCORERS = {"mangrove": mangrove_score, "seagrass": seagrass_score}

RULE_TAGS = {"mangrove": "baloloy2020-v4", "seagrass": "lyzenga1981-v2"}
"""The published rule behind each habitat's defaults, versioned: bump when a default moves."""


def rule_id(habitat: str, rule) -> str:
    """Short stable identifier of a rule and its parameters: ``<habitat>-<tag>`` for the
    defaults (``mangrove-baloloy2020-v4``), ``<habitat>-calibrated-<hash>`` for a rule fitted
    to a site (:mod:`indices.calibration`), ``<habitat>-custom-<hash>`` otherwise; the hash is
    of every parameter, so a site's rows change id exactly when its rule does."""
    if habitat not in RULE_TAGS:
        raise ValueError(f"unknown habitat {habitat!r}; expected one of {sorted(RULE_TAGS)}")
    if rule == type(rule)():
        return f"{habitat}-{RULE_TAGS[habitat]}"
    # the code's version too: a calibrated rule's rows change when the method does
    fields = json.dumps({**dataclasses.asdict(rule), "_method": RULE_TAGS[habitat]},
                        sort_keys=True, default=repr)
    digest = hashlib.blake2b(fields.encode(), digest_size=5).hexdigest()
    kind = "calibrated" if str(getattr(rule, "source", "")).startswith("calibrated") else "custom"
    return f"{habitat}-{kind}-{digest}"


def habitat_score(refl: xr.Dataset, habitat: str, rule=None, **context) -> xr.DataArray:
    """Score of ``habitat`` ('mangrove' | 'seagrass'): > 0 habitat, NaN not observed (or, for
    seagrass, not assessable). ``context``: the scorer's site context (mangrove:
    ``context=``; seagrass: ``water=``), see :func:`mangrove_score`, :func:`seagrass_score`."""
    try:
        scorer = _SCORERS[habitat]
    except KeyError:
        raise ValueError(f"unknown habitat {habitat!r}; expected one of {sorted(_SCORERS)}") from None
    return scorer(refl, rule or RULES[habitat], **context)
