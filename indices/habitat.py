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

from indices.context import CONNECTED, INTERTIDAL, intertidal_context
from indices.masks import reflectance
from indices.spectral import compute_indices
from indices.water import PARAMETERS, water_parameters

__all__ = [
    "CONTEXT_SCORE", "MangroveRule", "RULES", "RULE_TAGS", "SeagrassRule", "bottom_signals",
    "habitat_score", "mangrove_context", "mangrove_score", "mangrove_spectral_score",
    "mask_turbid_water", "rule_id", "scene_reflectance", "seagrass_albedo", "seagrass_constants",
    "seagrass_score",
    "turbid_scenes",
]

REFLECTANCE_BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")


@dataclass(frozen=True)
class MangroveRule:
    """Mangrove = green canopy with the mangrove vegetation index of mangrove, in intertidal
    context.

    Spectral test: MVI = |NIR - G| / |SWIR1 - G| (Baloloy et al. 2020, ISPRS J. Photogramm.
    Remote Sens. 166:95-117, doi:10.1016/j.isprsjprs.2020.06.001) between ``mvi_min`` 4.5 and
    ``mvi_max`` 16.5, the index authors' mangrove range on Sentinel-2 (the paper's text was
    not available here; the range is checked against an implementation citing it,
    github.com/syamaniulm/mvi, ``mvi.gte(4.5).And(mvi.lte(16.5))``); above 16.5 SWIR1 ~ green,
    i.e. water or a water-canopy edge. And NDVI >= ``ndvi_min`` 0.4, the open-mangrove floor
    of Digital Earth Pacific's mangrove product (github.com/digitalearthpacific/dep-mangroves,
    NDVI > 0.4 inside the GMW v3 extent, > 0.7 closed canopy), which keeps bare mud and
    flooded flats out (MVI explodes where SWIR1 ~ G over water).

    Context (:mod:`indices.context`): a spectral candidate is mangrove only where it is
    connected to an intertidal zone the time series saw wet and dry (``min_views`` clear
    views, widened by ``shore_gap_m``, reached within ``reach_m`` through candidates).
    Outside it the score is ``-CONTEXT_SCORE``: confidently not mangrove.

    Tolerances (the ``|score| < 1`` band of doubt) are 10 % of each threshold for MVI and
    0.08 for NDVI (the NDVI noise of a monthly median of a few views): a choice, not a
    published number.
    """

    ndvi_min: float = 0.40
    ndvi_tolerance: float = 0.08
    mvi_min: float = 4.5
    mvi_tolerance: float = 0.45
    mvi_max: float = 16.5
    mvi_max_tolerance: float = 1.65
    min_views: int = 5
    """Clear views a pixel needs before being seen wet and dry counts as intertidal."""
    shore_gap_m: float = 50.0
    """Width added to the intertidal zone for the upper intertidal seldom seen wet."""
    reach_m: float = 1500.0
    """Longest path through canopy from the shore (a mangrove belt's width; creeks inside a
    wider forest are shores of their own)."""
    source: str = "Baloloy et al. 2020 (MVI 4.5-16.5); DE Pacific (NDVI 0.4); intertidal context"

    @property
    def rule_id(self) -> str:
        """Short stable id of the rule and its parameters (see :func:`rule_id`)."""
        return rule_id("mangrove", self)


CONTEXT_SCORE = 10.0
"""Score magnitude of a decision by context alone (outside the intertidal context; land or
deep water for seagrass): far outside the band of doubt."""


