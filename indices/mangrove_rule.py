"""The mangrove rule and its scores (the rule's doc: Baloloy et al. 2020's MVI with NDVI, in
the intertidal context of :mod:`indices.context`; the site's own numbers come from
:mod:`indices.mangrove`). Scores follow :mod:`indices.habitat`'s convention: > 0 mangrove,
``|score| < 1`` uncertain, NaN not observed; lazy."""

from __future__ import annotations

from dataclasses import dataclass

import dask.array as da
import numpy as np
import xarray as xr

from indices.canopy import DEFAULT_ENDMEMBERS, cover_ndvi
from indices.context import CONNECTED, INTERTIDAL, SHORE_WATER, TIDAL, intertidal_context
from indices.mangrove_axis import AXIS_COEFFICIENTS, axis_value
from indices.rules import CONTEXT_SCORE, STRONG, rule_id
from indices.spectral import compute_indices

__all__ = ["MEDIAN_VARIANCE", "MangroveRule", "baseline_bare", "flat_cover_score", "flat_score",
           "mangrove_candidates", "mangrove_context", "mangrove_score",
           "mangrove_spectral_score", "mangrove_values", "tidal_score", "unjudged_water",
           "view_scaled"]


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
    ``mvi_min``; not for a calibrated rule, ``scene_threshold`` False), or, where the site
    shows one, its discriminant axis's boundary with MVI >= ``mvi_floor`` (rule v8,
    :mod:`indices.mangrove_axis`, ``axis``). And NDVI >=
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
    tidal flat itself NDVI alone decides; on a flat the forest encloses off the coast's
    water (tidal ground, rule v7: seen wet in ``min_views`` baseline views, reached from the
    connected canopy and not from dry land, :func:`indices.context.tidal_ground`) the
    spectral test does; there one clear dry look past the test is enough for a gain
    (:func:`tidal_score`; on the flat one look past the strong bar, or a confident one
    past the site's half-cover NDVI, :func:`flat_cover_score`; the shore's band within
    ``shore_ground_m`` of the forest, bare in the baseline, is tidal ground,
    :func:`indices.context.shore_ground`).
    Outside them the score is ``-CONTEXT_SCORE``: confidently not mangrove.

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
    shore_ground_m: float = 50.0
    """Reach from the connected canopy of the shore's bare ground taken as tidal ground
    (:func:`indices.context.shore_ground`, rule v11): a choice, not a published number;
    the shore gap's width (``shore_gap_m``). Rule v10 used ``reach_m`` (1.5 km):
    ``benchmarks/measured/mang29``."""
    axis: bool = True
    """Read the site's discriminant axis instead of the MVI where the site shows one
    (:mod:`indices.mangrove_axis`, rule v8; only with ``scene_threshold``): Fisher's axis of
    the shore canopy against the unconnected vegetation, MVI kept above ``mvi_floor``."""
    axis_closed_ndvi: float = 0.7
    """NDVI from which a shore-canopy pixel is closed canopy: the upper class of Digital Earth
    Pacific's mangrove product (github.com/digitalearthpacific/dep-mangroves,
    ``src/run_task.py``: the annual median NDVI of the Global Mangrove Watch v3 grid's tiles
    classed at 0.4 and 0.7, its upper class NDVI > 0.7, here >= but for the tie; its 0.4 is
    ``ndvi_min``). The site reads its axis only where the shore canopy is closed
    (``axis_closed_share``, rule v9, :mod:`indices.mangrove_axis`)."""
    axis_closed_share: float = 0.5
    """Share of the shore canopy that must be closed canopy (NDVI >= ``axis_closed_ndvi``)
    for the site to read its axis: a majority, the same decision as the shore canopy's median
    NDVI >= ``axis_closed_ndvi`` for an odd count of pixels; a choice, not a published number. Measured
    (``benchmarks/measured/mang26``): 0.904-1.000 on the 118 independent scenarios where
    rule v8 read the axis, 0.196 and 0.335 on the real Welsh and Irish coasts (salt marsh and
    pasture along the water, a population of its own on the axis)."""
    axis_tolerance: float = 0.2
    """Band of doubt on the axis, as a share of the distance between the two samples' means
    (the unconnected vegetation at 0, the shore canopy at 1): a choice, not a published
    number (0.1 left the interval short on seeds 15, 24, 28, 909 of the independent
    scenarios: 0.44-0.89 of their months covered against 0.67-1.0 at 0.2, the rows
    otherwise alike, ``benchmarks/measured/mang24``)."""
    source: str = ("Baloloy et al. 2020 (MVI 4.5-16.5; lower where the site's shore canopy "
                   "shows it; Fisher's axis of the site's samples where it shows one); "
                   "DE Pacific (NDVI 0.4); intertidal context")

    @property
    def reads_axis(self) -> bool:
        """Whether a site under this rule may read its discriminant axis: ``axis`` on a rule
        that estimates from the scene (``scene_threshold``; a calibrated rule never does).
        :func:`indices.mangrove.mangrove_parameters` computes the axis only then, and the
        observation kernel (:mod:`indices.summary`) tests it only then."""
        return bool(self.scene_threshold and self.axis)

    @property
    def rule_id(self) -> str:
        """Short stable id of the rule and its parameters (see :func:`rule_id`)."""
        return rule_id("mangrove", self)


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
    if params is not None and "axis_used" in params["parameter"]:
        mvi_term = _axis_term(refl, rule, params, ix["mvi"], mvi_term)
    cover_term = (ix["ndvi"] - ndvi_half) / np.float32(rule.ndvi_tolerance)
    spectral = xr.where(ix["mvi"] > rule.mvi_max, cover_term, mvi_term)
    score = np.minimum((ix["ndvi"] - rule.ndvi_min) / rule.ndvi_tolerance, spectral)
    return score.astype(np.float32).rename("mangrove_score")


