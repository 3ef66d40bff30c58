"""Hardening (issue 20) of the scene sources, against real servers on 127.0.0.1 and real COGs:
secrets in URLs (class 3), rasters that are silently wrong (class 6), bad catalogue items and
link loops (class 7), and sources that cannot be reached (issue 21, point 2). Each test failed
on the code before the fix (docs/reliability.md has the numbers).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hostile import (
    END,
    PLAIN,
    RUN_MODES,
    START,
    api_for,
    asset_file,
    copy_world,
    free_port,
    items,
    one_line_error,
    prefect_api_home,
    run_cli,
    run_record,
    stac_run,
)
from stac_fixtures import serve

REPO = Path(__file__).resolve().parents[1]
PASSWORD, TOKEN = "pw-S3CRET-4417", "tok-T0KEN-9921"


# --------------------------------------------------------------------------- class 3
@pytest.mark.parametrize("text, secret", [
    ("http://user:pw-S3CRET@host:8080/catalog.json", "pw-S3CRET"),
    ("https://host/c.json?token=tok-1&limit=3", "tok-1"),
    ("https://acc.blob.core.windows.net/c/B04.tif?sv=2021&se=2025&sig=AbC%2Bd", "AbC%2Bd"),
    ("s3://b/k.tif?X-Amz-Credential=AKIA%2Fx&X-Amz-Signature=00ff&X-Amz-Security-Token=zz",
     "00ff"),
    ("https://h/x?access_token=eyJhbGci.x.y#frag", "eyJhbGci.x.y"),
    ("cannot read B04 from https://u:p4ss@h/x.tif?sig=s1g: HTTP 403", "p4ss"),
    ("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9", "eyJhbGciOiJSUzI1NiJ9"),
])
def test_one_redaction_hides_passwords_and_tokens(text, secret):
    from flows.sources import redact

    shown = redact(text)
    assert secret not in shown and "***" in shown
    assert redact(shown) == shown  # idempotent: redacting twice changes nothing


def _secret_texts(root: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def _encodings(secret: str) -> list[bytes]:
    return [secret.encode(), urllib.parse.quote(secret).encode(),
            base64.b64encode(secret.encode()), base64.b64encode(f"user:{secret}".encode())]


@pytest.mark.parametrize("mode", RUN_MODES)
def test_a_password_and_token_in_the_catalog_url_never_leak(mode, tiny_catalog, tmp_path, capfd,
                                                            request):
    api = api_for(mode, request)
    world = copy_world(tiny_catalog, tmp_path)
    asset_file(items(world)[0], "B04").unlink()  # a 404: an error message naming the URL
    out = tmp_path / "out"
    with serve(world / "stac") as served:
        url = served.url.replace("http://", f"http://user:{PASSWORD}@") + \
            f"/catalog.json?token={TOKEN}"
        code, said, _ = run_cli(stac_run(world, out, catalog=url), api, capfd, timeout=300)
        assert code == 3, said[-3000:]
        code2, said2, _ = run_cli(["report", "--month", "2025-02", "--out", str(out), "--sites",
                                   str(world / "sites.geojson")], api, capfd, timeout=300)
        assert code2 == 0, said2[-3000:]
    unreachable = url.replace(served.url.split("//")[1], f"127.0.0.1:{free_port()}")
    code3, said3, _ = run_cli(stac_run(world, tmp_path / "out-3", catalog=unreachable),
                              api, capfd, timeout=60)
    assert code3 == 4 and "***" in said3, said3
    assert run_record(out)["parameters"]["catalog"].startswith("http://***@127.0.0.1:")
    places = [(Path("<stdout and stderr>"), (said + said2 + said3).encode()),
              *_secret_texts(out)]
    if api is not PLAIN:
        prefect_home = Path(prefect_api_home())  # the flow runs' parameters, logs
        places += [(p, p.read_bytes()) for p in prefect_home.glob("prefect.db*")]
        assert any(p.name == "prefect.db" for p, _ in places)
    for secret in (PASSWORD, TOKEN):
        for path, data in places:
            for form in _encodings(secret):
                assert form not in data, f"{secret} leaked into {path}"
    assert len(places) > 20  # tables, maps, alerts, run record, reports were all searched


# --------------------------------------------------------------------------- class 6
def _rewrite(path: Path, make) -> None:
    """Rewrite one COG: ``make(pixels, profile) -> (pixels, profile)``."""
    with rasterio.open(path) as src:
        pixels, profile = src.read(), src.profile
    pixels, profile = make(pixels, profile)
    profile.update(count=pixels.shape[0], dtype=pixels.dtype.name, driver="GTiff")
    profile.pop("blockxsize", None), profile.pop("blockysize", None), profile.pop("tiled", None)
    path.unlink()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(pixels)


def _float_reflectance(px, prof):
    return (px.astype(np.float32) / 10000.0), {**prof, "nodata": None}


def _int32_negative(px, prof):
    return px.astype(np.int32) - 3000, {**prof, "nodata": None}


def _beyond_uint16(px, prof):
    return px.astype(np.uint32) + 70_000, {**prof, "nodata": None}


def _no_crs(px, prof):
    return px, {**prof, "crs": None}


def _wrong_crs(px, prof):
    return px, {**prof, "crs": "EPSG:32633"}  # the same numbers in another UTM zone


def _one_pixel(px, prof):
    t = prof["transform"]
    return px[:, :1, :1], {**prof, "width": 1, "height": 1, "transform": t}


def _three_bands(px, prof):
    return np.concatenate([px, px, px]), prof


def _scl_beyond_11(px, prof):
    return np.where(px > 0, 200, 0).astype(px.dtype), prof


FETCH_DTYPE, FETCH_BANDS, FETCH_GEOREF, FETCH_RANGE = 2, 3, 4, 5  # flows.sources.base
BROKEN = {"float reflectance": ("B04", _float_reflectance, FETCH_DTYPE),
          "int32 with negatives": ("B08", _int32_negative, FETCH_RANGE),
          "values beyond uint16": ("B03", _beyond_uint16, FETCH_RANGE),
          "no CRS": ("B02", _no_crs, FETCH_GEOREF),
          "wrong CRS": ("B04", _wrong_crs, FETCH_GEOREF),
          "1x1 footprint": ("B08", _one_pixel, FETCH_GEOREF),
          "three bands": ("B03", _three_bands, FETCH_BANDS),
          "SCL classes beyond 11": ("SCL", _scl_beyond_11, FETCH_RANGE)}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_silently_wrong_raster_fails_its_scene_with_the_reason(case, tiny_catalog, tmp_path):
    """Every kind, read by the real reader from a real COG: the scene's status names it."""
    from aoi import load_sites
    from flows.sources.stac import StacSource

    world = copy_world(tiny_catalog, tmp_path)
    (site,) = load_sites(world / "sites.geojson")
    source = StacSource(world / "stac" / "catalog.json")
    scenes = source.search(site, START, END)
    scene = scenes[-1]  # one tile: its raster is always read
    band, make, code = BROKEN[case]
    href = scene.properties["assets"][band][0][0]
    _rewrite(Path(href), make)
    cube = source.load(site, [scenes[-2], scene]).compute()
    assert cube["fetch_status"].values.tolist() == [0, code], case
    assert not cube[band].values[1].any()


