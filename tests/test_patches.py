"""``indices.patches.drop_small_patches`` (a one-pass kernel over runs of rows) against the
definition it replaces: scipy's 8-connected labelling, each label's pixel count, the labels of
at least ``min_pixels`` kept. Random maps of many densities and shapes (seeds printed)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from strategies import random_mask, random_shape, seeded_rng

from indices.patches import EIGHT_CONNECTED, drop_small_patches


def _by_labels(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    labels, n = ndimage.label(mask, structure=EIGHT_CONNECTED)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= min_pixels
    keep[0] = False
    return keep[labels]


@pytest.mark.parametrize("seed", range(12))
def test_same_pixels_as_labelling(seed):
    rng = seeded_rng(seed)
    for _ in range(20):
        mask = random_mask(rng, 90, density=(0.02, 0.9), smooth=(2, 6), level=0.5)
        for min_pixels in (2, 3, 10, 50, int(rng.integers(2, 200))):
            got = drop_small_patches(mask, min_pixels)
            assert got.dtype == bool and got.shape == mask.shape
            np.testing.assert_array_equal(got, _by_labels(mask, min_pixels))


def test_corners_join_and_edges():
    # two diagonal pixels are one patch of 2; runs touching only at a corner, either side
    mask = np.zeros((5, 7), bool)
    mask[0, 0] = mask[1, 1] = True  # corner
    mask[3, 2:4] = True
    mask[4, 4:6] = True  # touches [2, 4) at the corner (3, 3)-(4, 4)
    mask[0, 6] = mask[1, 5] = True  # the other diagonal
    np.testing.assert_array_equal(drop_small_patches(mask, 2), mask)
    np.testing.assert_array_equal(drop_small_patches(mask, 3), mask & (np.arange(5) >= 3)[:, None])
    np.testing.assert_array_equal(drop_small_patches(mask, 5), np.zeros_like(mask))


def test_unchanged_inputs_returned_and_not_contiguous():
    mask = np.zeros((4, 4), bool)
    assert drop_small_patches(mask, 10) is mask  # nothing to drop
    big = np.random.default_rng(3).random((60, 80)) < 0.4
    view = big[::2, ::3]
    np.testing.assert_array_equal(drop_small_patches(view, 4), _by_labels(view, 4))


def _counts_by_arrays(m, site, gain_fringe, loss_fringe):
    """``change_counts`` as array expressions (what the one-pass kernel replaced)."""
    u, ub = m.uncertain, m.baseline_uncertain
    (gain_doubt, gain_ring), (loss_doubt, loss_ring) = gain_fringe, loss_fringe
    could_flip = u | ((gain_doubt | gain_ring | loss_doubt | loss_ring) & site)
    could_be_now = m.habitat | could_flip
    could_have_been = m.baseline | ub
    return np.array([
        m.habitat.sum(), m.baseline.sum(), m.gain.sum(), m.loss.sum(),
        m.gain.sum() - m.loss.sum(),
        (m.habitat & ~could_flip).sum(), could_be_now.sum(),
        (m.gain & ~u & ~ub & ~gain_doubt).sum(),
        (m.gain | (gain_ring & site) | (could_be_now & ~(m.baseline & ~ub))).sum(),
        (m.loss & ~u & ~ub & ~loss_doubt).sum(),
        (m.loss | (loss_ring & site) | (could_have_been & ~(m.habitat & ~could_flip))).sum(),
        m.seen.sum(),
    ], np.int64)


@pytest.mark.parametrize("seed", range(6))
def test_change_counts_as_array_expressions(seed):
    from indices.change import MonthState, change_counts

    rng = seeded_rng(100 + seed)
    for _ in range(10):
        shape = random_shape(rng, 120)
        maps = [rng.random(shape) < rng.uniform(0.0, 1.0) for _ in range(12)]
        m = MonthState(*maps[:7])
        site = maps[11] if rng.random() < 0.8 else np.ones(shape, bool)
        args = (m, site, (maps[7], maps[8]), (maps[9], maps[10]))
        got = change_counts(*args)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, _counts_by_arrays(*args))
    # strided views count alike
    big = [rng.random((40, 60)) < 0.5 for _ in range(12)]
    views = [b[::2, 1::3] for b in big]
    args = (MonthState(*views[:7]), views[11], (views[7], views[8]), (views[9], views[10]))
    np.testing.assert_array_equal(change_counts(*args), _counts_by_arrays(*args))


def _states_by_arrays(scores, baseline, site, *, mmu_pixels, stale_months=2,
                      strong=float("inf")):
    """``monthly_states`` as array expressions (what its one-pass month kernel replaced)."""
    from indices.change import MonthState, confirmed_state

    site = site.astype(bool)
    base = (baseline > 0) & site
    base_uncertain = ~(np.abs(baseline) >= 1) & site
    state = base.copy()
    close_call = ~(np.abs(baseline) >= 1)
    age = np.zeros(site.shape, np.uint8)
    pending = np.zeros(site.shape, bool)
    for score in scores:
        seen = ~np.isnan(score) & site
        state, pending = confirmed_state(score, seen, state, pending, strong)
        state &= site
        close_call = np.where(seen, np.abs(score) < 1, close_call)
        age = np.where(seen, np.uint8(0), np.minimum(age, np.uint8(254)) + np.uint8(1))
        gain = drop_small_patches(state & ~base, mmu_pixels)
        loss = drop_small_patches(base & ~state, mmu_pixels)
        yield MonthState(seen=seen, habitat=(base | gain) & ~loss, baseline=base, gain=gain,
                         loss=loss,
                         uncertain=(close_call | pending | (age > stale_months)) & site,
                         baseline_uncertain=base_uncertain)


@pytest.mark.parametrize("seed", range(6))
def test_monthly_states_as_array_expressions(seed):
    from indices.change import monthly_states

    rng = seeded_rng(200 + seed)
    for case in range(4):
        shape = random_shape(rng, 60)
        n = 270 if case == 0 else int(rng.integers(1, 40))  # past 255 months: the age saturates
        if case == 0:
            shape = (7, 9)
        dtype = np.float32 if rng.random() < 0.7 else np.float64
        scores = rng.normal(0, 1.5, (n, *shape)).astype(dtype)
        scores[rng.random(scores.shape) < rng.uniform(0, 0.8)] = np.nan
        scores[rng.random(scores.shape) < 0.05] = 1.0  # on the band's edge
        scores[rng.random(scores.shape) < 0.05] = -2.0  # on the strong look's edge
        baseline = rng.normal(0, 1.5, shape).astype(dtype)
        baseline[rng.random(shape) < 0.2] = np.nan
        site = rng.random(shape) < 0.9
        kw = {"mmu_pixels": int(rng.integers(1, 12)), "stale_months": int(rng.integers(0, 5)),
              "strong": [float("inf"), 2.0, 1.5][case % 3]}  # none, mangrove's, another
        want = list(_states_by_arrays(scores, baseline, site, **kw))
        got = list(monthly_states(scores, baseline, site, **kw))
        assert len(got) == len(want) == n
        for g, w in zip(got, want, strict=True):
            for name in w.__dataclass_fields__:
                a, b = getattr(g, name), getattr(w, name)
                assert a.dtype == b.dtype == bool, name
                np.testing.assert_array_equal(a, b, err_msg=name)


def test_a_clear_view_under_the_tide_observes_the_interval_never_the_class():
    # 1 x 4 px site, baseline: bare never judged (NaN: a close call), bare, bare, canopy;
    # three months in which px 0-2 are seen under the tide (clear, score NaN: rule v11) but
    # px 2 gets one confident look for mangrove first (pending), px 3 is clouded
    from indices.change import monthly_states

    baseline = np.array([[np.nan, -3.0, -3.0, 3.0]], np.float32)
    site = np.ones((1, 4), bool)
    nan = np.float32(np.nan)
    scores = [np.array([[nan, nan, 1.5, nan]], np.float32)] + \
        [np.full((1, 4), nan, np.float32)] * 3
    views = [np.array([[2, 1, 1, 0]], np.int16)] * 4
    kw = {"mmu_pixels": 1, "stale_months": 2, "strong": 2.0}
    wet = list(monthly_states(scores, baseline, site, views=views, **kw))
    dry = list(monthly_states(scores, baseline, site, **kw))
    for m in wet + dry:  # the class never moves: the tide's views are no look for it
        np.testing.assert_array_equal(m.habitat, [[False, False, False, True]])
        assert not m.seen[0, [0, 1, 3]].any()
    # under the tide: never stale (px 1); the baseline's close call (px 0, never judged)
    # and the pending look (px 2) stay in doubt; the clouded canopy ages
    np.testing.assert_array_equal(wet[-1].uncertain, [[True, False, True, True]])
    np.testing.assert_array_equal(dry[-1].uncertain, [[True, True, True, True]])


def test_a_view_under_the_tide_ends_a_close_call_on_the_coasts_water_unless_it_was_green():
    # 1 x 5 px site, every baseline a close call (NaN: never judged, or |score| < 1) and bare:
    # px 0-3 on the coast's water in the shore's ground (ends, rule v12), px 4 not; px 1
    # showed canopy once (NDVI 0.5 > GREEN_NDVI), px 2 had a confident look for mangrove
    # (pending); then months seen under the tide (clear, score NaN) but px 3 clouded
    from indices.change import GREEN_NDVI, monthly_states
    from indices.mangrove_rule import MangroveRule

    assert GREEN_NDVI == MangroveRule().ndvi_min  # the same floor, named twice (import cycle)
    baseline = np.array([[np.nan, -0.5, -0.5, np.nan, np.nan]], np.float32)
    site = np.ones((1, 5), bool)
    nan = np.float32(np.nan)
    scores = [np.array([[nan, nan, 1.5, nan, nan]], np.float32)] + \
        [np.full((1, 5), nan, np.float32)] * 3
    views = [np.array([[2, 1, 1, 0, 3]], np.int16)] * 4
    ndvi = [np.array([[-0.2, 0.5, 0.1, -0.3, -0.2]], np.float32)] + \
        [np.full((1, 5), -0.2, np.float32)] * 3
    ends = np.array([[1, 1, 1, 1, 0]], np.uint8)
    kw = {"mmu_pixels": 1, "stale_months": 2, "strong": 2.0, "views": views}
    got = list(monthly_states(scores, baseline, site, ends=ends, ndvi=ndvi, **kw))
    v11 = list(monthly_states(scores, baseline, site, **kw))
    for a, b in zip(got, v11, strict=True):  # the class and the looks are v11's
        np.testing.assert_array_equal(a.habitat, b.habitat)
        np.testing.assert_array_equal(a.seen, b.seen)
    np.testing.assert_array_equal(v11[0].uncertain, [[True, True, True, True, True]])
    # px 0 ends its close call; the green px 1, the pending px 2, the clouded px 3 (no view
    # under the tide; then stale) and px 4 off the ends stay in doubt
    np.testing.assert_array_equal(got[0].uncertain, [[False, True, True, True, True]])
    np.testing.assert_array_equal(got[-1].uncertain, [[False, True, True, True, True]])
    # a site's refitted green floor (the rule's ndvi_min) above px 1's 0.5: it ends there too
    high = list(monthly_states(scores, baseline, site, ends=ends, ndvi=ndvi, green=0.6, **kw))
    np.testing.assert_array_equal(high[0].uncertain, [[False, False, True, True, True]])
    # ends without NDVI or without views would be v11's walk without a word: refused
    with pytest.raises(ValueError, match="needs the ndvi"):
        next(monthly_states(scores, baseline, site, ends=ends, **kw))
    kw.pop("views")
    with pytest.raises(ValueError, match="needs the views"):
        next(monthly_states(scores, baseline, site, ends=ends, ndvi=ndvi, **kw))


def test_a_baseline_filled_after_the_window_is_unseen_in_the_interval_only():
    # 1 x 4 px site, every baseline confident: px 0, 1 mangrove, px 2, 3 bare; px 1 and 3
    # filled from a month after the window (ENDS_FILLED, indices.bap), px 0 on the shore's
    # water (ENDS_SHORE). The classes are the fill's; the filled pixels' baseline is
    # uncertain (as a NaN baseline: a close call until a look, in both bounds of gain and
    # loss), the others' as before
    from indices.change import ENDS_FILLED, ENDS_SHORE, monthly_states

    baseline = np.array([[2.0, 2.0, -2.0, -2.0]], np.float32)
    site = np.ones((1, 4), bool)
    nan = np.float32(np.nan)
    scores = [np.full((1, 4), nan, np.float32), np.array([[2.0, 2.0, -2.0, -2.0]], np.float32)]
    views = [np.zeros((1, 4), np.int16)] * 2
    ndvi = [np.zeros((1, 4), np.float32)] * 2
    kw = {"mmu_pixels": 1, "stale_months": 2, "views": views, "ndvi": ndvi}
    ends = np.array([[ENDS_SHORE, ENDS_FILLED, 0, ENDS_FILLED | ENDS_SHORE]], np.uint8)
    got = list(monthly_states(scores, baseline, site, ends=ends, **kw))
    shore = list(monthly_states(scores, baseline, site, ends=(ends & ENDS_SHORE) > 0, **kw))
    for a, b in zip(got, shore, strict=True):  # the point estimate keeps the fill
        for name in ("habitat", "baseline", "gain", "loss", "seen"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        np.testing.assert_array_equal(a.baseline_uncertain, [[False, True, False, True]])
        np.testing.assert_array_equal(b.baseline_uncertain, [[False, False, False, False]])
    np.testing.assert_array_equal(got[0].habitat, [[True, True, False, False]])
    np.testing.assert_array_equal(got[0].uncertain, [[False, True, False, True]])  # unlooked
    np.testing.assert_array_equal(got[1].uncertain, [[False, False, False, False]])  # a look


def test_the_walks_green_floor_is_the_sites_rules_ndvi_min():
    # a calibrated site refits ndvi_min (indices.calibration): the walks take it as green
    import dataclasses

    from indices.change import GREEN_NDVI
    from indices.evidence import SiteEvidence
    from indices.mangrove_rule import MangroveRule
    from indices.seagrass_rule import SeagrassRule
    from indices.summary import MonthlyInputs

    def inputs(evidence):
        none = {f.name: None for f in dataclasses.fields(MonthlyInputs)}
        return MonthlyInputs(**{**none, "evidence": evidence})

    calibrated = dataclasses.replace(MangroveRule(), ndvi_min=0.31)
    assert inputs(SiteEvidence("mangrove", calibrated)).green == 0.31
    assert inputs(SiteEvidence("mangrove", MangroveRule())).green == GREEN_NDVI
    assert inputs(SiteEvidence("seagrass", SeagrassRule())).green == GREEN_NDVI


@pytest.mark.parametrize("seed", range(2))
def test_the_lazy_change_metrics_end_close_calls_as_the_month_walk(seed):
    import xarray as xr

    from indices.change import CHANGE_METRICS, change_metrics
    from indices.summary import walk_months

    rng = seeded_rng(300 + seed)
    shape, n = (23, 31), 7
    scores = rng.normal(-0.5, 1.5, (n, *shape)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.4] = np.nan
    ndvi = rng.uniform(-0.4, 0.6, (n, *shape)).astype(np.float32)
    n_clear = rng.integers(0, 4, (n, *shape)).astype(np.int16)
    baseline = rng.normal(-0.3, 1.0, shape).astype(np.float32)
    baseline[rng.random(shape) < 0.3] = np.nan
    site = rng.random(shape) < 0.9
    ends = (rng.random(shape) < 0.5).astype(np.uint8)
    dims = ("period", "y", "x")
    args = (xr.DataArray(scores, dims=dims).chunk({"x": 10}),
            xr.DataArray(baseline, dims=("y", "x")), xr.DataArray(site, dims=("y", "x")))
    kw = {"pixel_area_ha": 0.01, "mmu_ha": 0.02, "strong": 2.0,
          "views": xr.DataArray(n_clear, dims=dims), "ends": xr.DataArray(ends, dims=("y", "x")),
          "ndvi": xr.DataArray(ndvi, dims=dims)}
    lazy = change_metrics(*args, **kw).compute()
    other = [rng.uniform(0.02, 0.3, shape).astype(np.float32) for _ in range(4)]
    months = zip(scores, scores, ndvi, n_clear, strict=True)
    walk = [row for row, _ in walk_months(months, [baseline, *other, ends], site,
                                          habitat="mangrove", pixel_area_ha=0.01,
                                          mmu_ha=0.02)]
    v11 = [row for row, _ in walk_months(zip(scores, scores, ndvi, n_clear, strict=True),
                                         [baseline, *other], site, habitat="mangrove",
                                         pixel_area_ha=0.01, mmu_ha=0.02)]
    table = np.stack([lazy[k].values for k in CHANGE_METRICS], axis=1)
    np.testing.assert_array_equal(table, np.array(walk)[:, :len(CHANGE_METRICS)])
    assert (np.array(walk)[:, 6] < np.array(v11)[:, 6]).any()  # the upper bound narrows
    # a refitted green floor (the site's ndvi_min) reaches both walks alike
    low = change_metrics(*args, **kw, green=0.0).compute()
    walk = [row for row, _ in walk_months(zip(scores, scores, ndvi, n_clear, strict=True),
                                          [baseline, *other, ends], site, habitat="mangrove",
                                          pixel_area_ha=0.01, mmu_ha=0.02, green=0.0)]
    low = np.stack([low[k].values for k in CHANGE_METRICS], axis=1)
    np.testing.assert_array_equal(low, np.array(walk)[:, :len(CHANGE_METRICS)])
    assert (low[:, 6] > table[:, 6]).any()  # more pixels have shown canopy: fewer ends
    with pytest.raises(ValueError, match="needs the views"):
        change_metrics(*args, **{**kw, "views": None})
