"""Monthly class and change maps: the change table's areas, pixel by pixel, as valid COGs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from contextlib import contextmanager

import dask
import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from rasterio.transform import Affine

from aoi import load_sites, site_grid
from aoi.grid import SiteGrid
from flows.results import StoreError, maps
from flows.site import site_maps
from flows.sources.demo import DemoSource
from indices.maps import NODATA, mode_halve, monthly_maps
from indices.summary import monthly_change

SITES = {s.id: s for s in load_sites()}
PX = 0.01


def _mask(src, site) -> xr.DataArray:
    grid = site_grid(site)
    return xr.DataArray(src.truth(site).site_mask, dims=("y", "x"),
                        coords={"y": grid.y_coords(), "x": grid.x_coords()})


@pytest.fixture(scope="module")
def computed():
    """Mida Creek over its whole record (the replanting's gain and the clearing's loss), and
    Puerto Morelos from its baseline to two months after the seagrass loss: maps and change
    table from the same cube, in one compute (each scene rendered once)."""
    src = DemoSource(seed=0)
    out = {}
    for site_id, end in (("kenya-mida-creek", src.scenario.end),
                         ("mexico-puerto-morelos", dt.date(2024, 4, 30))):
        site = SITES[site_id]
        cube = src.load(site, src.search(site, site.baseline_start, end))
        mask = _mask(src, site)
        table = monthly_change(cube, mask, site.habitat, pixel_area_ha=PX,
                               baseline=(site.baseline_start, site.baseline_end))
        out[site_id] = dask.compute(site_maps(site, cube, mask, pixel_area_ha=PX), table)
    return out


@pytest.mark.parametrize("site_id", ["kenya-mida-creek", "mexico-puerto-morelos"])
def test_map_areas_are_the_change_table(computed, site_id):
    m, table = computed[site_id]
    np.testing.assert_array_equal(m["period"].values, table["period"].values)

    def area(product, *codes):
        return (m[product].isin(codes).sum(("y", "x")) * PX).values

    np.testing.assert_allclose(area("class", 1), table["extent_ha"].values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(area("change", 2), table["gain_ha"].values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(area("change", 3), table["loss_ha"].values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(area("change", 1, 3), table["baseline_extent_ha"].values,
                               rtol=0, atol=1e-9)
    assert table["loss_ha"].max() > 3, "the planted loss must be on the maps"
    if site_id == "kenya-mida-creek":
        assert table["gain_ha"].max() > 3, "the replanting must be on the maps"
    # nodata exactly outside the site (every site pixel is seen in the baseline here)
    outside = ~_mask(DemoSource(0), SITES[site_id]).values
    assert (m["class"].values[:, outside] == NODATA).all()
    assert set(np.unique(m["change"].values)) <= {0, 1, 2, 3, NODATA}


def test_monthly_maps_codes_by_hand():
    """6 x 8 pixels, 3 months, MMU 10 px: hand-made expectations, not this code's. A class
    changes on the second consecutive confident look against it (indices.change): month 2
    only marks the changes pending, month 3 (the same looks again) makes them; looks of
    1.5, confident but not strong (at a mangrove site a look of 2 or more changes a class
    alone)."""
    nan = np.nan
    base = np.full((6, 8), -2.0)
    base[0:3, 0:4] = 2.0             # 12 px of habitat in the baseline
    base[5, 7] = nan                 # never observed in the baseline...
    site = np.ones((6, 8), bool)
    site[:, 6] = False               # a column outside the polygon
    s1 = np.full((6, 8), nan)        # month 1: nothing seen
    s2 = np.full((6, 8), nan)
    s2[0:3, 0:4] = -1.5              # month 2: the 12 px lost (>= MMU): loss
    s2[4:6, 0] = 1.5                 # 2 px of new habitat (< MMU): dropped, not habitat
    s2[3:6, 2:6] = 1.5               # 12 px of new habitat: gain
    s2[5, 7] = -1.5                  # ... first seen in month 2
    scores = xr.DataArray(np.stack([s1, s2, s2]), dims=("period", "y", "x"))
    classes, change = monthly_maps(scores, xr.DataArray(base, dims=("y", "x")),
                                   xr.DataArray(site, dims=("y", "x")), pixel_area_ha=PX,
                                   mmu_ha=0.1, habitat=None)
    c1, pending, c2 = classes.values
    k1, k_pending, k2 = change.values
    assert (pending[0:3, 0:4] == 1).all() and (pending[3:6, 2:6] == 0).all()  # not yet
    assert set(np.unique(k_pending)) <= {0, 1, NODATA}
    assert classes.dtype == np.uint8 and change.dtype == np.uint8
    assert (c1[:, 6] == NODATA).all() and (k2[:, 6] == NODATA).all()
    assert c1[5, 7] == NODATA and k1[5, 7] == NODATA and c2[5, 7] == 0 and k2[5, 7] == 0
    assert (c1[0:3, 0:4] == 1).all() and (k1[0:3, 0:4] == 1).all()   # gap-filled baseline
    assert (c2[0:3, 0:4] == 0).all() and (k2[0:3, 0:4] == 3).all()   # loss
    assert (c2[4:6, 0] == 0).all() and (k2[4:6, 0] == 0).all()       # too small: stable
    assert (c2[3:6, 2:6] == 1).all() and (k2[3:6, 2:6] == 2).all()   # gain
    assert (k1[3:6, 0:6] == 0).all() and (k1[0:3, 4:6] == 0).all()
    assert (k2 == 2).sum() == 12 and (k2 == 3).sum() == 12


def test_small_gain_patches_are_dropped_and_big_ones_kept():
    base = np.full((5, 12), -2.0)
    site = np.ones((5, 12), bool)
    s = np.full((5, 12), -2.0)
    s[0, 0:3] = 1.5                  # 3 px: below the MMU of 10 px
    s[2:4, 4:10] = 1.5               # 12 px: a gain (confirmed by a second look)
    classes, change = monthly_maps(xr.DataArray(np.stack([s, s]), dims=("period", "y", "x")),
                                   xr.DataArray(base, dims=("y", "x")),
                                   xr.DataArray(site, dims=("y", "x")), pixel_area_ha=PX,
                                   habitat=None)
    assert (change.values[0] != 2).all()  # the first look only marks the gain pending
    assert (change.values[1, 0, 0:3] == 0).all() and (classes.values[1, 0, 0:3] == 0).all()
    assert (change.values[1, 2:4, 4:10] == 2).all() and (classes.values[1, 2:4, 4:10] == 1).all()
    assert (change.values == 2).sum() == 12
    # at a mangrove site, a strong look (|score| >= 2, indices.change.STRONG) needs no
    # second one; at a seagrass site it does
    s[2:4, 4:10] = 2.5
    for habitat, gained in (("mangrove", 12), ("seagrass", 0)):
        classes, change = monthly_maps(xr.DataArray(s[None], dims=("period", "y", "x")),
                                       xr.DataArray(base, dims=("y", "x")),
                                       xr.DataArray(site, dims=("y", "x")), pixel_area_ha=PX,
                                       habitat=habitat)
        assert (change.values[0] == 2).sum() == gained, habitat


def test_monthly_maps_stay_lazy_and_match_numpy():
    rng = np.random.default_rng(1)
    scores = rng.normal(0, 2, (4, 20, 30)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.4] = np.nan
    base = rng.normal(0, 2, (20, 30)).astype(np.float32)
    site = rng.random((20, 30)) < 0.9
    args = (xr.DataArray(scores, dims=("period", "y", "x")), xr.DataArray(base, dims=("y", "x")),
            xr.DataArray(site, dims=("y", "x")))
    eager = monthly_maps(*args, pixel_area_ha=PX, mmu_ha=0.03, habitat="mangrove")
    with _no_compute():
        lazy = monthly_maps(args[0].chunk({"period": 1, "y": 7}), args[1].chunk({"y": 7}),
                            args[2], pixel_area_ha=PX, mmu_ha=0.03, habitat="mangrove")
    for a, b in zip(dask.compute(*lazy), eager, strict=True):
        xr.testing.assert_identical(a, b)


@contextmanager
def _no_compute():
    def refuse(*args, **kwargs):
        raise RuntimeError("dask computed inside a lazy function")
    with dask.config.set(scheduler=refuse):
        yield


# ----------------------------------------------------------------------------- COGs


def test_cogs_are_valid(computed, tmp_path):
    site = SITES["mexico-puerto-morelos"]
    m, _ = computed[site.id]
    grid = site_grid(site)
    written = maps.write_site_maps(tmp_path, site, m, processing_version="9.9.9")
    assert len(written) == 2 * m.sizes["period"]
    for i, period in enumerate(pd.to_datetime(m["period"].values)):
        for product in ("class", "change"):
            path = tmp_path / "maps" / site.id / f"{period:%Y-%m}_{product}.tif"
            with rasterio.open(path) as src:
                assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
                assert src.block_shapes == [(256, 256)]
                assert src.overviews(1) == []  # 276 x 216: one 2 x 2 tile read, no overview
                assert src.crs.to_epsg() == grid.epsg
                assert src.transform == Affine(*grid.transform)
                assert (src.dtypes[0], src.nodata, src.count) == ("uint8", 255, 1)
                assert src.compression.value in ("ZSTD", "DEFLATE")
                tags = src.tags()
                assert (tags["site_id"], tags["period"], tags["product"]) == (
                    site.id, f"{period:%Y-%m}", product)
                assert tags["processing_version"] == "9.9.9" and tags["habitat"] == "seagrass"
                legend = json.loads(tags["legend"])
                assert legend["255"] == "no data" and len(legend) == (3 if product == "class" else 5)
                cmap = src.colormap(1)
                assert cmap[255][3] == 0 and cmap[1] == (0, 128, 128, 255)
                if product == "change":
                    assert cmap[3] == (215, 25, 28, 255)
                np.testing.assert_array_equal(src.read(1), m[product].values[i])
                assert set(np.unique(src.read(1, out_shape=(102, 108)))) <= set(map(int, legend))


def test_rerun_is_idempotent_and_incremental(computed, tmp_path):
    site = SITES["mexico-puerto-morelos"]
    m, _ = computed[site.id]
    first = maps.write_site_maps(tmp_path, site, m)
    before = {p: (p.read_bytes(), p.stat().st_ino) for p in first}
    # a rerun on the same maps touches nothing but a file that went missing
    first[0].unlink()
    assert maps.write_site_maps(tmp_path, site, m) == [first[0]]
    # a new processing version rewrites the periods from `since` only
    periods = pd.to_datetime(m["period"].values)
    since = periods[-2].date()
    again = maps.write_site_maps(tmp_path, site, m, since=since, processing_version="2")
    assert again == [p for p in first if p.name >= f"{since:%Y-%m}"]
    changed = m.copy(deep=True)
    changed["class"].values[-1, 0, 0] = 1 - changed["class"].values[-1, 0, 0] % 2
    assert maps.write_site_maps(tmp_path, site, changed, since=periods[-1].date(),
                                processing_version="2") == [first[-2]]
    for p, (data, ino) in before.items():
        if p not in again:
            assert p.read_bytes() == data, "same input, same bytes"
            if p != first[0]:  # (the re-created file may get the freed inode number back)
                assert p.stat().st_ino == ino, p.name
    with rasterio.open(first[-1]) as src:
        assert src.tags()["processing_version"] == "2"
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("bad", ["../escape", "a/b", "", "..", "/abs"])
def test_hostile_site_ids_write_nothing(computed, tmp_path, bad):
    m, _ = computed["mexico-puerto-morelos"]
    evil = dataclasses.replace(SITES["mexico-puerto-morelos"], id=bad)
    with pytest.raises(StoreError, match="unsafe site id"):
        maps.write_site_maps(tmp_path / "results", evil, m)
    with pytest.raises(StoreError, match="unsafe site id"):
        maps.map_path(tmp_path, bad, "2024-01-01", "class")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_big_grids_get_512_tiles_and_more_overviews(tmp_path):
    grid = SiteGrid(epsg=32647, left=600000.0, top=360000.0, width=3000, height=2100)
    data = (np.indices(grid.shape).sum(0) // 97 % 3).astype(np.uint8)
    path = maps.write_cog(tmp_path / "big.tif", data, grid, colormap={0: (1, 2, 3, 255)},
                          tags={"site_id": "x"})
    with rasterio.open(path) as src:
        assert src.block_shapes == [(512, 512)] and src.overviews(1) == [2, 4, 8]
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        np.testing.assert_array_equal(src.read(1), data)
    tiny = SiteGrid(epsg=32647, left=600000.0, top=360000.0, width=1, height=1)
    with rasterio.open(maps.write_cog(tmp_path / "tiny.tif", np.zeros((1, 1), np.uint8), tiny,
                                      colormap={}, tags={})) as src:
        assert src.read(1).shape == (1, 1)


def _mode_of(values, nodata):
    """The reference: most frequent non-nodata value, ties to the smallest; nodata if none."""
    values = [int(v) for v in values if v != nodata]
    if not values:
        return nodata
    return min(set(values), key=lambda v: (-values.count(v), v))


@pytest.mark.parametrize("shape", [(1, 1), (5, 7), (8, 6), (33, 2)])
def test_mode_halve_is_the_2x2_mode_ignoring_nodata(shape):
    rng = np.random.default_rng(sum(shape))
    codes = rng.choice(np.array([0, 1, 2, 3, NODATA], np.uint8), size=shape,
                       p=[0.3, 0.3, 0.1, 0.1, 0.2])
    got = mode_halve(codes, NODATA)
    want = np.array([[_mode_of(codes[2 * i:2 * i + 2, 2 * j:2 * j + 2].ravel(), NODATA)
                      for j in range((shape[1] + 1) // 2)]
                     for i in range((shape[0] + 1) // 2)], np.uint8)
    np.testing.assert_array_equal(got, want)
    assert mode_halve(np.array([[NODATA, NODATA], [NODATA, 3]], np.uint8), NODATA)[0, 0] == 3


def test_overviews_are_the_mode_of_each_level_and_palette_tags_survive(tmp_path):
    grid = SiteGrid(epsg=32647, left=600000.0, top=360000.0, width=2300, height=1100)
    rng = np.random.default_rng(7)
    data = np.kron(rng.integers(0, 4, (11, 23)).astype(np.uint8), np.ones((100, 100), np.uint8))
    data = data[:1100, :2300].copy()
    data[:, :150] = NODATA
    tags = {"site_id": "x", "legend": json.dumps({"0": "a & <b>", "1": 'c"d'})}
    path = maps.write_cog(tmp_path / "m.tif", data, grid, tags=tags, description="class & co",
                          colormap={0: (1, 2, 3, 255), 2: (9, 8, 7, 255), NODATA: (0, 0, 0, 0)})
    with rasterio.open(path) as src:
        assert src.overviews(1) == [2, 4, 8]
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert {k: src.tags()[k] for k in tags} == tags and src.descriptions == ("class & co",)
        assert src.colormap(1)[2] == (9, 8, 7, 255) and src.nodata == NODATA
        assert src.transform == Affine(*grid.transform) and src.crs.to_epsg() == 32647
        level = data
        for factor in src.overviews(1):
            level = mode_halve(level, NODATA)
            np.testing.assert_array_equal(src.read(1, out_shape=level.shape), level,
                                          err_msg=f"overview {factor}")
    plain = maps.write_cog(tmp_path / "plain.tif", data, grid, colormap={}, tags={})
    with rasterio.open(plain) as src:
        np.testing.assert_array_equal(src.read(1), data)


def test_write_cog_refuses_wrong_arrays(tmp_path):
    grid = SiteGrid(epsg=32647, left=600000.0, top=360000.0, width=4, height=3)
    for bad in (np.zeros((3, 4), np.int16), np.zeros((4, 3), np.uint8)):
        with pytest.raises(ValueError, match="expected uint8"):
            maps.write_cog(tmp_path / "x.tif", bad, grid, colormap={}, tags={})
    assert not os.listdir(tmp_path)



def test_the_compression_probe_warns_of_nothing_and_sets_no_filter(monkeypatch):
    """The first map write probes GDAL for zstd. It used to silence rasterio's
    NotGeoreferencedWarning with a warnings filter, which is process-wide and not
    thread-safe: with two sites writing maps at once, one thread's filter was undone by the
    other's exit and the first run printed the warning (issue 21). The probe is now
    georeferenced: it warns of nothing, with no filter to set."""
    import warnings

    def no_filters(*args, **kwargs):
        raise AssertionError("the probe changed the process's warning filters")

    maps._compression.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            monkeypatch.setattr(warnings, "simplefilter", no_filters)
            monkeypatch.setattr(warnings, "filterwarnings", no_filters)
            assert maps._compression()["compress"] in ("ZSTD", "DEFLATE")
            monkeypatch.undo()
    finally:
        maps._compression.cache_clear()
