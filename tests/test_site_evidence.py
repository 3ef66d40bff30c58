"""A site's rule and evidence in the flow (flows.site.evidence): calibration from polygons or a
reference raster at the start of a site's run, its provenance, its refusals in one line, and
the plan that recomputes a site whose rule changed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from pyproj import Transformer
from shapely.geometry import box

from aoi import (
    CalibrationError,
    calibration_input,
    geometry_mask,
    load_calibration_polygons,
    load_sites,
    site_grid,
    site_mask,
)
from flows import PROCESSING_VERSION
from flows.site import plan_site, site_tables
from flows.site.evidence import calibration_grid, site_evidence_of
from flows.sources import SceneRef
from flows.sources.demo import DemoScenario, DemoSource
from flows.sources.demo_world import MUDFLAT, POND, SEA
from indices.habitat import RULES

SITES = {s.id: s for s in load_sites()}
# an open mangrove canopy (NDVI ~0.64, under the closed canopy's 0.7) with bright SWIR1 (MVI
# ~3.9, below Baloloy's 4.5): the defaults miss most of it, and a partner's polygons over ~2 %
# of the site teach the site its thresholds. Until rule v13 its red was 0.032 (NDVI 0.81, a
# closed canopy); rule v14's trimmed axis maps that one whole (140.8 of 140.8 ha at Selangor,
# benchmarks/measured/mang34), so the defaults got nothing wrong for a survey to teach.
OTHER = DemoScenario(spectra={"mangrove": (0.028, 0.050, 0.065, 0.300, 0.114, 0.060)},
                     end=dt.date(2024, 3, 31))


# --------------------------------------------------------------------------- plan

def _scenes(n: int) -> list[SceneRef]:
    return [SceneRef(dt.datetime(2024, 1 + i, 5, tzinfo=dt.UTC), f"s{i}", 0)
            for i in range(n)]


def test_plan_recomputes_a_site_once_its_rule_changes():
    scenes = _scenes(4)
    stored = pd.DataFrame({"scene_id": [s.scene_id for s in scenes],
                           "processing_version": PROCESSING_VERSION})
    rule = RULES["mangrove"].rule_id
    kw = {"report_from": dt.date(2024, 1, 1)}
    same = plan_site(scenes, stored, rule_id=rule, stored_rules=pd.Series([rule] * 3), **kw)
    assert same.up_to_date
    for rules, current in (([rule, "mangrove-calibrated-0a1b2c3d4e"], rule),  # one month other
                           ([None] * 3, rule),  # rows from before rule ids
                           ([rule] * 3, None)):  # a calibrated rule not fitted yet
        plan = plan_site(scenes, stored, rule_id=current, stored_rules=pd.Series(rules), **kw)
        assert plan.new_scene_ids == {s.scene_id for s in scenes}
        assert plan.since == dt.date(2024, 1, 1)
    # nothing stored yet: the incremental plan as before
    assert plan_site(scenes[:2], stored.iloc[:1], rule_id=rule, stored_rules=None,
                     **kw).new_scene_ids == {"s1"}


def test_plan_passes_a_mangrove_sites_unstored_fill_window_scenes_as_candidates():
    """A scene of the months the baseline's fill reads (:func:`indices.bap.fill_window`)
    that the store does not hold may change the baseline (the review of rule v15); whether
    it does only the computed fill tells (:func:`flows.site.plan.fill_settled`), so the plan
    stays incremental and passes them as candidates. A scene after the window is none."""
    from indices.bap import fill_window

    scenes = _scenes(4)  # 2024-01-05 .. 2024-04-05
    stored = pd.DataFrame({"scene_id": [s.scene_id for s in scenes[:3]],
                           "processing_version": PROCESSING_VERSION})
    kw = {"report_from": dt.date(2024, 1, 1)}
    open_ = fill_window(dt.date(2023, 12, 31))  # 2024-01-01 .. 2024-12-31
    plan = plan_site(scenes, stored, fill_window=open_, **kw)
    assert plan.new_scene_ids == {"s3"} and plan.since == dt.date(2024, 4, 1)
    assert plan.fill_candidates == {"s3"} and plan.report_from is None
    passed = fill_window(dt.date(2023, 1, 31), 2)  # 2023-02-01 .. 2023-03-31
    assert not plan_site(scenes, stored, fill_window=passed, **kw).fill_candidates
    assert not plan_site(scenes, stored, **kw).fill_candidates  # seagrass: no fill
    assert plan_site(scenes[:3], stored, fill_window=open_, **kw).up_to_date  # nothing new


def test_a_fill_window_scene_before_the_start_is_a_candidate_and_the_site_computed():
    """A scene of the window not held counts though it lies before a ``--start`` (every run
    loads it): the site is computed (not up to date) to settle it; the rewrite, if the fill
    changed, is from the baseline's first day (:attr:`SitePlan.rewrite_from`)."""
    from indices.bap import fill_window

    scenes = _scenes(4)  # 2024-01-05 .. 2024-04-05
    stored = pd.DataFrame({"scene_id": [s.scene_id for s in scenes[:2]],
                           "processing_version": PROCESSING_VERSION})
    base = dt.date(2023, 1, 1)
    open_ = fill_window(dt.date(2023, 12, 31))  # 2024-01-01 .. 2024-12-31
    inside = plan_site(scenes, stored, report_from=dt.date(2024, 4, 1), fill_window=open_,
                       baseline_start=base)
    assert inside.new_scene_ids == {"s3"} and inside.fill_candidates == {"s2", "s3"}
    assert inside.rewrite_from == base and inside.report_from is None
    after = plan_site(scenes, stored, report_from=dt.date(2025, 3, 1), fill_window=open_,
                      baseline_start=base)
    assert after.since is None and not after.up_to_date
    assert after.fill_candidates == {"s2", "s3"}
    held = pd.DataFrame({"scene_id": [s.scene_id for s in scenes],
                         "processing_version": PROCESSING_VERSION})
    assert plan_site(scenes, held, report_from=dt.date(2024, 4, 1), fill_window=open_,
                     baseline_start=base).up_to_date  # every window scene held
    # stored rows with their days: a rewrite goes back to the first of them, not before
    dated = stored.assign(datetime=[s.datetime for s in scenes[:2]])
    plan = plan_site(scenes, dated, report_from=dt.date(2024, 4, 1), fill_window=open_,
                     baseline_start=base)
    assert plan.rewrite_from == dt.date(2024, 1, 5)
    assert plan_site(scenes, dated, report_from=dt.date(2023, 6, 1), fill_window=open_,
                     baseline_start=base).rewrite_from == dt.date(2023, 6, 1)
    # the stored change rows' first month when given, not the observation rows' (a run
    # writes the window's observation rows whatever its start: review 38, mang45)
    assert plan_site(scenes, dated, report_from=dt.date(2024, 4, 1), fill_window=open_,
                     baseline_start=base, first_row=dt.date(2024, 3, 1)
                     ).rewrite_from == dt.date(2024, 3, 1)
    assert plan.held
    # nothing stored (a first run): every window scene a candidate, nothing to rewrite
    first = plan_site(scenes, stored.iloc[:0], report_from=dt.date(2024, 4, 1),
                      fill_window=open_, baseline_start=base)
    assert first.fill_candidates == {s.scene_id for s in scenes} and not first.held
    assert first.rewrite_from is None and first.new_scene_ids == {"s3"}


