"""indices.composite: median composites against np.nanmedian, periods, offsets, laziness."""

from __future__ import annotations

import itertools
import sys
import warnings
from contextlib import contextmanager

import dask
import numpy as np
import pytest
import xarray as xr

from indices._median import sorting_network
from indices.composite import composite, median_over_time, monthly_composite
from indices.masks import VALID_SCL, reflectance

BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")


def make_cube(times, dn: dict[str, np.ndarray], offsets, scl) -> xr.Dataset:
    ds = xr.Dataset(
        {b: (("time", "y", "x"), np.asarray(v, np.uint16)) for b, v in dn.items()},
        coords={"time": np.asarray(times, "datetime64[ns]"),
                "y": np.arange(np.shape(scl)[1]) * -10.0, "x": np.arange(np.shape(scl)[2]) * 10.0,
                "boa_offset": ("time", np.asarray(offsets, np.int16)),
                "spatial_ref": 0})
    ds["SCL"] = (("time", "y", "x"), np.asarray(scl, np.uint8))
    return ds


def random_cube(seed=0, shape_yx=(19, 37)) -> xr.Dataset:
    """Three months (Jan: 5 scenes, Feb: 1, Mar: 4), offsets mixed within January."""
    times = np.array(["2024-01-03T10:30", "2024-01-08T10:30", "2024-01-13T10:30",
                      "2024-01-18T10:30", "2024-01-28T10:30", "2024-02-07T10:30",
                      "2024-03-03T10:30", "2024-03-08T10:30", "2024-03-13T10:30",
                      "2024-03-23T10:30"], "datetime64[ns]")
    shape = (len(times), *shape_yx)
    rng = np.random.default_rng(seed)
    dn = {b: rng.integers(1, 7000, shape) * (rng.random(shape) > 0.05) for b in BANDS}
    scl = rng.choice([0, 3, 4, 5, 6, 8, 9, 10], shape, p=[.05, .1, .3, .15, .15, .1, .1, .05])
    return make_cube(times, dn, [-1000, -1000, 0, 0, -1000, 0, -1000, -1000, 0, 0], scl)


def reference_composite(cube: xr.Dataset, bands=BANDS):
    """np.nanmedian per month of masks.reflectance on clear observations (all bands nonzero)."""
    refl = {b: reflectance(cube, b).values for b in bands}
    clear = np.isin(cube["SCL"].values, VALID_SCL)
    for b in bands:
        clear &= cube[b].values != 0
    months = cube["time"].values.astype("datetime64[M]")
    out = {b: [] for b in bands} | {"n_clear": []}
    for m in np.unique(months):
        sel = months == m
        for b in bands:
            out[b].append(_nanmedian(np.where(clear[sel], refl[b][sel], np.nan)))
        out["n_clear"].append(clear[sel].sum(0))
    return {k: np.stack(v) for k, v in out.items()}, np.unique(months)


def _nanmedian(arr: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels
        return np.nanmedian(arr, axis=0)


class CountingScheduler:
    def __init__(self, max_computes: int = 0):
        self.total_computes = 0
        self.max_computes = max_computes

    def __call__(self, dsk, keys, **kwargs):
        self.total_computes += 1
        if self.total_computes > self.max_computes:
            raise RuntimeError(f"too many dask computations: {self.total_computes}")
        return dask.get(dsk, keys, **kwargs)


@contextmanager
def raise_if_dask_computes(max_computes: int = 0):
    with dask.config.set(scheduler=CountingScheduler(max_computes)):
        yield


# --------------------------------------------------------------------------- median kernel

@pytest.mark.parametrize("n", range(1, 13))
def test_sorting_network_sorts_every_binary_input(n):
    """0-1 principle: a comparator network sorts everything iff it sorts all 0/1 inputs."""
    net = sorting_network(n)
    assert (net[:, 0] < net[:, 1]).all() and len(sorting_network(0)) == 0
    data = np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.int8).reshape(-1, n).T
    for i, j in net:
        lo, hi = np.minimum(data[i], data[j]), np.maximum(data[i], data[j])
        data[i], data[j] = lo, hi
    assert (np.diff(data, axis=0) >= 0).all()


def test_sorting_network_sorts_larger_random_inputs():
    rng = np.random.default_rng(3)
    for n in (13, 24, 31, 32, 33, 64, 70):
        data = rng.random((n, 200))
        for i, j in sorting_network(n):
            data[[i, j]] = np.sort(data[[i, j]], axis=0)
        assert (np.diff(data, axis=0) >= 0).all(), n


