"""The evidence's maps computed together are the maps computed apart, bit for bit (issue 22).

:func:`indices.coast_maps.evidence_maps` computes the published rule's context, the floor
rule's context and the shore band in one pass over the baseline composite's blocks, the
coast's water once a block instead of once a map. Each unpacked part is compared here with
its own function (:func:`indices.context.intertidal_context`, :func:`indices.context.
shore_band`), computed apart on the whole map, on the independent generator's scenes
(``tests/scenarios``: its sea reaches the map's edge and crosses the chunks' borders), whole
and in chunks (``ONE_BLOCK`` lowered so that a small map is split, the reach shortened so that
the overlap is ~60 px, as ``tests/test_chunk_invariance.py`` does); and a mangrove site's
parameters from the maps together equal those from the maps apart.
"""

from __future__ import annotations

import dataclasses

import dask
import numpy as np
import pytest

import indices.coast_maps as coast_maps
import indices.context as context
import indices.neighbourhood as neighbourhood
from indices.coast_maps import evidence_maps, unpack_evidence
from indices.context import intertidal_context, shore_band
from indices.habitat import RULES, mangrove_context, mangrove_spectral_score
from indices.mangrove import floor_rule, mangrove_parameters

REACH_M = 150.0


@pytest.fixture(autouse=True)
def _split_small_maps(monkeypatch):
    monkeypatch.setattr(neighbourhood, "ONE_BLOCK", 0)


@pytest.fixture(scope="module", params=[1, 2])
def base(request, tmp_path_factory):
    from scenarios import make_scenario

    from aoi import load_sites
    from flows.sources import get_source
    from indices.evidence import baseline_composite

    seed = request.param
    print(f"scenario seed {seed}")
    sc = make_scenario(seed, kind="mangrove", size=200, n_months=8,
                       out_dir=tmp_path_factory.mktemp(f"mangrove{seed}"))
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    return baseline_composite(cube, "mangrove", (site.baseline_start, site.baseline_end)
                              ).compute()


def _apart(base, rule, candidates, floor):
    # the first pass's contexts are rule v6's levels, without tidal ground (the site's
    # parameters do not move with rule v7: indices.coast_maps.evidence_kernel)
    kw = {"min_views": rule.min_views, "shore_gap_m": rule.shore_gap_m,
          "reach_m": rule.reach_m, "tidal": False}
    n_wet, n_clear = base["n_wet"], base["n_clear"]
    return {"context": intertidal_context(n_wet, n_clear, candidates, **kw).values,
            "floor": (intertidal_context(n_wet, n_clear, floor, **kw).values != 0
                      ).astype(np.uint8),
            "shore": shore_band(n_wet, n_clear, min_views=rule.min_views, reach_m=rule.reach_m,
                                band_m=rule.shore_gap_m).values}


# Each chunking and each shore gap once, the finest chunking with the widest and the narrowest
# gap (the overlap that matters most), not their full product: chunking is the overlap's
# business, the gap the kernel's per pixel (the product, 24 cases, passed: session 27).
@pytest.mark.parametrize(("chunks", "gap_m"), [
    (None, None), (None, 0.0), ({"y": 58, "x": 58}, 40.0), ({"y": 58, "x": 58}, 0.0),
    ({"y": (61, 70), "x": 90}, None), ({"y": 100, "x": -1}, 40.0)])
def test_the_maps_together_are_the_maps_apart(base, chunks, gap_m):
    rule = dataclasses.replace(RULES["mangrove"], reach_m=REACH_M)
    if gap_m is not None:
        rule = dataclasses.replace(rule, shore_gap_m=gap_m)
    candidates = mangrove_spectral_score(base, rule) > -1
    floor = mangrove_spectral_score(base, floor_rule(rule)) > -1
    want = _apart(base, rule, candidates, floor)
    # the case is not empty: a flat, canopy the floor reaches beyond the rule, a shore
    assert (want["context"] == context.INTERTIDAL).any()
    assert (want["context"] == context.CONNECTED).any()
    assert want["floor"].sum() > (want["context"] != 0).sum()
    assert (want["shore"] == context.SHORE).any() and (want["shore"] == context.COAST).any()
    inputs = [base["n_wet"], base["n_clear"], candidates, floor]
    if chunks is not None:
        if isinstance(chunks["y"], tuple):  # uneven: the rest of the rows in a last chunk
            chunks = {**chunks, "y": chunks["y"] + (base.sizes["y"] - sum(chunks["y"]),)}
        inputs = [a.chunk(chunks) for a in inputs]
    packed = evidence_maps(*inputs, min_views=rule.min_views, shore_gap_m=rule.shore_gap_m,
                           reach_m=rule.reach_m, band_m=rule.shore_gap_m)
    assert isinstance(packed.data, dask.array.Array) == (chunks is not None)
    if chunks is not None:
        assert len(packed.data.chunks[0]) > 1
    (got,) = dask.compute(unpack_evidence(packed))
    assert set(got) == set(want)
    for name, values in want.items():
        assert got[name].dtype == np.uint8
        np.testing.assert_array_equal(got[name].values, values, err_msg=name)
    # the context of other candidates (the site's rule) from the coast's codes alone
    other = mangrove_spectral_score(base, dataclasses.replace(rule, mvi_min=3.7)) > -1
    want_other = intertidal_context(base["n_wet"], base["n_clear"], other,
                                    min_views=rule.min_views, shore_gap_m=rule.shore_gap_m,
                                    reach_m=rule.reach_m).values
    if chunks is not None:
        other = other.chunk(chunks)
    got_other = coast_maps.context_of_coast(coast_maps.coast_codes(packed), other,
                                         shore_gap_m=rule.shore_gap_m, reach_m=rule.reach_m)
    np.testing.assert_array_equal(got_other.values, want_other)
    assert (want_other != want["context"]).any()
    assert (want_other == context.TIDAL).any()  # the final context's tidal ground
    # without floor candidates, the context and shore alone, the floor bit empty
    alone = unpack_evidence(evidence_maps(*inputs[:3], min_views=rule.min_views,
                                          shore_gap_m=rule.shore_gap_m, reach_m=rule.reach_m,
                                          band_m=rule.shore_gap_m))
    np.testing.assert_array_equal(alone["context"].values, want["context"])
    np.testing.assert_array_equal(alone["shore"].values, want["shore"])
    assert not alone["floor"].values.any()