def _axis_term(refl: xr.Dataset, rule: MangroveRule, params: xr.DataArray,
               mvi: xr.DataArray, mvi_term: xr.DataArray) -> xr.DataArray:
    """Where the site reads its discriminant axis (``axis_used`` 1,
    :mod:`indices.mangrove_axis`): the pixel's margin past the axis's boundary in
    ``rule.axis_tolerance`` units, and never more than its MVI's margin past ``mvi_floor``
    (the published index stays the prior: the axis moves pixels only among those a site
    threshold could admit); elsewhere ``mvi_term``. ``z`` is float64 on purpose (the
    weights and the boundary are fitted in float64; float32 logs would move pixels across
    it, and the observation rows' kernel computes the same float64,
    :func:`indices.habitat_kernel._mvi_test`); computed parameters that do not read the axis skip
    it (four logs a pixel for nothing)."""
    used = params.sel(parameter="axis_used") == 1
    if not isinstance(params.data, da.Array) and used.ndim == 0 and not bool(used):
        return mvi_term
    coef = [params.sel(parameter=k).data for k in AXIS_COEFFICIENTS]
    z = axis_value(refl, coef)
    boundary = params.sel(parameter="axis_boundary")
    axis = ((z - boundary) / rule.axis_tolerance).astype(np.float32)
    floor = np.float32(rule.mvi_floor)
    prior = (mvi - floor) / (np.float32(rule.mvi_tolerance_share) * floor)
    return xr.where(used, np.minimum(axis, prior), mvi_term)


