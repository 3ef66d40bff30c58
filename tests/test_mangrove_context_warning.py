"""A mangrove baseline too short to build the intertidal context is said, not hidden.

Mangrove needs a series: a pixel seen wet and dry (:mod:`indices.context`). A baseline of a
single scene (or a month or two of a 10-day revisit under clouds) shows one water line, no
tide: the context is empty and every pixel is "not mangrove" by construction. The run then
says so in one warning line, keeps it in the run record, and the site's rows carry
``assessable_fraction`` 0 (nothing of the site could be judged), instead of 0 ha as if it
were measured. A baseline long enough builds the context and says nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from pathlib import Path

import numpy as np

from aoi import load_sites
from flows.site import site_tables
from flows.sources.demo import DemoSource

SITES = Path(__file__).resolve().parents[1] / "aoi" / "sites" / "selangor.geojson"
END = dt.date(2023, 3, 31)


def _site(days: int):
    """The demo's Selangor site with a baseline from its first scene of 2023 on, ``days``
    long (0: that scene alone), and that first scene's date."""
    site = load_sites(SITES)[0]
    first = DemoSource().search(site, dt.date(2023, 1, 1), END)[0].datetime.date()
    return dataclasses.replace(site, baseline_start=first,
                               baseline_end=first + dt.timedelta(days=days)), first


def _tables(site):
    source = DemoSource()
    scenes = source.search(site, dt.date(2023, 1, 1), END)
    return site_tables(site, source, scenes, start=dt.date(2023, 1, 1), end=END, run_id="t",
                       chunks=None)


def test_a_single_scene_baseline_is_said_and_flagged():
    site, first = _site(0)
    tables = _tables(site)
    print(tables.warnings, tables.change[["period", "extent_ha", "assessable_fraction"]])
    (line,) = tables.warnings
    assert "no intertidal context" in line and site.id in line and "1 scene(s)" in line
    assert "did not see the coast's water come and go" in line  # no tide seen, not no coast
    assert str(first) in line and "\n" not in line
    assert tables.evidence["warnings"] == [line]
    assert len(tables.change) == 3
    assert (tables.change["extent_ha"] == 0).all()  # what the rule can say without a tide ...
    assert (tables.change["assessable_fraction"] == 0).all()  # ... and that it is no measure
    for col in ("extent_ci_high_ha", "gain_ci_high_ha", "loss_ci_high_ha"):
        # the interval spans the site (its polygon's area, rasterised), not a certain 0
        assert (abs(tables.change[col] - site.area_ha) <= 0.02 * site.area_ha).all(), (
            col, tables.change[col].tolist(), site.area_ha)


def test_a_baseline_with_a_tide_says_nothing():
    site, _ = _site(58)  # two months of the demo's 5-day revisit
    tables = _tables(site)
    assert tables.warnings == ()
    assert "warnings" not in tables.evidence
    assert (tables.change["extent_ha"] > 50).all()
    assert (tables.change["assessable_fraction"] > 0.5).all()


def test_the_run_logs_one_line_and_records_it(tmp_path, caplog):
    from flows.config import RunConfig
    from flows.nightly import run_nightly

    site, _ = _site(0)
    feature = json.loads(SITES.read_text())["features"][0]
    feature["properties"].update(baseline_start=site.baseline_start.isoformat(),
                                 baseline_end=site.baseline_end.isoformat())
    feature["properties"].pop("reference_site", None)
    sites = tmp_path / "sites.geojson"
    sites.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    config = RunConfig(sites=sites, source="demo", start=dt.date(2023, 1, 1), end=END,
                       out=tmp_path / "out")
    with caplog.at_level(logging.WARNING):
        record = run_nightly(config)
    lines = [r.getMessage() for r in caplog.records
             if r.levelno == logging.WARNING and "no intertidal context" in r.getMessage()]
    assert len(lines) == 1, caplog.text
    entry = record["sites"][site.id]
    assert entry["status"] == "processed" and entry["warnings"] == lines
    (path,) = (tmp_path / "out" / "runs").glob("*.json")
    assert json.loads(path.read_text())["sites"][site.id]["warnings"] == lines
    import pandas as pd

    change = pd.read_parquet(tmp_path / "out" / "change")
    assert (change["assessable_fraction"] == 0).all()


