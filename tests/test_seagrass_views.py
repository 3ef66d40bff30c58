"""Baseline views raised above a water pixel's own bottom (rule lyzenga1981-v4,
:mod:`indices.raised`), on cubes built here: each pixel a fixed bottom seen through bounded
noise, and plume patches injected on known views. The truth is the injected set, not the
function's numbers: each pixel's eight views carry the noise ``a x (-1, -1/2, -1/4, 0, 0,
1/4, 1/2, 1)`` in a random order, so the site's spread is ``1.4826 x 0.375 a`` (3 spreads
``1.67 a``), and with at most two views a pixel raised or clouded the median stays at or
above 0, so no clean view lies more than ``a`` above it: exactly the plume views are
raised. Then: the chunks change nothing, a site without spread
drops nothing, and the alerts watch the baseline the change rows count."""

from __future__ import annotations

import dataclasses
import datetime as dt

import dask
import numpy as np
import pytest
import xarray as xr

from indices.alerts import alert_baseline
from indices.evidence import baseline_composite, baseline_evidence, baseline_scenes
from indices.habitat import RULES, habitat_score, turbid_scenes
from indices.raised import mask_raised_views, raised_views, view_spread
from indices.summary import monthly_inputs

BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
RULE = RULES["seagrass"]
HALF = 0.002  # the noise's largest value ``a`` in green, reflectance (20 DN)
STEPS = np.array([-1, -0.5, -0.25, 0, 0, 0.25, 0.5, 1])
PLUME = 0.012  # a plume's rise in green: 6 a, raised above the median by 5 a at least


