"""The SAFE source on a real ESA L2A product (tile 29UNU, 2022-10-05, baseline 04.00, 60 m
bands only): metadata, the -1000 offset from MTD_MSIL2A.xml, JP2 read through the shared
windowed reader onto the 10 m site grid, real clouds and ~40 % nodata. Skipped where
../shared/realdata is absent."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.windows import Window

from aoi import Site, site_grid, site_mask
from flows.site import site_tables
from flows.sources import SourceError, get_source
from flows.sources.safe import SafeSource, read_product
from indices import compute_indices

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
SAFE = REALDATA / "s2_l2a_T29UNU_60m"
pytestmark = [pytest.mark.realdata,
              pytest.mark.skipif(not SAFE.is_dir(), reason="../shared/realdata absent")]

DAY = dt.date(2022, 10, 5)
# inland Ireland across the swath edge: ~30 % nodata, clouds, shadows and clear pasture
SITE = Site("ireland-29unu", "test", "mangrove", shapely.box(-8.10, 52.70, -8.02, 52.75),
            dt.date(2022, 10, 1), dt.date(2022, 10, 31))
BANDS = ("B02", "B03", "B04", "B08", "B11", "B12", "SCL")


@pytest.fixture(scope="module")
def scene_and_cube():
    source = get_source("safe", catalog=str(SAFE))
    scenes = source.search(SITE, DAY, DAY)
    cube = source.load(SITE, scenes, chunks=256).compute()
    return source, scenes, cube


def test_rasterio_reads_jp2():
    with rasterio.Env() as env:
        assert "JP2OpenJPEG" in env.drivers()


def test_product_metadata():
    product = read_product(SAFE)
    assert product.product_id == "S2A_MSIL2A_20221005T115411_N0400_R023_T29UNU_20221005T164454"
    assert product.datetime == dt.datetime(2022, 10, 5, 11, 54, 11, 24000, tzinfo=dt.UTC)
    assert product.boa_offset == -1000 and product.baseline == "04.00"
    assert product.cloud_cover == pytest.approx(59.769726)
    assert product.stand_ins == {"B08": "B8A"}  # R60m has no B08
    assert all(p.suffix == ".jp2" and "_60m" in p.name for p in product.files.values())


def test_offset_comes_from_the_metadata(tmp_path):
    copy = tmp_path / "S2A_copy.SAFE"
    copy.mkdir()
    (copy / "GRANULE").symlink_to(SAFE / "GRANULE")
    xml = (SAFE / "MTD_MSIL2A.xml").read_text()
    (copy / "MTD_MSIL2A.xml").write_text(xml.replace(">-1000</BOA_ADD_OFFSET>",
                                                     ">0</BOA_ADD_OFFSET>"))
    assert read_product(copy).boa_offset == 0
    scenes = SafeSource(tmp_path).search(SITE, DAY, DAY)  # a folder of SAFE products
    assert [s.boa_offset for s in scenes] == [0]


def test_search_filters(scene_and_cube):
    source, scenes, _ = scene_and_cube
    assert len(scenes) == 1 and scenes[0].boa_offset == -1000
    assert scenes[0].properties["stand_ins"] == {"B08": "B8A"}
    assert source.search(SITE, dt.date(2022, 10, 6), dt.date(2022, 12, 31)) == []
    atlantic = Site("atlantic", "t", "seagrass", shapely.box(-11.0, 52.7, -10.9, 52.8),
                    SITE.baseline_start, SITE.baseline_end)
    assert source.search(atlantic, DAY, DAY) == []
    assert SafeSource(SAFE, max_cloud=50).search(SITE, DAY, DAY) == []  # 59.8 % cloud


def test_cube_is_the_60m_product_replicated_onto_10m(scene_and_cube):
    _, scenes, cube = scene_and_cube
    grid = site_grid(SITE)
    assert cube.sizes == {"time": 1, "y": grid.height, "x": grid.width}
    assert cube.B04.dtype == np.uint16 and cube.SCL.dtype == np.uint8
    assert int(cube.boa_offset[0]) == -1000
    files = read_product(SAFE).files
    for band in BANDS:
        with rasterio.open(files[band]) as src:  # an independent read of the raw JP2
            col = (grid.left - src.transform.c) / 60
            row = (src.transform.f - grid.top) / 60
            assert col == int(col) and row == int(row)
            raw = src.read(1, window=Window(int(col), int(row), -(-grid.width // 6),
                                            -(-grid.height // 6)))
        expected = np.kron(raw, np.ones((6, 6), raw.dtype))[:grid.height, :grid.width]
        np.testing.assert_array_equal(cube[band].values[0], expected, err_msg=band)


def test_real_clouds_and_nodata(scene_and_cube):
    _, _, cube = scene_and_cube
    scl = cube.SCL.values[0]
    nodata = scl == 0
    assert 0.15 < nodata.mean() < 0.6, "the site straddles the swath edge"
    assert np.isin(scl, (8, 9, 10)).mean() > 0.05 and (scl == 3).mean() > 0.05
    assert (scl == 4).mean() > 0.1
    mismatch = ((cube.B04.values[0] == 0) != nodata).mean()
    assert mismatch < 0.02  # bands and SCL agree on nodata but for one pixel line at the edge


def test_offset_matters_for_ndvi(scene_and_cube):
    _, _, cube = scene_and_cube
    vegetation = cube.SCL.values[0] == 4
    right = compute_indices(cube, ["ndvi"]).ndvi.values[0][vegetation]
    wrong = compute_indices(cube.assign_coords(boa_offset=("time", np.zeros(1, np.int16))),
                            ["ndvi"]).ndvi.values[0][vegetation]
    assert 0.7 < np.nanmedian(right) < 0.95  # green pasture in October
    assert np.nanmedian(right) - np.nanmedian(wrong) > 0.2
    masked = np.isnan(compute_indices(cube, ["ndvi"]).ndvi.values[0])
    assert masked[np.isin(cube.SCL.values[0], (0, 3, 8, 9, 10))].all()


def test_pipeline_runs_on_the_real_product(scene_and_cube):
    source, scenes, cube = scene_and_cube
    tables = site_tables(SITE, source, scenes, start=SITE.baseline_start, end=DAY, run_id="t")
    row = tables.observations.iloc[0]
    assert row["scene_id"] == scenes[0].scene_id and row["source"] == "safe"
    inside = site_mask(SITE, site_grid(SITE))
    clear = np.isin(cube.SCL.values[0], (4, 5, 6, 7, 11))[inside].mean()
    assert row["valid_fraction"] == pytest.approx(clear, abs=0.05)
    assert 0.1 < row["cloud_fraction"] < 0.9


def test_bad_folders(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        SafeSource(tmp_path / "nope")
    with pytest.raises(SourceError, match="no Sentinel-2 L2A SAFE product") as exc:
        SafeSource(tmp_path).search(SITE, DAY, DAY)
    assert "\n" not in str(exc.value)
    broken = tmp_path / "broken.SAFE"
    granule = broken / "GRANULE" / "L2A_T29UNU_A038058_20221005T115407" / "IMG_DATA" / "R60m"
    granule.mkdir(parents=True)
    shutil.copy(SAFE / "MTD_MSIL2A.xml", broken / "MTD_MSIL2A.xml")
    src = SAFE / "GRANULE" / "L2A_T29UNU_A038058_20221005T115407" / "IMG_DATA" / "R60m"
    for f in src.glob("*.jp2"):
        if "_SCL_" not in f.name:
            (granule / f.name).symlink_to(f)
    with pytest.raises(SourceError, match="no readable file for SCL"):
        SafeSource(broken).search(SITE, DAY, DAY)