@dataclass(frozen=True)
class SeagrassRule:
    """Seagrass = optically shallow water over a dark bottom, by Lyzenga's depth-invariant index.

    Over water (NDWI > ``water_ndwi_min``), sun glint is removed Hedley-style from NIR, which the
    water column absorbs: ``R'_i = R_i - (NIR - nir_deep)`` where NIR is clearly above the
    deep-water level (flat glint, slope 1). The bottom signal ``R'_i - R_deep_i`` decays as
    ``exp(-2 k_i z)``; the depth-invariant index (Lyzenga 1978, doi:10.1364/AO.17.000379)
    ``DII = ln(B'-Bd) - (k_B/k_G) ln(G'-Gd)`` depends on bottom albedo, not depth: seagrass
    (dark) scores low, sand high. Where the bottom signal is below ``min_bottom_signal`` the
    water is optically deep: no decision (score NaN, counted as not seagrass).

    ``deep_water`` and ``k_ratio`` default to clear Mediterranean water (Kd(490) ~ 0.035,
    Kd(560) ~ 0.06 per m); give site values from an offshore sample where known.
    """

    water_ndwi_min: float = 0.1
    deep_water: tuple[float, float, float] = (0.020, 0.008, 0.002)
    """Deep-water reflectance in B02, B03, B08: the fallback where the site's own cannot be
    fitted (:mod:`indices.water`), and the alerts' (:mod:`indices.alerts`)."""
    k_ratio: float = 0.035 / 0.060
    deep_fraction: float = 0.05
    """Darkest share of the water over which glint is regressed on NIR (Hedley 2005)."""
    sand_quantile: float = 0.9
    """Per green bin, the blue quantile taken as the bright (sand) bottom (Lyzenga 1981)."""
    min_bin_pixels: int = 20
    min_sand_points: int = 8
    albedo_ratio_max: float = 0.45
    """A bottom darker than this share of the site's sand is vegetated: about the geometric
    mean of bright sand (~0.3-0.4 at 450-490 nm) and dark vegetation (~0.05-0.08) bottom
    reflectance (Maritorena, Morel & Gentili 1994, Limnol. Oceanogr. 39:1689-1703, coral sand
    and green-algae spectra as distributed with the OSOAA code; a choice, not their number)."""
    albedo_tolerance: float = 0.35
    """Band of doubt in ln(albedo ratio) (a factor 1.4)."""
    min_contrast: float = 0.15
    """Smallest |1 - k_B/k_G| at which the index separates a dark bottom from a deeper one:
    below it blue and green fade alike with depth and the DII cannot tell (not assessable)."""
    detect_sigmas: float = 3.0
    """The bottom is *assessed* where the noise-propagated uncertainty of ``ln(albedo ratio)``
    leaves ``detect_sigmas`` standard deviations between a sand bottom (ratio 1) and the
    threshold ``albedo_ratio_max``: a 3-sigma detection (one sand pixel in ~700 past the
    threshold by noise), the usual convention for a signal seen above noise; a choice."""
    noise: float = 0.0015
    """Reflectance noise of a baseline composite's bottom signal (1 sigma) where the site's
    own cannot be measured (:mod:`indices.water` measures it): single-scene L2A noise
    ~0.003 over dark water, about halved by a median of a few views. Unverified figure."""
    min_bottom_signal: float = 0.0005
    """Floor of a bottom signal (5 L2A quanta) below which its logarithm is not taken."""
    glint_min: float = 0.005
    """NIR excess over the deep water's below which no glint is removed (noise, not glint)."""
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


def mangrove_spectral_score(refl: xr.Dataset, rule: MangroveRule = MangroveRule()
                            ) -> xr.DataArray:
    """The spectral part of the mangrove score (NDVI and MVI only, no context)."""
    ix = compute_indices(refl, ["ndvi", "mvi"])
    score = np.minimum(np.minimum((ix["ndvi"] - rule.ndvi_min) / rule.ndvi_tolerance,
                                  (ix["mvi"] - rule.mvi_min) / rule.mvi_tolerance),
                       (rule.mvi_max - ix["mvi"]) / rule.mvi_max_tolerance)
    return score.astype(np.float32).rename("mangrove_score")


def mangrove_context(composite: xr.Dataset, rule: MangroveRule = MangroveRule()
                     ) -> xr.DataArray:
    """The intertidal context (:func:`indices.context.intertidal_context`) of a composite with
    ``n_wet`` and ``n_clear`` (the site's baseline): uint8 levels ``(y, x)``, lazy. Paths
    cross the composite's spectral candidates within tolerance (score > -1), so that a pixel
    of canopy a little below a threshold does not cut a belt in two."""
    missing = [v for v in ("n_wet", "n_clear") if v not in composite]
    if missing:
        raise ValueError(f"the mangrove context needs a composite's view counts {missing} "
                         f"(indices.composite.composite with B03 and B11)")
    candidates = mangrove_spectral_score(composite, rule) > -1
    return intertidal_context(composite["n_wet"], composite["n_clear"], candidates,
                              min_views=rule.min_views, shore_gap_m=rule.shore_gap_m,
                              reach_m=rule.reach_m)