def _cube(seed: int, size: int = 24, noise: float = HALF):
    """``(cube, raised, land)``: water over bottoms of green 0.01-0.05, a land strip in the
    last two columns, plume patches (green +PLUME, red +PLUME / 3) on two views, a cloud
    over part of a third."""
    rng = np.random.default_rng(seed)
    print("seed", seed)
    n_t = len(STEPS)
    shape = (n_t, size, size)
    green0 = rng.uniform(0.01, 0.05, (size, size))
    land = np.zeros((size, size), bool)
    land[:, -2:] = True
    bottom = {"B02": 0.8 * green0, "B03": green0, "B04": np.where(land, 0.05, 0.2 * green0),
              "B08": np.where(land, 0.3, 0.001), "B11": np.full((size, size), 0.002),
              "B12": np.full((size, size), 0.001)}
    refl = {b: np.broadcast_to(v, shape).copy() for b, v in bottom.items()}
    refl["B03"] += noise * rng.permuted(np.broadcast_to(STEPS[:, None, None], shape), axis=0)
    raised = np.zeros(shape, bool)
    plume_t = rng.choice(n_t, 3, replace=False)
    for t in plume_t[:2]:
        y0, x0 = rng.integers(0, size - 8, 2)
        raised[t, y0:y0 + 8, x0:x0 + 8] = True
    raised &= ~land[None]
    refl["B03"] += PLUME * raised
    refl["B04"] += PLUME / 3 * raised
    scl = np.where(land, 4, 6).astype(np.uint8)[None].repeat(n_t, 0)
    scl[plume_t[2], :size // 2, :size // 2] = 9  # a cloud: fewer views, none raised there
    dn = {b: np.clip(np.round(v * 10000) + 1000, 1, 65535).astype(np.uint16)
          for b, v in refl.items()}
    times = np.datetime64("2024-01-05") + np.arange(n_t) * np.timedelta64(10, "D")
    cube = xr.Dataset({b: (("time", "y", "x"), dn[b]) for b in BANDS},
                      coords={"time": times.astype("datetime64[ns]"),
                              "y": np.arange(size) * -10.0, "x": np.arange(size) * 10.0,
                              "boa_offset": ("time", np.full(n_t, -1000, np.int16))})
    cube["SCL"] = (("time", "y", "x"), scl)
    return cube, raised & (scl != 9), land


def _seed() -> int:
    return int(np.random.default_rng().integers(1000, 10**6))


@pytest.mark.parametrize("seed", [3, 41, _seed()])
def test_the_views_dropped_are_exactly_the_plume_views(seed):
    cube, raised, land = _cube(seed)
    spread = float(view_spread(cube, RULE))
    # the site's spread: 1.4826 x the pixels' median absolute deviation 0.375 a, to a bin
    assert abs(spread / (1.4826 * 0.375 * HALF) - 1) < 0.012
    got = raised_views(cube, RULE, spread).values
    np.testing.assert_array_equal(got, raised)
    masked = mask_raised_views(cube, RULE, spread)["SCL"].values
    assert (masked[raised] == 1).all()
    np.testing.assert_array_equal(masked[~raised], cube["SCL"].values[~raised])
    assert not got[:, land].any()


def test_the_spread_and_the_views_do_not_depend_on_the_chunks():
    cube, raised, _ = _cube(23)
    whole = view_spread(cube, RULE)
    parts = cube.chunk({"time": 3, "y": 10, "x": 13})
    spread = view_spread(parts, RULE)
    assert isinstance(spread.data, dask.array.Array)
    assert float(spread) == float(whole)
    got = raised_views(parts, RULE, float(whole)).compute()
    np.testing.assert_array_equal(got.values, raised)


def test_a_blocks_raised_views_read_no_other_block():
    """With the spread a number, a strip of rows of the mask reads only its own rows (the
    strips walk computes the baseline strip by strip: sg18's in-graph spread made each strip
    read the whole baseline)."""
    cube, raised, _ = _cube(7)
    parts = cube.chunk({"time": 1, "y": 8, "x": -1})
    read = []

    def load(block, block_info=None):
        read.append(block_info[0]["chunk-location"][1])  # the block's row of chunks
        return block

    for b in (*BANDS, "SCL"):
        parts[b] = (parts[b].dims, parts[b].data.map_blocks(load, dtype=parts[b].dtype))
    spread = float(view_spread(cube, RULE))
    strip = raised_views(parts, RULE, spread).isel(y=slice(8, 16))
    with dask.config.set(scheduler="sync"):
        got = strip.compute()
    assert read and set(read) == {1}, sorted(set(read))
    np.testing.assert_array_equal(got.values, raised[:, 8:16])


def test_a_site_without_spread_drops_nothing():
    """No noise (a constant water), or one view a pixel: no spread, no scale to judge a rise
    by; the plume views stay (nothing is dropped) and the composite is v3's."""
    cube, raised, _ = _cube(5, noise=0.0)
    assert raised.any()
    assert float(view_spread(cube, RULE)) == 0.0
    assert not raised_views(cube, RULE, 0.0).values.any()
    one = cube.isel(time=[0])
    assert np.isnan(float(view_spread(one, RULE)))
    assert not raised_views(one, RULE, float("nan")).values.any()
    xr.testing.assert_identical(mask_raised_views(cube, RULE, 0.0), cube)


def _demo_with_a_plume():
    """A demo seagrass site's first four scenes as its baseline, then two scenes, with a
    plume patch over the meadow's half in one baseline scene (+0.03 in green, ~6 spreads)."""
    from aoi import load_sites
    from flows.sources.demo import DemoSource

    site = next(s for s in load_sites() if s.id == "andalusia-cabo-de-gata-genoveses")
    src = DemoSource(0)
    scenes = src.search(site, site.baseline_start, site.baseline_start + dt.timedelta(days=30))
    cube = src.load(site, scenes[:6]).isel(y=slice(0, 100)).compute()  # the meadow's half
    baseline = (site.baseline_start, cube["time"].values[3].astype("datetime64[D]").item())
    b03 = cube["B03"].values
    b03[1, 20:80, :] = b03[1, 20:80, :] + 300
    cube["B03"] = (cube["B03"].dims, b03)
    mask = xr.DataArray(np.ones((cube.sizes["y"], cube.sizes["x"]), bool), dims=("y", "x"))
    return cube, mask, baseline


def test_the_alerts_watch_the_seagrass_the_change_rows_count_at_baseline():
    cube, mask, baseline = _demo_with_a_plume()
    evidence = baseline_evidence(cube, "seagrass", baseline)
    evidence = evidence.with_arrays(dask.compute(*evidence.arrays))
    assert isinstance(evidence.spread, float)  # computed with the water (review, stop 28)
    # the run record keeps the first pass's number, as a mangrove site's parameters
    assert evidence.summary()["site"] == {"view_spread_green": round(evidence.spread, 6)}
    rows = monthly_inputs(cube, mask, "seagrass", baseline=baseline, evidence=evidence)
    base, _ = alert_baseline(cube, "seagrass", baseline=baseline, evidence=evidence)
    alerts = habitat_score(base, "seagrass", evidence.rule, **evidence.scorer)
    seagrass_rows = (rows.base_score > 0).values
    assert seagrass_rows.sum() > 100
    np.testing.assert_array_equal((alerts > 0).values, seagrass_rows)
    # the plume mattered: kept (spread 0: nothing dropped), it moves the baseline's seagrass
    kept = baseline_composite(cube, "seagrass", baseline, evidence.rule, spread=0.0,
                              turbid=turbid_scenes(cube, evidence.rule)[0])
    kept = habitat_score(kept, "seagrass", evidence.rule, **evidence.scorer)
    assert ((kept > 0).values != seagrass_rows).sum() > 0


def test_the_flow_computes_the_spread_first_and_records_it():
    """:func:`flows.site.evidence.site_evidence_of` (what every walk and the alerts get their
    evidence from) hands on the first pass's spread as a number, the one the lazy evidence
    computes, and writes it to the run record (review, stop 28: no test failed when the flow
    did not pass it on)."""
    from aoi import load_sites, site_grid
    from flows.site.evidence import site_evidence_of

    cube, mask, baseline = _demo_with_a_plume()
    site = next(s for s in load_sites() if s.id == "andalusia-cabo-de-gata-genoveses")
    site = dataclasses.replace(site, baseline_end=baseline[1])
    of = site_evidence_of(site, cube.chunk({"y": 50}), site_grid(site), mask)
    want = float(view_spread(baseline_scenes(cube, baseline), RULE))
    assert isinstance(of.evidence.spread, float) and of.evidence.spread == want > 0
    assert of.record["rule"]["site"] == {"view_spread_green": round(want, 6)}