@pytest.mark.parametrize("n_time", [1, 2, 5, 8, 24, 40])
def test_median_over_time_equals_nanmedian(n_time):
    rng = np.random.default_rng(n_time)
    arr = rng.random((n_time, 13, 300)).astype(np.float32)
    arr[rng.random(arr.shape) < 0.4] = np.nan
    arr[:, 0, :5] = np.nan  # all missing
    arr[:, 1, 0] = np.nan
    arr[: min(2, n_time), 1, 0] = [0.25, 0.5][: min(2, n_time)]  # an even count
    expected = _nanmedian(arr)
    got = median_over_time(arr)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


# --------------------------------------------------------------------------- monthly composite

def test_monthly_composite_equals_nanmedian_of_clear_reflectance():
    cube = random_cube()
    out = monthly_composite(cube)
    expected, months = reference_composite(cube)
    np.testing.assert_array_equal(out["period"].values, months.astype("datetime64[ns]"))
    assert out["period"].values[0] == np.datetime64("2024-01-01", "ns")
    for b in BANDS:
        assert out[b].dtype == np.float32 and out[b].dims == ("period", "y", "x")
        np.testing.assert_array_equal(out[b].values, expected[b])
    assert out["n_clear"].dtype == np.int16
    np.testing.assert_array_equal(out["n_clear"].values, expected["n_clear"])
    counts = expected["n_clear"]
    assert (counts == 0).any() and (counts % 2 == 0).any() and (counts >= 3).any()
    assert "spatial_ref" in out.coords and "boa_offset" not in out.coords


def test_offsets_are_applied_per_scene_before_the_median():
    """Same DN in both January scenes, offsets -1000 and 0: the median is their mean."""
    dn = {b: np.full((3, 1, 2), 2000) for b in BANDS}
    dn["B04"][:, 0, 1] = [1500, 1700, 1900]
    cube = make_cube(["2024-01-10", "2024-01-20", "2024-02-01"], dn, [-1000, 0, -1000],
                     np.array([[[4, 4]], [[4, 4]], [[9, 9]]]))
    out = monthly_composite(cube)
    np.testing.assert_allclose(out["B03"].values[0, 0], [0.15, 0.15], rtol=1e-6)
    np.testing.assert_allclose(out["B04"].values[0, 0, 1], (0.05 + 0.17) / 2, rtol=1e-6)
    assert np.isnan(out["B03"].values[1]).all()  # February: cloud only
    np.testing.assert_array_equal(out["n_clear"].values[:, 0], [[2, 2], [0, 0]])


def test_tie_free_odd_and_even_counts_by_hand():
    values = [1100, 1500, 1300, 1900, 1700]  # reflectance .01 .05 .03 .09 .07 (offset -1000)
    dn = {b: np.array(values).reshape(5, 1, 1) for b in BANDS}
    scl = np.full((5, 1, 1), 4)
    times = [f"2024-05-0{i + 1}" for i in range(5)]
    out = monthly_composite(make_cube(times, dn, [-1000] * 5, scl))
    assert out["B08"].values.item() == pytest.approx(0.05, rel=1e-6)
    scl[3] = 8  # drop .09: .01 .03 .05 .07 -> (.03 + .05) / 2
    out = monthly_composite(make_cube(times, dn, [-1000] * 5, scl))
    assert out["B08"].values.item() == pytest.approx(0.04, rel=1e-6)
    assert out["n_clear"].values.item() == 4


def test_unsorted_time_is_sorted_first():
    cube = random_cube()
    shuffled = cube.isel(time=np.random.default_rng(1).permutation(cube.sizes["time"]))
    a, b = monthly_composite(cube), monthly_composite(shuffled)
    for v in (*BANDS, "n_clear"):
        np.testing.assert_array_equal(a[v].values, b[v].values)


@pytest.mark.parametrize("chunks", [{"time": 1, "y": (5, 9, 5), "x": (7, 13, 17)},
                                    {"time": 3, "y": 7, "x": 20}])
