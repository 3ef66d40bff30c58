"""Coastal context of mangrove: canopy connected to the coast's water the time series saw.

Mangroves are intertidal forests: they grow between mean sea level and the highest tides,
fringing tidal flats and creeks. A spectral index alone does not know that: on real
Sentinel-2 where no mangrove grows, the published MVI threshold (Baloloy et al. 2020) still
passes 6 % of Welsh vegetation in May and 25 % of Irish pasture in October (measured here,
tests/test_realdata_mangrove.py). The global products bring the context from outside: Global
Mangrove Watch v3 classifies inside a coastal habitat mask (Bunting et al. 2022, Remote Sens.
14:3657, doi:10.3390/rs14163657), Digital Earth Africa/Pacific and DEA Mangroves (Lymburner et
al. 2020, Remote Sens. Environ. 238:111185) threshold vegetation inside a mangrove extent.
This module derives the context from the images themselves, from what the composite already
counts per pixel: how many clear views were wet (NDWI > 0, green above NIR: the land/water
test of tidal-flat mapping, Murray et al. 2012, Remote Sens. 4:3417) and how many clear views
there were (:func:`indices.composite.composite`, ``n_wet`` and ``n_clear``).

The context of a pixel, in five steps, all local (radius :func:`context_depth` pixels):

1. *intertidal*: seen both wet and dry over at least ``min_views`` clear views (two: one of
   each). A lake or the open sea is always wet, a field always dry: neither is evidence of a
   tide. A pixel that flips with the water line is (tidal flats, creek banks; also seasonal
   floodplains and paddies);
2. the intertidal zone *opened* with a 3 x 3 square: one-pixel rings of mixed pixels at the
   edge of a lake or a river, which flip with noise, are not a tidal flat;
3. the *coast's water*: the sea (water never seen dry, at least ``2 * SEA_HALF_WIDTH_M``
   across: sea, estuary, wide channel, seen ``min_views`` times on average around) and what
   was ever seen wet connected to it through itself within ``reach`` (flats, creeks); the
   *tidal flat* is the intertidal zone inside it (flooded paddies and ponds inland flip too,
   but lie away from the sea). The coast's narrow water never seen dry (a lower flat or a
   channel all of a short baseline's views saw wet) is not taken for flat: measured on the
   independent scenarios it held 19-43 % of some replantings, but on the site grid (no
   margin) the sea within ``sea_px`` of the map's edge fails the sea's test and became
   "flat" too, where NDVI alone would judge floating weed or a revegetated pond (review of
   rule v5: 3,000 px of sea on seed 1, the interval's upper bound doubled). Exposed tidal
   mud often reads wet at low tide (saturated), so the flats are taken from "ever wet", not
   only from "seen both ways";
4. the coast's edge *widened* by ``shore_gap_m``: sun-synchronous satellites see a biased
   part of the tidal range and seldom the highest tides (Bishop-Taylor et al. 2019,
   Estuar. Coast. Shelf Sci. 223:115-128, doi:10.1016/j.ecss.2019.03.006), so the upper
   intertidal, where the canopy starts, may never be seen wet;
5. canopy *connected* to that shore: pixels reached from it through spectral candidates
   (8-connected, at most ``reach_m`` of path), so a belt of forest is mangrove as a whole and
   a field of look-alike grass inland is not. A lake's shore is a shore here too (a limit:
   no tide model is at hand to tell them apart).

Rule v7 adds a level, *tidal ground* (:data:`TIDAL`, :func:`tidal_ground`): a flat the forest
encloses, off the coast's water, seen wet in ``min_views`` baseline views, reached from the
connected canopy and not from dry land.
Rule v12 adds :data:`SHORE_WATER`: the coast's water inside the shore's ground
(:func:`shore_ground`), judged as tidal ground, apart for the month walk's interval only.

A single scene has no tidal evidence (it shows one water line), so it gives no intertidal
zone and no mangrove: mangrove needs a time series (the site's baseline), of at least two
clear views a pixel. This is deliberate: water seen next to a canopy in one scene is no more
a tide than a lake shore is.

Chunk-safe: :func:`intertidal_context` runs per block with ``dask.array.map_overlap`` and an
overlap of :func:`context_depth` pixels between blocks, none beyond the map's edges (a block
sees the map's edge as the whole map does), in exact integer arithmetic, so any chunking gives
the whole map's result bit for bit (``tests/test_chunk_invariance.py``); a map of up to
:data:`indices.neighbourhood.ONE_BLOCK` pixels a side is one block. A site's evidence needs
three maps of the same coast (two contexts and the shore band) and, once its parameters are known, its own context:
:func:`indices.coast_maps.evidence_maps` computes the three in one pass, the coast's water once a
block, and :func:`indices.coast_maps.context_of_coast` the last from that pass's coast and flat,
the same levels (``tests/test_evidence_maps.py``).
"""

