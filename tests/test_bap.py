"""The best-available-pixel fill of a mangrove baseline, by need (:mod:`indices.bap`): a pixel
no baseline scene saw clear takes the nearest clear month within the bound, the month before
on a tie; pixels seen in the window are untouched; beyond the bound a pixel stays unobserved;
without a never-clear pixel the composite is the same object (nothing read, nothing copied);
lazy and computed composites get the same fill, bit for bit, whatever the chunks."""

from __future__ import annotations

import datetime as dt

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from indices.bap import baseline_fill, fill_lazily, fill_months
from indices.composite import composite
from indices.evidence import baseline_composite, baseline_with_fill
from indices.masks import BANDS

BASELINE = (dt.date(2024, 4, 1), dt.date(2024, 6, 30))


def _cube(days: list[str], clear: dict[tuple[int, int], list[int]], shape=(2, 3)) -> xr.Dataset:
    """One scene a day of ``days``; scene k's DN is 1000 + 100 k in every band; pixel (y, x)
    is cloud (SCL 9) in every scene but those listed in ``clear`` for it (unlisted: all
    clear)."""
    n = len(days)
    scl = np.full((n, *shape), 4, np.uint8)
    for (y, x), ks in clear.items():
        scl[:, y, x] = 9
        scl[ks, y, x] = 4
    dn = (1000 + 100 * np.arange(n, dtype=np.uint16))[:, None, None] * np.ones(shape, np.uint16)
    data = {b: (("time", "y", "x"), dn.copy()) for b in BANDS}
    data["SCL"] = (("time", "y", "x"), scl)
    return xr.Dataset(data, coords={"time": np.array(days, "datetime64[ns]"),
                                    "y": np.arange(shape[0]), "x": np.arange(shape[1]),
                                    "boa_offset": ("time", np.zeros(n, np.int16))})


def test_the_fill_months_are_outside_the_window_within_the_bound():
    times = np.array(["2023-03-20", "2023-04-02", "2024-03-31", "2024-04-01", "2024-06-30",
                      "2024-07-01", "2024-08-15", "2025-06-30", "2025-07-01"], "datetime64[ns]")
    pos, off = fill_months(times, BASELINE, months=12)
    assert pos.tolist() == [1, 2, 5, 6, 7]
    assert off.tolist() == [-12, -1, 1, 2, 12]


DAYS = ["2024-02-10", "2024-03-10", "2024-04-10", "2024-05-10", "2024-07-10", "2024-08-10",
        "2026-01-10"]
CLEAR = {(0, 0): [0, 5],   # before by 2 months, after by 2: the month before (tie)
         (0, 1): [1, 5],   # 1 month before, 2 after: before
         (0, 2): [4, 0],   # 1 after, 2 before: after
         (1, 0): [6],      # only beyond the bound: unobserved
         (1, 1): [3, 4]}   # seen in the window: untouched


def test_a_never_clear_pixel_takes_the_nearest_clear_month():
    cube = _cube(DAYS, CLEAR)
    base = composite(cube, *BASELINE)
    fill = baseline_fill(base, cube, BASELINE, months=12)
    out = fill.apply(base)
    assert fill.unseen == 4 and fill.filled == 3
    assert fill.offsets().tolist() == [[-2, -1, 1], [0, 0, 0]]
    red = out["B04"].values
    np.testing.assert_allclose(red[0, :3], [0.10, 0.11, 0.14], rtol=1e-6)  # Feb, Mar, Jul
    assert np.isnan(red[1, 0]) and out["n_clear"].values[1, 0] == 0
    seen = base["n_clear"].values > 0
    for v in base.data_vars:
        assert out[v].dtype == base[v].dtype
        np.testing.assert_array_equal(out[v].values[seen], base[v].values[seen])
    assert out["n_clear"].values[0, 0] == 1  # its month's views
    assert base["n_clear"].values[0, 0] == 0  # the composite given is not changed


@pytest.mark.parametrize("chunks", [1, 2])
def test_a_lazy_composite_gets_the_same_fill_bit_for_bit(chunks):
    """Block by block (each block's never-clear pixels counted and filled apart, blocks with
    none not computed for the months): the same values as on numpy."""
    cube = _cube(DAYS, CLEAR, shape=(2, 3))
    lazy = cube.chunk({"time": 1, "y": chunks, "x": chunks})
    want = baseline_fill(composite(cube, *BASELINE), cube, BASELINE).apply(
        composite(cube, *BASELINE))
    base = composite(lazy, *BASELINE)
    got = baseline_fill(base, lazy, BASELINE).apply(base)
    assert isinstance(got["B04"].data, da.Array)
    for v in want.data_vars:
        np.testing.assert_array_equal(got[v].values, want[v].values)


def test_without_a_never_clear_pixel_the_composite_is_untouched():
    cube = _cube(DAYS, {}).chunk({"time": 1})
    base = composite(cube, *BASELINE)
    fill = baseline_fill(base, cube, BASELINE)
    assert (fill.unseen, fill.filled) == (0, 0)
    assert fill.apply(base) is base


def test_the_mangrove_baseline_is_filled_and_the_seagrass_one_is_not():
    days = ["2024-04-10", "2024-05-10", "2024-07-10"]
    cube = _cube(days, {(0, 0): [2]})
    mangrove, fill = baseline_with_fill(cube, "mangrove", BASELINE)
    assert fill.offsets()[0, 0] == 1
    assert np.isfinite(mangrove["B08"].values).all()
    seagrass = baseline_composite(cube, "seagrass", BASELINE)
    assert np.isnan(seagrass["B08"].values[0, 0])


@pytest.mark.parametrize("chunks", [None, 1])
def test_the_lazy_fill_gives_the_same_values(chunks):
    """:func:`indices.bap.fill_lazily` (the lazy API's: every month composited, nothing
    computed first) and the by-need fill of the walks give the same composite, bit for bit."""
    cube = _cube(DAYS, CLEAR)
    if chunks:
        cube = cube.chunk({"time": 1, "y": chunks, "x": chunks})
    base = composite(cube, *BASELINE)
    by_need = baseline_fill(base, cube, BASELINE).apply(base)
    lazy = fill_lazily(base, cube, BASELINE)
    for v in base.data_vars:
        assert lazy[v].dtype == base[v].dtype
        np.testing.assert_array_equal(np.asarray(lazy[v].values), np.asarray(by_need[v].values))


def test_a_window_of_one_scene_is_not_filled():
    """A window of fewer scenes than the context's ``min_views`` sees no tide anywhere: its
    never-clear pixels are not given their month's (:data:`indices.bap.MIN_WINDOW_SCENES`),
    so its context and its warning stay the window's own."""
    days = ["2024-05-10", "2024-07-10", "2024-07-15"]
    cube = _cube(days, {(0, 0): [1, 2]})
    base = composite(cube, *BASELINE)
    fill = baseline_fill(base, cube, BASELINE)
    assert (fill.unseen, fill.filled) == (1, 0)
    assert fill_lazily(base, cube, BASELINE) is base