def mangrove_score(refl: xr.Dataset, rule: MangroveRule = MangroveRule(),
                   context: xr.DataArray | None = None) -> xr.DataArray:
    """Mangrove score (module doc), NaN where not observed. ``context``: the site's intertidal
    context levels (:func:`mangrove_context` of its baseline composite): connected canopy
    takes the spectral score (NDVI and MVI); inside the intertidal zone itself, ground the
    tide covers, NDVI alone decides (vegetation there is mangrove: the NDVI-inside-an-extent
    rule of Digital Earth Africa/Pacific, the zone standing for the extent, and what a young
    replanting on a mudflat looks like before its canopy reaches MVI 4.5); elsewhere the score
    is ``-CONTEXT_SCORE``. None takes the context from ``refl`` itself when it is a composite
    with view counts, else applies none (a single scene: see :mod:`indices.context`)."""
    score = mangrove_spectral_score(refl, rule)
    if context is None and {"n_wet", "n_clear"} <= set(refl.data_vars):
        context = mangrove_context(refl, rule)
    if context is not None:
        level = context.astype(np.uint8)
        ndvi_only = ((compute_indices(refl, ["ndvi"])["ndvi"] - rule.ndvi_min)
                     / rule.ndvi_tolerance).astype(np.float32)
        score = xr.where(level == INTERTIDAL, ndvi_only,
                         score.where((level == CONNECTED) | score.isnull(),
                                     np.float32(-CONTEXT_SCORE)))
    return score.astype(np.float32).rename("mangrove_score")


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
    is_water = compute_indices(refl, ["ndwi"])["ndwi"] > rule.water_ndwi_min
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
    ``refl`` itself).

    Over water, after Hedley's deglint, the bottom signals ``b = B' - B_deep`` and
    ``g = G' - G_deep`` give the depth-invariant index ``DII = ln b - r ln g`` (Lyzenga 1981,
    ``r = k_B / k_G`` of the site) and, against the site's sand line, the bottom's albedo
    relative to sand: ``ln rho = (DII - DII_sand) / (1 - r)`` (both bands scaled alike by a
    darker bottom). Seagrass where ``rho < albedo_ratio_max``; score
    ``(ln albedo_ratio_max - ln rho) / albedo_tolerance``.

    **Not assessable** (NaN, like not observed: the change walk carries the last assessed class
    and counts the pixel in the interval, not in the extent) where the bottom is not seen
    well enough to tell sand from seagrass: the uncertainty of ``ln rho`` from the site's
    measured noise (scaled to the pixel's clear views ``n_clear`` where ``refl`` has them:
    a month of one view is noisier than the baseline) above
    ``|ln albedo_ratio_max| / detect_sigmas``, or ``|1 - r| < min_contrast``. Land is
    assessed: ``-CONTEXT_SCORE``.
    """
    c, ln_rho = seagrass_albedo(refl, rule, water)
    score = ((c["threshold"] - ln_rho) / rule.albedo_tolerance)
    land = refl["B02"].notnull() & ~(compute_indices(refl, ["ndwi"])["ndwi"]
                                      > rule.water_ndwi_min)
    score = score.where(~land, np.float32(-CONTEXT_SCORE))
    return score.astype(np.float32).rename("seagrass_score")


def seagrass_albedo(refl: xr.Dataset, rule: SeagrassRule = SeagrassRule(),
                    water: xr.DataArray | None = None, *, gate: bool = True
                    ) -> tuple[dict, xr.DataArray]:
    """``(constants, ln rho)``: the bottom's albedo relative to the site's sand in log, NaN
    where not assessable (:func:`seagrass_score`), with :func:`seagrass_constants`.
    ``gate=False``: wherever both bottom signals are above ``min_bottom_signal``, however
    noisy (the loss alerts, which ask more of a scene than its score)."""
    if water is None:
        water = water_parameters(refl, rule)
    b, g, seen = bottom_signals(refl, rule, water)
    views = refl["n_clear"].clip(min=1).astype(np.float32) if "n_clear" in refl else 1
    c = seagrass_constants(water, rule, views)
    bs, gs = b.where(seen), g.where(seen)
    ln_rho = ((np.log(bs) - c["k_ratio"] * np.log(gs)) - c["dii_sand"]) / c["contrast"]
    sigma = np.sqrt((c["noise_b"] / bs) ** 2 + (c["noise_g"] / gs) ** 2) / np.abs(c["contrast"])
    assessable = seen & (np.abs(c["contrast"]) >= rule.min_contrast) & (c["has_sand"] != 0)
    if gate:
        assessable = assessable & (sigma <= c["limit"])
    return c, ln_rho.where(assessable)


def seagrass_constants(water: xr.DataArray, rule: SeagrassRule, views=1) -> dict:
    """The float32 terms of :func:`seagrass_score` that do not vary with the pixel's bands
    (with ``views`` = 1, none varies: what the scene statistics' kernel takes as run-time
    constants, :func:`indices.summary.statistics_counts`, computed by the same float32
    operations so that both agree bit for bit)."""
    p = _water_values(water)
    r = p["k_ratio"]
    scale = np.sqrt(p["n_views"] / views)
    return {
        **{k: p[k] for k in ("nir_ref", "glint_blue", "glint_green", "deep_blue",
                             "deep_green", "k_ratio", "dii_sand")},
        "contrast": 1 - r,
        "noise_b": p["noise_blue"] * scale,
        "noise_g": r * p["noise_green"] * scale,
        "has_sand": p["dii_sand"].notnull().astype(np.float32),
        "limit": np.float32(abs(np.log(rule.albedo_ratio_max)) / rule.detect_sigmas),
        "threshold": np.float32(np.log(rule.albedo_ratio_max)),
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

RULE_TAGS = {"mangrove": "baloloy2020-v1", "seagrass": "lyzenga1981-v1"}
"""The published rule behind each habitat's defaults, versioned: bump when a default moves."""


def rule_id(habitat: str, rule) -> str:
    """Short stable identifier of a rule and its parameters: ``<habitat>-<tag>`` for the
    defaults (``mangrove-baloloy2020-v1``), ``<habitat>-calibrated-<hash>`` for a rule fitted
    to a site (:mod:`indices.calibration`), ``<habitat>-custom-<hash>`` otherwise; the hash is
    of every parameter, so a site's rows change id exactly when its rule does."""
    if habitat not in RULE_TAGS:
        raise ValueError(f"unknown habitat {habitat!r}; expected one of {sorted(RULE_TAGS)}")
    if rule == type(rule)():
        return f"{habitat}-{RULE_TAGS[habitat]}"
    fields = json.dumps(dataclasses.asdict(rule), sort_keys=True, default=repr)
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