# --------------------------------------------------------------------------- polygons

def _polygons(site, truth, grid, seed: int, share: float = 0.02, size: int = 8,
              blocks: int | None = None, other: np.ndarray | None = None) -> dict:
    """GeoJSON of pure ``size`` x ``size`` pixel blocks labelled from the truth, habitat and
    not habitat (within ``other`` if given) in turn, covering ``share`` of the site (what a
    partner's survey would give)."""
    rng = np.random.default_rng(seed)
    inside = site_mask(site, grid)
    habitat = truth.habitat_at(site.baseline_end) & inside
    if other is not None:
        inside = inside & (habitat | other)
    to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    features, covered, k = [], np.zeros_like(inside), 0
    for _ in range(20000):
        if covered.sum() >= share * inside.sum() or k == blocks:
            break
        want = k % 2 == 0
        pool = np.argwhere(habitat if want else inside & ~habitat)
        r, c = pool[rng.integers(len(pool))]
        block = (slice(r, r + size), slice(c, c + size))
        if r + size > inside.shape[0] or c + size > inside.shape[1] or covered[block].any() \
                or not inside[block].all() or not (habitat[block] == want).all():
            continue
        covered[block] = True
        k += 1
        x0, y0 = grid.left + c * grid.res, grid.top - r * grid.res
        x1, y1 = x0 + size * grid.res, y0 - size * grid.res
        ring = [to_lonlat.transform(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1),
                                                        (x0, y0))]
        features.append({"type": "Feature", "geometry": {"type": "Polygon",
                                                         "coordinates": [ring]},
                         "properties": {"class": "habitat" if want else "not_habitat"}})
    return {"type": "FeatureCollection", "features": features}