from __future__ import annotations

import numba
import numpy as np
import xarray as xr
from scipy import ndimage

from indices.morphology import square_dilation, square_opening
from indices.neighbourhood import neighbourhood, window_sum

__all__ = ["COAST", "CONNECTED", "INTERTIDAL", "SHORE", "SHORE_WATER", "TIDAL", "coast_water",
           "context_depth", "context_kernel", "context_levels", "intertidal_context",
           "intertidal_zone", "pixel_size", "pixels_of", "reach", "shore_band", "shore_edge",
           "shore_ground", "shore_kernel", "tidal_ground", "tidal_wet"]


def pixel_size(a: xr.DataArray, default: float = 10.0) -> float:
    """Pixel size in metres from the ``x`` coordinate's spacing (``default`` without one)."""
    if "x" in a.coords and a.sizes.get("x", 0) > 1:
        step = abs(float(a["x"].values[1] - a["x"].values[0]))
        if np.isfinite(step) and step > 0:
            return step
    return default


def pixels_of(metres: float, res: float) -> int:
    """``metres`` in whole pixels of ``res`` metres (rounded, never negative)."""
    return max(0, int(round(metres / res)))


def context_depth(shore_gap_m: float, reach_m: float, res: float, tidal: bool = True) -> int:
    """Pixels a pixel's context depends on around it (the overlap of a chunked run): the
    opening, the sea's opening, the flat's reach, the gap, the canopy's reach and (``tidal``)
    the tidal ground's (:data:`TIDAL`)."""
    return (2 + 2 * pixels_of(SEA_HALF_WIDTH_M, res) + pixels_of(reach_m, res)
            + pixels_of(shore_gap_m, res) + (1 + bool(tidal)) * pixels_of(reach_m, res) + 1)


def intertidal_zone(n_wet: np.ndarray, n_clear: np.ndarray, min_views: int) -> np.ndarray:
    """Steps 1-2 of the module doc on numpy counts: seen wet and dry over ``min_views``
    clear views, opened with a 3 x 3 square (outside the map counts as not intertidal)."""
    n_wet = np.asarray(n_wet)
    n_clear = np.asarray(n_clear)
    flips = (n_clear >= min_views) & (n_wet >= 1) & (n_wet < n_clear)
    return square_opening(flips, 3)


@numba.njit(cache=True, nogil=True)
def reach(seeds, path, steps):  # pragma: no cover - compiled
    """Breadth-first search, 8-connected, from ``seeds`` through ``path`` pixels for at most
    ``steps`` steps: 1 where reached (seeds included), else 0 (uint8)."""
    ny, nx = seeds.shape
    dist = np.full((ny, nx), -1, np.int32)
    queue = np.empty(ny * nx, np.int64)
    head = tail = 0
    for i in range(ny):
        for j in range(nx):
            if seeds[i, j]:
                dist[i, j] = 0
                queue[tail] = i * nx + j
                tail += 1
    while head < tail:
        q = queue[head]
        head += 1
        i, j = q // nx, q % nx
        d = dist[i, j]
        if d >= steps:
            continue
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                a, b = i + di, j + dj
                if 0 <= a < ny and 0 <= b < nx and dist[a, b] < 0 and path[a, b]:
                    dist[a, b] = d + 1
                    queue[tail] = a * nx + b
                    tail += 1
    out = np.zeros((ny, nx), np.uint8)
    for i in range(ny):
        for j in range(nx):
            out[i, j] = dist[i, j] >= 0
    return out


