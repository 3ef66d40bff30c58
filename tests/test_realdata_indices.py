"""Index values on real Sentinel-2 spectra against an independent implementation (rsgislib).

rsgislib's reference rasters for the Aberystwyth subset (2021-05-27, reflectance x1000) were
computed with band 8 (B8A) as NIR: NDVI = (B8A - B4) / (B8A + B4) and Gao's NDWI =
(B8A - B11) / (B8A + B11), i.e. our ``ndmi``. We feed B8A into the cube's NIR slot and compare.
Its MVI raster follows another definition (median ~260) and is not a reference for ours.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from indices import compute_indices

# rsgislib band order: B2 B3 B4 B5 B6 B7 B8 B8A B11 B12 (1-based 1..10)
OUR_SLOTS = {"B02": 1, "B03": 2, "B04": 3, "B08": 8, "B11": 9, "B12": 10}


@pytest.fixture(scope="module")
def aber(realdata):
    rasterio = pytest.importorskip("rasterio")
    folder = realdata / "rsgislib_aber_s2"
    with rasterio.open(folder / "sen2_20210527_aber_subset.tif") as src:
        bands = {name: src.read(i) for name, i in OUR_SLOTS.items()}
    refs = {}
    for name in ("ndvi", "ndwi"):
        with rasterio.open(folder / f"sen2_20210527_aber_subset_{name}_ref.tif") as src:
            data = src.read(1).astype(np.float64)
            refs[name] = np.where(data == src.nodata, np.nan, data)
    shape = next(iter(bands.values())).shape
    cube = xr.Dataset(
        {**{b: (("time", "y", "x"), v[None]) for b, v in bands.items()},
         "SCL": (("time", "y", "x"), np.full((1, *shape), 4, np.uint8))},
        coords={"time": [np.datetime64("2021-05-27T11:06:21", "ns")],
                "boa_offset": ("time", np.array([0], np.int16)),
                "scene_id": ("time", ["S2_aber_20210527"])},
    )
    return cube, refs


@pytest.mark.realdata
@pytest.mark.parametrize("ours,theirs", [("ndvi", "ndvi"), ("ndmi", "ndwi")])
@pytest.mark.parametrize("chunked", [False, True], ids=["numpy", "dask"])
def test_matches_rsgislib_reference(aber, ours, theirs, chunked):
    cube, refs = aber
    if chunked:
        cube = cube.chunk({"y": 100, "x": 77})
    got = compute_indices(cube, [ours])[ours].values[0].astype(np.float64)
    ref = refs[theirs]
    valid = np.isfinite(ref) & np.isfinite(got)
    assert valid.mean() > 0.95
    assert np.nanmax(np.abs(got[valid] - ref[valid])) < 1e-6
    # where rsgislib has no value our kernel must not invent one (0/0 or nodata)
    assert np.isnan(got[np.isnan(ref) & (cube["B04"].values[0] == 0)]).all()