def _calibrated(site, path):
    return dataclasses.replace(site, properties={**site.properties, "calibration": str(path)})


@pytest.fixture(scope="module")
def calibrated_run(tmp_path_factory):
    site = SITES["selangor-kuala-selangor"]
    source = DemoSource(seed=5, scenario=OTHER)
    grid = site_grid(site)
    path = tmp_path_factory.mktemp("calibration") / "survey.geojson"
    path.write_text(json.dumps(_polygons(site, source.truth(site), grid, seed=5)))
    scenes = source.search(site, site.baseline_start, OTHER.end)
    plain = site_tables(site, source, scenes, start=None, end=OTHER.end, run_id="plain")
    tuned = site_tables(_calibrated(site, path), source, scenes, start=None, end=OTHER.end,
                        run_id="tuned")
    return site, source, plain, tuned


def test_a_calibrated_site_has_its_rule_on_every_row_and_its_provenance(calibrated_run):
    site, source, plain, tuned = calibrated_run
    assert set(plain.change["rule_id"]) == {"mangrove-baloloy2020-v17"}
    (rule_id,) = set(tuned.change["rule_id"])
    assert rule_id.startswith("mangrove-calibrated-")
    cal = tuned.evidence["calibration"]
    assert cal["rule_id"] == rule_id == tuned.evidence["rule"]["rule_id"]
    assert cal["source"].endswith("survey.geojson") and cal["kind"] == "polygons"
    assert cal["habitat_pixels"] >= 30 and cal["not_habitat_pixels"] >= 30
    assert cal["balanced_accuracy"] > cal["default_balanced_accuracy"]
    # the labels teach the site's discriminant axis (rule v8), not the MVI threshold alone
    # (indices.calibration_axis.calibrate_on_axis): the fit and what it replaced are in the record,
    # and the site's parameters the rows read are the fitted ones
    assert cal["method"] in ("site_axis", "label_axis") and cal["replaces"]["axis_used"] == 1
    assert cal["accuracy"] > cal["default_accuracy"] == cal["candidates"]["default"]
    # the default's guard: the chosen fit's gain shown beyond the labels' sampling noise
    chosen = cal["gains"][cal["method"]]
    assert chosen["shown"] and chosen["gain"] > 0 and chosen["df"] >= 1
    assert set(cal["gains"]) == set(cal["candidates"]) - {"default"}
    site_params = tuned.evidence["rule"]["site"]
    assert all(site_params[k] == pytest.approx(v, abs=1e-6) for k, v in cal["replaces"].items())
    truth = source.truth(site).extent_ha(site.baseline_end)
    before = abs(plain.change["baseline_extent_ha"].iloc[0] - truth)
    after = abs(tuned.change["baseline_extent_ha"].iloc[0] - truth)
    print(f"truth {truth:.1f} ha, default {before:+.1f}, calibrated {after:+.1f}, {cal}")
    assert after <= 0.5 * before
    json.dumps(tuned.evidence)  # goes into the run record as it is
    # what the labels could not teach is said by the run and kept in its record
    assert tuned.warnings == tuple(cal.get("warnings", ()))
    assert tuned.evidence.get("warnings", []) == list(tuned.warnings)


def test_a_survey_without_look_alikes_is_said(tmp_path):
    """'Not mangrove' labelled on water and mud only: the labels show none of the vegetation
    the MVI test separates mangrove from, and the run says so in one line naming the site
    and the file (indices.calibration), in the run record."""
    site = SITES["selangor-kuala-selangor"]
    source = DemoSource(seed=5, scenario=OTHER)
    grid, mask = _grid_mask(site)
    bare = np.isin(source.landscape(site).cover, (SEA, MUDFLAT, POND))
    path = tmp_path / "shore-only.geojson"
    path.write_text(json.dumps(_polygons(site, source.truth(site), grid, seed=5, other=bare)))
    got = site_evidence_of(_calibrated(site, path), _baseline_cube(site, source), grid, mask)
    (line,) = got.record["calibration"]["warnings"]
    assert site.id in line and "shore-only.geojson" in line and "\n" not in line
    assert "MVI threshold" in line and "label some vegetation as not mangrove" in line


def _baseline_cube(site, source):
    return source.load(site, source.search(site, site.baseline_start, site.baseline_end))


def _grid_mask(site):
    grid = site_grid(site)
    return grid, xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                              coords={"y": grid.y_coords(), "x": grid.x_coords()})