def test_the_headline_names_the_sites_with_a_warning():
    from flows.results.runs import RunRecord

    record = RunRecord("r", "2026-01-01T00:00:00+00:00", {},
                       sites={"a": {"status": "processed", "warnings": ["site 'a': ..."]},
                              "b": {"status": "processed"}})
    assert record.site_warnings == {"a": ["site 'a': ..."]}
    assert record.headline.endswith("; 1 with a warning in the run record: a")



def _context_line(change_green=None, *, unseen=None, polygon=None):
    """The context warning of the demo's Selangor baseline with its green band changed by
    ``change_green(green, nir, time_index)`` (uint16 numpy arrays, time first), the pixels
    ``unseen(green, nir)`` flagged cloud shadow (SCL 3) in every scene, and the site's
    polygon replaced by ``polygon(context)`` (a boolean grid)."""
    import dask
    import xarray as xr

    from aoi import site_grid, site_mask
    from flows.site.notices import context_warning
    from indices.evidence import baseline_composite, site_evidence

    site = [s for s in load_sites() if s.id == "selangor-kuala-selangor"][0]
    source = DemoSource()
    scenes = source.search(site, site.baseline_start, site.baseline_end)
    cube = source.load(site, scenes).compute()
    green, nir = cube["B03"].values, cube["B08"].values
    if unseen is not None:
        cube["SCL"] = (cube["SCL"].dims, np.where(unseen(green, nir), np.uint8(3),
                                                  cube["SCL"].values))
    if change_green is not None:
        green = change_green(green, nir, np.arange(cube.sizes["time"])[:, None, None])
        cube["B03"] = (cube["B03"].dims, green.astype(np.uint16))
    grid = site_grid(site)
    base = baseline_composite(cube, "mangrove", (site.baseline_start, site.baseline_end))
    evidence = site_evidence(base, "mangrove")
    evidence = evidence.with_arrays(dask.compute(*evidence.arrays))
    inside = (site_mask(site, grid) if polygon is None
              else polygon(np.asarray(evidence.context)))
    mask = xr.DataArray(inside, dims=("y", "x"))
    return site, context_warning(site, evidence, mask, scenes, cube)


def test_a_site_off_the_coast_is_told_from_a_short_baseline():
    """Review item M5: a year of clear views that never saw water (green below NIR in every
    view: an inland site, or a polygon in the wrong place) is "no coast", not "lengthen the
    baseline"."""
    site, line = _context_line(lambda green, nir, t: np.minimum(green, nir // 2))
    assert line is not None and site.id in line and "\n" not in line
    assert "saw no water anywhere" in line and "polygon lies on the coast" in line, line
    assert "lengthen the baseline" not in line


def test_water_that_comes_and_goes_inland_is_no_sea():
    """Only a 30 x 30 px pond that floods every other scene (a paddy): a tide-like flip, but
    no sea or wide channel to join."""
    def pond(green, nir, t):
        out = np.minimum(green, nir // 2)
        flooded = np.broadcast_to(t % 2 == 0, out.shape).copy()
        flooded[:, :100, :] = flooded[:, 130:, :] = False
        flooded[:, :, :100] = flooded[:, :, 130:] = False
        return np.where(flooded, nir * 2 + 500, out)

    site, line = _context_line(pond)
    assert line is not None and "joins a sea or a wide channel" in line, line


def test_a_polygon_beyond_the_coasts_reach_is_told_apart():
    """The review's case: the coast's context lies on the site's grid, the polygon only where
    it does not reach (ponds to replant far inland): not "no sea", not "no tide"."""
    site, line = _context_line(polygon=lambda context: context == 0)
    assert line is not None and "none of it inside the site's polygon" in line, line
    assert "1500 m" in line and "lengthen the baseline" not in line


def test_water_never_seen_clear_is_too_few_views_not_no_coast():
    """The review's case: the water (green above NIR) flagged cloud shadow in every scene, as
    Sen2Cor does with dark water: what is left never saw water, but most of the grid (the
    water) was never seen clear: too few views, not "check that the polygon lies on the
    coast"."""
    site, line = _context_line(unseen=lambda green, nir: green.astype(np.int32) > nir)
    assert line is not None and "did not see the coast's water come and go" in line, line
    assert "polygon lies on the coast" not in line
