"""Any chunking gives the same rows and maps, bit for bit (docs/design.md).

A 2000 px mangrove site gave 1267.24 ha of gain in 2048 px chunks and 1270.79 ha in 1024 px
ones: the intertidal context (:mod:`indices.context`) padded the map's edges of its chunked
run with zeros, which read as land next to the sea (a shore) along every edge the coast's
water touched. No test saw it: the context's overlap is 328 px with the published reach
(1.5 km), so every site of the tests (at most 300 px) was merged into one block whatever
``chunks`` they asked. Here the rule's reach is shortened (so that the overlap is ~60 px),
:data:`indices.neighbourhood.ONE_BLOCK` lowered to 0 (so that a small site is split at all) and
the chunks chosen so that their borders cross the coast: the scenes are the independent
generator's (``tests/scenarios``, not the project's demo), whose sea reaches the map's edge.
"""

from __future__ import annotations

import dataclasses

import dask
import numpy as np
import pytest
import xarray as xr

import indices.context as context
import indices.neighbourhood as neighbourhood
from indices.context import context_depth, intertidal_context, shore_band
from indices.habitat import RULES
from indices.neighbourhood import window_sum
from indices.summary import OBSERVATION_INDICES

REACH_M = 150.0
"""The test rule's reach: a context overlap of 73 px on the 10 m grid (58 before rule v7's tidal
ground added a reach)."""


@pytest.fixture(autouse=True)
def _split_small_maps(monkeypatch):
    monkeypatch.setattr(neighbourhood, "ONE_BLOCK", 0)


def _scenario(kind: str, seed: int, tmp_path_factory):
    from scenarios import make_scenario

    out = tmp_path_factory.mktemp(f"{kind}{seed}")
    return make_scenario(seed, kind=kind, size=200, n_months=8, out_dir=out)


@pytest.fixture(scope="module")
def mangrove(tmp_path_factory):
    return _scenario("mangrove", 1, tmp_path_factory)


def _tables(sc, chunks, monkeypatch):
    from aoi import load_sites
    from flows.site import site_tables
    from flows.sources import get_source

    if sc.kind == "mangrove":
        monkeypatch.setitem(RULES, "mangrove",
                            dataclasses.replace(RULES["mangrove"], reach_m=REACH_M))
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    scenes = source.search(site, sc.start, sc.end)
    return site_tables(site, source, scenes, start=sc.start, end=sc.end, run_id="chunks",
                       chunks=chunks, products=True, walk="memory")


MEANS = [f"{name}_mean" for name in OBSERVATION_INDICES]
"""The observation rows' index means: float sums of the reduce kernel, added per chunk (float32
runs of 256 pixels, then float64), so their last bits depend on the chunking; documented
(docs/performance.md: within ~1e-7 of a float64 sum) and tested to 1e-6 of the sum of the
values' magnitudes in tests/test_indices_sums.py. A mean rounded to 6 decimals can then differ
by 1e-6 between chunkings (4.310489 and 4.310488 on this scenario): not yet bit for bit."""


def _assert_same(got, want, chunks):
    exact = [c for c in want.observations.columns if c not in MEANS]
    assert got.observations[exact].equals(want.observations[exact]), chunks
    for column in MEANS:  # see MEANS: 1e-6 of the magnitude, then rounded to 6 decimals
        a, b = got.observations[column].to_numpy(), want.observations[column].to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b)), (column, chunks)
        ok = np.isnan(b) | (np.abs(a - b) <= 1.01e-6 + 1e-6 * np.abs(b))
        assert ok.all(), (column, chunks, a[~ok], b[~ok])
    assert got.change.equals(want.change), chunks
    assert list(got.maps.data_vars) == list(want.maps.data_vars)
    for name in want.maps.data_vars:
        np.testing.assert_array_equal(got.maps[name].values, want.maps[name].values,
                                      err_msg=f"{name} in chunks of {chunks}")
    assert got.evidence["rule"] == want.evidence["rule"], chunks


def test_a_mangrove_sites_rows_and_maps_do_not_depend_on_the_chunking(mangrove, monkeypatch):
    assert context_depth(RULES["mangrove"].shore_gap_m, REACH_M, 10.0) == 73
    whole = _tables(mangrove, None, monkeypatch)
    assert whole.change["gain_ha"].notna().any() and whole.maps["class"].size
    for chunks in (64, 100):
        _assert_same(_tables(mangrove, chunks, monkeypatch), whole, chunks)


def test_a_seagrass_sites_rows_and_maps_do_not_depend_on_the_chunking(tmp_path_factory,
                                                                       monkeypatch):
    sc = _scenario("seagrass", 1, tmp_path_factory)
    whole = _tables(sc, None, monkeypatch)
    _assert_same(_tables(sc, 64, monkeypatch), whole, 64)


def _baseline(sc):
    from aoi import load_sites
    from flows.sources import get_source
    from indices.evidence import baseline_composite

    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    return baseline_composite(cube, "mangrove", (site.baseline_start, site.baseline_end)
                              ).compute()


@pytest.mark.parametrize("chunks", [{"y": 73, "x": 73}, {"y": (61, 70), "x": 90},
                                    {"y": 100, "x": -1}])
