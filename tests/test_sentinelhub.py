"""The Sentinel Hub source end to end: the real sentinelhub-py client against the stand-in
server on 127.0.0.1 (tests/shub_standin.py), which serves the demo simulator's scenes.

Nothing is mocked: requests go over HTTP, tokens through oauthlib, TIFFs through tifffile.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import pickle

import numpy as np
import pytest
import requests
from sentinelhub import SentinelHubDownloadClient, SHConfig
from shub_standin import PROCESS_PATH, Fault, StandIn, request_days

from aoi import load_sites, site_grid
from flows.site import site_tables
from flows.sources import SourceError, get_source
from flows.sources.demo import DemoSource
from flows.sources.sentinelhub import (
    EVALSCRIPT,
    FETCH_BROKEN,
    SentinelHubSettings,
    SentinelHubSource,
    _tiles,
    baseline_offset,
    failed_scenes,
)

SEED = 3
SITES = {s.id: s for s in load_sites()}
SEAGRASS = SITES["mexico-puerto-morelos"]
SMALL = SITES["andalusia-cabo-de-gata-genoveses"]
MONTH = (dt.date(2023, 6, 1), dt.date(2023, 6, 30))  # two scenes with swath-edge nodata
pytestmark = pytest.mark.filterwarnings("ignore:Download rate limit hit")
FAST = {"download_sleep_time": 0.01, "max_download_attempts": 3, "max_rate_limit_retries": 4}


@pytest.fixture(scope="module")
def shub():
    with StandIn(DemoSource(seed=SEED)) as server:
        for site in SITES.values():
            server.add_site(site)
        yield server


@pytest.fixture(autouse=True)
def sh_env(shub, monkeypatch):
    """Credentials and URLs of the stand-in; http token URL allowed only inside tests."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("SH_CLIENT_ID", shub.client_id)
    monkeypatch.setenv("SH_CLIENT_SECRET", shub.client_secret)
    monkeypatch.setenv("SH_BASE_URL", shub.base_url)
    monkeypatch.setenv("SH_TOKEN_URL", shub.token_url)
    SentinelHubDownloadClient.clear_cache()  # sessions are cached process-wide
    shub.reset()
    yield
    SentinelHubDownloadClient.clear_cache()


def _source(**kwargs) -> SentinelHubSource:
    return SentinelHubSource(SentinelHubSettings.from_env(**FAST), **kwargs)


def _demo_cube(site, refs):
    return DemoSource(seed=SEED).load(site, refs).compute()


def _assert_same_pixels(cube, expected, skip=()):
    for name in ("B02", "B03", "B04", "B08", "B11", "B12", "SCL"):
        assert cube[name].dtype == expected[name].dtype
        keep = [i for i in range(cube.sizes["time"]) if i not in skip]
        np.testing.assert_array_equal(cube[name].values[keep], expected[name].values[keep],
                                      err_msg=name)


