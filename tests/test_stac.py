"""The STAC source: demo scenes served as a static STAC catalog of COGs (on disk, over http,
through a STAC API stand-in) must give what the demo gives in memory; offsets from real
provider items; mosaics, reprojection, laziness, one-line errors. No network: every server is
on 127.0.0.1."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import socket
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pystac
import pytest
import shapely
from pyproj import Transformer
from stac_fixtures import build_demo_catalog, serve, write_cog

from aoi import Site, load_sites, site_grid
from flows.site import load_range, site_tables
from flows.sources import SourceError, get_source
from flows.sources._reader import Granule, load_cube, solar_day_scenes
from flows.sources.demo import DemoScenario, DemoSource
from flows.sources.stac import StacSource, asset_hrefs, boa_offset

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
STAC_ITEMS = REALDATA / "stac_items_s2"
needs_items = pytest.mark.skipif(not STAC_ITEMS.is_dir(), reason="../shared/realdata absent")

START, END = dt.date(2023, 1, 1), dt.date(2024, 1, 31)
# a three-month baseline (the least from which the habitat evidence, the mangrove's intertidal
# context and the seagrass site's water, is found with a 10-day revisit: with one or two months
# the mangrove site has no context and no mangrove) and fast canopy closure: the replanting's
# gain and the seagrass loss fall inside thirteen months; a 10-day revisit keeps the catalog
# small
SCENARIO = DemoScenario(canopy_closure_months=2, revisit_days=10)
SITE_IDS = ("kenya-mida-creek", "andalusia-cabo-de-gata-genoveses")


def _sites() -> list[Site]:
    bundled = {s.id: s for s in load_sites()}
    return [dataclasses.replace(bundled[i], baseline_start=START,
                                baseline_end=dt.date(2023, 3, 31)) for i in SITE_IDS]


SITES = _sites()


@pytest.fixture(scope="module")
def demo() -> DemoSource:
    return DemoSource(seed=0, scenario=SCENARIO)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory, demo):
    # B11/B12/SCL at 10 m here, as the demo renders them, so that parity can be exact
    return build_demo_catalog(tmp_path_factory.mktemp("stac"), SITES, START, END, demo,
                              swir_20m=False)


@pytest.fixture(scope="module")
def server(catalog):
    api_items: list[dict] = []
    with serve(catalog.root, api_items) as served:
        for item in catalog.items:  # the API serves the same items, hrefs absolute over http
            item = copy.deepcopy(item)
            item["links"] = []
            for asset in item["assets"].values():
                asset["href"] = f"{served.url}/sentinel-2-l2a/{item['id']}/" \
                                f"{asset['href'].removeprefix('./')}"
            api_items.append(item)
        yield served


def _demo_scenes(demo: DemoSource, site: Site, max_cloud: float = 80.0):
    return [r for r in demo.search(site, *load_range(site, None, END))
            if r.cloud_cover <= max_cloud]


@pytest.fixture(scope="module")
def demo_tables(demo):
    return {site.id: site_tables(site, demo, _demo_scenes(demo, site), start=None, end=END,
                                 run_id="t").change for site in SITES}


def _assert_same_change(a: pd.DataFrame, b: pd.DataFrame, site_id: str) -> None:
    assert len(a) == len(b) > 6, site_id
    assert list(a["period"]) == list(b["period"])
    for col in ("extent_ha", "gain_ha", "loss_ha", "baseline_extent_ha"):
        x, y = a[col].to_numpy(), b[col].to_numpy()
        assert np.all(np.abs(x - y) <= 0.01 * np.maximum(np.abs(x), 1.0)), (site_id, col, x, y)
    # a precondition of the parity, not an accuracy check: the compared rows hold change (at
    # least 50 pixels of 10 m; the demo's planted gain and loss, confirmed on a second look)
    last = a.iloc[-1]
    assert last["gain_ha"] + last["loss_ha"] >= 0.5, "the period must contain planted change"


# -- parity: the same scenario through the catalog and in memory -----------------------------
@pytest.mark.parametrize("where", ["path", "http"])
def test_catalog_gives_the_demo_change_table(catalog, server, demo, demo_tables, where):
    url = str(catalog.catalog) if where == "path" else f"{server.url}/catalog.json"
    source = get_source("stac", catalog=url)
    for site in SITES:
        scenes = source.search(site, *load_range(site, None, END))
        expected = _demo_scenes(demo, site)
        assert [s.datetime for s in scenes] == [r.datetime for r in expected]
        assert [s.boa_offset for s in scenes] == [r.boa_offset for r in expected]
        tables = site_tables(site, source, scenes, start=None, end=END, run_id="t")
        _assert_same_change(demo_tables[site.id], tables.change, site.id)


def test_cube_is_pixel_identical_and_mosaics_two_tiles(catalog, demo):
    site = SITES[1]
    source = StacSource(catalog.root)  # a folder holding catalog.json works too
    scenes = source.search(site, START, dt.date(2023, 3, 31))
    assert any(len(s.properties["items"]) == 2 for s in scenes), "no two-tile day"
    assert catalog.two_tile_days > 0
    ours = source.load(site, scenes, chunks=128)
    theirs = demo.load(site, _demo_scenes(demo, site)[:len(scenes)], chunks=128)
    assert ours.B04.dtype == np.uint16 and ours.SCL.dtype == np.uint8
    assert ours["time"].dtype == np.dtype("datetime64[ns]")
    assert ours["boa_offset"].dtype == np.int16
    assert [s.scene_id for s in scenes] == list(ours["scene_id"].values)
    ours, theirs = dask.compute(ours, theirs)
    for band in theirs.data_vars:
        np.testing.assert_array_equal(ours[band].values, theirs[band].values, err_msg=band)
    np.testing.assert_array_equal(ours["time"].values, theirs["time"].values)


def test_stac_api_search_matches_the_static_catalog(catalog, server):
    site = SITES[0]
    api = StacSource(f"{server.url}/api", max_cloud=50)
    static = StacSource(catalog.catalog, max_cloud=50)
    a, b = api.search(site, START, END), static.search(site, START, END)
    assert a and [s.scene_id for s in a] == [s.scene_id for s in b]
    assert all(s.cloud_cover <= 50 for s in a)
    searches = [r for r in server.requests if r[1].startswith("/api/search")]
    assert searches, "pystac-client never asked the API"
    cube = api.load(site, a[:2])
    np.testing.assert_array_equal(cube.B08.values, static.load(site, b[:2]).B08.values)


@pytest.mark.parametrize("whole", [True, False])
def test_load_is_lazy_and_reads_by_range(catalog, whole, monkeypatch):
    """One read a band and scene of a site that fits ``READ_WINDOW`` (its chunks are views
    into it), else one a band, scene and chunk; a band computed reads that band only."""
    from flows.sources import _reader

    if not whole:
        monkeypatch.setattr(_reader, "READ_WINDOW", 0)
    site = SITES[0]
    with serve(catalog.root) as server:  # its own port: URLs no GDAL cache has seen
        _lazy_and_ranged(server, site, whole)


def _lazy_and_ranged(server, site, whole):
    source = StacSource(f"{server.url}/catalog.json")
    scenes = source.search(site, START, dt.date(2023, 2, 28))
    before = len(server.requests)
    cube = source.load(site, scenes, chunks=128)
    assert len(server.requests) == before, "load() must not read pixels"
    nchunks = len(cube.chunksizes["y"]) * len(cube.chunksizes["x"])
    assert nchunks > 1
    graph = dict(cube.B04.data.__dask_graph__())  # the reads, and each block's pixel getter
    reads = len(scenes) * (1 if whole else nchunks)
    assert sum(k[0].startswith("read-") for k in graph) == reads
    assert len(graph) == reads + len(scenes) * nchunks
    cube.B04.isel(time=-1).compute()
    gets = [r for r in server.requests[before:] if r[0] == "GET"]
    items = scenes[-1].properties["items"]
    assert gets and all(r[1].endswith("/B04.tif") and any(i in r[1] for i in items)
                        for r in gets), gets
    assert all(r[2].startswith("bytes=") for r in gets), "GDAL must read COGs by range"


def test_chunking_and_threads_do_not_change_pixels(catalog):
    site = SITES[0]
    source = StacSource(catalog.catalog)
    scenes = source.search(site, START, dt.date(2023, 2, 28))
    whole = source.load(site, scenes, chunks=None).compute(scheduler="sync")
    tiled = source.load(site, scenes, chunks=96).compute(scheduler="threads", num_workers=4)
    for band in whole.data_vars:
        np.testing.assert_array_equal(whole[band].values, tiled[band].values)


# -- mosaic offsets, 20 m bands, reprojection (synthetic COGs) ------------------------------
def _small_site(lon: float, lat: float, size_deg: float = 0.01) -> Site:
    return Site("synthetic", "synthetic", "mangrove",
                shapely.box(lon, lat, lon + size_deg, lat + size_deg), START, END)


def test_mixed_offsets_in_one_day_and_20m_bands(tmp_path):
    site = _small_site(39.98, -3.35)
    grid = site_grid(site)
    h, w = grid.shape
    rng = np.random.default_rng(1)
    dn = rng.integers(1100, 4000, size=(h, w), dtype=np.uint16)  # baseline >= 04.00 DN
    swir = rng.integers(1100, 4000, size=(-(-h // 2), -(-w // 2)), dtype=np.uint16)
    half = (w // 12) * 6
    hrefs_a, hrefs_b = {}, {}
    for band in ("B02", "B03", "B04", "B08", "B11", "B12", "SCL"):
        coarse = band in ("B11", "B12", "SCL")
        full = swir if coarse else dn
        if band == "SCL":
            full = np.full_like(swir, 4, dtype=np.uint8)
        res = 20.0 if coarse else 10.0
        a = full.copy()
        a[:, (half // (2 if coarse else 1)):] = 0  # tile A: west half only
        b = full.astype(np.int32) - (0 if band == "SCL" else 1000)  # tile B: baseline 02.xx
        b[:, -(6 // (2 if coarse else 1)):] = 0  # nodata at the east edge, in both tiles
        hrefs_a[band] = str(write_cog(tmp_path / f"a_{band}.tif", a, grid.left, grid.top, res,
                                      grid.epsg))
        hrefs_b[band] = str(write_cog(tmp_path / f"b_{band}.tif", b.astype(full.dtype),
                                      grid.left, grid.top, res, grid.epsg))
    when = dt.datetime(2023, 3, 1, 7, 30, tzinfo=dt.UTC)
    granules = [Granule("T37MDB", when, hrefs_b, 0), Granule("T37MCB", when, hrefs_a, -1000)]
    scenes = solar_day_scenes(site, granules, "test")
    assert len(scenes) == 1 and scenes[0].scene_id == "T37MCB" and scenes[0].boa_offset == -1000
    cube = load_cube(site, scenes, 64, source="test").compute()
    expected = dn.copy()
    expected[:, -6:] = 0  # nodata stays 0, never 0 + 1000
    np.testing.assert_array_equal(cube.B04.values[0], expected)  # B's DN shifted by +1000
    expected_swir = np.repeat(np.repeat(swir, 2, 0), 2, 1)[:h, :w]  # nearest: exact 2x2
    expected_swir[:, (-(-w // 2) - 3) * 2:] = 0
    np.testing.assert_array_equal(cube.B11.values[0], expected_swir)
    assert (cube.SCL.values[0][:, :(-(-w // 2) - 3) * 2] == 4).all()


def test_tile_of_the_neighbouring_utm_zone_is_warped(tmp_path):
    site = _small_site(35.95, 0.5, 0.02)  # zone 36N; the tile is written in zone 37N
    grid = site_grid(site)
    to37 = Transformer.from_crs(4326, 32637, always_xy=True)
    x0, y0 = to37.transform(35.93, 0.53)
    res, n = 10.0, 600
    left, top = np.floor(x0 / 60) * 60, np.ceil(y0 / 60) * 60
    xs = left + (np.arange(n) + 0.5) * res
    ys = top - (np.arange(n) + 0.5) * res
    lon, _ = Transformer.from_crs(32637, 4326, always_xy=True).transform(
        *np.meshgrid(xs, ys))
    ramp = (1000 + 500_000 * (lon - 35.93)).astype(np.uint16)  # DN linear in lon, 45 per px
    hrefs = {b: str(write_cog(tmp_path / f"{b}.tif", ramp if b != "SCL" else
                              np.where(lon < 35.96, 4, 6).astype(np.uint8), left, top, res,
                              32637)) for b in ("B02", "B03", "B04", "B08", "B11", "B12", "SCL")}
    when = dt.datetime(2023, 5, 2, 7, 40, tzinfo=dt.UTC)
    scenes = solar_day_scenes(site, [Granule("T37NAA", when, hrefs, -1000)], "test")
    cube = load_cube(site, scenes, None, source="test").compute()
    glon, _ = Transformer.from_crs(grid.epsg, 4326, always_xy=True).transform(
        *np.meshgrid(grid.x_coords(), grid.y_coords()))
    inside = cube.B04.values[0] > 0
    assert inside.mean() > 0.9
    err = np.abs(cube.B04.values[0][inside] - (1000 + 500_000 * (glon[inside] - 35.93)))
    # bilinear on a linear ramp is exact but for truncation; nearest would be off ~11 DN
    assert np.median(err) < 2 and np.percentile(err, 99) < 5
    scl = cube.SCL.values[0]
    assert set(np.unique(scl[inside])) <= {4, 6}  # nearest: no invented classes
    assert ((scl == 4) == (glon < 35.96))[inside].mean() > 0.99


# -- offsets and assets on real provider items -----------------------------------------------
def _item(name: str) -> pystac.Item:
    return pystac.Item.from_file(str(STAC_ITEMS / name))


@needs_items
@pytest.mark.realdata
@pytest.mark.parametrize("name, offset", [
    ("S2A_28QCH_20200714_0_L2A.json", 0),  # Earth Search v0: sentinel:product_id _N0214_
    ("S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json", 0),  # PC: baseline 02.12
    ("S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531_raster_ext.json", 0),
    ("stactools_S2B_MSIL2A_20220413_T33XWJ_item.json", -1000),  # raster:bands -0.1 / 0.0001
])
def test_offset_and_assets_of_real_items(name, offset):
    item = _item(name)
    assert boa_offset(item) == offset
    hrefs = asset_hrefs(item)
    assert set(hrefs) == {"B02", "B03", "B04", "B08", "B11", "B12", "SCL"}
    assert all("://" in h or Path(h).is_absolute() for h in hrefs.values())
    assert "B08" in hrefs["B08"] and "B8A" not in hrefs["B08"]  # nir, not nir08


@needs_items
@pytest.mark.realdata
def test_offset_rules_never_use_the_date():
    es1 = _item("stactools_S2B_MSIL2A_20220413_T33XWJ_item.json")
    es1.properties["earthsearch:boa_offset_applied"] = True  # harmonised by the provider
    assert boa_offset(es1) == 0
    pc = _item("S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json")
    pc.properties["s2:processing_baseline"] = "05.00"  # a 2019 scene reprocessed at 05.00
    assert boa_offset(pc) == -1000
    del pc.properties["s2:processing_baseline"]
    pc.properties["s2:product_uri"] = pc.properties["s2:product_uri"].replace("N0212", "N0500")
    assert boa_offset(pc) == -1000
    del pc.properties["s2:product_uri"]
    with pytest.raises(SourceError, match="cannot tell its BOA offset"):
        boa_offset(pc)
    odd = _item("stactools_S2B_MSIL2A_20220413_T33XWJ_item.json")
    odd.assets["red"].extra_fields["raster:bands"][0]["scale"] = 1.0
    with pytest.raises(SourceError, match="not 0.0001"):
        boa_offset(odd)


@needs_items
@pytest.mark.realdata
def test_real_item_collections_group_tiles_by_solar_day():
    site = Site("zambia-test", "t", "mangrove", shapely.box(27.50, -8.20, 27.55, -8.17),
                dt.date(2020, 6, 1), dt.date(2020, 6, 30))  # in the 35MNM / 35LNL overlap
    strip = StacSource(STAC_ITEMS / "site1-20200606-tall-strip-africa.geojson")
    scenes = strip.search(site, dt.date(2020, 6, 1), dt.date(2020, 6, 30))
    assert len(scenes) == 1
    assert [i.split("_")[4] for i in scenes[0].properties["items"]] == ["T35LNL", "T35MNM"]
    assert scenes[0].scene_id.startswith("S2B_MSIL2A_20200606T080609_R078_T35LNL")
    assert all(h.startswith("https://") for h, _ in scenes[0].properties["assets"]["SCL"])
    series = StacSource(STAC_ITEMS / "site2-2020_jun_jul-35MNM.geojson", max_cloud=20)
    scenes = series.search(site, dt.date(2020, 6, 1), dt.date(2020, 7, 31))
    assert len(scenes) == 11  # 13 items, two above 20 % cloud
    assert all(s.boa_offset == 0 for s in scenes)
    assert [s.datetime for s in scenes] == sorted(s.datetime for s in scenes)


# -- bad input: one line each ----------------------------------------------------------------
def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_missing_catalog_path():
    with pytest.raises(SourceError) as exc:
        get_source("stac", catalog="/nonexistent/catalog.json")
    assert "does not exist" in _one_line(exc)
    with pytest.raises(SourceError, match="needs a catalog"):
        get_source("stac")


def test_refused_connection():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    source = StacSource(f"http://127.0.0.1:{port}/catalog.json")
    with pytest.raises(SourceError) as exc:
        source.search(SITES[0], START, END)
    assert "connection refused" in _one_line(exc)


def test_item_without_needed_assets(catalog, tmp_path):
    item = copy.deepcopy(catalog.items[0])
    for key in ("swir16", "B11", "scl", "SCL"):
        item["assets"].pop(key, None)
    for asset in item["assets"].values():
        asset["href"] = str(catalog.root / "sentinel-2-l2a" / item["id"] /
                            asset["href"].removeprefix("./"))
    item["links"] = []
    path = tmp_path / "items.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [item]}))
    site = next(s for s in SITES if shapely.geometry.shape(item["geometry"]).intersects(
        s.geometry))
    # one bad item must not sink the site: it is skipped and named, with why, in one line
    source = StacSource(path, max_cloud=100)
    assert source.search(site, START, END) == []
    reason = source.skipped_items[item["id"]]
    assert f"item {item['id']} has no asset for B11, SCL" in reason and "\n" not in reason


def test_unreadable_asset_marks_the_scene_with_one_line(catalog, tmp_path, caplog):
    # failures are data (flows.sources._reader): the scene's fetch_status says it, the block
    # is nodata, one line is logged; tests/test_faults.py follows it through a whole run
    site = SITES[0]
    source = StacSource(catalog.catalog)
    good, scene = source.search(site, START, dt.date(2023, 1, 31))[:2]
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"not a tiff")
    assets = dict(scene.properties["assets"])
    assets["B04"] = ((str(broken), 0),)
    bad = dataclasses.replace(scene, properties={**scene.properties, "assets": assets})
    with caplog.at_level("WARNING", logger="flows.sources._reader"):
        cube = source.load(site, [good, bad]).compute()
    assert cube["fetch_status"].values.tolist() == [0, 1]
    assert not cube.B04.values[1].any() and cube.B04.values[0].any() and cube.B08.values[1].any()
    lines = [r.getMessage() for r in caplog.records if "cannot read B04 from" in r.getMessage()]
    assert lines and all("\n" not in line for line in lines)


def test_planetary_computer_hrefs_left_unsigned_without_the_package(caplog):
    try:
        import planetary_computer  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("planetary_computer is installed here: hrefs would be signed")
    from flows.sources.stac import _signer

    with caplog.at_level("WARNING"):
        assert _signer("https://planetarycomputer.microsoft.com/api/stac/v1", None) is None
    assert "left unsigned" in caplog.text
    assert _signer("https://earth-search.aws.element84.com/v1", None) is None
    with pytest.raises(SourceError, match="needs the planetary-computer package"):
        _signer("https://example.org/stac", True)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_replicate_is_block_repetition(seed):
    """A nested source pixel becomes k x k grid pixels (``_reader.replicate``), from any row
    and column offset into its block: the same as repeating it and cutting the window."""
    from flows.sources._reader import replicate

    rng = np.random.default_rng(seed)
    print(f"seed {seed}")
    for _ in range(20):
        k = int(rng.integers(1, 7))
        values = rng.integers(0, 65535, size=rng.integers(1, 9, size=2), dtype=np.uint16)
        dr, dc = (int(v) for v in rng.integers(0, k, size=2))
        full = np.repeat(np.repeat(values, k, axis=0), k, axis=1)
        h = int(rng.integers(1, full.shape[0] - dr + 1))
        w = int(rng.integers(1, full.shape[1] - dc + 1))
        target = np.zeros((h, w), np.uint16)
        replicate(values, k, dr, dc, target)
        np.testing.assert_array_equal(target, full[dr:dr + h, dc:dc + w])