def mangrove_candidates(composite: xr.Dataset, rule: MangroveRule = MangroveRule(),
                        params: xr.DataArray | None = None) -> xr.DataArray:
    """The pixels a path of the intertidal context may cross (:mod:`indices.context`, step
    5): the composite's spectral candidates within tolerance, ``mangrove_spectral_score >
    -1`` with the site's parameters ``params`` (None: the published threshold), so that a
    pixel of canopy a little below a threshold does not cut a belt in two. Bool ``(y, x)``,
    lazy. The one place the candidate test is written (the context, the site's evidence
    maps and its final context read it: :mod:`indices.evidence`). Raises ValueError where
    ``composite`` lacks the view counts ``n_wet`` and ``n_clear`` a context needs."""
    missing = [v for v in ("n_wet", "n_clear") if v not in composite]
    if missing:
        raise ValueError(f"the mangrove context needs a composite's view counts {missing} "
                         f"(indices.composite.composite with B03 and B11)")
    return mangrove_spectral_score(composite, rule, params) > -1


def mangrove_context(composite: xr.Dataset, rule: MangroveRule = MangroveRule(),
                     params: xr.DataArray | None = None, *, tidal: bool = True
                     ) -> xr.DataArray:
    """The intertidal context (:func:`indices.context.intertidal_context`) of a composite with
    ``n_wet`` and ``n_clear`` (the site's baseline): uint8 levels ``(y, x)``, lazy. Paths
    cross the composite's spectral candidates within tolerance (:func:`mangrove_candidates`,
    with the site's parameters ``params``). ``tidal`` False: without tidal ground (rule v6's
    levels, those the site's parameters are estimated on)."""
    candidates = mangrove_candidates(composite, rule, params)
    return intertidal_context(composite["n_wet"], composite["n_clear"], candidates,
                              baseline_bare(composite, rule), min_views=rule.min_views,
                              shore_gap_m=rule.shore_gap_m, reach_m=rule.reach_m, tidal=tidal,
                              shore_ground_m=rule.shore_ground_m)


def baseline_bare(composite: xr.Dataset, rule: MangroveRule) -> xr.DataArray:
    """The baseline's bare ground: NDVI <= ``rule.ndvi_min`` (DE Pacific's open-mangrove
    floor, 0.4: no canopy, crop or pasture), bool ``(y, x)``; never seen (NaN) is not bare.
    Where :func:`indices.context.shore_ground` may take the shore's band."""
    return compute_indices(composite, ["ndvi"])["ndvi"] <= np.float32(rule.ndvi_min)


def mangrove_score(refl: xr.Dataset, rule: MangroveRule = MangroveRule(),
                   context: xr.DataArray | None = None,
                   params: xr.DataArray | None = None) -> xr.DataArray:
    """Mangrove score (module doc), NaN where not observed. ``context``: the site's intertidal
    context levels (:func:`mangrove_context` of its baseline composite): connected canopy
    takes the spectral score (NDVI and MVI, with the site's ``params``,
    :func:`indices.mangrove.mangrove_parameters`); inside the intertidal zone itself, ground
    the tide covers, NDVI alone decides, and a view under the tide is not one
    (:func:`flat_score`); on tidal ground (:data:`indices.context.TIDAL`, and rule v12's
    :data:`indices.context.SHORE_WATER`) the spectral score,
    a view under the tide not one either (:func:`unjudged_water`), and one confident look
    a gain (:func:`tidal_score`); on the flat, one confident look whose NDVI is that of
    half the site's canopy over its bare flat is a gain too (:func:`flat_cover_score`);
    elsewhere the score is ``-CONTEXT_SCORE``. A composite of fewer
    clear views than the tolerances assume is judged with its standard error
    (:func:`view_scaled`). None takes the context from ``refl`` itself when it is a
    composite with view counts, else applies none (a single scene: see
    :mod:`indices.context`)."""
    score = mangrove_spectral_score(refl, rule, params)
    if context is None and {"n_wet", "n_clear"} <= set(refl.data_vars):
        context = mangrove_context(refl, rule, params)
    if context is not None:
        level = context.astype(np.uint8)
        flat, tidal = level == INTERTIDAL, (level == TIDAL) | (level == SHORE_WATER)
        score = xr.where(flat, _ndvi_score(refl, rule), score)
        score = xr.where(flat | tidal, unjudged_water(refl, score), score)  # flat_score there
    score = view_scaled(score, refl, rule)
    if context is not None:
        score = xr.where(tidal, tidal_score(score), score)
        score = xr.where(flat, flat_cover_score(score, refl, rule, params), score)
        score = score.where((level == CONNECTED) | flat | tidal | score.isnull(),
                            np.float32(-CONTEXT_SCORE))
    return score.astype(np.float32).rename("mangrove_score")


