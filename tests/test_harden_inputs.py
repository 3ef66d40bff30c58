"""Hardening (issue 20), what a run is given: inputs that would hang or never end (class 1),
user mistakes that gave tracebacks (class 4), settings that failed late (class 9) and sites
across the antimeridian (class 11). Each refused in one line with the documented exit code,
within seconds, writing nothing; each test failed on the code before the fix (see
docs/reliability.md for the numbers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from hostile import (
    PLAIN,
    Drip,
    copy_world,
    free_port,
    items,
    one_line_error,
    run_cli,
    run_record,
    stac_run,
)

from aoi import SitesError, parse_sites, site_grid, site_mask
from flows.sources import SourceError

REPO = Path(__file__).resolve().parents[1]


def _nothing_written(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir()), sorted(out.rglob("*"))


# --------------------------------------------------------------------------- class 1
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "fifo-in-folder", "huge"])
def test_a_catalog_that_would_hang_or_never_end_is_refused_unread(kind, tiny_catalog,
                                                                   tmp_path, capfd):
    world = tiny_catalog
    if kind == "fifo":
        catalog = tmp_path / "catalog.json"
        os.mkfifo(catalog)
    elif kind == "dev-zero":
        catalog = Path("/dev/zero")
    elif kind == "fifo-in-folder":
        (tmp_path / "cat").mkdir()
        os.mkfifo(tmp_path / "cat" / "catalog.json")
        catalog = tmp_path / "cat"
    else:
        catalog = tmp_path / "catalog.json"
        with open(catalog, "wb") as fh:  # sparse: 100 MB never read
            fh.truncate(100 * 2**20)
    out = tmp_path / "out"
    code, said, seconds = run_cli(stac_run(world, out, catalog=str(catalog)), PLAIN,
                                  capfd, timeout=60)
    assert code == 2, said
    line = one_line_error(said)
    assert any(w in line for w in ("regular file", "refused", "holds no catalog.json")), line
    assert seconds < 30
    _nothing_written(out)


def test_an_asset_that_is_a_fifo_fails_its_scene_not_the_run(tiny_catalog, tmp_path, capfd):
    world = copy_world(tiny_catalog, tmp_path)
    item = items(world)[0]  # the first tile of its day's mosaic: always read
    fifo = tmp_path / "B04.fifo"
    os.mkfifo(fifo)
    doc = json.loads(item.read_text())
    key = "red" if "red" in doc["assets"] else "B04"
    doc["assets"][key]["href"] = str(fifo)
    item.write_text(json.dumps(doc))
    out = tmp_path / "out"
    code, said, seconds = run_cli(stac_run(world, out), PLAIN, capfd, timeout=240)
    assert code == 3, said[-3000:]
    assert "Traceback" not in said
    record = run_record(out)
    (site,) = record["sites"].values()
    reasons = set(site["failed_scenes"].values())
    assert reasons == {"unusable asset: not a regular file"}, site


def test_a_server_dripping_its_answer_is_given_up_at_the_deadline(tmp_path):
    """A byte a second: each socket read returns in time, the answer never does."""
    from flows.sources._io import deadline_session
    from flows.sources.stac import StacSource

    drip = Drip(body=b'{"type": "Catalog", "id": "x", "links": []}' * 10, interval=0.5)
    try:
        t0 = time.monotonic()
        with pytest.raises(SourceError, match=r"no complete answer within 2 s") as exc:
            StacSource(f"{drip.url}/catalog.json", timeout=2).search(
                _site(), *_dates())
        assert time.monotonic() - t0 < 6 and exc.value.retryable
        t0 = time.monotonic()
        with pytest.raises(requests.exceptions.Timeout):  # pystac-client and sentinelhub-py
            deadline_session(deadline=2).get(f"{drip.url}/search")
        assert time.monotonic() - t0 < 6
    finally:
        drip.close()


@pytest.mark.parametrize("silent", [False, True])
def test_a_raster_server_that_drips_or_says_nothing_fails_the_read_in_bounded_time(
        silent, monkeypatch):
    """Every read has GDAL's low-speed limit on by default (a drip is given up after
    ``GDAL_HTTP_LOW_SPEED_TIME`` under ``GDAL_HTTP_LOW_SPEED_LIMIT`` bytes a second), besides
    its deadline for a whole request; the time is shortened here, nothing else."""
    from flows.sources import _reader

    assert 0 < float(_reader.GDAL_ENV["GDAL_HTTP_LOW_SPEED_TIME"]) <= 60
    assert float(_reader.GDAL_ENV["GDAL_HTTP_LOW_SPEED_LIMIT"]) >= 10
    assert float(_reader.GDAL_ENV["GDAL_HTTP_TIMEOUT"]) <= 300
    monkeypatch.setitem(_reader.GDAL_ENV, "GDAL_HTTP_LOW_SPEED_TIME", 2)
    monkeypatch.setitem(_reader.GDAL_ENV, "GDAL_HTTP_RETRY_DELAY", 0.1)
    if silent:  # nothing at all arrives: the whole-request deadline, shortened
        monkeypatch.setitem(_reader.GDAL_ENV, "GDAL_HTTP_TIMEOUT", 4)
    drip = Drip(body=b"II*\x00" + b"\x00" * 4000, interval=0.5, silent=silent)
    site = _site()
    try:
        t0 = time.monotonic()
        block, status = _reader.read_block_status(((f"{drip.url}/B04.tif", 0),),
                                                  site_grid(site), "B04", (0, 0, 8, 8))
        took = time.monotonic() - t0
    finally:
        drip.close()
    assert int(status.ravel()[0]) != 0 and not block.any()
    assert took < 30, took


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
@pytest.mark.parametrize("command", ["report", "run-config"])
def test_report_sites_and_config_files_are_checked_like_run_sites(kind, command, tiny_catalog,
                                                                  tmp_path, capfd):
    path = Path("/dev/zero") if kind == "dev-zero" else tmp_path / "in.fifo"
    if kind == "fifo":
        os.mkfifo(path)
    out = tmp_path / "out"
    (out / "change").mkdir(parents=True)
    argv = (["report", "--month", "2025-01", "--out", str(out), "--sites", str(path)]
            if command == "report" else
            ["run", "--config", str(path), "--sites", str(tiny_catalog / "sites.geojson"),
             "--out", str(out)])
    code, said, seconds = run_cli(argv, PLAIN, capfd, timeout=60)
    assert code == 2 and "not a regular file" in one_line_error(said), said
    assert seconds < 20
    assert sorted(p.name for p in out.rglob("*")) == ["change"]


def test_safe_metadata_that_is_a_fifo_is_skipped_unread(tmp_path):
    from flows.sources.safe import SafeSource

    product = tmp_path / "S2A_X.SAFE"
    product.mkdir()
    os.mkfifo(product / "MTD_MSIL2A.xml")
    with pytest.raises(SourceError, match="not a regular file"):
        SafeSource(tmp_path).search(_site(), *_dates())


# --------------------------------------------------------------------------- class 4
BAD_TOML = {"run not a table": ('run = "x"', "must be a table"),
            "seed inf": ("[run]\nseed = inf", "wrong type"),
            "seed nan": ("[run]\nseed = nan", "wrong type"),
            "chunks inf": ("[run]\nchunks = inf", "wrong type"),
            "chunks -inf": ("[run]\nchunks = -inf", "wrong type")}


@pytest.mark.parametrize("case", sorted(BAD_TOML))
def test_config_mistakes_are_one_line_not_a_traceback(case, tiny_catalog, tmp_path, capfd):
    text, message = BAD_TOML[case]
    config = tmp_path / "run.toml"
    config.write_text(text + "\n")
    out = tmp_path / "out"
    code, said, _ = run_cli(["run", "--config", str(config), "--sites",
                             str(tiny_catalog / "sites.geojson"), "--out", str(out)],
                            PLAIN, capfd, timeout=60)
    assert code == 2 and message in one_line_error(said), said
    _nothing_written(out)


@pytest.mark.parametrize("month", ["0000-01", "0000-12"])
def test_report_of_year_zero_is_one_line(month, tmp_path, capfd):
    out = tmp_path / "out"
    (out / "change").mkdir(parents=True)
    code, said, _ = run_cli(["report", "--month", month, "--out", str(out)], PLAIN, capfd,
                            timeout=60)
    assert code == 2 and "--month must be YYYY-MM" in one_line_error(said), said


@pytest.mark.parametrize("name", ["runs", "change", "maps", "reports"])
def test_a_file_where_a_results_folder_goes_is_refused_before_any_work(name, tiny_catalog,
                                                                       tmp_path, capfd):
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text("in the way")
    code, said, seconds = run_cli(stac_run(tiny_catalog, out), PLAIN, capfd, timeout=60)
    assert code == 2 and "is not a folder" in one_line_error(said), said
    assert sorted(p.name for p in out.iterdir()) == [name] and seconds < 20


_FULL_DISK_CHILD = r"""
import resource, signal, sys
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
from flows.config import RunConfig
from flows.results import StoreError, RunRecord, write_run_record
import datetime as dt
out = Path(sys.argv[1])
record = RunRecord.start("full-disk", RunConfig(out=out), dt.date(2025, 1, 31))
record.errors = ["x" * 5000]
(out / "runs").mkdir(parents=True)
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
try:
    write_run_record(out, record)