def test_too_few_labelled_pixels_fail_the_site_in_one_line(tmp_path):
    site = SITES["kenya-mida-creek"]
    source = DemoSource(seed=1)
    grid, mask = _grid_mask(site)
    # one 5 x 5 px polygon of each class: 0.25 ha, what aoi takes, 25 px, too few to fit
    survey = _polygons(site, source.truth(site), grid, seed=1, size=5, blocks=2)
    path = tmp_path / "tiny.geojson"
    path.write_text(json.dumps(survey))
    with pytest.raises(CalibrationError, match="too few labelled pixels") as err:
        site_evidence_of(_calibrated(site, path), _baseline_cube(site, source), grid, mask)
    assert "\n" not in str(err.value) and site.id in str(err.value) and "tiny.geojson" in str(err.value)


def test_each_survey_polygon_is_one_sampling_unit(tmp_path):
    """The guard's sampling units (flows.site.evidence.calibration_grid) are the survey's
    polygons: two touching along an edge are two, one of two parts is one; the labels are
    the classes' unions at pixel centres (aoi.geometry_mask; no centre lies on a shared edge
    here), the habitat polygon holding a pixel where the classes overlap."""
    site = SITES["kenya-mida-creek"]
    grid = site_grid(site)
    to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)

    def block(r, c, h, w):  # pixel rows/cols of the site grid -> a lon/lat ring
        x0, y0 = grid.left + c * grid.res, grid.top - r * grid.res
        x1, y1 = x0 + w * grid.res, y0 - h * grid.res
        return [list(to_lonlat.transform(x, y)) for x, y in
                ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]

    r, c = (n // 2 for n in grid.shape)
    shapes = [("Polygon", [block(r, c, 10, 10)], "habitat"),
              ("Polygon", [block(r, c + 10, 10, 10)], "habitat"),  # shares an edge
              ("MultiPolygon", [[block(r + 20, c, 8, 8)], [block(r + 20, c + 30, 8, 8)]],
               "not_habitat"),
              ("Polygon", [block(r + 40, c, 12, 6)], "not_habitat"),
              # a sliver of overlap (0.5 m², under the loader's 1 m²) over a column of centres
              ("Polygon", [block(r + 60, c, 10, 9.50025)], "habitat"),
              ("Polygon", [block(r + 60, c + 9.49975, 10, 6)], "not_habitat")]
    path = tmp_path / "survey.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": kind, "coordinates": coords},
         "properties": {"class": label}} for kind, coords, label in shapes]}))
    site = _calibrated(site, path)
    labels, units = calibration_grid(site, calibration_input(site), grid)
    assert units[r + 5, c + 5] == 0 and units[r + 5, c + 15] == 1
    assert units[r + 24, c + 4] == units[r + 24, c + 34] == 2 and units[r + 45, c + 3] == 3
    assert [(units == k).sum() for k in range(4)] == [100, 100, 128, 72]
    assert ((units >= 0) == (labels >= 0)).all() and (units[labels < 0] == -1).all()
    assert labels[r + 65, c + 9] == 1 and units[r + 65, c + 9] == 4  # the habitat's
    assert labels[r + 65, c + 10] == 0 and units[r + 65, c + 10] == 5
    polygons = load_calibration_polygons(path, site)
    habitat, other = (geometry_mask(shapely.union_all(polygons.geometries(h)), grid)
                      for h in (True, False))
    assert ((labels == 1) == habitat).all() and ((labels == 0) == (other & ~habitat)).all()
    assert (other & habitat).sum() == 10  # the sliver's column of centres


# --------------------------------------------------------------------------- raster

GMW = "gmw_N26W082_florida/GMW_N26W082_2020_v3.tif"


@pytest.mark.realdata
def test_a_reference_raster_is_resampled_onto_the_site_grid(realdata, tmp_path):
    """GMW v3 (EPSG:4326) onto a UTM site grid by nearest neighbour, against the raster's
    value at each pixel centre found by hand (pyproj + the raster's own transform)."""
    rasterio = pytest.importorskip("rasterio")
    site = dataclasses.replace(SITES["kenya-mida-creek"], id="everglades",
                               geometry=box(-81.195, 25.655, -81.155, 25.695))
    site = _calibrated(site, realdata / GMW)
    grid = site_grid(site)
    labels, units = calibration_grid(site, calibration_input(site), grid)
    assert units is None  # a map's pixels are each their own unit
    with rasterio.open(realdata / GMW) as src:
        values, inverse = src.read(1), ~src.transform
    xs, ys = np.meshgrid(grid.x_coords(), grid.y_coords())
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    col, row = inverse @ (lon, lat)
    expected = (values[np.floor(row).astype(int), np.floor(col).astype(int)] == 1).astype(int)
    agree = (labels == expected).mean()
    print(f"mangrove {expected.mean():.1%} of the grid, agreement {agree:.5f}")
    assert (labels >= 0).all()  # the tile covers the site: every pixel labelled
    assert 0.05 < expected.mean() < 0.95
    assert agree > 0.999  # only centres on a raster cell's edge may go either way