CONNECTED, INTERTIDAL, TIDAL = 1, 2, 3
"""Context levels: canopy connected to the shore (step 5), the tidal flat itself (step 3),
where vegetation grows on ground the tide covers, and *tidal ground* (rule v7,
:func:`tidal_ground`): a flat the forest encloses, ground seen wet in at least
``min_views`` baseline views off the coast's water, reached from the connected canopy
through such ground and not from dry land that is no mangrove candidate; connected canopy
on such ground is tidal ground too. Rule v6 left such a flat outside every level (measured
on the independent scenarios: 351 of seed 20's 358 replanted pixels; gain18, session 27:
414 of 421, and all 561 of seed 710's), mostly seen wet in every or all but one baseline
view, and judged a connected canopy's views under the tide "not mangrove". What may be
mangrove on tidal ground and on the flat is decided by
:func:`indices.mangrove_rule.tidal_score`."""

SHORE_WATER = 4
"""Context level (rule v12, narrowed in v13): the coast's water (:func:`coast_water`) of
the shore's band within ``shore_px`` of the connected canopy, i.e. what :func:`shore_ground`
adds when the coast's water is allowed, minus rule v11's shore ground (which stays
:data:`TIDAL`), **on the coast's water only**. Rule v12 gave the level to all of it: also
the band's dry bare ground reached only across that water (an islet, a sandbar), which had
been :data:`CONNECTED` and became tidal ground (one confident look gained there); since v13
such ground keeps its :data:`CONNECTED` level (measured: 3 of 120 dev rows moved, by at
most 0.03 ha; 32 px of the Welsh coast, ``benchmarks/measured/mang33``). Judged as
:data:`TIDAL` ground; apart only for the month walk, where a clear view under the tide ends a bare pixel's close call there
unless it has shown canopy (:func:`indices.change.monthly_states`' ``ends``). Measured:
``benchmarks/measured/mang31``, ``mang33``."""


SEA_HALF_WIDTH_M = 100.0
"""Half the width of the always-wet water a tidal flat must reach (module doc, CONNECTED)."""


def context_kernel(n_wet: np.ndarray, n_clear: np.ndarray, candidates: np.ndarray,
                   bare: np.ndarray | None = None, *, min_views: int, gap_px: int,
                   reach_px: int, sea_px: int = 10, tidal: bool = True,
                   shore_px: int = 0) -> np.ndarray:
    """The context (module doc, steps 1-5) of one block of numpy maps: uint8 ``(y, x)``,
    0 outside, :data:`CONNECTED`, :data:`INTERTIDAL` on the tidal flat, or (``tidal``)
    :data:`TIDAL` on the tidal ground (:func:`tidal_ground`, and with ``bare`` the shore's
    bare ground within ``shore_px``, :func:`shore_ground`) outside both."""
    n_wet, n_clear = np.asarray(n_wet), np.asarray(n_clear)
    zone = intertidal_zone(n_wet, n_clear, min_views)
    coast = coast_water(n_wet, n_clear, min_views=min_views, reach_px=reach_px, sea_px=sea_px)
    flat = zone & coast
    # 4-5. canopy connected to the coast's edge, widened by the upper intertidal
    wet = tidal_wet(n_wet, coast, min_views) if tidal else None
    return context_levels(shore_edge(coast, gap_px), candidates, flat, reach_px,
                          None if wet is None else (wet, coast, bare, shore_px))


def shore_edge(coast: np.ndarray, gap_px: int) -> np.ndarray:
    """Step 4 of the module doc: the coast's edge widened by ``gap_px`` (the reach's seeds)."""
    shore = square_dilation(coast, 3) & ~coast
    if gap_px > 0:
        shore = ndimage.maximum_filter(shore.view(np.uint8), size=2 * gap_px + 1,
                                       mode="constant", cval=0).astype(bool)
    return np.ascontiguousarray(shore)