def test_the_context_and_shore_band_of_any_chunking_are_the_whole_maps(mangrove, chunks):
    base = _baseline(mangrove)
    n_wet, n_clear = base["n_wet"], base["n_clear"]
    candidates = base["B08"] > base["B04"]
    if isinstance(chunks["y"], tuple):  # uneven: the rest of the rows in a last chunk
        chunks = {**chunks, "y": chunks["y"] + (n_clear.sizes["y"] - sum(chunks["y"]),)}
    rule = RULES["mangrove"]
    kw = {"min_views": rule.min_views, "shore_gap_m": rule.shore_gap_m, "reach_m": REACH_M}
    want = intertidal_context(n_wet, n_clear, candidates, **kw).values
    want_shore = shore_band(n_wet, n_clear, min_views=rule.min_views, reach_m=REACH_M,
                            band_m=rule.shore_gap_m).values
    # the sea touches the map's edge, the coast crosses the chunks' borders
    assert (want == context.INTERTIDAL).any() and (want == context.CONNECTED).any()
    assert (want == context.TIDAL).any()  # rule v7's tidal ground, its two reaches
    assert (want_shore[[0, -1], :] == context.COAST).any() \
        or (want_shore[:, [0, -1]] == context.COAST).any()
    lazy = [a.chunk(chunks) for a in (n_wet, n_clear, candidates)]
    got = intertidal_context(*lazy, **kw)
    got_shore = shore_band(lazy[0], lazy[1], min_views=rule.min_views, reach_m=REACH_M,
                           band_m=rule.shore_gap_m)
    assert isinstance(got.data, dask.array.Array) and len(got.data.chunks[0]) > 1
    got, got_shore = dask.compute(got, got_shore)
    np.testing.assert_array_equal(got.values, want)
    np.testing.assert_array_equal(got_shore.values, want_shore)


def test_the_shore_ground_across_a_block_edge_is_the_whole_maps(monkeypatch):
    # 140 x 80 px, 2 clear views each: the sea in columns 0-29, canopy (candidates, dry) in
    # rows 0-63 of columns 30-49, the band of the shore's edge below it bare (columns 30-35);
    # blocks of 70 rows: the shore ground (rule v11: rows 64-68, 5 px from the canopy)
    # crosses the block edge at row 70's overlap; with wet ground next to the canopy (tidal
    # ground, rule v7) the seeds are the connected level before it
    monkeypatch.setattr(neighbourhood, "ONE_BLOCK", 64)
    n_clear = np.full((140, 80), 2, np.int16)
    n_wet = np.zeros((140, 80), np.int16)
    n_wet[:, :30] = 2
    n_wet[20:40, 45:49] = 2  # a flat inside the forest
    candidates = np.zeros((140, 80), bool)
    candidates[:64, 30:50] = True
    candidates[20:40, 45:49] = False
    bare = np.ones((140, 80), bool)
    bare[66:68, 30:36] = False  # a crop at the water's edge: not taken
    maps = [xr.DataArray(a, dims=("y", "x")) for a in (n_wet, n_clear, candidates, bare)]
    kw = {"min_views": 2, "shore_gap_m": 50.0, "reach_m": 100.0, "shore_ground_m": 50.0}
    want = intertidal_context(*maps, **kw).values
    assert (want[64:66, 30:36] == context.TIDAL).all()
    assert not (want[66:68, 30:36] == context.TIDAL).any()  # vegetated in the baseline
    assert not (want[70:, 30:36] == context.TIDAL).any()  # past the 50 m reach
    got = intertidal_context(*(a.chunk({"y": 70, "x": -1}) for a in maps), **kw)
    assert len(got.data.chunks[0]) > 1
    np.testing.assert_array_equal(got.compute().values, want)


def test_one_block_up_to_one_block_pixels(monkeypatch):
    monkeypatch.setattr(neighbourhood, "ONE_BLOCK", 2048)
    n = xr.DataArray(dask.array.zeros((300, 200), np.uint16, chunks=50), dims=("y", "x"))
    out = intertidal_context(n, n, n > 0, min_views=2, shore_gap_m=50.0, reach_m=REACH_M)
    assert out.data.chunks == ((300,), (200,))


def test_window_sum_is_the_brute_force_sum():
    seed = 20261206
    rng = np.random.default_rng(seed)
    for _ in range(20):
        ny, nx, r = rng.integers(1, 40), rng.integers(1, 40), int(rng.integers(0, 12))
        a = rng.integers(0, 300, (ny, nx))
        padded = np.pad(a, r)
        want = np.array([[padded[i:i + 2 * r + 1, j:j + 2 * r + 1].sum() for j in range(nx)]
                         for i in range(ny)])
        np.testing.assert_array_equal(window_sum(a, r), want, err_msg=f"seed {seed}")


def test_window_sum_does_not_depend_on_where_the_map_starts():
    """A block's sums are the whole map's where the window lies inside the block."""
    rng = np.random.default_rng(7)
    a = rng.integers(0, 9, (60, 400))
    whole = window_sum(a, 10)
    part = window_sum(a[:, 150:], 10)
    np.testing.assert_array_equal(part[:, 10:], whole[:, 160:])
