"""The month walk of a site, month by month (``site_tables(walk="stream")``, what a site too
large for the in-memory walk gets) gives the rows and maps of the in-memory walk, bit for bit,
and both give the numbers of the lazy API (``indices.summary.monthly_change``,
``flows.site.site_maps``: one dask task a walk); ``walk="auto"`` picks it only when the
in-memory walk would not fit, and refuses a site that would not fit either way.
Memory: tests/test_memory.py."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from aoi import load_sites, site_grid
from flows.site import (
    SiteTooLarge,
    load_range,
    month_start,
    once_memory,
    place_memory,
    site_tables,
    stream_memory,
    strips_memory,
    walk_memory,
)
from flows.sources.demo import DemoScenario, DemoSource

SITES = {s.id: s for s in load_sites()}
END = dt.date(2024, 9, 30)
# another scenario, with a plume month: at a seagrass site the maps then walk their own scores
# (the table's skip that month); at a mangrove site it is just other data
PLUMES = DemoScenario(plume_months=("2024-02",), glint_probability=0.3, end=END)


def _both(site_id: str, source: DemoSource, walks=("memory", "stream"), end=END):
    site = SITES[site_id]
    scenes = source.search(site, *load_range(site, None, end))
    run = {walk: site_tables(site, source, scenes, start=None, end=end, run_id="r",
                             products=True, walk=walk) for walk in walks}
    return tuple(run[w] for w in walks)


def _lazy(site_id: str, source: DemoSource):
    """The change metrics and maps of the lazy API, computed."""
    import dask
    import xarray as xr

    from aoi import site_mask
    from flows.site import site_maps
    from indices.summary import monthly_change

    site = SITES[site_id]
    scenes = source.search(site, *load_range(site, None, END))
    grid = site_grid(site)
    mask = xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                        coords={"y": grid.y_coords(), "x": grid.x_coords()})
    cube = source.load(site, scenes)
    return dask.compute(
        monthly_change(cube, mask, site.habitat, pixel_area_ha=grid.pixel_area_ha,
                       baseline=(site.baseline_start, site.baseline_end)),
        site_maps(site, cube, mask, pixel_area_ha=grid.pixel_area_ha))


@pytest.mark.parametrize("site_id, scenario", [
    ("selangor-kuala-selangor", None),
    ("kenya-mida-creek", PLUMES),
    ("andalusia-cabo-de-gata-genoveses", PLUMES),
    ("mexico-puerto-morelos", None),
])
def test_month_by_month_gives_the_rows_and_maps_of_the_whole_walk(site_id, scenario):
    source = DemoSource(seed=3, scenario=scenario) if scenario else DemoSource(seed=3)
    memory, stream = _both(site_id, source)
    assert len(memory.change) >= 10
    assert stream.change.equals(memory.change)
    assert stream.observations.equals(memory.observations)
    assert stream.failed_scenes == memory.failed_scenes
    assert (memory.walk, stream.walk) == ("memory", "stream")
    assert list(stream.maps.data_vars) == list(memory.maps.data_vars) == ["class", "change"]
    np.testing.assert_array_equal(stream.maps["period"].values, memory.maps["period"].values)
    for product in ("class", "change"):
        np.testing.assert_array_equal(stream.maps[product].values, memory.maps[product].values)
    assert stream.maps.attrs == memory.maps.attrs
    for product in ("class", "change"):
        assert stream.maps[product].attrs == memory.maps[product].attrs
    if scenario is PLUMES and SITES[site_id].habitat == "seagrass":
        assert memory.change["turbid"].any(), "the plume month must be in the test"
    # the alerts do not depend on the walk
    assert stream.alerts.rows.equals(memory.alerts.rows)
    # and the walk of site_tables is the lazy API's (one dask task for each of the table, the
    # canopy metrics and the maps)
    table, maps = _lazy(site_id, source)
    periods = [p.date() for p in pd.to_datetime(table["period"].values)]
    rows = memory.change.set_index("period")
    assert set(rows.index) <= set(periods) and len(rows) >= len(periods) - 1
    for column in ("extent_ha", "gain_ha", "loss_ha", "extent_ci_low_ha", "loss_ci_high_ha",
                   "canopy_20_50_ha", "habitat_ndvi_mean", "valid_fraction",
                   "baseline_observed_fraction", "assessable_fraction"):
        want = pd.Series(np.round(table[column].values, 6), index=periods)[rows.index]
        if SITES[site_id].habitat != "mangrove" and column.startswith("canopy"):
            continue
        np.testing.assert_array_equal(rows[column].to_numpy(), want.to_numpy(), err_msg=column)
    for product in ("class", "change"):
        np.testing.assert_array_equal(memory.maps[product].values, maps[product].values)
        assert memory.maps[product].attrs == maps[product].attrs
    # no baseline here is filled (the lazy API's observed share counts a fill, the rows' not)
    filled = rows["baseline_filled_fraction"]
    assert (filled.isna() if SITES[site_id].habitat == "seagrass" else filled == 0).all()


@pytest.mark.parametrize("site_id, scenario, batch", [
    ("selangor-kuala-selangor", None, None),
    ("kenya-mida-creek", None, 1),
    ("brazil-guapimirim", None, 3),
])
def test_one_pass_gives_the_rows_alerts_and_maps_of_the_whole_walk(site_id, scenario, batch,
                                                                 monkeypatch):
    """``walk="once"`` (mangrove: each scene read once, months computed in batches while the
    one before is walked, the alerts judged as their scenes are read) gives the in-memory
    walk's rows, alerts and maps, bit for bit: in one batch (a small site), a month a batch
    and three (a year back from a scene is then in an earlier batch, or in its own), over 15
    months after the baseline (the alerts' references a year back) with an alert."""
    from flows.site import onepass

    if batch is not None:  # months a batch: BATCH_PIXELS is pixel-months
        site = SITES[site_id]
        grid = site_grid(site)
        monkeypatch.setattr(onepass, "BATCH_PIXELS", batch * grid.width * grid.height)
    source = DemoSource(seed=3, scenario=scenario) if scenario else DemoSource(seed=3)
    memory, once = _both(site_id, source, ("memory", "once"), end=dt.date(2025, 3, 31))
    assert once.walk == "once" and len(once.change) >= 10
    assert once.change.equals(memory.change)
    assert once.observations.equals(memory.observations)
    assert once.failed_scenes == memory.failed_scenes
    assert len(memory.alerts.rows) and once.alerts.rows.equals(memory.alerts.rows)
    assert once.alerts.window == memory.alerts.window
    for product in ("class", "change"):
        np.testing.assert_array_equal(once.maps[product].values, memory.maps[product].values)
        assert once.maps[product].attrs == memory.maps[product].attrs


def test_one_pass_is_for_mangrove_only():
    site = SITES["andalusia-cabo-de-gata-genoveses"]
    source = DemoSource()
    scenes = source.search(site, *load_range(site, None, END))
    with pytest.raises(ValueError, match="for mangrove"):
        site_tables(site, source, scenes, start=None, end=END, run_id="r", walk="once")


@pytest.mark.parametrize("site_id, scenario, chunk", [
    # 288 rows in 5 strips of 61 (37 before: 8 strips, 2.5x the tasks and the time; the
    # strips' joins are the seagrass case's business too); the seagrass site's 204 rows in
    # two strips, their edge across the planted loss (rows 114-136: the 37-row strips of
    # before, edges at 111 and 148, missed it, in twice the time)
    ("selangor-kuala-selangor", None, 61),
    ("andalusia-cabo-de-gata-genoveses", PLUMES, 125),
])
def test_month_by_month_in_strips_gives_the_rows_and_maps_of_the_whole_walk(site_id, scenario,
                                                                             chunk):
    """``walk="strips"`` (a site too large for one month's maps in memory) walks each month in
    strips of the cube's chunk rows: patches joined across strip edges, the same rows and
    maps as month by month on the same chunks (and as the in-memory walk: its per-scene means
    differ only by the order of float sums over other chunks)."""
    site = SITES[site_id]
    source = DemoSource(seed=3, scenario=scenario) if scenario else DemoSource(seed=3)
    scenes = source.search(site, *load_range(site, None, END))
    run = {walk: site_tables(site, source, scenes, start=None, end=END, run_id="r",
                             products=True, walk=walk, chunks=chunk)
           for walk in ("stream", "strips")}
    stream, strips = run["stream"], run["strips"]
    assert strips.walk == "strips" and len(strips.change) >= 10
    assert strips.change.equals(stream.change)
    assert strips.observations.equals(stream.observations)
    assert strips.alerts.rows.equals(stream.alerts.rows)
    for product in ("class", "change"):
        np.testing.assert_array_equal(strips.maps[product].values, stream.maps[product].values)
    if scenario is PLUMES:  # a patch of change crossing a strip edge: the planted loss of
        # meadow (the seagrass demo plants no gain; it had a false one once)
        assert strips.change["loss_ha"].max() > 3
        change = strips.maps["change"]
        loss = next(code for code, name in change.attrs["legend"].items() if name == "loss")
        rows = np.flatnonzero((change.values == loss).any(axis=(0, 2)))
        edges = range(chunk, change.sizes["y"], chunk)
        assert any(rows.min() < edge <= rows.max() for edge in edges), (rows.min(), rows.max())
    memory = site_tables(site, source, scenes, start=None, end=END, run_id="r", walk="memory")
    assert strips.change.equals(memory.change)


def _needs(site_id: str) -> tuple[int, int]:
    site = SITES[site_id]
    scenes = DemoSource().search(site, *load_range(site, None, END))
    grid = site_grid(site)
    months = len({month_start(s.datetime.date()) for s in scenes})
    px = grid.width * grid.height
    held = place_memory(site, px)  # a seagrass site's place map (rule v6), through every walk
    return walk_memory(px, months) + held, stream_memory(px, months) + held


def test_auto_walks_month_by_month_only_when_the_whole_walk_would_not_fit(monkeypatch):
    """A seagrass site (its plume flags need every scene first) walks every month at once
    when that fits, else month by month in two passes, else in strips."""
    site_id = "andalusia-cabo-de-gata-genoveses"
    site = SITES[site_id]
    source = DemoSource()
    scenes = source.search(site, *load_range(site, None, END))
    whole, stream = _needs(site_id)
    assert stream < whole

    def run():
        return site_tables(site, source, scenes, start=None, end=END, run_id="r",
                           products=True)

    monkeypatch.setenv("BLUECARBON_MEMORY_GB", str(whole * 1.01 / 2**30))
    in_memory = run()
    assert in_memory.walk == "memory"
    assert not isinstance(in_memory.maps["class"].values, np.memmap)
    monkeypatch.setenv("BLUECARBON_MEMORY_GB", str((whole + stream) / 2 / 2**30))
    streamed = run()
    assert streamed.walk == "stream"
    assert isinstance(streamed.maps["class"].data, np.memmap)  # maps spilled to a temp file
    assert streamed.change.equals(in_memory.change)
    # below that, in strips when they fit (a site this small is one strip: here with the
    # strips' fixed part and most of the strip's left out)
    from flows.site import budget

    monkeypatch.setattr(budget, "STRIPS_BYTES", 0)
    monkeypatch.setattr(budget, "STRIPS_BYTES_PER_STRIP_PIXEL", 8)
    grid = site_grid(site)
    months = len({month_start(s.datetime.date()) for s in scenes})
    in_strips = strips_memory(grid.width * grid.height, months, products=True,
                              strip_pixels=grid.width * grid.height)
    in_strips += place_memory(site, grid.width * grid.height)
    assert place_memory(site, grid.width * grid.height) > 0
    assert in_strips < stream
    monkeypatch.setenv("BLUECARBON_MEMORY_GB", str((in_strips + stream) / 2 / 2**30))
    stripped = run()
    assert stripped.walk == "strips"
    assert stripped.change.equals(in_memory.change)
    monkeypatch.setenv("BLUECARBON_MEMORY_GB", str(in_strips * 0.99 / 2**30))
    with pytest.raises(SiteTooLarge) as err:
        run()
    message = str(err.value)
    assert "even month by month" in message and site_id in message and "\n" not in message


def test_auto_walks_a_mangrove_site_in_one_pass_within_its_share(monkeypatch):
    """A mangrove site walks in one pass when that fits the memory available divided by the
    sites computed at once (``share``; ``BLUECARBON_MEMORY_GB`` is a site's own budget),
    else as a seagrass site would."""
    site = SITES["selangor-kuala-selangor"]
    source = DemoSource()
    scenes = source.search(site, *load_range(site, None, END))
    grid = site_grid(site)
    once = once_memory(grid.width * grid.height)
    _, stream = _needs(site.id)
    assert stream < once, "the budgets below need the one-pass walk to take more"

    def run(share):
        return site_tables(site, source, scenes, start=None, end=END, run_id="r",
                           products=True, share=share).walk

    from flows.site import budget

    monkeypatch.delenv("BLUECARBON_MEMORY_GB", raising=False)
    monkeypatch.setattr(budget, "available_memory", lambda: once * 1.01 / 0.9)
    assert run(1) == "once"
    assert run(2) == "stream"  # half of what is available each, for two sites at once
    monkeypatch.setattr(budget, "available_memory", lambda: 2.02 * once / 0.9)
    assert run(2) == "once"
    monkeypatch.setenv("BLUECARBON_MEMORY_GB", str(once * 1.01 / 2**30))  # a site's own
    assert run(2) == "once"


class _CloudedBaseline(DemoSource):
    """The demo with rows 100-169 under cloud (SCL 9) in every baseline scene: pixels the
    baseline never saw clear, filled from the months after it (:mod:`indices.bap`)."""

    def load(self, site, scenes, *args, **kwargs):
        cube = super().load(site, scenes, *args, **kwargs)
        times = cube["time"]
        inside = ((times >= np.datetime64(site.baseline_start))
                  & (times < np.datetime64(site.baseline_end) + np.timedelta64(1, "D")))
        rows = (cube["y"] <= cube["y"][100]) & (cube["y"] >= cube["y"][169])
        cube["SCL"] = cube["SCL"].where(~(inside & rows), 9).astype(np.uint8)
        return cube


def test_the_walks_agree_on_a_baseline_filled_from_later_months():
    """A mangrove baseline with pixels no baseline scene saw clear, filled by need from the
    nearest clear month after it (:func:`indices.bap.baseline_fill`: on the computed
    composite in the whole, one-pass and month-by-month walks, on the lazy one block by block
    in the strips walk, 61-row strips across the clouded rows): the same rows and maps, bit
    for bit, and the fill counted among the baseline's observed pixels."""
    from aoi import site_grid, site_mask
    from indices.bap import baseline_fill
    from indices.composite import composite

    site, end = SITES["selangor-kuala-selangor"], dt.date(2024, 3, 31)  # 3 months after
    source = _CloudedBaseline(seed=3)
    scenes = source.search(site, *load_range(site, None, end))
    cube, baseline = source.load(site, scenes), (site.baseline_start, site.baseline_end)
    fill = baseline_fill(composite(cube, *baseline), cube, baseline,
                         inside=site_mask(site, site_grid(site)))
    assert fill.unseen == fill.filled == 70 * 240  # every clouded pixel filled
    assert (fill.offset > 0).all()
    run = {walk: site_tables(site, source, scenes, start=None, end=end, run_id="r",
                             products=True, walk=walk, chunks=61 if walk == "strips" else None)
           for walk in ("memory", "once", "stream", "strips")}
    memory = run["memory"]
    assert len(memory.change) >= 3
    np.testing.assert_allclose(memory.change["baseline_observed_fraction"]
                               + memory.change["baseline_filled_fraction"], 1.0, atol=2e-6)
    assert (memory.change["baseline_filled_fraction"] > 0).all()
    for walk in ("once", "stream", "strips"):
        assert run[walk].walk == walk
        assert run[walk].change.equals(memory.change), walk
        for product in ("class", "change"):
            np.testing.assert_array_equal(run[walk].maps[product].values,
                                          memory.maps[product].values, err_msg=walk)
    # the lazy API (no evidence: indices.bap.fill_lazily) marks the same filled pixels as
    # unseen in the interval (MonthlyInputs.base_ends' ENDS_FILLED) as the flow's fill
    import xarray as xr

    from indices.change import ENDS_FILLED
    from indices.summary import monthly_inputs

    mask = xr.DataArray(site_mask(site, site_grid(site)), dims=("y", "x"),
                        coords={"y": cube["y"], "x": cube["x"]})
    ends = monthly_inputs(cube, mask, "mangrove", baseline=baseline).base_ends
    np.testing.assert_array_equal((np.asarray(ends.transpose("y", "x")) & ENDS_FILLED) != 0,
                                  fill.mask())


def test_an_unknown_walk_is_refused():
    site = SITES["selangor-kuala-selangor"]
    source = DemoSource()
    scenes = source.search(site, *load_range(site, None, END))
    with pytest.raises(ValueError, match="walk must be one of"):
        site_tables(site, source, scenes, start=None, end=END, run_id="r", walk="disk")


def test_the_maps_of_a_walk_month_by_month_let_go_of_their_files_once_dropped():
    """The flow drops a site's maps once written (Prefect keeps task results until the flow
    ends): the temporary files of a site walked month by month must then be closed."""
    import gc

    import psutil

    from flows.nightly import _drop_maps

    site = SITES["selangor-kuala-selangor-reference"]
    source = DemoSource()
    scenes = source.search(site, *load_range(site, None, END))
    gc.collect()
    before = psutil.Process().num_fds()
    tables = site_tables(site, source, scenes, start=None, end=END, run_id="r", products=True,
                         walk="stream")
    assert psutil.Process().num_fds() == before + 2  # class and change, unlinked
    _drop_maps(tables)
    gc.collect()
    assert psutil.Process().num_fds() == before
    assert len(tables.change) >= 10  # the rows stay


def test_the_strips_baseline_pass_computes_apart_only_the_maps_that_read_no_scene():
    """``flows.site.strips._reads_none``: a map of the computed context (rule v12's ends, a
    computed array chunked as the cube) or of numpy is computed apart from the scenes' maps
    (in the same compute, dask's order held ~80 MiB more of the scenes' blocks at 1026²,
    benchmarks/measured/perf34); a map of a lazy context, which reads the scenes, is not (it
    would read them again)."""
    import dask.array as da
    import xarray as xr

    from flows.site.strips import _reads_none

    yx = {"y": np.arange(6.0), "x": np.arange(8.0)}
    band = da.ones((3, 6, 8), np.uint16, chunks=(1, 3, 4))
    cube = xr.Dataset({"B04": (("time", "y", "x"), band)}, coords=yx)
    computed = xr.DataArray(da.from_array(np.full((6, 8), 4, np.uint8), chunks=(3, 4)),
                            dims=("y", "x"), coords=yx)
    of_scenes = cube["B04"].max("time")
    layers = (of_scenes.astype(np.float32),  # a composite of the scenes
              (computed == 4).astype(np.uint8),  # the ends of the computed context
              xr.DataArray(np.zeros((6, 8), np.uint8), dims=("y", "x"), coords=yx),
              (of_scenes == 4).astype(np.uint8))  # the ends of a lazy context
    assert _reads_none(layers, cube) == [False, True, True, False]