MEDIAN_VARIANCE = (1.0, 0.5, 0.44867, 0.2982, 0.28683, 0.21474, 0.21045, 0.16818)
"""Variance of the median of ``n`` = 1, 2, ... independent standard normal values (``n``
even: the mean of the two middle values, as ``numpy.nanmedian`` and the monthly composite
take it): order-statistic integrals of the normal density (``n`` odd: the density
``n! / (k!)² Φ^k (1 - Φ)^k φ`` of the middle value, ``n = 2k + 1``; ``n`` even: the joint
density of the two middle values), computed with ``scipy.integrate`` and checked by Monte
Carlo in ``tests/test_mangrove_scores.py``. Not the mean's ``1 / n``: the median of three
values is only 74 % as efficient as their mean, and that of an even number ``2k`` about as
good as that of ``2k + 1`` (Hodges & Lehmann 1967, J. Am. Stat. Assoc. 62:926-931,
doi:10.2307/2283680, "On medians and quasi medians"; their abstract, the stored copy at
hand); the large-sample limit is ``π / (2 n)`` (efficiency 2/π)."""


def view_scaled(score: xr.DataArray, refl: xr.Dataset, rule: MangroveRule) -> xr.DataArray:
    """``score`` of a composite of fewer clear views than the tolerances assume, scaled down
    by the standard error of the composite's median of ``n`` views against that of
    ``rule.tolerance_views`` (``n_ref``): ``sqrt(V(n_ref) / V(min(n, n_ref)))`` with ``V``
    the variance of a median of ``n`` normal values (:data:`MEDIAN_VARIANCE`; the composite
    is a per-band median, :func:`indices.composite.monthly_composite`): one view 0.67 of the
    score of three, two views 0.95 (a mean's ``sqrt(n / n_ref)`` would give 0.58 and 0.82).
    The tolerances are the noise of a monthly median of a few views; one view is noisier,
    and its margin past a threshold is a smaller share of its own noise: a class changes on
    one or two single-view months only when they are past the band of doubt by that much
    more (a clearing's MVI and NDVI fall by several tolerances; a canopy near its threshold
    wavers by about one), and such months count as close calls in the interval. Composites
    of ``n_ref`` views or more, and single scenes (no ``n_clear``), are left as they are
    (the sign never changes).

    A thin month never *loses* a canopy on its own: its score is kept above
    ``-STRONG`` (:data:`indices.rules.STRONG`, a look that changes a class alone), so such
    a month needs a confirming look to call a loss. A median of one or two views is one view
    or the mean of two, which a single bad view carries past any margin, where a median of
    ``n_ref`` views rejects it; and the bad views a scene mask misses (haze, thin cloud, a
    shadow's edge: Sen2Cor's omissions, Baetens et al. 2019, Remote Sens. 11:433; a flooded
    floor) lower the canopy's NDVI and MVI: they are spatially coherent, so the minimum
    mapping unit does not remove them (review of rule v5: a coherent 4-sigma drop in 10 %
    of months lost 4.7 % of a stable canopy at least once in 12 months when any month could
    change a class alone, 1.2 % with two looks). A canopy appearing over bare mud in one
    clear view is not what those errors make, and a replanting seen once a month (mostly
    under the tide) may give no second look before the series ends: a thin month may still
    call a gain alone. Measured on the independent scenarios (300 px, 18 months; seeds
    10-29, 300-319, 700-719): gain and loss within 20 % or 3 ha in 65, 65, 70 % of seeds
    with the cap on losses only, 50, 40, 50 % with thin months capped both ways (main
    before rule v5: 45, 35, 50 %)."""
    if "n_clear" not in refl.data_vars:
        return score
    n_ref = int(rule.tolerance_views)
    if not 1 <= n_ref <= len(MEDIAN_VARIANCE):
        raise ValueError(f"tolerance_views must be 1..{len(MEDIAN_VARIANCE)}, got {n_ref}")
    views = refl["n_clear"]
    factor = xr.full_like(views, 1.0, dtype=np.float32)
    for n in range(n_ref - 1, 0, -1):  # n_clear 0 (not observed: NaN anyway) as one view
        f = np.float32(np.sqrt(MEDIAN_VARIANCE[n_ref - 1] / MEDIAN_VARIANCE[n - 1]))
        factor = xr.where(views <= n, f, factor)
    below = np.float32(np.nextafter(np.float32(STRONG), np.float32(0)))
    scaled = (score * factor).astype(np.float32)
    return xr.where(views < n_ref, scaled.clip(min=-below), scaled).astype(np.float32)


