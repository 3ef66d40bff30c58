"""The demo source: deterministic, physically plausible, and honest about the offset."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from aoi import load_sites
from flows.sources.demo import BASELINE_04_00, MUDFLAT, DemoSource
from indices.masks import clear_mask, reflectance

SITES = {s.id: s for s in load_sites()}
MANGROVE = SITES["selangor-kuala-selangor"]
SEAGRASS = SITES["andalusia-cabo-de-gata-genoveses"]


def _cube(site, start, end, seed=0, n=None):
    src = DemoSource(seed=seed)
    scenes = src.search(site, start, end)[:n]
    return src, scenes, src.load(site, scenes).compute()


def test_same_seed_same_bytes_other_seed_differs():
    _, _, a = _cube(MANGROVE, dt.date(2023, 3, 1), dt.date(2023, 3, 20))
    _, _, b = _cube(MANGROVE, dt.date(2023, 3, 1), dt.date(2023, 3, 20))
    _, _, c = _cube(MANGROVE, dt.date(2023, 3, 1), dt.date(2023, 3, 20), seed=1)
    for var in ("B04", "B08", "SCL"):
        np.testing.assert_array_equal(a[var].values, b[var].values)
    assert not np.array_equal(a["B08"].values, c["B08"].values)


def test_cube_contract():
    _, scenes, cube = _cube(SEAGRASS, dt.date(2023, 5, 1), dt.date(2023, 5, 31))
    assert cube.sizes["time"] == len(scenes) > 4
    for band in ("B02", "B03", "B04", "B08", "B11", "B12"):
        assert cube[band].dtype == np.uint16 and cube[band].dims == ("time", "y", "x")
    assert cube["SCL"].dtype == np.uint8
    assert cube["boa_offset"].dtype == np.int16
    assert cube["time"].dtype == np.dtype("datetime64[ns]")
    assert list(cube["scene_id"].values) == [s.scene_id for s in scenes]
    assert np.all(np.diff(cube["time"].values).astype(np.int64) > 0)


def test_offset_follows_processing_baseline_not_date():
    src = DemoSource(seed=0)
    scenes = src.search(MANGROVE, dt.date(2021, 1, 1), dt.date(2022, 6, 30))
    by_baseline = {}
    for s in scenes:
        baseline = s.scene_id.split("_")[3]
        by_baseline.setdefault(baseline, set()).add(s.boa_offset)
        if s.datetime.date() >= BASELINE_04_00:
            assert s.boa_offset == -1000
    # the old archive holds both unprocessed (N02xx, no offset) and reprocessed (N05xx) products
    assert by_baseline["N0213"] == {0}
    assert by_baseline["N0500"] == {-1000}
    assert by_baseline["N0400"] == {-1000}


def test_reflectance_is_the_same_whichever_baseline():
    """A stable oil-palm pixel reads the same reflectance with and without the offset; ignoring
    the offset would shift its red reflectance by 0.1."""
    src = DemoSource(seed=0)
    land = src.landscape(MANGROVE)
    scenes = src.search(MANGROVE, dt.date(2021, 1, 1), dt.date(2022, 12, 31))
    cube = src.load(MANGROVE, scenes).compute()
    terrestrial = land.cover == 3
    red = reflectance(cube, "B04").where(clear_mask(cube)).values[:, terrestrial]
    per_scene = np.nanmedian(red, axis=1)
    offsets = cube["boa_offset"].values
    ok = ~np.isnan(per_scene)
    with_offset = np.median(per_scene[ok & (offsets == -1000)])
    without = np.median(per_scene[ok & (offsets == 0)])
    assert abs(with_offset - without) < 0.005
    assert abs(with_offset - 0.040) < 0.005
    raw = cube["B04"].values[:, terrestrial].astype(float) / 10000
    raw_med = np.nanmedian(np.where(raw > 0, raw, np.nan), axis=1)
    assert np.median(raw_med[ok & (offsets == -1000)]) - with_offset > 0.09


def test_scl_classes_clouds_shadows_nodata():
    _, _, cube = _cube(MANGROVE, dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    scl = cube["SCL"].values
    for cls in (0, 3, 8, 9, 4, 5, 6):
        assert (scl == cls).any(), f"SCL {cls} never appears"
    nodata = scl == 0
    for band in ("B02", "B08", "B11"):
        assert (cube[band].values[nodata] == 0).all()
        assert (cube[band].values[~nodata] > 0).all()
    clouds = np.isin(scl, (8, 9))
    assert cube["B02"].values[clouds].mean() > 3 * cube["B02"].values[scl == 4].mean()


def test_tides_flood_the_mudflat():
    src, _, cube = _cube(MANGROVE, dt.date(2023, 1, 1), dt.date(2023, 6, 30))
    land = src.landscape(MANGROVE)
    flat = (land.cover == MUDFLAT) & land.mask
    g, n = reflectance(cube, "B03"), reflectance(cube, "B08")
    wet = (((g - n) / (g + n)) > 0).where(clear_mask(cube)).values[:, flat]
    flooded = np.nanmean(wet, axis=1)
    flooded = flooded[~np.isnan(flooded)]
    assert flooded.min() < 0.2 and flooded.max() > 0.5  # low and high tides both observed


def test_truth_events():
    src = DemoSource(seed=0)
    truth = src.truth(MANGROVE)
    ev = truth.events
    assert ev["replanting"] > MANGROVE.baseline_end and ev["clearing"] > MANGROVE.baseline_end
    gain_then, _ = truth.gain_loss_ha(ev["replanting"] + dt.timedelta(days=120))
    gain_later, loss_later = truth.gain_loss_ha(ev["replanting"] + dt.timedelta(days=30 * 24))
    assert gain_then < 1.0 < gain_later  # canopy closes over ~18 months, not at planting
    assert 6 <= gain_later <= 9 and 4 <= loss_later <= 6
    sg = src.truth(SEAGRASS)
    _, loss = sg.gain_loss_ha(sg.events["seagrass_loss"] + dt.timedelta(days=1))
    assert 3 <= loss <= 5


@pytest.mark.parametrize("site", [MANGROVE, SEAGRASS], ids=lambda s: s.habitat)
def test_glint_brightens_water_nir(site):
    src = DemoSource(seed=0)
    scenes = src.search(site, dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    params = [src._params(site, s.datetime.date()) for s in scenes]
    glinty = [s for s, p in zip(scenes, params, strict=True) if p.glint > 0.03 and p.cloud < 0.1]
    calm = [s for s, p in zip(scenes, params, strict=True) if p.glint == 0 and p.cloud < 0.1]
    assert glinty and calm
    land = src.landscape(site)
    water = land.water & land.mask
    nir = {}
    for name, chosen in (("glint", glinty[:3]), ("calm", calm[:3])):
        cube = src.load(site, chosen).compute()
        nir[name] = np.nanmedian(reflectance(cube, "B08").where(clear_mask(cube)).values[:, water])
    assert nir["glint"] > nir["calm"] + 0.01