def test_unusable_scenes_are_recorded_failed_never_observed_and_fetched_again(
        tiny_catalog, tmp_path, capfd):
    world = copy_world(tiny_catalog, tmp_path)
    from aoi import load_sites
    from flows.sources import FETCH_REASONS
    from flows.sources.stac import StacSource

    (site,) = load_sites(world / "sites.geojson")
    reported = [s for s in StacSource(world / "stac" / "catalog.json").search(site, START, END)
                if s.datetime.date() >= START]
    kinds = ["float reflectance", "int32 with negatives", "1x1 footprint"]  # one scene kept
    saved, broken = {}, {}
    for scene, kind in zip(reported, kinds, strict=False):
        band, make, code = BROKEN[kind]
        for href, _ in scene.properties["assets"][band]:  # every tile of the day
            saved[href] = Path(href).read_bytes()
            _rewrite(Path(href), make)
        broken[scene.scene_id] = FETCH_REASONS[code]
    out = tmp_path / "out"
    code, said, _ = run_cli(stac_run(world, out), PLAIN, capfd, timeout=300)
    assert code == 3 and "Traceback" not in said, said[-3000:]
    entry = run_record(out)["sites"]["tiny-0000"]
    assert entry["failed_scenes"] == broken, entry
    from flows.results import store

    stored = set(store.read_table(out, "observations")["scene_id"])
    assert not stored & set(broken) and stored  # never stored as observed; the others are
    for href, data in saved.items():  # the provider fixes its files
        Path(href).write_bytes(data)
    code, said, _ = run_cli(stac_run(world, out), PLAIN, capfd, timeout=300)
    assert code == 0, said[-3000:]
    entry = run_record(out)["sites"]["tiny-0000"]
    assert entry["scenes_new"] == len(broken) and entry["failed_scenes"] == {}