except StoreError as exc:
    print("StoreError:", exc)
"""


def test_a_run_record_that_cannot_be_written_is_one_line_and_leaves_no_temp_file(tmp_path):
    """A full disk (here: a file size limit, the same write error) while the run record is
    written: one line, nothing half-written, no temp file left."""
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", _FULL_DISK_CHILD, str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.startswith("StoreError: ") and "cannot write the run record" in \
        proc.stdout, proc.stdout + proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert list((out / "runs").iterdir()) == []


# --------------------------------------------------------------------------- class 9
def test_an_unreachable_dask_scheduler_is_refused_before_any_work(tiny_catalog, tmp_path, capfd):
    out = tmp_path / "out"
    argv = stac_run(tiny_catalog, out, "--dask-address", f"tcp://127.0.0.1:{free_port()}")
    code, said, seconds = run_cli(argv, PLAIN, capfd, timeout=60)
    assert code == 2, said
    assert "cannot reach the dask scheduler" in one_line_error(said)
    assert seconds < 10, seconds
    _nothing_written(out)


@pytest.mark.parametrize("name, value", [("BLUECARBON_MEMORY_GB", "garbage"),
                                         ("BLUECARBON_MEMORY_GB", "-1"),
                                         ("BLUECARBON_HTTP_TIMEOUT", "soon"),
                                         ("GDAL_HTTP_MAX_RETRY", "many")])
def test_bad_settings_in_the_environment_are_refused_before_any_work(name, value, tiny_catalog,
                                                                     tmp_path, capfd,
                                                                     monkeypatch):
    monkeypatch.setenv(name, value)
    out = tmp_path / "out"
    code, said, seconds = run_cli(stac_run(tiny_catalog, out), PLAIN, capfd, timeout=60)
    assert code == 2 and name in one_line_error(said), said
    _nothing_written(out)


def test_a_start_in_the_future_is_refused_not_reported_as_all_stored(tiny_catalog, tmp_path, capfd):
    out = tmp_path / "out"
    code, said, _ = run_cli(["run", "--sites", str(tiny_catalog / "sites.geojson"), "--out",
                             str(out), "--start", "2999-01-01"], PLAIN, capfd, timeout=60)
    assert code == 2 and "is in the future" in one_line_error(said), said
    _nothing_written(out)


# --------------------------------------------------------------------------- class 11
def _antimeridian_doc(geometry: dict) -> dict:
    return {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": geometry,
        "properties": {"id": "fiji-across-180", "name": "Across 180", "habitat": "mangrove",
                       "baseline_start": "2025-01-01", "baseline_end": "2025-01-15"}}]}


_SPLIT = {"type": "MultiPolygon", "coordinates": [
    [[[179.996, -16.702], [180.0, -16.702], [180.0, -16.697], [179.996, -16.697],
      [179.996, -16.702]]],
    [[[-180.0, -16.702], [-179.996, -16.702], [-179.996, -16.697], [-180.0, -16.697],
      [-180.0, -16.702]]]]}


def test_a_site_split_at_the_antimeridian_gets_the_zone_of_where_it_is():
    (site,) = parse_sites(_antimeridian_doc(_SPLIT))
    lon, lat = site.centroid_lonlat
    assert abs(abs(lon) - 180) < 0.01 and lat == pytest.approx(-16.6995)
    grid = site_grid(site)
    assert grid.epsg in (32701, 32760)  # UTM 1 S or 60 S, not 31 S (longitude 0)
    assert grid.width * grid.res < 2_000 and grid.height * grid.res < 2_000
    mask_ha = site_mask(site, grid).sum() * grid.pixel_area_ha
    assert mask_ha == pytest.approx(site.area_ha, rel=0.05)


def test_a_ring_across_the_antimeridian_is_refused_clearly():
    ring = [[179.996, -16.702], [-179.996, -16.702], [-179.996, -16.697],
            [179.996, -16.697], [179.996, -16.702]]
    with pytest.raises(SitesError, match="crosses the antimeridian.*split it at 180"):
        parse_sites(_antimeridian_doc({"type": "Polygon", "coordinates": [ring]}))


def test_a_run_over_a_site_across_the_antimeridian_completes(tmp_path, capfd):
    sites = tmp_path / "fiji.geojson"
    sites.write_text(json.dumps(_antimeridian_doc(_SPLIT)))
    out = tmp_path / "out"
    code, said, _ = run_cli(["run", "--sites", str(sites), "--out", str(out), "--end",
                             "2025-03-31"], PLAIN, capfd, timeout=300)
    assert code == 0, said[-3000:]
    from flows.results import store

    change = store.read_table(out, "change")
    (site,) = parse_sites(_antimeridian_doc(_SPLIT))
    assert len(change) >= 2 and (change["extent_ha"] <= site.area_ha * 1.05).all()
    import rasterio

    (first, *_) = sorted((out / "maps" / site.id).glob("*_class.tif"))
    with rasterio.open(first) as src:  # the maps are on the site's own grid
        assert src.crs.to_epsg() in (32701, 32760) and src.width * src.res[0] < 2_000


# --------------------------------------------------------------------------- helpers
def _site():
    from strategies import coastal_sites

    (site,) = parse_sites(coastal_sites(1, seed=3, baseline=("2025-01-01", "2025-01-15")))
    return site


def _dates():
    import datetime as dt

    return dt.date(2025, 1, 1), dt.date(2025, 2, 10)
