"""Views raised above a water pixel's own bottom (:func:`indices.habitat.raised_views`), on a
cube built here: each pixel a fixed bottom seen through noise of a known sigma, and a known
set of views raised by a plume patch. The truth is the injected set, not the function's
numbers: every raised view is caught, noise alone almost never is, too few views are not
judged, and the mask marks exactly those views defective."""

from __future__ import annotations

import numpy as np
import xarray as xr

from indices.habitat import SeagrassRule, mask_raised_views
from indices.seagrass_rule import _site_median, raised_views

BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
NOISE = 0.001  # reflectance, one view's noise (1 sigma) in every band
PLUME = 0.012  # a plume's rise in green: 12 sigma


def _cube(seed: int, n_t: int = 8, size: int = 24):
    """``(cube, raised, land)``: water over bottoms of green 0.005-0.05, a land strip (NDWI
    < 0) in the last two columns, plume patches (green +PLUME, red +PLUME/3) on known views."""
    rng = np.random.default_rng(seed)
    print("seed", seed)
    shape = (n_t, size, size)
    green0 = rng.uniform(0.005, 0.05, (size, size))
    bottom = {"B02": 0.8 * green0, "B03": green0, "B04": 0.2 * green0,
              "B08": np.full((size, size), 0.003), "B11": np.full((size, size), 0.002),
              "B12": np.full((size, size), 0.001)}
    land = np.zeros((size, size), bool)
    land[:, -2:] = True
    bottom["B08"] = np.where(land, 0.3, bottom["B08"])
    bottom["B04"] = np.where(land, 0.05, bottom["B04"])
    refl = {b: v[None] + rng.normal(0, NOISE, shape) for b, v in bottom.items()}
    raised = np.zeros(shape, bool)
    for t in rng.choice(n_t, min(3, n_t), replace=False):  # a patch of plume in three views
        y0, x0 = rng.integers(0, size - 8, 2)
        raised[t, y0:y0 + 8, x0:x0 + 8] = True
    raised &= ~land[None]
    refl["B03"] = refl["B03"] + PLUME * raised
    refl["B04"] = refl["B04"] + PLUME / 3 * raised
    scl = np.full(shape, 6, np.uint8)  # water
    scl[:, ~land] = 6
    scl[:, land] = 4
    cloudy = rng.random(shape) < 0.1
    scl[cloudy] = 9
    dn = {b: np.clip(np.round(v * 10000) + 1000, 1, 65535).astype(np.uint16)
          for b, v in refl.items()}
    times = np.datetime64("2024-01-05") + np.arange(n_t) * np.timedelta64(10, "D")
    cube = xr.Dataset({b: (("time", "y", "x"), dn[b]) for b in BANDS},
                      coords={"time": times.astype("datetime64[ns]"),
                              "y": np.arange(size) * -10.0, "x": np.arange(size) * 10.0,
                              "boa_offset": ("time", np.full(n_t, -1000, np.int16))})
    cube["SCL"] = (("time", "y", "x"), scl)
    return cube, raised & ~cloudy, land


def test_raised_views_are_the_plume_views_and_almost_no_others():
    for seed in (3, 41, int(np.random.default_rng().integers(1000, 10**6))):
        cube, raised, land = _cube(seed)
        got = raised_views(cube, SeagrassRule()).values
        assert got[raised].all(), "a plume view kept"
        false = got & ~raised
        print(f"false flags {false.sum()} of {(~raised).sum()} views")
        # pure noise beyond 3 sigma: 0.13 % of views, one-sided, sigma estimated robustly
        assert false.sum() <= 0.01 * (~raised).sum()
        assert not got[:, land].any()


def test_too_few_views_are_never_judged():
    cube, raised, _ = _cube(5, n_t=2)
    assert raised.any()
    assert not raised_views(cube, SeagrassRule()).values.any()


def test_masking_marks_exactly_the_raised_views_defective():
    cube, _, _ = _cube(11)
    flagged = raised_views(cube, SeagrassRule()).values
    masked = mask_raised_views(cube, SeagrassRule())["SCL"].values
    before = cube["SCL"].values
    assert flagged.any()
    assert (masked[flagged] == 1).all()
    np.testing.assert_array_equal(masked[~flagged], before[~flagged])


def test_the_sites_spread_is_the_median_to_its_bins_whatever_the_chunks():
    rng = np.random.default_rng(1)
    values = rng.lognormal(np.log(0.002), 0.7, (120, 90)).astype(np.float32)
    values[rng.random(values.shape) < 0.3] = np.nan
    a = xr.DataArray(values, dims=("y", "x"))
    want = np.nanmedian(values)
    for got in (_site_median(a), _site_median(a.chunk({"y": 35, "x": 40})).compute()):
        assert abs(float(got) / want - 1) < 0.012  # one bin: 1.1 %
    assert np.isnan(float(_site_median(a * np.nan)))


def test_raised_views_do_not_depend_on_the_chunks():
    cube, _, _ = _cube(23)
    whole = raised_views(cube, SeagrassRule()).values
    parts = raised_views(cube.chunk({"time": 1, "y": 10, "x": 7}), SeagrassRule()).compute()
    np.testing.assert_array_equal(parts.values, whole)
