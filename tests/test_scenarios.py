"""The independent scenario generator (tests/scenarios) checked against its sources, against
brute force, and against the project's STAC reader. No accuracy test of the classifier here:
these tests only say the scenarios are what they claim to be."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import deque

import numpy as np
import pytest
from conftest import REALDATA
from scenarios import landscape as ls
from scenarios import make_scenario
from scenarios.render import encode_dn, scl_20m, to_20m
from scenarios.spectra import CLASSES, draw_means, measure_aber, mvi, ndvi
from scenarios.tables import AP_KW, AP_M, AP_WAVE, S2_BANDS
from scenarios.truth import drop_small
from scenarios.water import (
    KD490_RANGE,
    VIS,
    WaterType,
    bottom_albedo,
    kd_austin_petzold,
    morel_kd,
    morel_reflectance,
    shallow_reflectance,
    to_rho,
    visibility_depth,
)

SEED = int(os.environ.get("SCENARIO_SEED", np.random.SeedSequence().entropy % 10_000))


@pytest.fixture(autouse=True)
def _print_seed():
    """Shown with a failure: replay with SCENARIO_SEED=<seed>."""
    print(f"SCENARIO_SEED={SEED}")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """One small scenario of each kind (kept DN), shared by the module."""
    root = tmp_path_factory.mktemp("scen")
    return {kind: make_scenario(11, kind=kind, size=96, n_months=9, out_dir=root / kind,
                                keep_dn=True) for kind in ("mangrove", "seagrass")}


# -- spectra ----------------------------------------------------------------------------
def test_drawn_class_means_stay_in_their_published_boxes():
    rng = np.random.default_rng(SEED)
    for _ in range(200):
        for name, mean in draw_means(rng).items():
            c = CLASSES[name]
            assert np.all(mean >= np.asarray(c.lo)) and np.all(mean <= np.asarray(c.hi)), name


def test_spectra_honour_the_published_constraints():
    central = {k: np.asarray(c.central) for k, c in CLASSES.items()}
    # Baloloy et al. 2020: mangrove above MVI 4.5 (with a tail below: their index accuracy
    # is 92 %), terrestrial vegetation below it
    assert mvi(central["mangrove"]) > 4.5
    box = CLASSES["mangrove"]  # its darkest-NIR, brightest-SWIR corner reaches below 4.5
    assert mvi(np.array([0, box.hi[1], 0, box.lo[3], box.hi[4], 0])) < 4.5
    for name in ("forest", "grass", "oil_palm", "rubber", "rice_grown"):
        assert mvi(central[name]) < 4.5, name
    # Neri et al. 2021: palms can look like mangrove: the oil palm box reaches MVI ~5
    box = CLASSES["oil_palm"]
    best = mvi(np.array([0, box.lo[1], 0, box.hi[3], box.lo[4], 0]))
    assert best > 4.5
    for name in ("mangrove", "forest", "grass", "oil_palm", "rubber", "rice_grown"):
        assert ndvi(central[name]) > 0.6, name
    for name in ("rice_flooded", "mud_wet"):  # water-logged: SWIR1 below NIR and green
        assert central[name][4] < central[name][3] and central[name][4] < central[name][1]


@pytest.mark.realdata
def test_measured_classes_are_the_aberystwyth_percentiles():
    folder = REALDATA / "rsgislib_aber_s2"
    if not folder.exists():
        pytest.skip("../shared/realdata is absent")
    measured = measure_aber(folder)
    for name, pct in measured.items():
        c = CLASSES[name]
        np.testing.assert_allclose(c.lo, pct[1], atol=6e-4, err_msg=name)
        np.testing.assert_allclose(c.central, pct[2], atol=6e-4, err_msg=name)
        np.testing.assert_allclose(c.hi, pct[3], atol=6e-4, err_msg=name)


# -- water optics -----------------------------------------------------------------------
def test_austin_petzold_and_morel_agree_and_order_the_bands():
    """Two independent published Kd models (Austin & Petzold 1986 from Kd(490); Morel 1988
    from the chlorophyll giving that Kd(490)) agree band by band within 5 %."""
    assert AP_M[AP_WAVE == 490.0] == 1.0
    for kd490 in np.linspace(*KD490_RANGE, 12):
        w = WaterType.from_kd490(float(kd490))
        for b in VIS:
            assert abs(w.kd[b] / morel_kd(w.chl, b) - 1) < 0.05, (kd490, b)
        assert w.kd["B04"] > w.kd["B03"] and w.kd["B04"] > w.kd["B02"]
        # pure water makes green more attenuated than blue in clear water; the crossover
        # is where M(560) (Kd490 - Kw490) + Kw(560) = Kd490 in Austin & Petzold's table
        m, kw = np.interp(560, AP_WAVE, AP_M), np.interp(560, AP_WAVE, AP_KW)
        cross = (kw - m * np.interp(490, AP_WAVE, AP_KW)) / (1 - m)
        if kd490 < cross - 0.01:
            assert w.kd["B02"] < w.kd["B03"]
        elif kd490 > cross + 0.01:
            assert w.kd["B02"] > w.kd["B03"]
    kds = [kd_austin_petzold(k, "B03") for k in np.linspace(*KD490_RANGE, 20)]
    assert np.all(np.diff(kds) > 0)


def test_morel_reflectance_is_the_fixed_point_and_greens_with_chlorophyll():
    from scenarios.tables import MOREL_BW, MOREL_E, MOREL_KW, MOREL_WAVE, MOREL_XC
    from scipy.optimize import brentq

    for chl in (0.03, 0.3, 3.0):
        r = morel_reflectance(chl)
        i = int(np.argmin(np.abs(MOREL_WAVE - 550)))
        b = 0.30 * chl ** 0.62
        bb = 0.5 * MOREL_BW[i] + (0.002 + 0.02 * (0.5 - 0.25 * np.log10(chl))) * b
        kd = MOREL_KW[i] + MOREL_XC[i] * chl ** MOREL_E[i]

        def f(x, bb=bb, kd=kd):
            return x - 0.33 * bb / (0.90 * (1 - x) / (1 + 2.25 * x)) / kd

        assert r[i] == pytest.approx(brentq(f, 1e-6, 0.5), rel=1e-4)
    ratios = [WaterType.from_kd490(k).r_deep["B02"] / WaterType.from_kd490(k).r_deep["B03"]
              for k in (0.025, 0.05, 0.1, 0.15)]
    assert np.all(np.diff(ratios) < 0)  # blue-to-green falls as water turns productive
    # clear ocean: rho(B02) of order 0.01 (pi Rrs(490) with Rrs ~ 0.003-0.006 /sr)
    assert 0.008 < float(to_rho(WaterType.from_kd490(0.025).r_deep["B02"])) < 0.02


def test_shallow_water_model_limits_and_visibility_depth():
    w = WaterType.from_kd490(0.06)
    sand, grass = bottom_albedo("sand", 0.6), bottom_albedo("seagrass", 0.2)
    for b in VIS:
        assert shallow_reflectance(w.r_deep[b], sand[b], w.kd[b], 0.0) == pytest.approx(sand[b])
        assert shallow_reflectance(w.r_deep[b], sand[b], w.kd[b], 500.0) == pytest.approx(
            w.r_deep[b])
        z = np.linspace(0, 40, 81)
        assert np.all(np.diff(shallow_reflectance(w.r_deep[b], sand[b], w.kd[b], z)) < 0)
    noise = {"B02": 0.004, "B03": 0.003}
    z_vis = visibility_depth(w, sand, grass, noise)
    # brute force: the deepest depth on a fine grid where either band's contrast beats 3 sigma
    zs = np.arange(0, 100, 0.01)
    seen = np.zeros_like(zs, bool)
    for b in ("B02", "B03"):
        contrast = np.abs(to_rho(shallow_reflectance(w.r_deep[b], sand[b], w.kd[b], zs))
                          - to_rho(shallow_reflectance(w.r_deep[b], grass[b], w.kd[b], zs)))
        seen |= contrast > 3 * noise[b]
    # rho is not linear in R, so the brute force on the full model brackets the closed form
    assert abs(zs[seen].max() - z_vis) < 0.1 * z_vis
    depths = [visibility_depth(WaterType.from_kd490(k), sand, grass, noise)
              for k in (0.03, 0.06, 0.1, 0.15)]
    assert np.all(np.diff(depths) < 0)


# -- encoding ---------------------------------------------------------------------------
def test_dn_encoding_and_the_2022_offset():
    rho = np.array([[-0.05, 0.0, 0.0123, 0.5]])
    assert encode_dn(rho, 1000).tolist() == [[500, 1000, 1123, 6000]]
    assert encode_dn(rho, 0).tolist() == [[1, 1, 123, 5000]]  # negatives clamp to 1, not 0
    assert encode_dn(rho, 1000, valid=np.array([[True, False, True, True]])).tolist() == \
        [[500, 0, 1123, 6000]]
    dn = np.array([[100, 200, 0, 400], [100, 200, 400, 400]], np.uint16)
    assert to_20m(dn).tolist() == [[150, 0]]
    scl = np.array([[4, 4, 6, 9], [4, 3, 6, 6]], np.uint8)
    assert scl_20m(scl).tolist() == [[3, 9]]


def test_scenes_carry_the_offset_of_their_processing_baseline(small):
    for sc in small.values():
        for rec in sc.scenes:
            day = rec.datetime.date()
            assert rec.boa_offset == (-1000 if day >= dt.date(2022, 1, 25) else 0), rec
    # the same scene rendered under both baselines decodes to the same reflectance
    from scenarios.render import Renderer, SceneSpec

    rng = np.random.default_rng(SEED)
    land = ls.mangrove_landscape(rng, 60, 9, 6)
    r = Renderer(land, draw_means(rng), WaterType.from_kd490(0.12), rng, southern=False)
    spec = dict(month=7, month_frac=7.0, calendar_month=5, tide=1.0, glint=0.0,
                cloud_fraction=0.3, cirrus=True, swath_cut=True, plume=True, seed=SEED)
    old, _ = r.scene(SceneSpec(dn_offset=0, **spec))
    new, _ = r.scene(SceneSpec(dn_offset=1000, **spec))
    for band in S2_BANDS:
        a, b = old[band].astype(int), new[band].astype(int)
        assert ((a == 0) == (b == 0)).all() and (a == 0).any()  # the same swath edge
        valid = a > 0
        if band in ("B11", "B12"):  # 20 m means of 10 m numbers, some of them clamped:
            assert (b[valid] - a[valid] <= 1000).all()  # clamping only ever raises 03.xx DN
            assert (b[valid] - a[valid] == 1000).any()
            continue
        above = a > 1  # reflectance that baseline 03.xx could encode (not clamped)
        assert (b[above] - a[above] == 1000).all()
        assert (b[(a == 1)] <= 1001).all()  # clamped dark water: <= 0.0001 once decoded
    assert (old["SCL"] == new["SCL"]).all()


def test_water_is_dark_in_the_swir_and_glint_is_spectrally_flat(small):
    from scenarios.render import Renderer, SceneSpec

    sc = small["seagrass"]
    rng = np.random.default_rng(SEED)
    land = ls.seagrass_landscape(rng, 60, 9, 6)
    r = Renderer(land, draw_means(rng), WaterType.from_kd490(0.05), rng, southern=False)
    spec = dict(month=0, month_frac=0.0, calendar_month=5, tide=0.0, cloud_fraction=0.0,
                cirrus=False, swath_cut=False, plume=False, dn_offset=1000, seed=1)
    calm, water = r.surface(SceneSpec(glint=0.0, **spec), np.random.default_rng(1))
    glint, _ = r.surface(SceneSpec(glint=0.02, **spec), np.random.default_rng(1))
    assert np.all(calm[water][:, 4:] == 0.0)  # no water-leaving SWIR
    diff = glint[water] - calm[water]
    np.testing.assert_allclose(diff, diff[:, :1].repeat(len(S2_BANDS), 1), atol=1e-12)
    assert diff.mean() > 0.01
    assert sc.params["kd490"] >= KD490_RANGE[0]


# -- truth ------------------------------------------------------------------------------
def _components_bfs(mask: np.ndarray) -> list[list[tuple[int, int]]]:
    """8-connected components by breadth-first search (brute force, no scipy)."""
    seen = np.zeros_like(mask, bool)
    out = []
    h, w = mask.shape
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if seen[y0, x0]:
            continue
        comp, queue = [], deque([(y0, x0)])
        seen[y0, x0] = True
        while queue:
            y, x = queue.popleft()
            comp.append((y, x))
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    yy, xx = y + dy, x + dx
                    if 0 <= yy < h and 0 <= xx < w and mask[yy, xx] and not seen[yy, xx]:
                        seen[yy, xx] = True
                        queue.append((yy, xx))
        out.append(comp)
    return out


def test_truth_tables_follow_the_truth_maps(small):
    for sc in small.values():
        t = sc.truth
        base = sc.habitat[0]
        for m in range(len(sc.periods)):
            hab = sc.habitat[m]
            assert not (hab & ~sc.site).any()
            assert t["extent_ha"][m] == pytest.approx(hab.sum() * 0.01)
            for name, raw in (("gain_ha", hab & ~base), ("loss_ha", base & ~hab)):
                kept = sum(len(c) for c in _components_bfs(raw) if len(c) >= 10)
                assert t[name][m] == pytest.approx(kept * 0.01), (sc.kind, m, name)
            assert t["extent_mmu_ha"][m] == pytest.approx(
                t["baseline_extent_ha"][m] + t["gain_ha"][m] - t["loss_ha"][m])
        # nothing changes inside the baseline period; the planted loss shows after it
        for m in range(6):
            assert (sc.habitat[m] == base).all()
        if t["loss_ha"].iloc[-1] == 0:  # a planted loss inside the site must show
            assert (sc.habitat[0] & ~sc.habitat[-1]).sum() < 10, sc.kind


def test_drop_small_against_brute_force():
    rng = np.random.default_rng(SEED)
    mask = rng.random((40, 40)) < 0.3
    kept = np.zeros_like(mask)
    for comp in _components_bfs(mask):
        if len(comp) >= 5:
            for y, x in comp:
                kept[y, x] = True
    assert (drop_small(mask, 5) == kept).all()


def test_seagrass_assessable_is_the_visible_bottom(small):
    sc = small["seagrass"]
    z_vis = sc.params["visibility_depth_m"]
    assert (sc.assessable == ((sc.depth > 0) & (sc.depth <= z_vis))).all()
    t = sc.truth.iloc[0]
    assert t["assessable_ha"] == pytest.approx((sc.assessable & sc.site).sum() * 0.01)
    assert t["extent_assessable_ha"] <= t["extent_ha"]


def test_reproducible_per_seed(tmp_path):
    a = make_scenario(5, kind="seagrass", size=48, n_months=8, out_dir=tmp_path / "a",
                      keep_dn=True)
    b = make_scenario(5, kind="seagrass", size=48, n_months=8, out_dir=tmp_path / "b",
                      keep_dn=True)
    c = make_scenario(6, kind="seagrass", size=48, n_months=8, out_dir=tmp_path / "c")
    assert a.truth.drop(columns="site_id").equals(b.truth.drop(columns="site_id"))
    assert all((x[k] == y[k]).all() for x, y in zip(a.dn, b.dn, strict=True) for k in x)
    assert (tmp_path / "a" / "sites.geojson").read_text() == \
        (tmp_path / "b" / "sites.geojson").read_text()
    assert not np.array_equal(a.classes, c.classes)


# -- the project's readers ------------------------------------------------------------
def test_sites_file_is_valid_and_the_grid_is_sentinel2_aligned(small):
    from aoi import load_sites, site_grid

    for sc in small.values():
        (site,) = load_sites(sc.sites)
        assert site.habitat == sc.kind and site.id == sc.site_id
        assert (site.baseline_start, site.baseline_end) == sc.baseline
        g = site_grid(site)
        assert g.epsg == sc.epsg and sc.left % 60 == 0 and sc.top % 60 == 0
        assert sc.left <= g.left and g.left + g.width * 10 <= sc.left + sc.shape[1] * 10
        assert sc.top >= g.top and g.top - g.height * 10 >= sc.top - sc.shape[0] * 10
        props = json.loads(sc.sites.read_text())["features"][0]["properties"]
        assert props["habitat"] == sc.kind


def test_stac_source_reads_back_the_written_numbers(small):
    from aoi import load_sites, site_grid
    from flows.sources import get_source

    for sc in small.values():
        (site,) = load_sites(sc.sites)
        source = get_source("stac", catalog=str(sc.catalog))
        refs = source.search(site, sc.start, sc.end)
        assert [r.boa_offset for r in refs] == [r.boa_offset for r in sc.scenes]
        cube = source.load(site, refs, chunks=None).compute()
        g = site_grid(site)
        r0, c0 = round((sc.top - g.top) / 10), round((g.left - sc.left) / 10)
        win = (slice(r0, r0 + g.height), slice(c0, c0 + g.width))
        for i, dn in enumerate(sc.dn):
            for band in ("B02", "B03", "B04", "B08"):
                np.testing.assert_array_equal(cube[band].values[i], dn[band][win])
            for band in ("B11", "B12", "SCL"):
                full = np.repeat(np.repeat(dn[band], 2, 0), 2, 1)
                np.testing.assert_array_equal(cube[band].values[i], full[win])
        assert list(cube["boa_offset"].values) == [r.boa_offset for r in sc.scenes]
