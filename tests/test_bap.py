"""The best-available-pixel fill of a mangrove baseline, by need (:mod:`indices.bap`): a pixel
no baseline scene saw clear takes the first clear month after the window within the bound,
never a month before it (a run that starts later does not load those); a window that saw no
tide is not filled; beyond a caller's bound nothing is filled; pixels seen in the window are
untouched; beyond the bound a pixel stays unobserved;
without a never-clear pixel the composite is the same object (nothing read, nothing copied);
lazy and computed composites get the same fill, bit for bit, whatever the chunks."""

from __future__ import annotations

import datetime as dt

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from indices.bap import baseline_fill, fill_lazily, fill_months, fill_window
from indices.composite import composite
from indices.evidence import baseline_composite, baseline_with_fill
from indices.masks import BANDS

BASELINE = (dt.date(2024, 4, 1), dt.date(2024, 6, 30))


def _cube(days: list[str], clear: dict[tuple[int, int], list[int]], shape=(2, 3),
          tide: bool = True) -> xr.Dataset:
    """One scene a day of ``days``; scene k's DN is 1000 + 100 k in every band; pixel (y, x)
    is cloud (SCL 9) in every scene but those listed in ``clear`` for it (unlisted: all
    clear). ``tide``: the last pixel is water (green above NIR) in the window's first scene,
    so a window that sees it clear twice sees a tide (:func:`indices.bap.window_sees_tide`)."""
    n = len(days)
    scl = np.full((n, *shape), 4, np.uint8)
    for (y, x), ks in clear.items():
        scl[:, y, x] = 9
        scl[ks, y, x] = 4
    dn = (1000 + 100 * np.arange(n, dtype=np.uint16))[:, None, None] * np.ones(shape, np.uint16)
    data = {b: (("time", "y", "x"), dn.copy()) for b in BANDS}
    data["SCL"] = (("time", "y", "x"), scl)
    if tide:
        first = int(np.flatnonzero(np.array(days, "datetime64[D]")
                                   >= np.datetime64(BASELINE[0]))[0])
        data["B03"][1][first, -1, -1] += 500
    return xr.Dataset(data, coords={"time": np.array(days, "datetime64[ns]"),
                                    "y": np.arange(shape[0]), "x": np.arange(shape[1]),
                                    "boa_offset": ("time", np.zeros(n, np.int16))})


def test_the_fill_months_are_after_the_window_within_the_bound():
    """Only months after the window: a month before it is loaded only by a run that starts
    earlier, so with it the baseline would depend on the run's dates (review, session 35)."""
    times = np.array(["2023-03-20", "2023-04-02", "2024-03-31", "2024-04-01", "2024-06-30",
                      "2024-07-01", "2024-08-15", "2025-06-30", "2025-07-01"], "datetime64[ns]")
    pos, off = fill_months(times, BASELINE, months=12)
    assert pos.tolist() == [5, 6, 7]
    assert off.tolist() == [1, 2, 12]


def test_the_fill_window_ends_with_the_bounds_last_month():
    assert fill_window(dt.date(2024, 6, 30)) == (dt.date(2024, 7, 1), dt.date(2025, 6, 30))
    assert fill_window(dt.date(2023, 12, 31), 2) == (dt.date(2024, 1, 1), dt.date(2024, 2, 29))
    assert fill_window(dt.date(2024, 6, 15), 1) == (dt.date(2024, 6, 16), dt.date(2024, 7, 31))


DAYS = ["2024-02-10", "2024-03-10", "2024-04-10", "2024-05-10", "2024-07-10", "2024-08-10",
        "2026-01-10"]
CLEAR = {(0, 0): [0, 5],   # before by 2 months, after by 2: after (v15: the month before)
         (0, 1): [1],      # only before the window: unobserved (v15: filled from before)
         (0, 2): [4, 0],   # 1 after, 2 before: after
         (1, 0): [6],      # only beyond the bound: unobserved
         (1, 1): [3, 4]}   # seen in the window: untouched