def context_levels(edge: np.ndarray, candidates: np.ndarray, flat: np.ndarray,
                   reach_px: int, ground: tuple | None = None) -> np.ndarray:
    """Steps 4-5 of the module doc from the shore's edge (:func:`shore_edge`): the
    candidates reached from it :data:`CONNECTED`, the tidal flat :data:`INTERTIDAL`, and
    with ``ground = (wet, coast, bare, shore_px)`` (:func:`tidal_wet`, :func:`coast_water`,
    the baseline's bare ground or None, pixels) the tidal ground :data:`TIDAL`
    (:func:`tidal_ground` and, with ``bare``, :func:`shore_ground`), connected or not, and
    the coast's water :func:`shore_ground` takes when allowed and rule v11's did not,
    :data:`SHORE_WATER`, on the coast's water only (rule v13; None: no such level, rule
    v6's levels)."""
    path = np.ascontiguousarray(np.asarray(candidates, bool))
    out = reach(np.ascontiguousarray(edge), path, reach_px)
    if ground is not None:
        wet, coast, bare, shore_px = ground
        connected = out == CONNECTED  # before any tidal ground: shore_ground's seeds too
        if bare is not None and shore_px > 0:  # rule v12: the coast's water in it too
            # (v13: the water only; dry ground reached across it keeps its level)
            out[shore_ground(connected, path, wet, bare, shore_px) & coast] = SHORE_WATER
        out[tidal_ground(connected, wet, coast, path, reach_px)] = TIDAL
        if bare is not None and shore_px > 0:  # v11's shore ground stays TIDAL
            out[shore_ground(connected, path, wet | coast, bare, shore_px)] = TIDAL
    out[flat] = INTERTIDAL
    return out


def shore_ground(connected: np.ndarray, candidates: np.ndarray, wet: np.ndarray,
                 bare: np.ndarray, shore_px: int) -> np.ndarray:
    """Bare ground of the shore's band next to the connected canopy (rule v10, narrowed in
    v11; taken as :data:`TIDAL`), bool ``(y, x)``: pixels of the :data:`CONNECTED` level
    ``connected`` (before any tidal ground) that are no mangrove candidate (the band of the
    coast's edge, :func:`shore_edge`: the reach's seeds), ``bare`` in the baseline
    (NDVI <= the rule's ``ndvi_min``: no crop, pasture or palm), not seen wet in
    ``min_views`` baseline views (``wet``: :func:`tidal_wet`, not a pond behind the shore;
    ``wet | coast`` with :func:`coast_water` also leaves out the sea the band overlaps, rule
    v11's ground) and within ``shore_px`` steps (8-connected, through such ground) of the
    connected canopy's candidates (``MangroveRule.shore_ground_m``). With the coast's water
    allowed (``wet`` alone) the result holds that water **and** the dry bare ground of the
    band reached only through it (an islet, a sandbar): :func:`context_levels` gives
    :data:`SHORE_WATER` to the water alone (rule v13).

    The band is the upper intertidal a sun-synchronous satellite seldom sees wet
    (Bishop-Taylor et al. 2019): bare there next to the forest, it is the mudflat a
    replanting is planted on; as tidal ground one clear dry look past the spectral test
    gains (:func:`indices.mangrove_rule.tidal_score`). Why and how much:
    ``benchmarks/measured/mang27`` (v10) and ``mang29`` (v11: rule v10 took any
    non-candidate ground of the band within the canopy's 1.5 km reach, 50-76 ha on seeds
    304 and 310, 56 ha on the Welsh coast). Risk: bare ground at the water's edge next to
    the forest that is planted with a crop (a fallow field) gains on one look past the
    test instead of two.

    Chunk-safe: ``bare`` is per pixel and the seeds are the connected level, which a
    block's overlap (:func:`context_depth`) holds within ``reach_px`` of its core."""
    ground = np.ascontiguousarray(connected & ~candidates & ~np.asarray(wet, bool)
                                  & np.asarray(bare, bool))
    if not ground.any():
        return ground
    seeds = np.ascontiguousarray(connected & candidates)
    return (reach(seeds, ground, shore_px) != 0) & ground