# -- search --------------------------------------------------------------------------------
def test_search_pages_through_the_catalog_with_the_cloud_filter(shub):
    refs = _source(max_cloud=40, page_size=4).search(SMALL, dt.date(2023, 4, 1),
                                                          dt.date(2023, 6, 30))
    expected = [r for r in DemoSource(seed=SEED).search(SMALL, dt.date(2023, 4, 1),
                                                         dt.date(2023, 6, 30))
                if r.cloud_cover <= 40]
    assert 4 < len(expected) < 18, "the filter should drop some scenes and need several pages"
    assert [(r.scene_id, r.datetime, r.boa_offset, r.cloud_cover) for r in refs] == \
        [(r.scene_id, r.datetime, r.boa_offset, r.cloud_cover) for r in expected]
    bodies = [b for e, b in shub.requests if e == "catalog"]
    assert len(bodies) == -(-len(expected) // 4)
    assert all(b["filter"] == "eo:cloud_cover <= 40" and b["limit"] == 4 for b in bodies)
    assert [b.get("next") for b in bodies] == [None, *range(4, 4 * len(bodies), 4)][:len(bodies)]
    assert all(r.datetime.tzinfo is not None and r.source == "sentinelhub" for r in refs)


def test_scenes_of_one_day_are_grouped_and_mixed_baselines_harmonised():
    src = _source()
    t = dt.datetime(2023, 3, 1, 10, 30, tzinfo=dt.UTC)
    one = src._scene([(t, "S2A_MSIL2A_20230301T103021_N0509_R008_T30SWF_20230301T1", 3.0),
                      (t + dt.timedelta(seconds=4),
                       "S2A_MSIL2A_20230301T103021_N0509_R008_T30SXF_20230301T1", 5.0)])
    assert (one.boa_offset, one.properties["sentinelhub:harmonize"], one.cloud_cover) == \
        (-1000, False, 4.0)
    mixed = src._scene([(t, "S2A_MSIL2A_20210301T103021_N0301_R008_T30SWF_x", 3.0),
                        (t, "S2A_MSIL2A_20210301T103021_N0500_R008_T30SXF_x", 3.0)])
    assert (mixed.boa_offset, mixed.properties["sentinelhub:harmonize"]) == (0, True)
    assert baseline_offset("S2B_MSIL2A_20190101T000000_N0213_R1_T1_x") == ("02.13", 0)
    with pytest.raises(SourceError, match="baseline"):
        baseline_offset("no-baseline-here")


# -- load ----------------------------------------------------------------------------------
def test_cube_equals_the_simulator_also_when_tiled(shub):
    src = _source(max_tile_px=96)
    refs = src.search(SMALL, *MONTH)
    cube = src.load(SMALL, refs, chunks=128)
    assert shub.calls["process"] == 0, "load must stay lazy"
    grid = site_grid(SMALL)
    tiles = _tiles(grid, 96)
    assert len(tiles) * len(tiles[0]) == 9
    got = cube.compute()
    assert shub.calls["process"] == len(refs) * 9
    for _, body in shub.requests:
        if "output" in body:
            assert body["output"]["width"] <= 96 and body["output"]["height"] <= 96
            data = body["input"]["data"][0]
            assert data["processing"]["harmonizeValues"] is False
            assert data["dataFilter"]["maxCloudCoverage"] == 80  # the default max_cloud
    expected = _demo_cube(SMALL, refs)
    _assert_same_pixels(got, expected)
    assert got["time"].dtype == np.dtype("datetime64[ns]")
    assert got["boa_offset"].dtype == np.int16 and got["scene_id"].dtype == object
    np.testing.assert_array_equal(got["time"].values, expected["time"].values)
    np.testing.assert_array_equal(got["boa_offset"].values, expected["boa_offset"].values)
    np.testing.assert_array_equal(got["x"].values, grid.x_coords())
    assert (got["fetch_status"].values == 0).all()
    assert (got["B02"].values == 0).any(), "swath-edge nodata should come through as 0"


def test_harmonised_scene_holds_offset_applied_dn(shub):
    """The mixed-baseline path: harmonizeValues true with boa_offset 0 gives the same
    reflectance as raw DN with the scene's -1000 (negatives clamped, as the service does)."""
    src = _source()
    raw_ref = next(r for r in src.search(SMALL, *MONTH) if r.boa_offset == -1000)
    ref = dataclasses.replace(raw_ref, boa_offset=0, properties={
        **raw_ref.properties, "sentinelhub:harmonize": True})
    got, raw = src.load(SMALL, [ref]).compute(), _demo_cube(SMALL, [raw_ref])
    assert got["boa_offset"].values.tolist() == [0]
    for band in ("B02", "B11", "B12"):
        dn = raw[band].values.astype(np.int32)
        np.testing.assert_array_equal(got[band].values, np.where(dn > 0, np.maximum(dn - 1000, 0), 0))
    np.testing.assert_array_equal(got["SCL"].values, raw["SCL"].values)


def test_fetch_tasks_survive_pickling_for_distributed_workers(shub):
    src = _source()
    refs = src.search(SMALL, *MONTH)[:2]
    cube = src.load(SMALL, refs)
    remote = pickle.loads(pickle.dumps(cube))  # what a dask worker receives
    SentinelHubDownloadClient.clear_cache()
    _assert_same_pixels(remote.compute(), _demo_cube(SMALL, refs))
    assert shub.calls["token"] >= 2  # the "worker" authenticated on its own


def test_tiles_cover_large_grids_within_the_service_limit():
    grid = dataclasses.replace(site_grid(SMALL), width=5003, height=2501)
    tiles = _tiles(grid, 2500)
    widths = [t.width for t in tiles[0]]
    heights = [row[0].height for row in tiles]
    assert sum(widths) == 5003 and sum(heights) == 2501
    assert max(widths + heights) <= 2500 and all(t.col0 % 6 == 0 for t in tiles[0])
    left, _, right, top = tiles[0][1].bounds
    assert (left, right - left, top) == (grid.left + widths[0] * 10, widths[1] * 10, grid.top)


def test_same_change_table_through_sentinel_hub_and_in_memory(shub):
    """The demo scenario through the stand-in and in memory: change rows within 1 %."""
    # the planted loss shows from March 2024, confirmed on a second look in April
    site, end = SEAGRASS, dt.date(2024, 4, 30)
    src, demo = _source(), DemoSource(seed=SEED)
    refs = src.search(site, site.baseline_start, end)
    demo_refs = [r for r in demo.search(site, site.baseline_start, end) if r.cloud_cover <= 80]
    assert [r.scene_id for r in refs] == [r.scene_id for r in demo_refs]
    via_shub = site_tables(site, src, refs, start=None, end=end, run_id="t").change
    in_memory = site_tables(site, demo, demo_refs, start=None, end=end, run_id="t").change
    assert len(via_shub) == len(in_memory) >= 12
    for col in ("extent_ha", "baseline_extent_ha", "gain_ha", "loss_ha", "valid_fraction"):
        np.testing.assert_allclose(via_shub[col], in_memory[col], rtol=0.01, atol=0.01,
                                   err_msg=col)
    assert in_memory["loss_ha"].iloc[-1] > 1.0, "the planted seagrass loss should be in range"


# -- faults --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["429", "500", "truncate", "corrupt", "401"])
def test_transient_process_faults_are_retried_to_success(shub, kind):
    src = _source()
    refs = src.search(SMALL, *MONTH)
    # a revoked token (401) also fails the requests already in flight with it: revoke once
    shub.reset(Fault("process", kind, calls=frozenset({1} if kind == "401" else {1, 2})))
    got = src.load(SMALL, refs).compute()
    assert (got["fetch_status"].values == 0).all()
    _assert_same_pixels(got, _demo_cube(SMALL, refs))
    if kind == "401":  # the revoked token was replaced by a new one, not retried as is
        assert shub.calls["process"] > len(refs) and shub.calls["token"] >= 1
    else:
        assert shub.calls["process"] == len(refs) + 2


def test_retry_after_is_honoured(shub):
    src = _source()
    refs = src.search(SMALL, *MONTH)[:1]
    shub.reset(Fault("process", "429", calls=frozenset({1}), retry_after_ms=400))
    got = src.load(SMALL, refs).compute()
    assert got["fetch_status"].values.tolist() == [0]
    (_, first), (_, second) = shub.call_times
    assert second - first >= 0.4


def test_transient_catalog_faults_are_retried(shub):
    shub.reset(Fault("catalog", "500", calls=frozenset({1})),
               Fault("catalog", "429", calls=frozenset({2})),
               Fault("token", "500", calls=frozenset({1})))
    refs = _source().search(SMALL, *MONTH)
    assert len(refs) == len(DemoSource(seed=SEED).search(SMALL, *MONTH))
    assert shub.calls["catalog"] == 3 and shub.calls["token"] == 2


@pytest.mark.parametrize(("kind", "status", "tries"), [
    ("500", 500, FAST["max_download_attempts"]), ("429", 429, FAST["max_rate_limit_retries"]),
    ("truncate", FETCH_BROKEN, FAST["max_download_attempts"]),
    ("corrupt", FETCH_BROKEN, FAST["max_download_attempts"])])
def test_persistent_failure_is_recorded_for_that_scene_only(shub, kind, status, tries):
    src = _source()
    refs = src.search(SMALL, *MONTH)
    bad = 2
    shub.reset(Fault("process", kind, scene_day=refs[bad].datetime.date()))
    got = src.load(SMALL, refs).compute()
    codes = got["fetch_status"].values
    assert codes[bad] == status and (np.delete(codes, bad) == 0).all()
    assert failed_scenes(got["scene_id"].values, codes) == {
        refs[bad].scene_id: "connection broken or response undecodable"
        if status == FETCH_BROKEN else f"HTTP {status}"}
    assert not got["B04"].values[bad].any() and not got["SCL"].values[bad].any()
    day = refs[bad].datetime.date()
    assert sum(request_days(b) == (day, day) for e, b in shub.requests if e == "process") == tries
    _assert_same_pixels(got, _demo_cube(SMALL, refs), skip={bad})


def test_tokens_refused_for_good_fail_every_scene_after_one_refresh(shub):
    src = _source()
    refs = src.search(SMALL, *MONTH)
    shub.reset(Fault("process", "401"))  # every token is revoked as soon as it is used
    got = src.load(SMALL, refs).compute()
    assert got["fetch_status"].values.tolist() == [401] * len(refs)
    assert shub.calls["process"] == 2 * len(refs)
    assert set(failed_scenes(got["scene_id"].values, got["fetch_status"].values).values()) == \
        {"HTTP 401"}


def test_a_failed_scene_does_not_stop_the_site(shub):
    src = _source()
    refs = src.search(SMALL, SMALL.baseline_start, dt.date(2023, 10, 31))
    shub.reset(Fault("process", "500", scene_day=refs[5].datetime.date()))
    tables = site_tables(SMALL, src, refs, start=None, end=dt.date(2023, 10, 31), run_id="t")
    obs = tables.observations.set_index("scene_id")
    # the failed scene is recorded with its reason and gets no row (the next run retries it)
    assert tables.failed_scenes == {refs[5].scene_id: "HTTP 500"}
    assert refs[5].scene_id not in obs.index
    assert len(obs) == len(refs) - 1
    assert obs["valid_fraction"].max() > 0.5
    assert len(tables.change) == 7


def test_month_by_month_reads_each_scene_twice_and_fails_a_scene_failing_then(shub):
    """A site walked month by month (too large for memory) reads every scene once for its
    per-scene rows and baseline, then each month's scenes for that month only (a seagrass
    site's plume flags compare every scene with the median of all: computed in the first
    pass, not redone per month). A scene refused only in the second pass is failed, not
    stored as done with its month computed without it."""
    src = _source()
    end = dt.date(2023, 10, 31)
    refs = src.search(SMALL, SMALL.baseline_start, end)
    kw = dict(start=None, end=end, run_id="t", products=True)
    memory = site_tables(SMALL, src, refs, walk="memory", **kw)
    once = shub.calls["process"]
    # the site's evidence (issue 17) reads the scenes before any walk, each at most once
    # (a seagrass site's turbid scenes are judged against the median of all): the memory
    # walk then reads each scene once more
    n = len(refs)
    evidence = once - n
    assert 0 <= evidence <= n
    shub.reset()
    stream = site_tables(SMALL, src, refs, walk="stream", **kw)
    assert once < shub.calls["process"] <= evidence + 2 * n
    assert stream.change.equals(memory.change)
    assert stream.observations.equals(memory.observations)
    assert stream.failed_scenes == memory.failed_scenes == {}
    late = refs[-2]  # after the baseline: the first pass's composites do not need it
    assert late.datetime.date() > SMALL.baseline_end
    shub.reset(Fault("process", "500", calls=frozenset(range(once + 1, 4 * once)),
                     scene_day=late.datetime.date()))
    got = site_tables(SMALL, src, refs, walk="stream", **kw)
    assert got.failed_scenes == {late.scene_id: "HTTP 500"}
    assert late.scene_id not in set(got.observations["scene_id"])
    assert len(got.observations) == len(refs) - 1
    # in strips (a site too large for a month's maps): strips of the requests' tile rows, each
    # strip's reads checked; a second pass strip by strip for the baseline's composites and
    # the alerts (every scene), without products for the baseline's composites only
    shub.reset()
    strips = site_tables(SMALL, src, refs, walk="strips", **kw)
    assert shub.calls["process"] <= evidence + 3 * n
    assert strips.change.equals(memory.change) and strips.failed_scenes == {}
    assert strips.alerts.rows.equals(memory.alerts.rows)
    shub.reset()
    site_tables(SMALL, src, refs, walk="strips", **{**kw, "products": False})
    in_baseline = sum(SMALL.baseline_start <= r.datetime.date() <= SMALL.baseline_end
                      for r in refs)
    assert shub.calls["process"] <= evidence + 2 * n + in_baseline
    shub.reset(Fault("process", "500", calls=frozenset(range(once + 1, 4 * once)),
                     scene_day=late.datetime.date()))
    got = site_tables(SMALL, src, refs, walk="strips", **kw)
    assert got.failed_scenes == {late.scene_id: "HTTP 500"}
    assert late.scene_id not in set(got.observations["scene_id"])


def test_persistent_catalog_failure_names_the_site(shub):
    shub.reset(Fault("catalog", "500"))
    with pytest.raises(SourceError) as err:
        _source().search(SMALL, *MONTH)
    message = str(err.value)
    assert SMALL.id in message and "HTTP 500" in message and "\n" not in message
    assert shub.calls["catalog"] == FAST["max_download_attempts"]


# -- credentials and configuration ------------------------------------------------------
@pytest.mark.parametrize("missing", ["SH_CLIENT_ID", "SH_CLIENT_SECRET"])
def test_missing_credentials_one_clear_error(monkeypatch, shub, missing):
    monkeypatch.delenv(missing)
    with pytest.raises(SourceError) as err:
        get_source("sentinelhub")
    message = str(err.value)
    assert missing in message and "\n" not in message
    assert shub.client_secret not in message and shub.client_id not in message


def test_bad_credentials_refused_without_leaking_them(monkeypatch, shub):
    monkeypatch.setenv("SH_CLIENT_SECRET", "wrong-secret-value")
    src = get_source("sentinelhub")
    with pytest.raises(SourceError) as err:
        src.search(SMALL, *MONTH)
    message = str(err.value)
    assert "invalid_client" in message and "SH_CLIENT_SECRET" in message
    assert "wrong-secret-value" not in message and "\n" not in message
    assert "wrong-secret-value" not in repr(src.settings)


def test_secrets_stay_out_of_debug_logs(shub, caplog):
    caplog.set_level(logging.DEBUG)
    src = get_source("sentinelhub")
    refs = src.search(SMALL, dt.date(2023, 6, 1), dt.date(2023, 6, 5))
    src.load(SMALL, refs).compute()
    tokens = list(shub._tokens)
    assert refs and tokens and "127.0.0.1" in caplog.text  # debug logging was on
    for secret in (shub.client_secret, *tokens):
        assert secret not in caplog.text


def test_nothing_is_written_under_home(monkeypatch, tmp_path, shub):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert SHConfig.get_config_location().startswith(str(tmp_path))
    src = get_source("sentinelhub")
    refs = src.search(SMALL, dt.date(2023, 5, 1), dt.date(2023, 5, 10))
    src.load(SMALL, refs).compute()
    assert refs and list(tmp_path.rglob("*")) == []


def test_options_as_the_flow_passes_them(shub):
    with pytest.raises(SourceError, match="SH_BASE_URL"):
        get_source("sentinelhub", catalog="https://earth-search.aws.element84.com/v1")
    with pytest.raises(SourceError, match="max_cloud"):
        get_source("sentinelhub", max_cloud=120)
    everything = get_source("sentinelhub", max_cloud=100).search(SMALL, dt.date(2023, 8, 1),
                                                                  dt.date(2023, 8, 10))
    assert any(r.cloud_cover > 80 for r in everything)  # 2023-08-05 is 94 % cloudy
    assert all("filter" not in b for e, b in shub.requests if e == "catalog")


# -- the stand-in itself answers like the service -----------------------------------------
def _token(shub) -> str:
    form = {"grant_type": "client_credentials", "client_id": shub.client_id,
            "client_secret": shub.client_secret}
    return requests.post(shub.token_url, data=form, timeout=10).json()["access_token"]


def _process_body(**changes):
    grid = site_grid(SMALL)
    body = {"input": {"bounds": {"bbox": list(grid.bounds), "properties": {
                "crs": f"http://www.opengis.net/def/crs/EPSG/0/{grid.epsg}"}},
            "data": [{"type": "sentinel-2-l2a", "dataFilter": {"timeRange": {
                "from": "2023-05-01T00:00:00Z", "to": "2023-05-06T00:00:00Z"}}}]},
            "evalscript": EVALSCRIPT,
            "output": {"width": grid.width, "height": grid.height, "responses": [
                {"identifier": "bands", "format": {"type": "image/tiff"}},
                {"identifier": "scl", "format": {"type": "image/tiff"}}]}}
    body.update(changes)
    return body


@pytest.mark.parametrize("change", [
    {"evalscript": EVALSCRIPT.replace('"B11", ', '"B99", ')},
    {"evalscript": EVALSCRIPT.replace("//VERSION=3", "")},
    {"output": {"width": 3000, "height": 10, "responses": []}},
    {"extra": 1},
    {"input": {"bounds": {"bbox": [0, 0, 1]}, "data": []}},
])
def test_standin_rejects_malformed_process_requests(shub, change):
    headers = {"Authorization": f"Bearer {_token(shub)}", "Accept": "application/x-tar"}
    answer = requests.post(shub.base_url + PROCESS_PATH, json=_process_body(**change),
                           headers=headers, timeout=10)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert set(error) == {"status", "reason", "message", "code"} and error["status"] == 400


def test_standin_requires_a_valid_token(shub):
    answer = requests.post(shub.base_url + PROCESS_PATH, json=_process_body(),
                           headers={"Authorization": "Bearer forged"}, timeout=10)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "COMMON_UNAUTHORIZED"
    bad = requests.post(shub.token_url, data={"grant_type": "client_credentials",
                                              "client_id": "x", "client_secret": "y"}, timeout=10)
    assert bad.status_code == 401 and bad.json() == {
        "error": "invalid_client", "error_description": bad.json()["error_description"]}
    assert os.environ["OAUTHLIB_INSECURE_TRANSPORT"] == "1"