def test_dask_matches_numpy_bitwise_and_stays_lazy(chunks):
    cube = random_cube()
    eager = monthly_composite(cube)
    lazy_cube = cube.chunk(chunks)
    with raise_if_dask_computes():
        lazy = monthly_composite(lazy_cube)
        window = composite(lazy_cube, "2024-03-01", "2024-03-31")
    for v in (*BANDS, "n_clear"):
        assert isinstance(lazy[v].data, dask.array.Array)
        values = lazy[v].values
        assert values.dtype == lazy[v].dtype == eager[v].dtype
        np.testing.assert_array_equal(values, eager[v].values)
    assert lazy["B02"].chunks[0] == (1, 1, 1)
    np.testing.assert_array_equal(window["B08"].values, eager["B08"].values[2])


def test_large_periods_are_split_along_y(monkeypatch):
    cube = random_cube().chunk({"time": 1})
    # the package exports the function `composite`, which shadows the module attribute
    monkeypatch.setattr(sys.modules["indices.composite"], "MAX_BLOCK_BYTES", 5 * 37 * 13 * 4)
    out = monthly_composite(cube)
    assert len(out["B02"].chunks[1]) > 1
    np.testing.assert_array_equal(out["B11"].values, monthly_composite(random_cube())["B11"].values)


@pytest.mark.parametrize("seed", [3, 11])
@pytest.mark.parametrize("bands", [("B03", "B04", "B08", "B11"), ("B11", "B02"), ("B12",)])
def test_clear_test_is_separate_from_the_composited_bands(seed, bands):
    """A few bands composited with every band's clear test: the views of the composite of all
    six (each band's values bit for bit, the same n_clear and n_wet), against the reference's
    nanmedian over those views too, eager and lazy; the clear test of the bands alone takes
    other views (else this would prove nothing)."""
    print(f"seed={seed}")
    cube = random_cube(seed)
    full = monthly_composite(cube)
    few = monthly_composite(cube, bands=bands, clear_bands=BANDS)
    lazy = monthly_composite(cube.chunk({"time": 2, "y": 7, "x": 16}), bands=bands,
                             clear_bands=BANDS)
    expected, _ = reference_composite(cube)
    assert list(few.data_vars) == [*bands, "n_clear", "n_wet"]
    for v in (*bands, "n_clear", "n_wet"):
        np.testing.assert_array_equal(few[v].values, full[v].values)
        np.testing.assert_array_equal(lazy[v].values, full[v].values)
    for v in (*bands, "n_clear"):
        np.testing.assert_array_equal(few[v].values, expected[v])
    alone = monthly_composite(cube, bands=bands)
    assert (alone["n_clear"].values > few["n_clear"].values).any()
    window = composite(cube, "2024-03-01", "2024-03-31", bands=bands, clear_bands=BANDS)
    np.testing.assert_array_equal(window[bands[0]].values, full[bands[0]].values[2])
    with pytest.raises(ValueError, match="not among the clear test"):
        monthly_composite(cube, bands=("B02", "B03"), clear_bands=("B03",))


@pytest.mark.parametrize("used", [1, 2, 3])
def test_tiles_seen_by_one_or_two_scenes_of_a_longer_month(used):
    """The kernel's tiles (256 px along x) where only ``used`` scenes of a five-scene month
    have a clear pixel take the short median paths (one or two lines): the bands, n_clear
    and n_wet equal numpy's nanmedian and counts, eager and lazy (and parallel = serial)."""
    times = np.array([f"2024-01-{d:02d}T10:30" for d in (3, 8, 13, 18, 28)], "datetime64[ns]")
    rng = np.random.default_rng(used)
    shape = (5, 6, 600)  # three tiles along x: 256, 256, 88
    dn = {b: rng.integers(1, 7000, shape) * (rng.random(shape) > 0.05) for b in BANDS}
    scl = rng.choice([4, 5, 8, 9], shape, p=[.5, .2, .2, .1])
    scl[used:, :, 256:512] = 9  # the second tile: only the first ``used`` scenes can be clear
    scl[:, :, 512:] = 4 if used == 1 else scl[:, :, 512:]  # every view clear but zeros
    cube = make_cube(times, dn, [-1000, 0, -1000, 0, 0], scl)
    out = monthly_composite(cube)
    lazy = monthly_composite(cube.chunk({"time": 5, "y": 3, "x": 300}))
    expected, _ = reference_composite(cube)
    for b in BANDS:
        np.testing.assert_array_equal(out[b].values, expected[b])
        np.testing.assert_array_equal(lazy[b].values, expected[b])
    np.testing.assert_array_equal(out["n_clear"].values, expected["n_clear"])
    clear = np.isin(cube["SCL"].values, VALID_SCL)
    for b in BANDS:
        clear &= cube[b].values != 0
    wet = clear & (reflectance(cube, "B03").values > reflectance(cube, "B08").values)
    np.testing.assert_array_equal(out["n_wet"].values, wet.sum(0)[np.newaxis])
    np.testing.assert_array_equal(lazy["n_wet"].values, out["n_wet"].values)
    counts = expected["n_clear"][0, :, 256:512]
    assert counts.max() <= used and (counts == used).any()