def test_a_never_clear_pixel_takes_the_nearest_clear_month():
    cube = _cube(DAYS, CLEAR)
    base = composite(cube, *BASELINE)
    fill = baseline_fill(base, cube, BASELINE, months=12)
    out = fill.apply(base)
    assert fill.unseen == 4 and fill.filled == 2 and not fill.skipped
    assert fill.offsets().tolist() == [[2, 0, 1], [0, 0, 0]]
    red = out["B04"].values
    np.testing.assert_allclose(red[0, [0, 2]], [0.15, 0.14], rtol=1e-6)  # Aug, Jul
    for y, x in ((0, 1), (1, 0)):
        assert np.isnan(red[y, x]) and out["n_clear"].values[y, x] == 0
    assert fill.summary() == {"unseen": 4, "filled": 2, "unobserved": 2,
                              "months": {"+1": 1, "+2": 1}}
    seen = base["n_clear"].values > 0
    for v in base.data_vars:
        assert out[v].dtype == base[v].dtype
        np.testing.assert_array_equal(out[v].values[seen], base[v].values[seen])
    assert out["n_clear"].values[0, 2] == 1  # its month's views
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
    never-clear pixels are not given their month's, so its context and its warning stay
    the window's own."""
    days = ["2024-05-10", "2024-07-10", "2024-07-15"]
    cube = _cube(days, {(0, 0): [1, 2]})
    base = composite(cube, *BASELINE)
    fill = baseline_fill(base, cube, BASELINE)
    assert (fill.unseen, fill.filled) == (1, 0) and "no tide" in fill.skipped
    lazy = fill_lazily(base, cube, BASELINE)
    assert np.isnan(lazy["B04"].values[0, 0])


@pytest.mark.parametrize("chunks", [None, 1])
def test_a_window_that_saw_nothing_is_not_filled(chunks):
    """The review's all-cloud case (session 35): every window scene clouded everywhere, the
    months after clear. v15 filled the whole grid and called it observed; the window saw no
    tide, so nothing is filled (its warning and observed fraction stay its own)."""
    days = ["2024-04-10", "2024-05-10", "2024-06-10", "2024-07-10", "2024-08-10"]
    cube = _cube(days, {})
    cube["SCL"][:3] = 9
    if chunks:
        cube = cube.chunk({"time": 1, "y": chunks, "x": chunks})
    base = composite(cube, *BASELINE)
    fill = baseline_fill(base, cube, BASELINE)
    assert (fill.unseen, fill.filled) == (6, 0) and "no tide" in fill.skipped
    assert fill.apply(base) is base
    lazy = fill_lazily(base, cube, BASELINE)
    assert np.isnan(np.asarray(lazy["B04"].values)).all()


def test_a_window_without_a_tide_is_not_filled_though_it_saw_pixels_twice():
    """Seen twice, but never wet: no tide (the context's own first step), no fill."""
    cube = _cube(DAYS, CLEAR, tide=False)
    fill = baseline_fill(composite(cube, *BASELINE), cube, BASELINE)
    assert fill.filled == 0 and fill.unseen == 4 and "no tide" in fill.skipped


@pytest.mark.parametrize("chunks", [None, 1])
def test_beyond_the_callers_bound_nothing_is_filled(chunks):
    cube = _cube(DAYS, CLEAR)
    if chunks:
        cube = cube.chunk({"time": 1, "y": chunks, "x": chunks})
    base = composite(cube, *BASELINE)
    assert baseline_fill(base, cube, BASELINE, max_pixels=4).filled == 2
    fill = baseline_fill(base, cube, BASELINE, max_pixels=3)
    assert fill.filled == 0 and "memory" in fill.skipped
    assert fill.summary()["skipped"] == fill.skipped and fill.summary()["unobserved"] == 4


def test_the_values_are_taken_block_by_block_without_per_pixel_objects():
    """:func:`indices.bap._values_at` on many blocks and pixels gives numpy's values."""
    from indices.bap import _values_at

    rng = np.random.default_rng(0)
    shape = (37, 29)
    month = xr.Dataset({"a": (("y", "x"), rng.random(shape, np.float32)),
                        "n": (("y", "x"), rng.integers(0, 9, shape).astype(np.int16))})
    flat = np.sort(rng.choice(shape[0] * shape[1], 300, replace=False)).astype(np.int64)
    want = _values_at(month, ["a", "n"], flat, shape)
    got = _values_at(month.chunk({"y": 5, "x": 7}), ["a", "n"], flat, shape)
    for v in ("a", "n"):
        np.testing.assert_array_equal(got[v], want[v])
        assert got[v].dtype == want[v].dtype