# --------------------------------------------------------------------------- class 7
def _edit(item: Path, change) -> str:
    doc = json.loads(item.read_text())
    change(doc)
    item.write_text(json.dumps(doc))  # NaN written as the NaN literal, as Python reads it
    return doc.get("id", "?")


def test_bad_items_are_skipped_and_named_and_a_link_loop_ends(tiny_catalog, tmp_path, capfd):
    world = copy_world(tiny_catalog, tmp_path)
    files = [p for p in items(world) if json.loads(p.read_text())["properties"]["datetime"]
             >= START.isoformat()]
    bad = {
        _edit(files[0], lambda d: d.update(bbox=[float("nan")] * 4, geometry={
            "type": "Polygon", "coordinates": [[[float("nan"), 1.0]] * 4]})): "footprint",
        _edit(files[1], lambda d: d["properties"].update(datetime="9999-12-31T23:59:59Z")):
            "outside Sentinel-2's record",
        _edit(files[2], lambda d: [a.get("raster:bands", [{}])[0].update(offset=float("nan"))
                                   for a in d["assets"].values() if a.get("raster:bands")]
              or d["properties"].pop("s2:processing_baseline", None)
              or d["properties"].update({"s2:product_uri": "no-baseline"})):
            "offset",
    }
    collection = world / "stac" / "sentinel-2-l2a" / "collection.json"
    doc = json.loads(collection.read_text())
    doc["links"] += [{"rel": "child", "href": "../catalog.json"},  # a loop back to the root
                     {"rel": "child", "href": "./collection.json"}]  # and to itself
    collection.write_text(json.dumps(doc))
    out = tmp_path / "out"
    code, said, seconds = run_cli(stac_run(world, out), PLAIN, capfd, timeout=300)
    assert code == 0 and "Traceback" not in said, said[-3000:]
    record = run_record(out)
    skipped = record["skipped_items"]
    assert record["skipped_item_count"] == len(skipped) >= 2, skipped
    for item_id, why in bad.items():
        if item_id in skipped:
            assert why in skipped[item_id], (item_id, skipped[item_id])
    assert {i for i in bad if i in skipped} >= set(list(bad)[:2])
    entry = record["sites"]["tiny-0000"]
    assert entry["status"] == "processed" and entry["scenes_found"] >= 5
    assert seconds < 60, seconds