# --------------------------------------------------------------------------- date range

def test_composite_over_a_range_includes_the_end_day():
    cube = random_cube()
    monthly = monthly_composite(cube)
    jan = composite(cube, "2024-01-01", "2024-01-28")  # the last January scene is at 10:30
    assert jan["B04"].dims == ("y", "x") and jan["n_clear"].dtype == np.int16
    np.testing.assert_array_equal(jan["B04"].values, monthly["B04"].values[0])
    np.testing.assert_array_equal(jan["n_clear"].values, monthly["n_clear"].values[0])
    whole = composite(cube, np.datetime64("2024-01-01"), "2024-12-31", bands=("B08",))
    assert list(whole.data_vars) == ["B08", "n_clear"]
    monthly_b08 = monthly_composite(cube, bands=("B08",))  # clear needs only B08 nonzero here
    np.testing.assert_array_equal(whole["n_clear"].values, monthly_b08["n_clear"].values.sum(0))
    assert (whole["n_clear"].values > monthly["n_clear"].values.sum(0)).any()


def test_composite_errors():
    cube = random_cube()
    with pytest.raises(ValueError, match="no scenes between"):
        composite(cube, "2023-01-01", "2023-12-31")
    with pytest.raises(ValueError, match="SCL"):
        monthly_composite(cube.drop_vars("SCL"))
    with pytest.raises(ValueError, match="uint16"):
        monthly_composite(cube.assign(B02=cube["B02"].astype(np.float32)))


def test_deglint_takes_the_median_of_each_views_glint_removed_band():
    """``deglint``: blue and green are the median of ``v - s B08`` view by view plus ``s``
    times B08's median where a pixel has >= 3 clear views, their own median with 1 or 2 (a
    mean, which the deglint commutes with); the other bands and the counts as without it;
    dask as numpy."""
    cube = random_cube(5)
    slopes = {"B02": 1.0, "B03": 0.75}
    out = monthly_composite(cube, deglint=slopes)
    plain = monthly_composite(cube)
    refl = {b: reflectance(cube, b).values for b in BANDS}
    clear = np.isin(cube["SCL"].values, VALID_SCL)
    for b in BANDS:
        clear &= cube[b].values != 0
    months = cube["time"].values.astype("datetime64[M]")
    for p, m in enumerate(np.unique(months)):
        sel, n = months == m, plain["n_clear"].values[p]
        nir = plain["B08"].values[p]
        for b, s in slopes.items():
            views = np.where(clear[sel], refl[b][sel] - np.float32(s) * refl["B08"][sel], np.nan)
            want = np.where(n >= 3, _nanmedian(views) + np.float32(s) * nir, plain[b].values[p])
            np.testing.assert_allclose(out[b].values[p], want, rtol=0, atol=2e-7)
            assert np.array_equal(out[b].values[p][n < 3], plain[b].values[p][n < 3],
                                  equal_nan=True)
    assert (plain["n_clear"].values >= 3).any() and (out["B02"].values != plain["B02"].values).any()
    for v in ("B04", "B08", "B11", "B12", "n_clear"):
        np.testing.assert_array_equal(out[v].values, plain[v].values)
    lazy = monthly_composite(cube.chunk({"time": 2, "y": 7}), deglint=slopes)
    np.testing.assert_array_equal(lazy["B03"].values, out["B03"].values)
    window = composite(cube, "2024-01-01", "2024-01-31", ("B03", "B08"), clear_bands=BANDS,
                       deglint={"B03": 0.75})
    np.testing.assert_array_equal(window["B03"].values, out["B03"].values[0])
    with pytest.raises(ValueError, match="deglint"):
        monthly_composite(cube, ("B02", "B03"), deglint={"B02": 1.0})