def tidal_score(score: xr.DataArray) -> xr.DataArray:
    """The mangrove score on tidal ground (rule v7, :data:`indices.context.TIDAL`: the
    spectral score, NDVI and MVI with the site's parameters, views under the tide unjudged
    as on the flat, :func:`unjudged_water`), ``score`` that, scaled for thin months
    (:func:`view_scaled`): a confident look for mangrove (``score >= 1``) raised to
    :data:`indices.rules.STRONG`, one against it kept above ``-STRONG``.

    So one clear dry look passing the test changes tidal ground to mangrove
    (:func:`indices.change.confirmed_state`) and a loss there needs two looks. **A project
    choice, not a published rule**: the tide hides such ground most months (a flat the
    baseline saw wet; measured on the independent scenarios, seeds 16, 311, 1208, 1216:
    37-48 % of a replanting at half cover was ever seen above water in 18 months; gain18,
    session 27), so a second look may never come before the series ends, and the errors a
    look is guarded against (haze, shadow, a flooded floor: :func:`view_scaled`) lower a
    canopy's NDVI and MVI; they do not raise bare wet mud past the MVI threshold. The
    cost: a single bad view that does pass (floating weed on a creek at low tide) is a gain
    until the next clear look says otherwise, twice.

    Not on the tidal flat itself, whose test is NDVI alone (:func:`flat_score`; exposed
    seagrass and algal mats pass it too): there a look changes a class alone at the strong
    bar of any look (NDVI 0.56), as in rule v6, else a second look confirms it. Measured on
    the independent scenarios (seeds 10-29, 300 px, 18 months): one look at NDVI 0.48
    (rule v7 as first built) is what raised gains there; one look only past the connected
    canopy's strong bar (NDVI 0.56 and the MVI test) lost gains rule v6 found (seed 11:
    1.26 -> 0.14 ha of 3.15, 16: 1.08 -> 0.77 of 6.59; benchmarks/measured/mang22)."""
    strong = np.float32(STRONG)
    below = np.float32(np.nextafter(strong, np.float32(0)))
    raised = xr.where(score >= 1, np.maximum(score, strong), score.clip(min=-below))
    return raised.astype(np.float32)