def tidal_wet(n_wet: np.ndarray, coast: np.ndarray, min_views: int) -> np.ndarray:
    """Ground seen wet in at least ``min_views`` clear views of the baseline (opened with a
    3 x 3 square, as step 2: not a noisy pixel) off the coast's water ``coast``: where
    tidal ground may be (:func:`tidal_ground`); bool ``(y, x)``. One flood is not a tide (a
    storm's puddle): the same bar as step 1's ``min_views``. A paddy or a pond stays wet for
    weeks and is seen wet in several views: what tells it from a tidal flat is where it
    lies (reached from dry land, :func:`tidal_ground`), not this count."""
    return square_opening(np.asarray(n_wet) >= min_views, 3) & ~np.asarray(coast, bool)


LAND_SQUARE = 5
"""Side in pixels (50 m at 10 m) of the squares dry land is made of, for
:func:`tidal_ground`: a field, not a ring of mixed pixels at the canopy's edge nor a patch
of a flat seen dry a few times (measured on the independent scenario seed 710: a 12 px
patch of mudflat inside the forest, 3 px wide, left after a 3 x 3 opening, cut off the
whole 997 px flat and the 335 px replanted on it)."""


def tidal_ground(canopy: np.ndarray, wet: np.ndarray, coast: np.ndarray,
                 candidates: np.ndarray, reach_px: int) -> np.ndarray:
    """A flat the forest encloses (rule v7, :data:`TIDAL`): ``wet`` ground
    (:func:`tidal_wet`) reached from the connected ``canopy``'s candidates (not the band of
    the shore's edge the reach starts from, :func:`shore_edge`) through itself, and not
    reached from dry land through wet ground or ground that is no mangrove candidate (dry
    candidates, the forest, and the coast's water stop it; the dry land: neither ``wet``,
    nor ``coast``, nor ``candidates``, opened with a :data:`LAND_SQUARE` square), each
    within ``reach_px`` steps (8-connected). Bool ``(y, x)``.

    Mangroves are intertidal forests (Giri et al. 2011, Global Ecol. Biogeogr. 20:154-159,
    doi:10.1111/j.1466-8238.2010.00584.x: the global map's classes are confined to the
    intertidal zone of tropical and subtropical coasts), and Global Mangrove Watch maps
    them within a coastal habitat mask of that tidal context (Bunting et al. 2018, Remote
    Sens. 10:1669, doi:10.3390/rs10101669); a tidal flat is ground the series sees under
    water and exposed in turn (Murray et al. 2012, Remote Sens. 4:3417). A flat inside the
    forest, seen wet in several baseline views, is such ground, fed by creeks the canopy
    hides from the satellite; wet ground that dry land also reaches is the look-alike of
    paddies and drained ponds inland (a flood, not a tide), and the coast's own water is no
    seed (wide water at the map's edge fails the sea's test, :func:`open_water`: reaching
    from it took the context ~3 km inland through wet fields, review of rule v7). A flat
    open to both the forest and dry fields is left out: the cost of that tidal evidence."""
    wet = np.ascontiguousarray(np.asarray(wet, bool))
    if not wet.any():
        return wet
    coast = np.asarray(coast, bool)
    candidates = np.asarray(candidates, bool)
    seeds = np.ascontiguousarray(np.asarray(canopy, bool) & candidates)  # not the shore's band
    from_canopy = reach(seeds, wet, reach_px) != 0
    land = square_opening(~wet & ~coast & ~candidates, LAND_SQUARE)
    from_land = reach(np.ascontiguousarray(land),
                      np.ascontiguousarray((~candidates | wet) & ~coast), reach_px) != 0
    return from_canopy & wet & ~from_land


def coast_water(n_wet: np.ndarray, n_clear: np.ndarray, *, min_views: int, reach_px: int,
                sea_px: int = 10) -> np.ndarray:
    """Step 3 of the module doc on numpy counts: the coast's water (bool ``(y, x)``): the
    sea (:func:`open_water`) and what was ever seen wet (opened: not a noisy pixel)
    connected to it through itself within ``reach_px`` steps: the sea, the tidal flats, the
    creeks; the flat is its part also seen dry."""
    n_wet, n_clear = np.asarray(n_wet), np.asarray(n_clear)
    sea = open_water(n_wet, n_clear, min_views=min_views, sea_px=sea_px)
    ever = square_opening(n_wet >= 1, 3)
    return reach(np.ascontiguousarray(sea), np.ascontiguousarray(ever | sea), reach_px) != 0