@pytest.mark.realdata
def test_a_raster_elsewhere_fails_the_site_in_one_line(realdata):
    site = _calibrated(SITES["kenya-mida-creek"], realdata / GMW)
    source = DemoSource(seed=1)
    grid, mask = _grid_mask(site)
    with pytest.raises(CalibrationError, match="does not overlap the site") as err:
        site_evidence_of(site, _baseline_cube(site, source), grid, mask)
    assert "\n" not in str(err.value) and "kenya-mida-creek" in str(err.value)


# --------------------------------------------------------------------------- command line

def _sites_file(tmp_path, calibration: str, lat: float = 3.33):
    """A one-site file: a small mangrove site near Kuala Selangor (or at ``lat``)."""
    lon = 101.25
    ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01],
            [lon, lat]]
    feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
               "properties": {"id": "cal-site", "name": "Calibrated", "habitat": "mangrove",
                              "baseline_start": "2023-01-01", "baseline_end": "2023-12-31",
                              "calibration": calibration}}
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path, ring


def _validate(path):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "flows.cli", "sites", "validate", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_sites_validate_reports_the_calibration_and_the_warnings(tmp_path):
    path, ring = _sites_file(tmp_path, "survey.geojson", lat=45.0)  # no mangrove at 45 N
    (x0, y0), (x1, y1) = ring[0], ring[2]
    xm = (x0 + x1) / 2
    boxes = {"habitat": [x0, y0, xm, y1], "not_habitat": [xm, y0, x1, y1]}
    features = [{"type": "Feature", "properties": {"class": k},
                 "geometry": {"type": "Polygon", "coordinates": [[[a, b], [c, b], [c, d],
                                                                   [a, d], [a, b]]]}}
                for k, (a, b, c, d) in boxes.items()]
    (tmp_path / "survey.geojson").write_text(json.dumps(
        {"type": "FeatureCollection", "features": features}))
    done = _validate(path)
    assert done.returncode == 0, done.stderr
    assert "calibration: 1 habitat / 1 not_habitat polygons (survey.geojson)" in done.stdout
    warnings = [line for line in done.stderr.splitlines() if line]
    assert warnings and all(w.startswith("bluecarbon: warning: ") for w in warnings)
    assert any("Bermuda" in w for w in warnings), warnings  # the latitude limit


def test_sites_validate_refuses_bad_calibration_in_one_line(tmp_path):
    path, _ = _sites_file(tmp_path, "missing.geojson")
    done = _validate(path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bluecarbon: error: ")
    assert "missing.geojson" in lines[0]


def test_a_one_block_site_has_the_same_evidence_in_numpy_as_through_its_graph(monkeypatch):
    """A site of one block (``keep_base``: the one-pass and whole walks) has its composite
    computed first and its evidence then in numpy (no graph: perf35); the same context,
    parameters and composite, bit for bit, as through the dask graph of its lazy composite
    (``ONE_BLOCK_PIXELS`` 0: every site takes that path)."""
    import flows.site.evidence as site_evidence_module

    site = SITES["kenya-mida-creek"]
    source = DemoSource(seed=1)
    grid, mask = _grid_mask(site)
    cube = _baseline_cube(site, source)
    assert site_evidence_module._one_block(
        site_evidence_module.baseline_composite(cube, "mangrove",
                                                (site.baseline_start, site.baseline_end)))
    eager = site_evidence_of(site, cube, grid, mask, keep_base=True)
    monkeypatch.setattr(site_evidence_module, "ONE_BLOCK_PIXELS", 0)
    graph = site_evidence_of(site, cube, grid, mask, keep_base=True)
    assert isinstance(eager.evidence.context.data, np.ndarray)
    for a, b in zip(eager.evidence.arrays, graph.evidence.arrays, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for v in graph.base.data_vars:
        np.testing.assert_array_equal(eager.base[v].values, graph.base[v].values)
    assert eager.record == graph.record