@pytest.mark.parametrize("mode", RUN_MODES)
def test_a_static_catalog_is_walked_once_per_run_and_a_404_is_not_retried(
        mode, tiny_catalog, tmp_path, capfd, request):
    api = api_for(mode, request)
    world = copy_world(tiny_catalog, tmp_path)
    doc = json.loads((world / "sites.geojson").read_text())
    far = json.loads(json.dumps(doc["features"][0]))  # a second site, where nothing is
    far["properties"]["id"] = "tiny-far"
    far["geometry"]["coordinates"] = [[[x + 20.0, y] for x, y in
                                       far["geometry"]["coordinates"][0]]]
    doc["features"].append(far)
    (world / "sites.geojson").write_text(json.dumps(doc))
    out = tmp_path / "out"
    with serve(world / "stac") as served:
        code, said, _ = run_cli(stac_run(world, out, catalog=f"{served.url}/catalog.json"),
                                api, capfd, timeout=300)
        assert code == 0, said[-3000:]
        documents = [p for m, p, _ in served.requests if m == "GET" and p.endswith(".json")]
        assert documents and len(documents) == len(set(documents)), sorted(documents)
        assert run_record(out)["sites"]["tiny-far"]["status"] == "skipped"
        t0 = time.monotonic()
        n = len(served.requests)
        code, said, _ = run_cli(stac_run(world, tmp_path / "out-404",
                                         catalog=f"{served.url}/missing/catalog.json"),
                                api, capfd, timeout=300)
        took = time.monotonic() - t0
        asked = [p for _, p, _ in served.requests[n:]]
    assert code == 1 and "HTTP 404" in said, said[-3000:]
    assert asked == ["/missing/catalog.json"], asked  # once: not retried, not per site
    assert took < 30, took


# --------------------------------------------------------------------------- issue 21
def _command(*args: str, env: dict) -> tuple[int, str, float]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=env)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t0


def test_an_unreachable_source_fails_fast_once_with_its_own_exit_code(tiny_catalog, tmp_path):
    """The real command (a cron job, piped): one line naming the cause, exit 4, within 15 s,
    nothing written; for a STAC catalog and for Sentinel Hub."""
    from test_crash_safety import cli_env

    port = free_port()
    out = tmp_path / "out"
    sites = str(tiny_catalog / "sites.geojson")
    cases = {
        "stac": (["run", "--sites", sites, "--source", "stac", "--catalog",
                  f"http://127.0.0.1:{port}/catalog.json", "--out", str(out)], {}),
        "sentinelhub": (["run", "--sites", sites, "--source", "sentinelhub", "--out", str(out)],
                        {"SH_CLIENT_ID": "id", "SH_CLIENT_SECRET": "secret-never-shown",
                         "SH_BASE_URL": f"http://127.0.0.1:{port}",
                         "SH_TOKEN_URL": f"http://127.0.0.1:{port}/token"}),
    }
    for name, (args, extra) in cases.items():
        code, said, seconds = _command(*args, env=cli_env(None, **extra))
        print(f"\n{name}: exit {code} in {seconds:.1f} s: {said.strip()}")
        assert code == 4, said
        line = one_line_error(said)
        assert "connection refused" in line and f"127.0.0.1:{port}" in line, line
        assert seconds < 15, seconds
        assert not out.exists()
        assert "secret-never-shown" not in said


@pytest.mark.parametrize("mode", RUN_MODES)
def test_a_source_gone_after_the_check_stops_the_run_said_once(mode, tiny_catalog, tmp_path,
                                                               capfd, request):
    """Reachable when the command checks it, gone when the run reads it: no site is tried
    after the first meets it, the cause is said once, exit 4."""
    api = api_for(mode, request)
    world = copy_world(tiny_catalog, tmp_path)
    doc = json.loads((world / "sites.geojson").read_text())
    for k in range(1, 4):
        extra = json.loads(json.dumps(doc["features"][0]))
        extra["properties"]["id"] = f"tiny-{k:04d}"
        doc["features"].append(extra)
    (world / "sites.geojson").write_text(json.dumps(doc))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def accept_once() -> None:  # the command's check connects; then nothing listens
        conn, _ = listener.accept()
        conn.close()
        listener.close()

    threading.Thread(target=accept_once, daemon=True).start()
    out = tmp_path / "out"
    code, said, seconds = run_cli(stac_run(world, out,
                                           catalog=f"http://127.0.0.1:{port}/catalog.json"),
                                  api, capfd, timeout=120)
    assert code == 4, said[-3000:]
    record = run_record(out)
    assert "connection refused" in record["unreachable"]
    assert all(s["status"] == "failed" for s in record["sites"].values())
    ours = [ln for ln in said.splitlines() if "connection refused" in ln
            and not re.match(r"^\d\d:\d\d:\d\d\.\d+ \| ", ln)]  # not Prefect's log lines
    assert len(ours) == 1, said[-3000:]
    assert seconds < 60