@pytest.mark.parametrize("lazy", [False, True])
def test_a_sites_parameters_and_context_are_those_of_the_maps_apart(base, lazy):
    from indices.evidence import site_evidence

    rule = dataclasses.replace(RULES["mangrove"], reach_m=REACH_M)
    comp = base.chunk({"y": 70, "x": 90}) if lazy else base
    # as indices.evidence.site_evidence composed them before the maps were computed together
    first = mangrove_context(comp, rule, tidal=False)
    shore = shore_band(comp["n_wet"], comp["n_clear"], min_views=rule.min_views,
                       reach_m=rule.reach_m, band_m=rule.shore_gap_m)
    reach = mangrove_context(comp, floor_rule(rule), tidal=False)
    want_params = mangrove_parameters(comp, rule, first, shore, reach)
    want_context = mangrove_context(comp, rule, want_params)
    want_params, want_context = dask.compute(want_params, want_context)
    got = site_evidence(comp, "mangrove", rule)
    computed = [dask.compute(got.params, got.context)]
    if lazy:  # the strips walk's two passes, the coast's codes kept packed between them
        from flows.site.evidence import _two_passes

        context, params = _two_passes(comp, got)
        computed.append((params, context))
    for got_params, got_context in computed:
        np.testing.assert_array_equal(np.asarray(got_params).view(np.uint64),
                                      np.asarray(want_params).view(np.uint64))
        np.testing.assert_array_equal(np.asarray(got_context), np.asarray(want_context))


def test_codes_packed_four_to_a_byte_come_back():
    seed = 20261206
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    for shape in [(1, 1), (3, 4), (7, 9), (5, 13)]:
        codes = rng.integers(0, 4, shape, dtype=np.uint8)
        packed = coast_maps.pack_codes(codes)
        assert packed.shape == (shape[0], -(-shape[1] // 4))
        np.testing.assert_array_equal(coast_maps.unpack_codes(packed, shape[1]), codes)
    # block by block, with x chunks not a multiple of four wide
    import xarray as xr

    codes = xr.DataArray(rng.integers(0, 4, (40, 61), dtype=np.uint8), dims=("y", "x"))
    lazy = codes.chunk({"y": (15, 25), "x": (13, 30, 18)})
    packed = coast_maps.keep_codes(lazy).compute()
    back = coast_maps.kept_codes(packed, lazy.chunks, codes)
    assert back.chunks == lazy.chunks
    np.testing.assert_array_equal(back.values, codes.values)
    np.testing.assert_array_equal(
        coast_maps.kept_codes(coast_maps.keep_codes(codes), None, codes).values, codes.values)


@pytest.mark.parametrize("high", [300, 2**40, -1])
def test_window_sums_of_any_integers_are_the_brute_force_sums(high):
    """:func:`indices.neighbourhood.window_sum` takes int32 where its sums fit, int64 where they
    may not (large or negative values): the brute force's integers either way."""
    seed = 20261207
    print(f"seed {seed}, high {high}")
    rng = np.random.default_rng(seed)
    for _ in range(20):
        ny, nx, r = int(rng.integers(1, 30)), int(rng.integers(1, 30)), int(rng.integers(0, 9))
        a = (rng.integers(-300, 0, (ny, nx)) if high < 0
             else rng.integers(0, high, (ny, nx), dtype=np.int64))
        padded = np.pad(a, r)
        want = np.array([[padded[i:i + 2 * r + 1, j:j + 2 * r + 1].sum() for j in range(nx)]
                         for i in range(ny)])
        np.testing.assert_array_equal(neighbourhood.window_sum(a, r), want)
