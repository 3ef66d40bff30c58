"""Change against the baseline: monthly extent, gain, loss, net change, and their intervals.

The monthly habitat map is carried forward: a pixel observed in a month takes that month's
class when that month's score and the one of its previous confident look are both outside
the rule's band of doubt (``|score| >= 1``, see :mod:`indices.habitat`) against its class,
or when that month's score alone is past it by twice as much (``|score| >= STRONG``, 2)
(:func:`confirmed_state`), and otherwise keeps its last known class (the baseline's before
anything was seen): a class changes on evidence beyond the noise of one month's composite,
not on a score that wavers about its threshold (a few views of a canopy near the MVI
threshold do, month after month; such looks still count as close calls in the intervals).
Gain is habitat now that was not habitat in the baseline, loss the reverse; both are
cumulative since the baseline and cleaned with a minimum mapping unit (connected patches of
8-neighbours smaller than ``mmu_ha`` are dropped, so sensor noise does not add up to hectares).
The extent is then ``baseline + gain - loss``, so the table always adds up.

Intervals: a pixel's class is *uncertain* when its last score is within the rule's tolerance of
the threshold (``|score| < 1``, see :mod:`indices.habitat`), when one confident look against
its class awaits the second that would change it (*pending*: the change may be there, shown
a month late by the map), or when it was last seen more than ``stale_months`` ago (it may
have changed unseen: the interval widens as observation thins). A mangrove flat under the
tide is not judged (:func:`indices.habitat.flat_score`), but since rule v11 such a clear
view is an observation for the interval (:func:`monthly_states`' ``views``): it keeps the
pixel from ageing (not stale); its class it never changes, and its close call only on the
coast's water inside the shore's ground (rule v12, ``ends``), and there only while the pixel
has shown no canopy since the baseline.
Mixed pixels on the edges of gain and loss patches, the ring just outside them, and patches
only a few mapping units large are in doubt as well. Each bound counts every doubtful pixel as
the class that moves the bound furthest, and the baseline's uncertain pixels likewise for gain
and loss. The bounds are conservative rather than statistical; the tests check their coverage
against planted truth (>= 90 % of site-months).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numba
import numpy as np
import xarray as xr

from indices.patches import MMU_HA, drop_small_patches, mmu_pixels, patch_doubt
from indices.rules import STRONG

__all__ = ["CHANGE_METRICS", "ENDS_FILLED", "ENDS_SHORE", "GREEN_NDVI", "MonthState",
           "change_counts", "change_metrics", "change_row", "check_ends", "change_values",
           "confirmed_state", "filled_bits", "monthly_states", "shore_bits", "strong_look",
           "unjudged_views", "wet_views_observe"]

CHANGE_METRICS = (
    "extent_ha", "baseline_extent_ha", "gain_ha", "loss_ha", "net_change_ha",
    "extent_ci_low_ha", "extent_ci_high_ha", "gain_ci_low_ha", "gain_ci_high_ha",
    "loss_ci_low_ha", "loss_ci_high_ha", "valid_fraction",
)


ENDS_SHORE, ENDS_FILLED = 1, 2
"""The bits of :func:`monthly_states`' ``ends`` (:attr:`indices.summary.MonthlyInputs.base_ends`,
uint8): ``ENDS_SHORE`` where a clear view under the tide ends a bare pixel's close call (rule
v12); ``ENDS_FILLED`` where the baseline window never saw the pixel clear and
:mod:`indices.bap` filled it from a month after the window (rule v17): the point estimate
keeps the fill, the interval counts the pixel's baseline as unseen (uncertain in both bounds,
as a NaN baseline is)."""

GREEN_NDVI = 0.40
"""NDVI above which a month shows canopy (:func:`monthly_states`' ``ends`` guard):
``MangroveRule.ndvi_min`` (not imported: mangrove_rule imports this module through canopy;
``tests/test_patches.py`` checks they agree), 0.4, Digital Earth Pacific's open-mangrove
floor (their mangrove product's classes: NDVI > 0.4 mangrove, > 0.7 closed)."""


def strong_look(habitat: str | None) -> float:
    """The ``strong`` look of :func:`confirmed_state` for a habitat's scores: :data:`STRONG`
    for mangrove, whose scores are margins in units of a month's composite noise, thin
    months scaled by their standard error (:func:`indices.habitat.view_scaled`); infinite
    (two confident looks, always) for the others: the seagrass score is not scaled by its
    views, and one strong look of it is not two confident ones (measured on the
    independent scenarios: it called false losses of 7-15 ha on seeds 14 and 17)."""
    return STRONG if habitat == "mangrove" else float("inf")


def wet_views_observe(habitat: str | None) -> bool:
    """Whether a clear view the habitat's score leaves unjudged (``n_clear > 0``, score NaN)
    is an observation for the interval (:func:`monthly_states`' ``views``): True for
    mangrove, whose score is NaN on a clear view only under the tide on the flat and tidal
    ground (:func:`indices.mangrove_rule.unjudged_water`; rule v11); False for seagrass,
    whose unjudged views are plumes and water the baseline could not assess."""
    return habitat == "mangrove"


@dataclass(frozen=True)
class MonthState:
    """One month of a site, as boolean (y, x) maps inside the site polygon."""

    seen: np.ndarray
    """Observed clear this month."""
    habitat: np.ndarray
    """Habitat map after gap-filling and the minimum mapping unit: baseline + gain - loss."""
    baseline: np.ndarray
    gain: np.ndarray
    loss: np.ndarray
    uncertain: np.ndarray
    """Class within tolerance of its threshold, or not seen for more than ``stale_months``."""
    baseline_uncertain: np.ndarray


def monthly_states(scores: Iterable[np.ndarray], baseline: np.ndarray, site: np.ndarray, *,
                   mmu_pixels: int, stale_months: int = 2,
                   strong: float = float("inf"),
                   views: Iterable[np.ndarray] | None = None,
                   ends: np.ndarray | None = None,
                   ndvi: Iterable[np.ndarray] | None = None,
                   green: float = GREEN_NDVI) -> Iterator[MonthState]:
    """Walk the months of scores against a (y, x) baseline score.

    ``scores``: the (y, x) score map of each month in order: a (period, y, x) array, or any
    iterable of maps (a generator computing each month only when the walk reaches it keeps
    one month in memory: :func:`flows.site.site_tables` walks large sites so).
    The one place the gap-filling, minimum-mapping-unit and uncertainty rules live: change
    metrics, maps and canopy metrics all iterate these states. ``strong``: the look that
    changes a class alone (:func:`confirmed_state`, :func:`strong_look` of the habitat).
    ``views``: each month's clear views (``n_clear``, (y, x)), given where
    :func:`wet_views_observe`: a clear view whose score is NaN (the tide over the mangrove
    flat or tidal ground) is an observation for the interval only (rule v11,
    ``benchmarks/measured/mang29``): it resets the pixel's age (not stale) and changes
    neither its class, its close call nor a pending change. Not a look against: seedlings
    under the tide are hidden (ending the close calls of bare pixels so took the interval's
    coverage below 90 % of site-months, the record). None: only scores are looks.
    ``ends`` (with ``views`` and ``ndvi``, each month's NDVI (y, x)): (y, x) pixels where such a
    view also ends the close call of a bare pixel with no change pending, unless some month
    since the baseline read NDVI > ``green`` there (:data:`GREEN_NDVI`: it has shown
    canopy, a replanting the tide may hide). Rule v12 gives the coast's water inside the
    shore's ground (:data:`indices.context.SHORE_WATER`): the sea next to the forest,
    seen wet in every view, would otherwise be a close call in the upper bound every month
    (``benchmarks/measured/mang31``). None: nowhere. ``ends`` is read by its bits
    (:data:`ENDS_SHORE` this ending; :data:`ENDS_FILLED` a baseline pixel filled from a month
    after the window, :mod:`indices.bap`: its baseline counts as unseen in the interval, a
    close call and ``baseline_uncertain`` as a NaN baseline, while its class stays the
    fill's). ``ends`` without ``views`` or without
    ``ndvi`` raises ValueError (it would silently be v11's walk). ``green``: the site's
    rule's ``ndvi_min`` (a calibrated site may refit it; :data:`GREEN_NDVI` the default).
    """
    site = site.astype(bool)
    views = iter(views) if views is not None else None
    no_views = np.zeros(0, np.uint8)
    base = (baseline > 0) & site
    check_ends(views, ends, ndvi)
    guard = ends is not None
    # NaN (never seen) is uncertain too, and so is a baseline filled after the window
    close_call = ~(np.abs(baseline) >= 1) | (filled_bits(ends) if guard else False)
    base_uncertain = close_call & site
    state = base.copy()
    # per pixel, only what the rules read: whether the last score was within tolerance (the
    # baseline's, 0 where never seen), and months since the last look, saturating (one byte
    # each a pixel, not a float score and an int32 age: a whole tile is 120 Mpx)
    age = np.zeros(site.shape, np.uint8)
    pending = np.zeros(site.shape, bool)
    u8 = [a.reshape(-1).view(np.uint8) for a in (site, base, state, pending, close_call)]
    ndvi = iter(ndvi) if guard else None
    ends = (shore_bits(ends) & site).view(np.uint8) if guard else no_views
    shown = np.zeros(site.shape, bool) if guard else no_views.view(bool)  # NDVI > green once
    for score in scores:
        # one pass (_month_kernel) for what these array expressions give, in place:
        # seen = ~isnan(score) & site; state, pending = confirmed_state(...); state &= site;
        # close_call = where(seen, |score| < 1, close_call); age = where(seen, 0,
        # min(age, 254) + 1); uncertain = (close_call | pending | age > stale_months) & site
        score = np.ascontiguousarray(score)
        if score.shape != site.shape:
            raise ValueError(f"a month's scores are {score.shape}, the site {site.shape}")
        seen, uncertain = np.empty(site.shape, bool), np.empty(site.shape, bool)
        grown, lost = np.empty(site.shape, bool), np.empty(site.shape, bool)
        wet = no_views if views is None else unjudged_views(score, next(views))
        if guard:
            shown |= np.asarray(next(ndvi)) > green
        _month_kernel(score.reshape(-1), *u8, age.reshape(-1), int(stale_months), float(strong),
                      *(a.reshape(-1).view(np.uint8) for a in (seen, uncertain, grown, lost)),
                      wet.reshape(-1), ends.reshape(-1), shown.reshape(-1).view(np.uint8))
        gain = drop_small_patches(grown, mmu_pixels)
        loss = drop_small_patches(lost, mmu_pixels)
        yield MonthState(
            seen=seen, habitat=(base | gain) & ~loss, baseline=base, gain=gain, loss=loss,
            uncertain=uncertain, baseline_uncertain=base_uncertain,  # exact below 255 months
        )


def shore_bits(ends) -> np.ndarray:
    """Boolean ``(y, x)``: :data:`ENDS_SHORE` of ``ends`` (uint8 bits, or boolean: the shore)."""
    return (np.asarray(ends).astype(np.uint8, copy=False) & ENDS_SHORE) != 0


def filled_bits(ends) -> np.ndarray:
    """Boolean ``(y, x)``: :data:`ENDS_FILLED` of ``ends`` (a boolean ``ends`` has none)."""
    ends = np.asarray(ends)
    if ends.dtype == bool:
        return np.zeros(ends.shape, bool)
    return (ends & ENDS_FILLED) != 0


def check_ends(views, ends, ndvi) -> None:
    """Raise ValueError where ``ends`` (:func:`monthly_states`) comes without the ``views``
    or the ``ndvi`` its guard reads: the close-call ending would be off without a word."""
    if ends is not None and (views is None or ndvi is None):
        missing = " and ".join(n for n, a in (("views", views), ("ndvi", ndvi)) if a is None)
        raise ValueError(f"ends (the close-call ending, rule v12) needs the {missing} too")


def unjudged_views(score: np.ndarray, n_clear: np.ndarray) -> np.ndarray:
    """uint8 ``(y, x)``: 1 where a clear view left the score NaN (:func:`monthly_states`'
    ``views``)."""
    n_clear = np.asarray(n_clear)
    if n_clear.shape != score.shape:
        raise ValueError(f"a month's views are {n_clear.shape}, its scores {score.shape}")
    return ((n_clear > 0) & np.isnan(score)).view(np.uint8)


@numba.njit(nogil=True, cache=True)
def _month_kernel(score, site, base, state, pending, close_call, age, stale, strong, seen,
                  uncertain, grown, lost, wet, ends, shown):  # pragma: no cover (numba)
    """One month of :func:`monthly_states` over flat maps (0/1 uint8 but ``score`` and
    ``age``): ``state``, ``pending``, ``close_call`` and ``age`` updated in place
    (:func:`confirmed_state`'s rule, with ``strong``), ``seen``, ``uncertain``
    (a close call, a change
    pending its confirming look, or stale) and the changes before the
    minimum mapping unit (``grown = state & ~base``, ``lost = base & ~state``) written;
    ``wet`` (empty: none) the unjudged clear views, which reset ``age``, and end the close
    call of a bare pixel with nothing pending where ``ends`` and not ``shown`` (empty: none)."""
    any_wet = wet.size > 0
    any_ends = ends.size > 0
    for k in range(score.size):
        v = score[k]
        s = site[k]
        look = s if not np.isnan(v) else 0
        st = state[k]
        if look:
            if abs(v) >= 1:  # confident: a class against the state flips it the second time
                hab = 1 if v > 0 else 0
                against = 1 if hab != st else 0
                if against and (pending[k] or abs(v) >= strong):
                    st = hab
                    pending[k] = 0
                else:
                    pending[k] = against
                close_call[k] = 0
            else:
                close_call[k] = 1
            age[k] = 0
        elif any_wet and wet[k] and s:
            age[k] = 0
            if any_ends and ends[k] and st == 0 and pending[k] == 0 and shown[k] == 0:
                close_call[k] = 0
        else:
            age[k] = min(age[k], 254) + 1
        st &= s
        state[k] = st
        seen[k] = look
        uncertain[k] = (close_call[k] | pending[k] | (1 if age[k] > stale else 0)) & s
        grown[k] = st & (base[k] ^ 1)
        lost[k] = base[k] & (st ^ 1)


def confirmed_state(score: np.ndarray, seen: np.ndarray, state: np.ndarray,
                    pending: np.ndarray, strong: float = float("inf")
                    ) -> tuple[np.ndarray, np.ndarray]:
    """One month of the carried class: ``(state, pending)``. A class changes on the second
    consecutive confident look (``|score| >= 1``) against it, the first only marks it
    ``pending``; a confident look for it clears that; looks within the band of doubt and
    months not seen leave both. One month's composite of a few views wavers past a
    threshold now and then; a change that is there is seen again (the confirmation of
    Global Mangrove Watch's alerts, Bunting et al. 2023, doi:10.3390/rs15082050, in its
    simplest form).

    A look past the threshold by ``strong`` band widths (:data:`STRONG`, 2, for mangrove:
    :func:`strong_look`; by default never) changes the class on its own:
    it carries the evidence of two confident looks. The score is a margin in units of the
    noise of a month's composite (the band of doubt, scaled for thin months:
    :func:`indices.habitat.view_scaled`), so where the truth sits at the threshold a look
    reaches 2 by noise with the normal tail's 2.3 %, two independent looks both reach 1
    with 15.9 %² = 2.5 %: the same false-change rate, summing the evidence of consecutive
    looks as a cumulative-sum test does (Page 1954, Biometrika 41:100-114). Without it, a
    change seen once clearly waits for a second look that the tide or the clouds may not
    give before the series ends (a replanting's canopy closes in its last months: measured
    on the independent scenarios, gains within 20 % or 3 ha went from 12 to 16 of seeds
    10-29)."""
    confident = seen & (np.abs(score) >= 1)
    habitat = score > 0
    against = confident & (habitat != state)
    flip = against & (pending | (np.abs(score) >= strong))
    state = np.where(flip, habitat, state)
    pending = np.where(confident, against & ~flip, pending)
    return state, pending


def change_counts(m: MonthState, site: np.ndarray, gain_fringe: tuple[np.ndarray, np.ndarray],
                  loss_fringe: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The pixel counts behind :func:`change_row` (int64): one per hectare metric, then the
    pixels seen. Counts of row strips add up to those of the whole map. One pass over the
    maps (:func:`_counts_kernel`; the array expressions it replaces are in its doc and in
    ``tests/test_patches.py``, which checks them against it)."""
    (gain_doubt, gain_ring), (loss_doubt, loss_ring) = gain_fringe, loss_fringe
    maps = (m.habitat, m.baseline, m.gain, m.loss, m.seen, m.uncertain, m.baseline_uncertain,
            gain_doubt, gain_ring, loss_doubt, loss_ring, site)
    shape = np.shape(m.habitat)
    if any(np.shape(a) != shape for a in maps):
        raise ValueError(f"change_counts needs maps of one shape, got {[np.shape(a) for a in maps]}")
    return _counts_kernel(*(np.ascontiguousarray(a, dtype=bool).reshape(-1).view(np.uint8)
                            for a in maps))


@numba.njit(nogil=True, cache=True)
def _counts_kernel(hab, base, gain, loss, seen, u, ub, gd, gr, ld, lr, site):  # pragma: no cover
    """The counts of :func:`change_counts` (0/1 uint8 maps, flat), in one pass:
    habitat, baseline, gain, loss, gain - loss, ``habitat & ~could_flip``, ``could_be_now``,
    ``gain & ~u & ~ub & ~gain_doubt``, ``gain | gain_ring & site | could_be_now &
    ~(baseline & ~ub)``, ``loss & ~u & ~ub & ~loss_doubt``, ``loss | loss_ring & site |
    could_have_been & ~(habitat & ~could_flip)``, seen; where ``could_flip = u | (gain_doubt
    | gain_ring | loss_doubt | loss_ring) & site`` (the habitat map could be otherwise wherever
    a class or a change is in doubt), ``could_be_now = habitat | could_flip`` and
    ``could_have_been = baseline | ub``."""
    c0 = c1 = c2 = c3 = c5 = c6 = c7 = c8 = c9 = c10 = c11 = 0
    for k in range(hab.size):
        h, b, g, lo, s = hab[k], base[k], gain[k], loss[k], site[k]
        uu, ubb = u[k], ub[k]
        flip = uu | ((gd[k] | gr[k] | ld[k] | lr[k]) & s)
        now = h | flip
        sure_h = h & (flip ^ 1)
        c0 += h
        c1 += b
        c2 += g
        c3 += lo
        c5 += sure_h
        c6 += now
        c7 += g & (uu ^ 1) & (ubb ^ 1) & (gd[k] ^ 1)
        c8 += g | (gr[k] & s) | (now & ((b & (ubb ^ 1)) ^ 1))
        c9 += lo & (uu ^ 1) & (ubb ^ 1) & (ld[k] ^ 1)
        c10 += lo | (lr[k] & s) | ((b | ubb) & (sure_h ^ 1))
        c11 += seen[k]
    return np.array([c0, c1, c2, c3, c2 - c3, c5, c6, c7, c8, c9, c10, c11], np.int64)


def change_values(counts: np.ndarray, n_site: int, *, pixel_area_ha: float) -> np.ndarray:
    """:data:`CHANGE_METRICS` from :func:`change_counts` (summed over strips or not)."""
    out = np.empty(len(CHANGE_METRICS), np.float64)
    out[:-1] = np.asarray(counts[:-1], np.float64) * pixel_area_ha
    out[-1] = counts[-1] / max(int(n_site), 1)
    return out


def change_row(m: MonthState, site: np.ndarray, *, pixel_area_ha: float,
               mmu_pixels: int) -> np.ndarray:
    """One month's :data:`CHANGE_METRICS` (hectares; valid fraction) from its state."""
    counts = change_counts(m, site, patch_doubt(m.gain, mmu_pixels), patch_doubt(m.loss, mmu_pixels))
    return change_values(counts, int(site.sum()), pixel_area_ha=pixel_area_ha)


def _change_kernel(scores: np.ndarray, baseline: np.ndarray, site: np.ndarray,
                   views: np.ndarray | None = None, ends: np.ndarray | None = None,
                   ndvi: np.ndarray | None = None, *, pixel_area_ha: float, mmu_pixels: int,
                   stale_months: int, strong: float = float("inf"),
                   green: float = GREEN_NDVI) -> np.ndarray:
    """(period, y, x) scores + (y, x) baseline score + site mask (+ (period, y, x) clear
    views, + (y, x) ``ends`` and (period, y, x) NDVI: :func:`monthly_states`') ->
    (period, metric)."""
    site = site.astype(bool)
    out = np.empty((scores.shape[0], len(CHANGE_METRICS)), dtype=np.float64)
    for p, m in enumerate(monthly_states(scores, baseline, site, mmu_pixels=mmu_pixels,
                                         stale_months=stale_months, strong=strong,
                                         views=views, ends=ends, ndvi=ndvi, green=green)):
        out[p] = change_row(m, site, pixel_area_ha=pixel_area_ha, mmu_pixels=mmu_pixels)
    return out


def change_metrics(scores: xr.DataArray, baseline_score: xr.DataArray, site_mask: xr.DataArray,
                   *, pixel_area_ha: float, mmu_ha: float = MMU_HA,
                   stale_months: int = 2, strong: float = float("inf"),
                   views: xr.DataArray | None = None, ends: xr.DataArray | None = None,
                   ndvi: xr.DataArray | None = None, green: float = GREEN_NDVI) -> xr.Dataset:
    """Per-period change metrics of one site (lazy when the inputs are).

    Parameters
    ----------
    scores
        Habitat score per period, dims ``(period, y, x)``, NaN where not observed.
    baseline_score
        Score of the baseline composite, dims ``(y, x)``.
    site_mask
        Boolean ``(y, x)``: pixel centre inside the site polygon.
    pixel_area_ha
        Area of one pixel in hectares (0.01 at 10 m).
    mmu_ha
        Minimum mapping unit for gain and loss patches, hectares.
    stale_months
        Months without a clear observation after which a pixel's class counts as uncertain.
    strong
        The look that changes a class alone (:func:`strong_look` of the site's habitat).
    views
        Clear views per period ``(period, y, x)`` (a monthly composite's ``n_clear``), where
        :func:`wet_views_observe` of the habitat: a clear view the score left NaN resets the
        pixel's age (:func:`monthly_states`). None: only scores are looks.
    ends, ndvi
        With ``views``: ``(y, x)`` pixels where such a view ends a bare pixel's close call and
        the NDVI per period ``(period, y, x)`` that guards it (:func:`monthly_states`);
        ``ends`` without both raises ValueError.
    green
        NDVI above which a month shows canopy (the guard's floor): the site's rule's
        ``ndvi_min`` (:data:`GREEN_NDVI` by default).

    Returns
    -------
    Dataset over ``period`` with the variables of ``CHANGE_METRICS`` (hectares; valid_fraction
    is the share of the site's pixels observed clear in that period).
    """
    # the walk over months needs whole maps: one chunk per input (lazy inputs stay lazy)
    check_ends(views, ends, ndvi)
    inputs = [scores, baseline_score, site_mask] + ([] if views is None else [views])
    if ends is not None:
        inputs += [ends, ndvi]
    inputs = [a.chunk(-1) if a.chunks else a for a in inputs]
    table = xr.apply_ufunc(
        _change_kernel, *inputs,
        input_core_dims=[["period", "y", "x"], ["y", "x"], ["y", "x"],
                         ["period", "y", "x"], ["y", "x"], ["period", "y", "x"]][:len(inputs)],
        output_core_dims=[["period", "metric"]],
        kwargs={"pixel_area_ha": pixel_area_ha, "mmu_pixels": mmu_pixels(mmu_ha, pixel_area_ha),
                "stale_months": stale_months, "strong": float(strong), "green": float(green)},
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"metric": len(CHANGE_METRICS)}},
    )
    table = table.assign_coords(metric=list(CHANGE_METRICS))
    return table.to_dataset(dim="metric")


