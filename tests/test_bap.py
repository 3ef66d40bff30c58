"""The best-available-pixel fill of a mangrove baseline, by need (:mod:`indices.bap`): a pixel
no baseline scene saw clear takes the first clear month after the window within the bound,
never a month before it (a run that starts later does not load those); a window that saw no
tide is not filled, nor one whose own intertidal zone (the rule's ``min_views``, opened 3 x 3)
lies off the site; beyond a caller's bound the fill raises (never skipped for memory); pixels
seen in the window are untouched; beyond the bound a pixel stays unobserved;
without a never-clear pixel the composite is the same object (nothing read, nothing copied);
lazy and computed composites get the same fill, bit for bit, whatever the chunks."""

from __future__ import annotations

import datetime as dt

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from indices.bap import FillTooLarge, baseline_fill, fill_lazily, fill_months, fill_window
from indices.composite import composite
from indices.evidence import baseline_composite
from indices.masks import BANDS

BASELINE = (dt.date(2024, 4, 1), dt.date(2024, 6, 30))


TIDE_ROWS = 3
"""Rows :func:`_cube` adds below the pixels of a test, all clear: the window's tide."""


def _cube(days: list[str], clear: dict[tuple[int, int], list[int]], shape=(2, 3),
          tide: bool = True) -> xr.Dataset:
    """One scene a day of ``days``; scene k's DN is 1000 + 100 k in every band; pixel (y, x)
    is cloud (SCL 9) in every scene but those listed in ``clear`` for it (unlisted: all
    clear). Below them :data:`TIDE_ROWS` rows of 3 pixels at least, seen clear in every scene;
    ``tide``: water (green above NIR) in the window's first scene, so a window that sees
    them clear twice has a 3 x 3 intertidal zone (:func:`indices.bap.window_has_context`)."""
    n = len(days)
    shape = (shape[0] + TIDE_ROWS, max(shape[1], 3))
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
        data["B03"][1][first, -TIDE_ROWS:, :] += 500
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
    assert fill.offsets()[:2].tolist() == [[2, 0, 1], [0, 0, 0]]
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
    mangrove = baseline_composite(cube, "mangrove", BASELINE)  # the lazy API's fill
    fill = baseline_fill(composite(cube, *BASELINE), cube, BASELINE)  # the flow's
    assert fill.offsets()[0, 0] == 1
    for v in mangrove.data_vars:
        np.testing.assert_array_equal(mangrove[v].values,
                                      fill.apply(composite(cube, *BASELINE))[v].values)
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
    assert (fill.unseen, fill.filled) == (15, 0) and "no tide" in fill.skipped
    assert fill.apply(base) is base
    lazy = fill_lazily(base, cube, BASELINE)
    assert np.isnan(np.asarray(lazy["B04"].values)).all()


def test_a_window_without_a_tide_is_not_filled_though_it_saw_pixels_twice():
    """Seen twice, but never wet: no tide (the context's own first step), no fill."""
    cube = _cube(DAYS, CLEAR, tide=False)
    fill = baseline_fill(composite(cube, *BASELINE), cube, BASELINE)
    assert fill.filled == 0 and fill.unseen == 4 and "no tide" in fill.skipped


@pytest.mark.parametrize("chunks", [None, 1])
def test_beyond_the_callers_bound_the_fill_raises(chunks):
    """Never a fill skipped for the caller's memory (review of rule v16, session 36: the
    baseline would depend on the machine): beyond the bound it raises, with the counts."""
    cube = _cube(DAYS, CLEAR)
    if chunks:
        cube = cube.chunk({"time": 1, "y": chunks, "x": chunks})
    base = composite(cube, *BASELINE)
    assert baseline_fill(base, cube, BASELINE, max_pixels=4).filled == 2
    with pytest.raises(FillTooLarge) as err:
        baseline_fill(base, cube, BASELINE, max_pixels=3)
    assert (err.value.unseen, err.value.max_pixels) == (4, 3)


@pytest.mark.parametrize("chunks", [None, 1, 2])
def test_a_window_whose_tide_lies_off_the_site_is_not_filled(chunks):
    """The fill's gate is the window's own intertidal zone inside the site's polygon
    (review of rule v16, session 36): the same tide, the polygon off it, nothing filled; the
    polygon over it, filled; the lazy API's fill agrees either way, whatever the chunks."""
    cube = _cube(DAYS, CLEAR)
    if chunks:
        cube = cube.chunk({"time": 1, "y": chunks, "x": chunks})
    base = composite(cube, *BASELINE)
    off = np.zeros((2 + TIDE_ROWS, 3), bool)
    off[:2] = True  # the test's pixels only: the tidal rows outside
    over = off.copy()
    over[-1, -1] = True  # one pixel of the zone inside
    for inside, filled in ((off, 0), (over, 2), (None, 2)):
        fill = baseline_fill(base, cube, BASELINE, inside=inside)
        assert fill.filled == filled and ("no tide" in fill.skipped) == (not filled)
        lazy = fill_lazily(base, cube, BASELINE, inside=inside)
        np.testing.assert_array_equal(np.asarray(lazy["B04"].values),
                                      np.asarray(fill.apply(base)["B04"].values))


def test_the_gate_takes_the_rules_own_views():
    """``min_views``, the site's rule's, not the default rule's: the tidal rows seen twice
    in the window flip for a rule of two views, not for one of three."""
    cube = _cube(DAYS, CLEAR)
    base = composite(cube, *BASELINE)
    assert baseline_fill(base, cube, BASELINE, min_views=2).filled == 2
    fill = baseline_fill(base, cube, BASELINE, min_views=3)
    assert fill.filled == 0 and "3 clear views" in fill.skipped


def test_a_tide_of_one_pixel_wide_is_not_a_zone():
    """The gate is the context's own first two steps: a tide seen on fewer pixels than a
    3 x 3 square (a ring of mixed pixels) is opened away, so nothing is filled."""
    cube = _cube(DAYS, CLEAR, tide=False)
    first = int(np.flatnonzero(cube["time"].values >= np.datetime64(BASELINE[0]))[0])
    cube["B03"][first, -TIDE_ROWS:, -1] += 500  # one column of the tidal rows flips
    fill = baseline_fill(composite(cube, *BASELINE), cube, BASELINE)
    assert fill.filled == 0 and "no tide" in fill.skipped


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