def open_water(n_wet: np.ndarray, n_clear: np.ndarray, *, min_views: int,
               sea_px: int = 10) -> np.ndarray:
    """The sea of step 3 of the module doc (bool ``(y, x)``): water never seen dry, at least
    ``2 * sea_px + 1`` pixels across (sea, estuary, wide channel; not a pond or a ditch among
    paddies), seen ``min_views`` times on average around (a series)."""
    size = 2 * sea_px + 1
    seen = window_sum(n_clear, sea_px)  # exact integers (a float mean rounds)
    return square_opening((n_clear >= 1) & (n_wet == n_clear), size) \
        & (seen >= min_views * size * size)


COAST, SHORE = 1, 2
"""Levels of :func:`shore_band`: the coast's water, and the land along it."""


def shore_kernel(n_wet: np.ndarray, n_clear: np.ndarray, *, min_views: int, reach_px: int,
                 band_px: int, sea_px: int = 10) -> np.ndarray:
    """:func:`shore_band` of one block of numpy counts: uint8 ``(y, x)``, :data:`COAST` on
    the coast's water, :data:`SHORE` within ``band_px`` pixels of it (8-connected steps:
    a square band), 0 elsewhere."""
    coast = coast_water(n_wet, n_clear, min_views=min_views, reach_px=reach_px, sea_px=sea_px)
    near = ndimage.maximum_filter(coast.view(np.uint8), size=2 * band_px + 1, mode="constant",
                                  cval=0).astype(bool)
    out = np.where(near, np.uint8(SHORE), np.uint8(0))
    out[coast] = COAST
    return out


def shore_band(n_wet: xr.DataArray, n_clear: xr.DataArray, *, min_views: int, reach_m: float,
               band_m: float) -> xr.DataArray:
    """The coast's water and the land within ``band_m`` of it (:func:`shore_kernel`): uint8
    ``(y, x)`` levels, lazy when the inputs are, the same whatever the chunking. The land
    along the coast's water is where a mangrove site's own mangrove shows itself
    (:func:`indices.mangrove.mangrove_parameters`)."""
    res = pixel_size(n_clear)
    kw = {"min_views": int(min_views), "reach_px": pixels_of(reach_m, res),
          "band_px": max(1, pixels_of(band_m, res)), "sea_px": pixels_of(SEA_HALF_WIDTH_M, res)}
    depth = 2 + 2 * kw["sea_px"] + kw["reach_px"] + kw["band_px"] + 1
    return neighbourhood(shore_kernel, (n_wet, n_clear), depth, "shore_band", **kw)


def intertidal_context(n_wet: xr.DataArray, n_clear: xr.DataArray, candidates: xr.DataArray,
                       bare: xr.DataArray | None = None, *, min_views: int,
                       shore_gap_m: float, reach_m: float, tidal: bool = True,
                       shore_ground_m: float = 0.0) -> xr.DataArray:
    """Where canopy is intertidal (module doc): uint8 ``(y, x)`` levels (0, :data:`CONNECTED`,
    :data:`INTERTIDAL`, :data:`TIDAL` unless ``tidal`` is False), lazy when the inputs are.

    ``n_wet``, ``n_clear``: a composite's wet and clear view counts (``(y, x)``);
    ``candidates``: the pixels a path may cross (spectral mangrove candidates of the same
    composite); ``bare``: the baseline's bare ground (bool), with ``shore_ground_m`` the
    reach of :func:`shore_ground` (None or 0: none). Distances in metres, converted with the
    grid's pixel size.
    """
    res = pixel_size(n_clear)
    gap_px, reach_px = pixels_of(shore_gap_m, res), pixels_of(reach_m, res)
    depth = context_depth(shore_gap_m, reach_m, res, tidal)
    kw = {"min_views": int(min_views), "gap_px": gap_px, "reach_px": reach_px,
          "sea_px": pixels_of(SEA_HALF_WIDTH_M, res), "tidal": bool(tidal),
          "shore_px": pixels_of(shore_ground_m, res) if bare is not None else 0}
    inputs = (n_wet, n_clear, candidates) + ((bare,) if bare is not None else ())
    return neighbourhood(context_kernel, inputs, depth, "intertidal_context", **kw)