def flat_cover_score(score: xr.DataArray, refl: xr.Dataset, rule: MangroveRule,
                     params: xr.DataArray | None = None) -> xr.DataArray:
    """The mangrove score on the tidal flat (rule v10; :func:`flat_score`, scaled for thin
    months, :func:`view_scaled`) with a confident look for mangrove (``score >= 1``) whose
    NDVI is at least the site's ``ndvi_half`` raised to :data:`indices.rules.STRONG`: such
    a look changes the class alone (:func:`indices.change.confirmed_state`); every other
    look as it is. float32, the dims of ``score``.

    ``ndvi_half``: the NDVI of a pixel half covered by the site's own canopy over its own
    bare flat (two-endmember linear unmixing of red and NIR, :mod:`indices.canopy`; Adams,
    Smith & Johnson 1986, J. Geophys. Res. 91(B8):8098-8112; Adams et al. 1995, Remote Sens.
    Environ. 52:137-154): past it the canopy covers most of the pixel, the canopy-closure
    definition a mangrove map's pixel follows. Why: a month on the flat is mostly one
    clear view, whose strong bar (NDVI 0.64) is past most of a young canopy's looks, and
    the tide seldom gives a second (``benchmarks/measured/mang27``).

    **A project choice, not a published rule**, as :func:`tidal_score` is. Risk: NDVI is
    the flat's only test, and dense stranded green algae (an Ulva green tide) can read
    NDVI >= 0.6, past the half cover: such a look gains on the flat alone. Requiring the
    MVI past ``mvi_floor`` too was proposed (review of rule v10) and not measured
    (``benchmarks/measured/mang29``)."""
    half = mangrove_values(rule, params)[1]
    ndvi = compute_indices(refl, ["ndvi"])["ndvi"]
    raised = xr.where((score >= 1) & (ndvi >= half), np.maximum(score, np.float32(STRONG)),
                      score)
    return raised.astype(np.float32)


def unjudged_water(refl: xr.Dataset, score: xr.DataArray) -> xr.DataArray:
    """``score`` NaN where the view is under the tide (NDWI > 0), or wet (MNDWI > 0) and
    below the threshold (``score < 0``): the water tests of :func:`flat_score` (its doc
    gives the reasons and citations), written once for the flat and tidal ground."""
    ix = compute_indices(refl, ["ndwi", "mndwi"])
    return score.where(~(ix["ndwi"] > 0) & ~((ix["mndwi"] > 0) & (score < 0)))


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
      (:mod:`indices.alerts`). Without this, a month seen once at high tide is a confident
      "not mangrove" that resets a replanting's confirmation (:func:`indices.change.
      confirmed_state`) every time the tide is in.
    * **Water in the pixel.** Where the view is wet but not under water (MNDWI > 0: SWIR1
      below green, the water test of Xu 2006, Int. J. Remote Sens. 27:3025-3033; water
      absorbs SWIR1 even where a canopy keeps NIR above green), seedlings may stand in or
      under that water: such a view can show a canopy (NDVI past the threshold anyway:
      kept) but not its absence (a low NDVI: NaN, not observed). Jia et al. 2019 (Remote
      Sens. 11:2043, doi:10.3390/rs11172043) show that periodically submerged mangroves are
      hard to map on a single tide and detect them with an index of their own (MFI; from
      their abstract, the stored copy at hand: that it uses red-edge bands, which the scene
      cube does not hold, :data:`indices.masks.BANDS`, is from memory, not verified here):
      this rule leaves such views unjudged instead (the alternative not taken). Measured on
      the independent scenario seed 14 (300 px, 18 months, rule v4): 668 of the replanting's
      692 confident "not mangrove" looks were such wet views (NDVI 0.0-0.3). The cost: a wet
      flat ages unseen like a clouded one (wider intervals); drained mud (SWIR1 above
      green) still shows a bare flat."""
    return unjudged_water(refl, _ndvi_score(refl, rule))


def _ndvi_score(refl: xr.Dataset, rule: MangroveRule) -> xr.DataArray:
    """The NDVI test of :func:`flat_score`, its views under water not yet unjudged."""
    ndvi = compute_indices(refl, ["ndvi"])["ndvi"]
    return ((ndvi - rule.ndvi_min) / rule.ndvi_tolerance).astype(np.float32)
