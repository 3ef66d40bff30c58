"""Faults from sources: each broken scene is recorded with its reason, everything else completes,
and the exit code tells the scheduler what happened.

A STAC catalog of demo COGs is served on 127.0.0.1 by a server that misbehaves on chosen assets:
a 404, a corrupt TIFF body (its tiles' bytes garbled), a connection that closes half-way through
the body, a persistent 503 and persistent connection resets (beyond GDAL's retries), and
transient 429 (with ``Retry-After``), 500 and resets that the retries absorb. One site is
entirely cloudy, one lies where the catalog has nothing, and the cloudy one cannot be written
(a file where its partition goes). ``bluecarbon run --source stac`` then must exit 1 ("some
sites failed") with a run record that names the failed site and each broken scene, and why;
the next run (server healthy again, the obstacle gone) fetches exactly those scenes and that
site, exits 0, and leaves the tables an uninterrupted healthy run would have. (Exit 3, scenes
lost but no site failed, is the Sentinel Hub run of tests/test_secrets.py.)

Sentinel Hub faults through the command line are in tests/test_secrets.py (its run has them).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import rasterio
import shapely
from strategies import coastal_sites
from test_crash_safety import (
    assert_same_state,
    cli_env,
    prefect_template,
    snapshot,
    temp_files,
)

from aoi import load_sites
from flows.site import load_range, plan_site, site_tables
from flows.sources import FETCH_BROKEN, SourceError, failed_scenes
from flows.sources.demo import DemoSource
from flows.sources.stac import StacSource

REPO = Path(__file__).resolve().parents[1]
BASELINE = ("2025-01-01", "2025-01-15")
START, END = dt.date(2025, 1, 16), dt.date(2025, 3, 31)
BROKEN = "connection broken or response undecodable"
_FRESH = re.compile(r"^/fresh-\d+/")


# --------------------------------------------------------------------------- the server
class FaultyServer:
    """Static files with Range support (the catalog), answering chosen paths badly.

    ``faults[path] = (kind, times)``: ``kind`` one of ``404 429 500 503 reset truncate corrupt``;
    ``times`` how many requests of that path get it (None: all). 429s carry
    ``Retry-After: 1``. ``corrupt`` serves the file with the second half of its bytes garbled.

    The catalog is also served under ``/fresh-<n>/`` prefixes (:meth:`fresh_url`): the same
    files and faults at URLs this process has never read, so that GDAL's caches of earlier
    reads (its /vsicurl/ cache is process-wide; the reader keeps open handles in the dask
    threads) cannot answer a test's reads instead of the faulty server.
    """

    def __init__(self, root: Path) -> None:
        from stac_fixtures import Served, _byte_range, _Handler, start_server

        self.root = root
        self.faults: dict[str, tuple[str, int | None]] = {}
        self.hits: dict[str, int] = {}
        self.answered: list[tuple[str, str]] = []
        self._fresh = 0
        lock = threading.Lock()
        outer = self

        class Handler(_Handler):
            served = Served(url="")

            def translate_path(self, path: str) -> str:
                return super().translate_path(_FRESH.sub("/", path, count=1))

            def do_GET(self) -> None:  # noqa: N802
                path = _FRESH.sub("/", self.path.split("?")[0], count=1)
                with lock:
                    n = outer.hits[path] = outer.hits.get(path, 0) + 1
                    kind, times = outer.faults.get(path, (None, None))
                    if kind and times is not None and n > times:
                        kind = None
                    if kind:
                        outer.answered.append((path, kind))
                if kind is None:
                    return super().do_GET()
                if kind in ("404", "429", "500", "503"):
                    self.send_response(int(kind))
                    if kind == "429":
                        self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif kind == "reset":  # RST instead of an answer
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                elif kind in ("truncate", "corrupt"):
                    data = (outer.root / path.lstrip("/")).read_bytes()
                    if kind == "corrupt":
                        garbled = bytearray(data)
                        for i in range(len(data) // 2, len(data), 5):
                            garbled[i] ^= 0xA5
                        data = bytes(garbled)
                    start, stop = 0, len(data)
                    ranged = _byte_range(self.headers.get("Range"), len(data))
                    if isinstance(ranged, tuple):
                        start, stop = ranged
                        self.send_response(206)
                        self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
                    else:
                        self.send_response(200)
                    self.send_header("Content-Length", str(stop - start))
                    self.end_headers()
                    body = data[start:stop]  # truncate: the connection drops half-way
                    self.wfile.write(body[: len(body) // 2] if kind == "truncate" else body)
                    self.close_connection = True

        self.httpd, _, self.url = start_server(root, Handler)

    def path_of(self, href: str) -> str:
        assert href.startswith(self.url), href
        return _FRESH.sub("/", href[len(self.url):], count=1)

    def fresh_url(self) -> str:
        """The catalog's URL under a prefix never used before in this process."""
        self._fresh += 1
        return f"{self.url}/fresh-{self._fresh}/catalog.json"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _sites_doc() -> dict:
    near = coastal_sites(4, seed=3, prefix="fault", baseline=BASELINE, lon0=99.5,
                         one_zone_each=True)
    far = coastal_sites(1, seed=4, prefix="nowhere", baseline=BASELINE, lon0=123.5, lat0=-5.0)
    near["features"] += far["features"]
    return near


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Sites file, the catalog (site fault-0003 rewritten fully cloudy; nowhere-0000 left out)
    and its server."""
    from stac_fixtures import build_demo_catalog

    folder = tmp_path_factory.mktemp("faults")
    sites_path = folder / "sites.geojson"
    sites_path.write_text(json.dumps(_sites_doc()))
    sites = load_sites(sites_path)
    root = folder / "stac"
    catalog = build_demo_catalog(root, sites[:4], dt.date(2025, 1, 1), END, DemoSource(0))
    cloudy = sites[3]
    n_cloudy = 0
    for item in catalog.items:
        if not shapely.geometry.shape(item["geometry"]).intersects(cloudy.geometry):
            continue
        key = "scl" if "scl" in item["assets"] else "SCL"
        path = root / "sentinel-2-l2a" / item["id"] / item["assets"][key]["href"].removeprefix(
            "./")
        with rasterio.open(path) as src:
            scl, profile = src.read(1), src.profile
        scl[scl != 0] = 9  # cloud, high probability, wherever the tile has data
        path.unlink()
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(scl, 1)
        n_cloudy += 1
    assert n_cloudy >= 8
    server = FaultyServer(root)
    yield {"sites_path": sites_path, "sites": sites, "server": server, "root": root}
    server.close()


def _scenes(world, site_index: int, source: StacSource | None = None):
    source = source or StacSource(f"{world['server'].url}/catalog.json")
    site = world["sites"][site_index]
    return [s for s in source.search(site, *load_range(site, START, END))]


def _reported(scenes):
    return [s for s in scenes if s.datetime.date() >= START]


def _href(scene, band: str, tile: int = 0) -> str:
    return scene.properties["assets"][band][tile][0]


def _run(world, tmp_path, template, home: str, out: Path) -> tuple[subprocess.CompletedProcess,
                                                                     dict]:
    before = set((out / "runs").glob("*.json")) if (out / "runs").is_dir() else set()
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--sites", str(world["sites_path"]),
         "--source", "stac", "--catalog", f"{world['server'].url}/catalog.json",
         "--start", START.isoformat(), "--end", END.isoformat(), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        # GDAL's backoff from 0.2 s instead of 1 s: the same retries, ~15 s less waiting on
        # the persistent faults (GDAL 3.10 backs off on its own clock, not on Retry-After)
        env=cli_env(template, tmp_path / home, GDAL_HTTP_RETRY_DELAY="0.2"))
    print(f"\n{home}: exit {proc.returncode} in {time.monotonic() - t0:.1f} s")
    # Prefect's queued logs are sent before its temporary API stops (else each batch is
    # retried against a dead server: ~75 s of lingering after a run with warnings)
    assert "Error logging to API" not in proc.stderr, proc.stderr[-2000:]
    (new,) = set((out / "runs").glob("*.json")) - before
    return proc, json.loads(new.read_text())


# --------------------------------------------------------------------------- the tests
@pytest.mark.slow
def test_broken_scenes_are_recorded_others_complete_and_the_rerun_heals(world, tmp_path,
                                                                         tmp_path_factory):
    server = world["server"]
    s0, s1, s2 = (_reported(_scenes(world, i)) for i in range(3))
    expected_failed = {
        "fault-0000": {s0[2].scene_id: "HTTP 404", s0[4].scene_id: BROKEN},
        "fault-0001": {s1[3].scene_id: BROKEN},
        "fault-0002": {s2[5].scene_id: "HTTP 503", s2[1].scene_id: BROKEN},
    }
    server.faults = {
        server.path_of(_href(s0[2], "B04")): ("404", None),
        server.path_of(_href(s0[4], "B08")): ("corrupt", None),
        server.path_of(_href(s1[3], "B04")): ("truncate", None),
        server.path_of(_href(s2[5], "B11")): ("503", None),  # beyond GDAL's retries
        server.path_of(_href(s2[1], "B12")): ("reset", None),
    }
    transient = {}  # the retries absorb these: no scene lost
    for scene in s1:
        transient[server.path_of(_href(scene, "B02"))] = ("429", 1)
    for scene in s2[6:]:
        transient[server.path_of(_href(scene, "B03"))] = ("500", 2)
        transient[server.path_of(_href(scene, "B08"))] = ("reset", 1)
    server.faults.update(transient)

    template = prefect_template(tmp_path_factory)
    out = tmp_path / "results"
    # and one site cannot be written at all (a file where its change partition goes): that
    # site fails, the others are written, and the exit code says "sites failed" (1)
    blocker = out / "change" / "site_id=fault-0003"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("in the way")
    proc, record = _run(world, tmp_path, template, "home-1", out)
    answered = {path for path, _ in server.answered}
    assert set(server.faults) <= answered, "every fault must have been served"
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert record["status"] == "failed"
    sites = record["sites"]
    for site_id, failed in expected_failed.items():
        assert sites[site_id]["status"] == "processed", sites[site_id]
        assert sites[site_id]["failed_scenes"] == failed, (site_id, sites[site_id])
    assert sites["fault-0003"]["status"] == "failed"
    assert "StoreError" in sites["fault-0003"]["reason"], sites["fault-0003"]
    skipped = {"status": "skipped", "scenes_found": 0, "scenes_new": 0,
               "reason": "no scenes found for the site and dates"}
    nowhere = sites["nowhere-0000"]
    assert {k: nowhere.get(k) for k in skipped} == skipped, nowhere
    assert set(nowhere) - set(skipped) <= {"rule_id", "carbon"}, nowhere  # its rule, factors
    said = " ".join((proc.stdout + proc.stderr).split())  # the console wraps long lines
    assert "1 failed; 5 scenes could not be fetched: fault-0003 (StoreError" in said, said[-2000:]

    from flows.results import store

    blocker.unlink()
    obs = store.read_table(out, "observations")
    assert "fault-0003" not in set(obs["site_id"])  # nothing partial of the failed site
    for site_id, failed in expected_failed.items():
        mine = obs[obs["site_id"] == site_id]
        assert not set(failed) & set(mine["scene_id"]), "a failed scene got an observation row"
        n_reported = len(_reported(_scenes(world, int(site_id[-1]))))
        assert len(mine) == n_reported - len(failed)

    # the server heals; the next run fetches exactly the scenes that failed, and the site
    # that failed
    server.faults = {}
    proc2, record2 = _run(world, tmp_path, template, "home-2", out)
    assert proc2.returncode == 0, proc2.stderr[-3000:]
    assert record2["status"] == "completed"
    for site_id, failed in expected_failed.items():
        assert record2["sites"][site_id]["scenes_new"] == len(failed)
        assert record2["sites"][site_id]["failed_scenes"] == {}
    assert record2["sites"]["fault-0003"]["status"] == "processed"
    assert record2["sites"]["nowhere-0000"]["status"] == "skipped"

    # the cloudy site: every scene kept, none of it seen; its months say so
    obs = store.read_table(out, "observations")
    cloudy = obs[obs["site_id"] == "fault-0003"]
    assert len(cloudy) == len(_reported(_scenes(world, 3))) > 5
    assert (cloudy["valid_fraction"] == 0).all()
    assert (cloudy["cloud_fraction"] > 0.5).all()  # the rest: swath-edge nodata, not cloud
    assert (cloudy["cloud_fraction"] == 1).sum() > len(cloudy) / 2
    change = store.read_table(out, "change")
    cloudy_months = change[change["site_id"] == "fault-0003"]
    assert len(cloudy_months) == 3
    assert (cloudy_months["valid_fraction"] == 0).all()
    assert (cloudy_months["n_observations"] == 0).all()
    assert "nowhere-0000" not in set(obs["site_id"]) | set(change["site_id"])

    # ... and the tables are those of a healthy run (the flow's steps in this process)
    from flows.monitor import write_results

    reference = tmp_path / "reference"
    source = StacSource(server.fresh_url())
    for site in world["sites"][:3]:  # the sites that had faults
        scenes = source.search(site, *load_range(site, START, END))
        plan = plan_site(scenes, store.read_table(reference, "observations", site.id),
                         report_from=START)
        if plan.up_to_date:
            continue
        tables = site_tables(site, source, scenes, start=START, end=END, run_id="ref",
                             plan=plan, products=True)
        assert tables.failed_scenes == {}
        write_results.fn(reference, tables, site, plan.since)
    healed = {k: v for k, v in snapshot(out).items() if k[1] in expected_failed}
    assert_same_state(healed, snapshot(reference), "healed run vs healthy run")
    assert temp_files(out) == []


# -- the reader, unit by unit (fast) ----------------------------------------------------------
def test_each_fault_maps_to_its_status_and_one_log_line(world, caplog, monkeypatch):
    """One scene of a site per fault kind, computed in this process: ``fetch_status`` and the
    reason ``failed_scenes`` gives, the other scenes untouched."""
    from flows.sources import _reader

    monkeypatch.setitem(_reader.GDAL_ENV, "GDAL_HTTP_RETRY_DELAY", "0.2")  # same retries, faster
    server = world["server"]
    site = world["sites"][0]
    source = StacSource(server.fresh_url())
    scenes = _reported(_scenes(world, 0, source))[:7]
    kinds = {1: ("404", "HTTP 404"), 2: ("corrupt", BROKEN), 3: ("truncate", BROKEN),
             4: ("429", None),  # 429 once, 500 twice: absorbed by GDAL's retries
             5: ("500", None), 6: ("429", "HTTP 429")}  # 429 beyond the retries: lost
    times = {4: 1, 5: 2, 6: None}
    server.faults = {server.path_of(_href(scenes[i], "B04")): (kind, times.get(i))
                     for i, (kind, _) in kinds.items()}
    try:
        with caplog.at_level("WARNING", logger="flows.sources._reader"):
            cube = source.load(site, scenes).compute()
    finally:
        server.faults = {}
    reasons = failed_scenes(cube["scene_id"].values, cube["fetch_status"].values)
    assert reasons == {scenes[i].scene_id: want for i, (_, want) in kinds.items() if want}
    assert cube["fetch_status"].values.tolist() == [0, 404, FETCH_BROKEN, FETCH_BROKEN, 0, 0,
                                                    429]
    for i in range(len(scenes)):
        b04 = cube["B04"].values[i]
        assert b04.any() == (kinds.get(i, (None, None))[1] is None), i  # failed: nodata
        assert cube["B08"].values[i].any(), i  # other bands of a failed scene still read
    lines = [r.getMessage() for r in caplog.records if "left as nodata" in r.getMessage()]
    assert len(lines) == 4 and all("\n" not in line for line in lines)
    assert any("HTTP 404" in line for line in lines)
    assert any("HTTP 429" in line for line in lines)
    assert any("Data corruption" in line or "ZSTD" in line for line in lines), lines


def test_fetch_status_rides_with_the_pixels_it_describes(world):
    """The status is computed from the same read tasks as the pixels (no second read), and a
    cube without failures says 0 everywhere."""
    server = world["server"]
    site = world["sites"][1]
    source = StacSource(server.fresh_url())
    scenes = _reported(_scenes(world, 1, source))[:3]
    cube = source.load(site, scenes, chunks=64)
    before = dict(server.hits)
    import dask

    bands, status = dask.compute(cube[["B02", "B03", "B04", "B08", "B11", "B12", "SCL"]],
                                 cube["fetch_status"])
    assert status.values.tolist() == [0, 0, 0]
    reads = {p: n - before.get(p, 0) for p, n in server.hits.items() if n != before.get(p, 0)}
    assert reads and all(p.endswith(".tif") for p in reads)


def test_an_empty_catalog_finds_nothing_and_says_so(tmp_path, world):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "catalog.json").write_text(json.dumps({
        "type": "Catalog", "stac_version": "1.0.0", "id": "empty", "description": "no items",
        "links": [{"rel": "root", "href": "./catalog.json", "type": "application/json"}]}))
    source = StacSource(empty)
    site = world["sites"][0]
    scenes = source.search(site, *load_range(site, START, END))
    assert scenes == []
    tables = site_tables(site, source, scenes, start=START, end=END, run_id="t")
    assert tables.n_scenes == 0 and tables.observations.empty and tables.failed_scenes == {}


def test_unreachable_catalog_fails_the_site_in_one_line(world):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = StacSource(f"http://127.0.0.1:{port}/catalog.json")
    with pytest.raises(SourceError) as exc:
        source.search(world["sites"][0], START, END)
    assert str(exc.value).splitlines() == [str(exc.value)]
    assert "connection refused" in str(exc.value)


def test_whole_site_unreadable_is_every_scene_failed_not_a_crash(world):
    """Every asset of a site 404 (a bucket gone): the site completes with every scene failed
    and no observation row, rather than the run dying."""
    server = world["server"]
    site = world["sites"][2]
    source = StacSource(server.fresh_url())
    scenes = _scenes(world, 2, source)
    server.faults = {server.path_of(h): ("404", None)
                     for s in scenes for band in ("B04", "SCL")
                     for h, _ in s.properties["assets"][band]}
    try:
        tables = site_tables(site, source, scenes,
                             start=START, end=END, run_id="t")
    finally:
        server.faults = {}
    assert tables.failed_scenes == {s.scene_id: "HTTP 404" for s in scenes}
    assert tables.observations.empty
    assert len(tables.change) == 3
    assert (tables.change["n_observations"] == 0).all()
    assert (tables.change["valid_fraction"].fillna(0) == 0).all()


@pytest.mark.parametrize("message, status", [
    ("cannot read B04 from http://127.0.0.1:800/a.tif: HTTP 404", 404),
    ("cannot read B11 from http://127.0.0.1:800/b.tif: HTTP error code : 503", 503),
    ("HTTP response code: 429 - Too Many Requests", 429),
    ("HTTP response code on http://127.0.0.1:800/c.tif: 500", 500),
    ("cannot read B08 from http://127.0.0.1:800/d.tif: ZSTDDecode: Data corruption", None),
    ("TIFFFillTile:Read error at row 4294967295, col 4294967295, tile 0", None),
])
def test_the_http_status_of_a_failed_read_is_found_in_its_message(message, status):
    """Ours (:func:`flows.sources._reader._why`) and GDAL's ways of naming a status; a port or
    a number in an href is never taken for one."""
    from flows.sources._reader import _HTTP_CODE

    match = _HTTP_CODE.search(message)
    assert (int(match.group(1)) if match else None) == status
