"""The mangrove score's treatment of the tide, of thin composites and of the water's SWIR
footprint (issue 17), on small hand-built maps whose answers follow from the definitions:

* on the tidal flat, a view under the tide (NDWI > 0) is no view of a canopy: NaN, not
  "not mangrove"; a wet view (MNDWI > 0: water in the pixel) can show a canopy, not its
  absence (:func:`indices.habitat.flat_score`);
* wet ground the canopy cuts off from the sea is tidal ground (rule v7), where a view under
  the tide is no view, one clear look past the test gains and a loss needs two
  (:func:`indices.mangrove_rule.tidal_score`);
* on the flat, one confident look past the site's half-cover NDVI (its own canopy over its
  own bare flat) gains alone, whatever the composite's views
  (:func:`indices.mangrove_rule.flat_cover_score`, rule v10);
* a composite of fewer clear views than the tolerances assume has its score scaled by the
  standard error of a median (the composite's), never its sign
  (:func:`indices.habitat.view_scaled`), with the median's variances checked by Monte Carlo;
* the shore canopy that samples a site's mangrove leaves out the pixels within B11's 20 m
  sample of the water, on any chunking, and none on a 60 m grid
  (:func:`indices.mangrove.water_footprint`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from indices.context import COAST, CONNECTED, INTERTIDAL, SHORE
from indices.habitat import MangroveRule, flat_score, mangrove_score, view_scaled
from indices.mangrove import water_footprint
from indices.mangrove_rule import MEDIAN_VARIANCE

RULE = MangroveRule()


def _refl(green, red, nir, swir, n_clear=None) -> xr.Dataset:
    """A (y, x) reflectance dataset from per-pixel values (lists)."""
    def band(v):
        return xr.DataArray(np.asarray(v, np.float32)[None, :], dims=("y", "x"))

    ds = xr.Dataset({"B02": band(green), "B03": band(green), "B04": band(red), "B08": band(nir),
                     "B11": band(swir), "B12": band(swir)})
    if n_clear is not None:
        ds["n_clear"] = band(n_clear).astype(np.int16)
    return ds


def test_a_flat_under_the_tide_is_not_observed():
    # pixel 0: young canopy over dry mud (NDVI 0.6); 1: the same flat under water (green
    # above NIR); 2: bare drained mud (NDVI ~0.07, NDWI < 0, SWIR1 above green); 3: the
    # same mud wet (SWIR1 below green: MNDWI > 0), 4: a canopy standing in water (NDVI 0.6,
    # MNDWI > 0)
    refl = _refl(green=[0.05, 0.06, 0.07, 0.07, 0.05], red=[0.04, 0.05, 0.07, 0.07, 0.04],
                 nir=[0.16, 0.03, 0.08, 0.08, 0.16], swir=[0.06, 0.01, 0.09, 0.05, 0.03])
    score = flat_score(refl, RULE).values[0]
    ndvi0 = (0.16 - 0.04) / 0.20
    assert np.isclose(score[0], (ndvi0 - RULE.ndvi_min) / RULE.ndvi_tolerance, atol=1e-5)
    assert np.isnan(score[1])
    assert score[2] < -1
    assert np.isnan(score[3])  # wet: seedlings may be under that water
    assert np.isclose(score[4], score[0], atol=1e-5)  # wet, but a canopy shows above it
    # the full score: the flat's pixels take it, outside the context it is -CONTEXT_SCORE
    # whatever the tide, and NaN stays NaN (not observed)
    context = xr.DataArray(np.array([[INTERTIDAL, INTERTIDAL, 0, INTERTIDAL, INTERTIDAL]],
                                    np.uint8), dims=("y", "x"))
    full = mangrove_score(refl, RULE, context=context).values[0]
    assert full[0] > 0 and np.isnan(full[1]) and full[2] == -10.0
    assert np.isnan(full[3]) and full[4] > 0


def test_thin_composites_are_scaled_by_the_standard_error_never_in_sign():
    rng = np.random.default_rng(7)
    print("seed 7")
    raw = rng.normal(0, 3, size=200).astype(np.float32)
    n = rng.integers(0, 9, size=200)
    refl = xr.Dataset({"n_clear": (("x",), n.astype(np.int16))})
    got = view_scaled(xr.DataArray(raw, dims="x"), refl, RULE).values
    # the standard error of a median of 3 views against that of a median of n (n = 0: no
    # view, as one): 1, 2 views 0.670, 0.947 (a mean's sqrt(n / 3): 0.577, 0.816)
    var = {1: 1.0, 2: 0.5, 3: 0.44867}
    want = raw * np.sqrt([var[3] / var[min(max(int(k), 1), 3)] for k in n])
    # and a thin month never reaches a strong look against the habitat (a loss alone)
    below = np.nextafter(np.float32(2.0), np.float32(0))
    want = np.where(n < 3, np.maximum(want, -below), want)
    assert (got[n < 3] > -2).all() and (raw[n < 3] <= -2).sum() > 10
    assert (got[(n < 3) & (n > 0)] >= 2).any()  # a thin month may still call a gain alone
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert (np.sign(got) == np.sign(raw)).all()
    assert np.array_equal(got[n >= 3], raw[n >= 3])  # a few views: the rule's own tolerance
    # a scene (no view count) is left alone
    same = view_scaled(xr.DataArray(raw, dims="x"), xr.Dataset(), RULE).values
    assert np.array_equal(same, raw)


def test_a_single_view_month_of_a_canopy_near_its_threshold_is_a_close_call():
    # MVI 1.1 tolerances above the threshold: confident with three views, not with one
    green, swir = 0.05, 0.10
    mvi = RULE.mvi_min * (1 + 1.1 * RULE.mvi_tolerance_share)
    nir = green + mvi * (swir - green)
    refl = _refl([green] * 2, [0.02] * 2, [nir] * 2, [swir] * 2, n_clear=[3, 1])
    context = xr.DataArray(np.full((1, 2), CONNECTED, np.uint8), dims=("y", "x"))
    score = mangrove_score(refl, RULE, context=context).values[0]
    assert score[0] >= 1 and 0 < score[1] < 1


def _shore_levels(res: float) -> xr.DataArray:
    levels = np.full((30, 40), SHORE, np.uint8)
    levels[:, :10] = COAST  # water in the first 10 columns
    levels[:, 20:] = 0
    return xr.DataArray(levels, dims=("y", "x"),
                        coords={"y": -res * np.arange(30), "x": res * np.arange(40)})


def test_the_water_footprint_is_b11s_20_m_whatever_the_chunking():
    shore = _shore_levels(10.0)
    near = water_footprint(shore).values
    # within 2 pixels (20 m) of the water, on land or water alike; not beyond
    assert near[:, :12].all() and not near[:, 12:].any()
    for chunks in ({"y": 7, "x": 9}, {"y": 30, "x": 11}, {"y": 4, "x": 4}):
        lazy = water_footprint(shore.chunk(chunks))
        assert lazy.chunks is not None
        assert np.array_equal(lazy.values, near), chunks
    # on a 60 m grid a pixel holds its own B11 sample: nothing is left out
    assert not water_footprint(_shore_levels(60.0)).values.any()


def test_the_variances_of_a_median_are_those_of_random_draws():
    # brute force: medians (numpy's: the mean of the two middle values for even n) of
    # normal draws; 400 000 medians give each variance to ~0.3 % (3 standard errors)
    rng = np.random.default_rng(11)
    print("seed 11")
    for n, var in enumerate(MEDIAN_VARIANCE, start=1):
        draws = np.median(rng.standard_normal((400_000, n)), axis=1)
        assert abs(draws.var() - var) <= 3 * var * np.sqrt(2 / 400_000) + 1e-4, (n, draws.var())
    assert MEDIAN_VARIANCE[0] == 1.0 and MEDIAN_VARIANCE[1] == 0.5  # one view; a mean of two


def test_the_flat_is_the_coast_water_seen_both_ways_not_water_never_seen_dry():
    # 60 x 80 px at 10 m, 2 clear views each (a cloudy baseline: the rule's min_views): the
    # sea in the first 30 columns (always wet, wide), a channel of 6 px always wet leading
    # inland from it (rows 20-25), a flat seen wet once of twice along the sea (columns
    # 30-39), dry land elsewhere; no canopy. Only the flat seen both ways is flat: not the
    # channel, and not the sea, even at the map's edge, where its window of views is cut
    # (rule v5 took both for flat: 38 % of a half-plane of sea seen twice)
    from indices.context import context_kernel

    n_clear = np.full((60, 80), 2, np.int16)
    n_wet = np.zeros((60, 80), np.int16)
    n_wet[:, :30] = 2
    n_wet[:, 30:40] = 1
    n_wet[20:26, 40:70] = 2
    out = context_kernel(n_wet, n_clear, np.zeros((60, 80), bool), min_views=2, gap_px=5,
                         reach_px=150)
    assert (out[:, 32:38] == INTERTIDAL).all()  # the flat seen both ways
    assert not (out[:, :30] == INTERTIDAL).any()  # the sea, edges included
    assert not (out[20:26, 42:70] == INTERTIDAL).any()  # the channel never seen dry
    assert not (out[40:, 45:] == INTERTIDAL).any()  # dry land


def test_wet_ground_the_canopy_encloses_is_tidal_ground_where_one_look_gains():
    # 60 x 80 px, 2 clear views each: the sea in the first 30 columns, canopy (candidates,
    # dry) in columns 30-49, dry fields beyond. Each look-alike touches the connected canopy
    # and is stopped by one guard of indices.context.tidal_ground / tidal_wet alone:
    # a flat wet in both views that the canopy encloses (rows 20-29, columns 36-45: tidal
    # ground); a puddle the canopy encloses, wet in one view (rows 4-9, columns 36-41: one
    # flood is no tide); a paddy wet in both views, open to the fields (rows 40-51, columns
    # 44-61: dry land reaches it); a paddy whose crop passes the candidate test, wet in both
    # views, open to the fields (rows 53-58, columns 44-61: dry land reaches it through
    # wet ground); canopy seen wet once (rows 0-2, columns 31-34: a flooded floor).
    from indices.change import confirmed_state, strong_look
    from indices.context import TIDAL, context_kernel

    n_clear = np.full((60, 80), 2, np.int16)
    n_wet = np.zeros((60, 80), np.int16)
    n_wet[:, :30] = 2
    flat, puddle = (slice(20, 30), slice(36, 46)), (slice(4, 10), slice(36, 42))
    paddy, crop = (slice(40, 52), slice(44, 62)), (slice(53, 59), slice(44, 62))
    n_wet[flat], n_wet[puddle], n_wet[paddy], n_wet[crop] = 2, 1, 2, 2
    n_wet[0:3, 31:35] = 1
    candidates = np.zeros((60, 80), bool)
    candidates[:, 30:50] = True
    candidates[flat] = candidates[puddle] = candidates[paddy] = False
    candidates[crop] = True
    kw = {"min_views": 2, "gap_px": 5, "reach_px": 20}
    out = context_kernel(n_wet, n_clear, candidates, **kw)
    v6 = context_kernel(n_wet, n_clear, candidates, tidal=False, **kw)
    assert (out[flat] == TIDAL).all() and (v6[flat] == 0).all()  # v6: outside every level
    for name, where in (("puddle", puddle), ("paddy", paddy), ("crop", crop)):
        assert not (out[where] == TIDAL).any(), name
    assert (out[0:3, 31:35] == CONNECTED).all()  # the canopy flooded once: one flood
    assert (out[crop][:, :6] == CONNECTED).all()  # the crop inside the canopy's columns
    tidal = out == TIDAL  # v7 differs from v6 there only (here; connected canopy seen wet
    assert np.array_equal(out[~tidal], v6[~tidal])  # in two views would be tidal ground too)
    # one crop-like dry look past the spectral test (MVI 5.0, NDVI 0.76) gains on the
    # enclosed flat, not on the puddle nor the paddy
    look = _refl(green=[0.05] * 3, red=[0.04] * 3, nir=[0.30] * 3, swir=[0.10] * 3)
    where = xr.DataArray(np.array([[out[25, 40], out[6, 38], out[45, 55]]], np.uint8),
                         dims=("y", "x"))
    score = mangrove_score(look, RULE, context=where).values[0]
    state, _ = confirmed_state(score, np.isfinite(score), np.zeros(3, bool), np.zeros(3, bool),
                               strong_look("mangrove"))
    assert state.tolist() == [True, False, False]


def test_a_pond_behind_the_shore_with_no_canopy_is_no_tidal_ground():
    # the sea (columns 0-29, wet in 6 of 6 views), a 2 px dry bund, a pond wet in 4 of 6
    # views (columns 32-61), dry fields beyond: no mangrove candidate anywhere, so nothing
    # is reached from a canopy (the band of the shore's edge the reach starts from is not one)
    from indices.context import TIDAL, context_kernel

    n_clear = np.full((60, 90), 6, np.int16)
    n_wet = np.zeros((60, 90), np.int16)
    n_wet[:, :30], n_wet[:, 32:62] = 6, 4
    out = context_kernel(n_wet, n_clear, np.zeros((60, 90), bool), min_views=2, gap_px=5,
                         reach_px=15)
    assert not (out == TIDAL).any()


def test_tidal_ground_gains_on_one_look_and_loses_on_two():
    from indices.change import confirmed_state, strong_look
    from indices.context import TIDAL

    # on tidal ground: a dry canopy past the MVI test (MVI 5.0, NDVI 0.76) is a strong look
    # (one look gains), a view under the tide is none, bare drained mud a confident look
    # that cannot change a class alone (a loss needs two)
    refl = _refl(green=[0.05, 0.06, 0.07], red=[0.04, 0.05, 0.07], nir=[0.30, 0.03, 0.08],
                 swir=[0.10, 0.01, 0.09])
    context = xr.DataArray(np.full((1, 3), TIDAL, np.uint8), dims=("y", "x"))
    score = mangrove_score(refl, RULE, context=context).values[0]
    connected = mangrove_score(refl, RULE, context=context * 0 + CONNECTED).values[0]
    assert 1 <= connected[0] < 2 and score[0] == 2.0
    assert np.isnan(score[1]) and connected[1] < -1
    assert -2 < score[2] <= -1 and connected[2] <= -2
    strong, seen = strong_look("mangrove"), np.isfinite(score)
    no = np.zeros(3, bool)
    state, _ = confirmed_state(np.nan_to_num(score), seen, no, no, strong)
    assert state.tolist() == [True, False, False]  # gained on one look
    state, pending = confirmed_state(np.nan_to_num(score), seen, ~no, no, strong)
    assert state.tolist() == [True, True, True] and pending.tolist() == [False, False, True]
    # on the flat (NDVI alone: seagrass and algal mats pass it too) a look below the half
    # cover of the default endmembers (NDVI 0.60) is not raised: NDVI 0.5 is a confident
    # look that waits for a second, NDVI 0.78 past the strong bar (0.56) gains alone, as in
    # rule v6
    refl = _refl(green=[0.08, 0.05], red=[0.05, 0.04], nir=[0.15, 0.32], swir=[0.12, 0.09])
    flat = mangrove_score(refl, RULE, context=xr.DataArray(
        np.full((1, 2), INTERTIDAL, np.uint8), dims=("y", "x"))).values[0]
    assert 1 <= flat[0] < 2 and flat[1] >= 2
    state, _ = confirmed_state(flat, np.isfinite(flat), no[:2], no[:2], strong)
    assert state.tolist() == [False, True]


def test_one_look_past_the_sites_half_cover_gains_on_the_flat():
    from indices.change import confirmed_state, strong_look
    from indices.mangrove import MANGROVE_PARAMETERS

    # single-view months on the flat: NDVI 0.62 (past the default endmembers' half cover,
    # 0.598; confident, 1.84 after the one-view scaling, short of the strong bar), 0.55
    # (confident, 1.26, below half cover), 0.2 (bare: confident against, -1.67, a loss
    # needs two)
    green, red, nir = [0.05] * 3, [0.04, 0.04, 0.05], [0.04 * 1.62 / 0.38, 0.04 * 1.55 / 0.45,
                                                       0.05 * 1.2 / 0.8]
    refl = _refl(green, red, nir, swir=[0.09] * 3, n_clear=[1, 1, 1])
    ndvi = (np.float32(nir) - np.float32(red)) / (np.float32(nir) + np.float32(red))
    np.testing.assert_allclose(ndvi, [0.62, 0.55, 0.2], atol=1e-6)

    def scores(level, params=None):
        context = xr.DataArray(np.full((1, 3), level, np.uint8), dims=("y", "x"))
        return mangrove_score(refl, RULE, context=context, params=params).values[0]

    scaled = (ndvi - RULE.ndvi_min) / RULE.ndvi_tolerance * np.sqrt(MEDIAN_VARIANCE[2])
    flat = scores(INTERTIDAL)
    assert flat[0] == 2.0  # raised to the strong bar: one look gains
    np.testing.assert_allclose(flat[1:], scaled[1:], rtol=1e-5)
    assert 1 <= flat[1] < 2 and -2 < flat[2] <= -1
    no = np.zeros(3, bool)
    state, pending = confirmed_state(flat, np.isfinite(flat), no, no, strong_look("mangrove"))
    assert state.tolist() == [True, False, False] and pending.tolist() == [False, True, False]
    # the site's own endmembers decide: a site whose half cover reads NDVI 0.70 does not
    # take NDVI 0.62 for a majority of canopy
    values = dict.fromkeys(MANGROVE_PARAMETERS, np.nan) | {
        "mvi_min": 4.5, "ndvi_half": 0.70, "mvi_tolerance_share": 0.1, "axis_used": 0.0}
    params = xr.DataArray(list(values.values()), dims="parameter",
                          coords={"parameter": list(values)})
    np.testing.assert_allclose(scores(INTERTIDAL, params), scaled, rtol=1e-5)
    # not off the flat: connected canopy keeps its spectral test and its strong bar
    assert scores(CONNECTED)[0] < 2


def _shore_scene():
    """60 x 80 px, 2 clear views each: the sea (wet in both) in columns 0-29, canopy
    candidates in rows 0-29 of columns 30-49; ``(n_wet, n_clear, candidates, kw)`` of
    :func:`indices.context.context_kernel` (50 m shore band, 2 views)."""
    n_clear = np.full((60, 80), 2, np.int16)
    n_wet = np.zeros((60, 80), np.int16)
    n_wet[:, :30] = 2
    candidates = np.zeros((60, 80), bool)
    candidates[:30, 30:50] = True
    return n_wet, n_clear, candidates, {"min_views": 2, "gap_px": 5, "reach_px": 20,
                                        "shore_px": 5}


def _assert_replanting_look_gains(level_code):
    """A replanting's two looks at context ``level_code``: the clear one (NDVI 0.76) past the
    strong bar (one look gains), the one under the tide (NIR 0.03) not judged (NaN)."""
    look = _refl(green=[0.05, 0.06], red=[0.04, 0.05], nir=[0.30, 0.03], swir=[0.10, 0.01])
    level = xr.DataArray(np.full((1, 2), level_code, np.uint8), dims=("y", "x"))
    score = mangrove_score(look, RULE, context=level).values[0]
    assert score[0] >= 2 and np.isnan(score[1])


def test_bare_ground_of_the_shores_band_next_to_the_forest_is_tidal_ground():
    # 60 x 80 px, 2 clear views each: the sea in columns 0-29, canopy (candidates, dry) in
    # rows 0-29 of columns 30-49; below it, the band of the shore's edge (5 px: columns
    # 30-35) is dry mud touching the canopy (rows 30-59), the fields beyond; a second
    # map without the canopy. Rule v11 (indices.context.shore_ground): the band's ground
    # bare in the baseline within 5 px (50 m) of the forest is tidal ground (a view under
    # the tide is none, one look gains); farther, vegetated (a crop), with no forest, or
    # seen wet in two views (a pond), it stays as it was
    from indices.context import TIDAL, context_kernel

    n_wet, n_clear, candidates, kw = _shore_scene()
    bare = np.ones((60, 80), bool)
    bare[33:35, 30:33] = False  # a crop at the water's edge
    out = context_kernel(n_wet, n_clear, candidates, bare, **kw)
    taken = out[30:35, 30:36] == TIDAL
    assert taken.sum() == 30 - 6 and not taken[3:5, :3].any()  # all but the crop
    assert not (out[35:, :] == TIDAL).any()  # past 5 px
    assert (out[:30, 30:50] == CONNECTED).all() and not (out[30:, 36:] == TIDAL).any()
    assert not (context_kernel(n_wet, n_clear, candidates, **kw) == TIDAL).any()  # no bare
    no_forest = context_kernel(n_wet, n_clear, np.zeros((60, 80), bool), bare, **kw)
    assert not (no_forest == TIDAL).any() and (no_forest[30:50, 30:36] == CONNECTED).all()
    pond = n_wet.copy()
    pond[30:60, 31:36] = 2  # wet in both views, off the sea behind a 1 px dry bund
    pond[30:60, 30] = 0
    wet = context_kernel(pond, n_clear, candidates, bare, **kw)
    assert not (wet[30:60, 31:36] == TIDAL).any()
    # a replanting's look there: under the tide none, one clear look past the test a gain
    _assert_replanting_look_gains(out[31, 33])


def test_the_coasts_water_next_to_the_forest_is_shore_water_judged_as_tidal_ground():
    # the map of the test above: the sea (columns 0-29) within 5 px of the forest's
    # candidates is rule v12's SHORE_WATER (rule v11 kept the coast's water out of the
    # shore's ground); v11's shore ground stays TIDAL, and both are judged alike
    from indices.context import SHORE_WATER, TIDAL, context_kernel

    n_wet, n_clear, candidates, kw = _shore_scene()
    out = context_kernel(n_wet, n_clear, candidates, np.ones((60, 80), bool), **kw)
    water = out == SHORE_WATER
    assert water[:30, 25:30].all() and not water[:, :25].any() and not water[:, 30:].any()
    assert (out[30:35, 30:36] == TIDAL).all() and not water[40:].any()
    for lv in (TIDAL, SHORE_WATER):
        _assert_replanting_look_gains(lv)


def test_a_dry_islet_across_the_coasts_water_keeps_its_level_not_shore_water():
    # the map above, the forest's shore's ground 10 px wide (gap and shore_px): a dry islet
    # (rows 10-14, columns 20-22, never wet) in the sea 8 px off the forest is reached from
    # it only across the coast's water. Rule v12 (mang31) made it SHORE_WATER, judged as
    # tidal ground (one look gains); only the water takes that level (mang33): the islet
    # keeps its CONNECTED level (the shore's band), the water around it is SHORE_WATER
    from indices.context import SHORE_WATER, context_kernel

    n_clear = np.full((60, 80), 2, np.int16)
    n_wet = np.zeros((60, 80), np.int16)
    n_wet[:, :30] = 2
    n_wet[10:15, 20:23] = 0
    candidates = np.zeros((60, 80), bool)
    candidates[:30, 30:50] = True
    kw = {"min_views": 2, "gap_px": 10, "reach_px": 20, "shore_px": 10, "sea_px": 2}
    out = context_kernel(n_wet, n_clear, candidates, np.ones((60, 80), bool), **kw)
    assert (out[10:15, 20:23] == CONNECTED).all()
    assert (out[10:15, 23:30] == SHORE_WATER).all() and (out[8:10, 20:23] == SHORE_WATER).all()
