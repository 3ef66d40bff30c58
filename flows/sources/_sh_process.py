"""The Process API side of the sentinelhub source: settings, the request, and the fetcher.

:class:`SentinelHubSettings` (credentials and URLs from the environment, retry bounds) makes the
one ``SHConfig``; :func:`_tiles` cuts a site's grid into requests the service renders
(``max_tile_px`` a side, on 60 m lines); :class:`_Fetcher` sends one Process API request
(:data:`EVALSCRIPT`, ``harmonizeValues`` as the scene's plan says) per scene and tile and
turns every failure into nodata and a fetch status (see :mod:`flows.sources.sentinelhub`, whose
module doc gives the choices and why). The fetcher travels in dask graphs: it holds no
credential (:data:`_CREDENTIALS`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from oauthlib.oauth2.rfc6749.errors import OAuth2Error
from sentinelhub import (
    CRS,
    BBox,
    DataCollection,
    MimeType,
    MosaickingOrder,
    ResamplingType,
    SentinelHubDownloadClient,
    SentinelHubRequest,
    SHConfig,
)
from sentinelhub.exceptions import DownloadFailedException, OutOfRequestsException

from aoi.grid import SiteGrid
from flows.sources._sh_client import RATE_LIMITED, DeadlineClient, Unreachable, describe, status
from flows.sources.base import FETCH_BROKEN, FETCH_OK, SceneRef, SourceError

__all__ = ["EVALSCRIPT", "SentinelHubSettings", "l2a_collection"]

LOGGER = logging.getLogger("flows.sources.sentinelhub")  # the source's name, as before the split
# requests-oauthlib logs token request bodies (the client secret) and tokens at DEBUG: keep
# them out of any log, whatever level the application (or a dask worker) runs at
for _name in ("requests_oauthlib", "oauthlib"):
    if logging.getLogger(_name).level < logging.INFO:  # NOTSET (0) would inherit DEBUG
        logging.getLogger(_name).setLevel(logging.INFO)

ENV_ID, ENV_SECRET, ENV_BASE, ENV_TOKEN = ("SH_CLIENT_ID", "SH_CLIENT_SECRET", "SH_BASE_URL",
                                          "SH_TOKEN_URL")
DEFAULT_BASE_URL = "https://services.sentinel-hub.com"
DEFAULT_TOKEN_URL = f"{DEFAULT_BASE_URL}/auth/realms/main/protocol/openid-connect/token"
_KNOWN_TOKEN_URLS = {  # deployments whose token service is not the Sentinel Hub main one
    "https://sh.dataspace.copernicus.eu":
        "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token",
}

_PASS_MARGIN = dt.timedelta(minutes=10)

EVALSCRIPT = """//VERSION=3
function setup() {
  return {
    input: [{bands: ["B02", "B03", "B04", "B08", "B11", "B12", "SCL", "dataMask"], units: "DN"}],
    output: [
      {id: "bands", bands: 6, sampleType: "UINT16"},
      {id: "scl", bands: 2, sampleType: "UINT8"}
    ],
    mosaicking: "SIMPLE"
  };
}
function evaluatePixel(s) {
  return {bands: [s.B02, s.B03, s.B04, s.B08, s.B11, s.B12], scl: [s.SCL, s.dataMask]};
}
"""


@dataclass(frozen=True)
class SentinelHubSettings:
    """Where and how to reach Sentinel Hub. Secrets are kept out of ``repr``."""

    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    token_url: str = DEFAULT_TOKEN_URL
    max_download_attempts: int = 4
    """Tries per request on 5xx, broken connections and undecodable bodies."""
    download_sleep_time: float = 5.0
    """Seconds before the second try; tripled before each further one."""
    max_rate_limit_retries: int = 10
    """Requests answered 429 (each after its ``Retry-After``) before a tile is given up."""
    timeout_s: float = 120.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any
                 ) -> SentinelHubSettings:
        """Settings from ``SH_CLIENT_ID``, ``SH_CLIENT_SECRET``, ``SH_BASE_URL``, ``SH_TOKEN_URL``.

        Raises :class:`SourceError` naming the missing variables (never any value)."""
        env = os.environ if environ is None else environ
        missing = [k for k in (ENV_ID, ENV_SECRET) if not env.get(k, "").strip()]
        if missing:
            raise SourceError(
                f"sentinelhub source needs credentials: set {' and '.join(missing)} "
                f"(an OAuth client of your Sentinel Hub or Copernicus Data Space account)")
        base = (env.get(ENV_BASE) or DEFAULT_BASE_URL).strip().rstrip("/")
        token = (env.get(ENV_TOKEN) or _KNOWN_TOKEN_URLS.get(base, DEFAULT_TOKEN_URL)).strip()
        for name, url in ((ENV_BASE, base), (ENV_TOKEN, token)):
            if not re.match(r"https?://[^/\s]+", url):
                raise SourceError(f"{name} must be an http(s) URL, got {url!r}")
        return cls(client_id=env[ENV_ID].strip(), client_secret=env[ENV_SECRET].strip(),
                   base_url=base, token_url=token, **overrides)

    def sh_config(self) -> SHConfig:
        """The one sentinelhub-py configuration, never read from or saved to disk."""
        return SHConfig(use_defaults=True, sh_client_id=self.client_id,
                        sh_client_secret=self.client_secret, sh_base_url=self.base_url,
                        sh_token_url=self.token_url,
                        max_download_attempts=self.max_download_attempts,
                        download_sleep_time=self.download_sleep_time,
                        download_timeout_seconds=self.timeout_s,
                        max_retries=self.max_rate_limit_retries)


def l2a_collection(base_url: str) -> DataCollection:
    """Sentinel-2 L2A bound to ``base_url``: the stock collection carries its own service URL
    (the public host), which would override ``sh_base_url`` for Process requests."""
    stock = DataCollection.SENTINEL2_L2A
    if base_url.rstrip("/") == (stock.service_url or "").rstrip("/"):
        return stock
    name = "BLUECARBON_S2L2A_" + hashlib.sha1(base_url.encode()).hexdigest()[:12].upper()
    return stock.define_from(name, service_url=base_url)


@dataclass(frozen=True)
class _Tile:
    row0: int
    col0: int
    height: int
    width: int
    bounds: tuple[float, float, float, float]
    """``(left, bottom, right, top)`` in the grid's CRS, metres."""

    @property
    def key(self) -> str:
        return f"r{self.row0}c{self.col0}"


def _tiles(grid: SiteGrid, max_px: int) -> list[list[_Tile]]:
    """Rows of tiles covering the grid, at most ``max_px`` a side, cut on 60 m (6 px) lines
    where that still fits."""
    def cuts(n: int) -> list[tuple[int, int]]:
        step = -(-n // -(-n // max_px))  # ceil(n / number of tiles needed)
        if -(-step // 6) * 6 <= max_px:
            step = -(-step // 6) * 6
        return [(a, min(step, n - a)) for a in range(0, n, step)]

    res = grid.res
    return [[_Tile(r, c, h, w, (grid.left + c * res, grid.top - (r + h) * res,
                                grid.left + (c + w) * res, grid.top - r * res))
             for c, w in cuts(grid.width)] for r, h in cuts(grid.height)]


@dataclass(frozen=True)
class _ScenePlan:
    scene_id: str
    time_range: tuple[str, str]
    harmonize: bool

    @classmethod
    def of(cls, ref: SceneRef) -> _ScenePlan:
        props = ref.properties or {}
        span = props.get("sentinelhub:time_range") or (
            (ref.datetime - _PASS_MARGIN).isoformat(), (ref.datetime + _PASS_MARGIN).isoformat())
        return cls(ref.scene_id, tuple(span), bool(props.get("sentinelhub:harmonize", False)))


_CREDENTIALS: dict[str, tuple[str, str]] = {}
"""Client id and secret of each fetcher made in this process, by the fetcher's random key.
Kept out of the fetcher itself, which dask puts into task graphs."""
_CONFIGS: dict[str, SHConfig] = {}
"""The sentinelhub-py configuration of each fetcher key, built on first use in a process."""
_CONFIG_LOCK = threading.Lock()


class _Fetcher:
    """One Process API request per call, with the bounded failure handling of the module
    docstring.

    It holds no credential: it travels in the dask graph, and a graph is pickled to
    distributed workers and may be kept or logged by a scheduler. The client id and secret
    stay in this process (:data:`_CREDENTIALS`, under a random key); a process that does not
    know the key (a dask worker) reads ``SH_CLIENT_ID`` / ``SH_CLIENT_SECRET`` from its own
    environment, with the URLs and retry settings the fetcher carries.
    """

    def __init__(self, settings: SentinelHubSettings, max_cloud: float | None):
        self.key = secrets.token_hex(8)
        _CREDENTIALS[self.key] = (settings.client_id, settings.client_secret)
        self.settings = dataclasses.replace(settings, client_id="", client_secret="")
        self.max_cloud = max_cloud
        self.collection = l2a_collection(settings.base_url)

    @property
    def config(self) -> SHConfig:
        """This process's configuration for the fetcher, with the credentials."""
        with _CONFIG_LOCK:
            config = _CONFIGS.get(self.key)
            if config is None:
                known = _CREDENTIALS.get(self.key)
                if known is None:  # another process: its environment has the credentials
                    env = SentinelHubSettings.from_env()
                    known = (env.client_id, env.client_secret)
                settings = dataclasses.replace(self.settings, client_id=known[0],
                                               client_secret=known[1])
                config = _CONFIGS[self.key] = settings.sh_config()
            return config

    def __dask_tokenize__(self) -> tuple:
        return ("bluecarbon-sentinelhub", self.settings.base_url, self.max_cloud)

    def __call__(self, plan: _ScenePlan, epsg: int, tile: _Tile) -> tuple[np.ndarray, np.ndarray]:
        data, code = self._fetch(plan, epsg, tile)
        return data, np.array(code, np.int16)  # 0-d arrays: dask stacks them, not Python ints

    def _fetch(self, plan: _ScenePlan, epsg: int, tile: _Tile) -> tuple[np.ndarray, int]:
        attempts, refreshed, code, reason = 0, False, FETCH_BROKEN, ""
        while attempts < max(1, self.settings.max_download_attempts):
            try:
                return self._request(plan, epsg, tile), FETCH_OK
            except OutOfRequestsException:  # a DownloadFailedException: catch it first
                code, reason = 429, RATE_LIMITED
                break
            except DownloadFailedException as exc:
                code, reason = status(exc) or FETCH_BROKEN, describe(exc)
                if code == 401 and not refreshed:  # token revoked or expired early: new one
                    SentinelHubDownloadClient.clear_cache()
                    refreshed = True
                    continue
                break  # the client already retried 5xx and broken connections
            except OAuth2Error as exc:
                code, reason = 401, f"token refused ({exc.error})"
                break
            except Unreachable as exc:  # not retried: the service is not there
                code, reason = FETCH_BROKEN, str(exc)
                break
            except _Undecodable as exc:
                code, reason = FETCH_BROKEN, str(exc)
                attempts += 1
                if attempts < self.settings.max_download_attempts:
                    time.sleep(self.settings.download_sleep_time * 3 ** (attempts - 1))
        LOGGER.warning("sentinelhub: scene %s tile %s not fetched, left as nodata: %s",
                       plan.scene_id, tile.key, reason)
        return np.zeros((7, tile.height, tile.width), np.uint16), code

    def _request(self, plan: _ScenePlan, epsg: int, tile: _Tile) -> np.ndarray:
        # the same limit for the tiles mosaicked, rounded up (the client's maxcc= truncates
        # 0.29 * 100 to 28 and could drop a scene the catalog kept)
        data_filter = {} if self.max_cloud is None else {
            "dataFilter": {"maxCloudCoverage": math.ceil(self.max_cloud)}}
        request = SentinelHubRequest(
            evalscript=EVALSCRIPT,
            input_data=[SentinelHubRequest.input_data(
                self.collection, time_interval=plan.time_range,
                mosaicking_order=MosaickingOrder.LEAST_CC, upsampling=ResamplingType.NEAREST,
                other_args={"processing": {"harmonizeValues": plan.harmonize}, **data_filter})],
            responses=[SentinelHubRequest.output_response("bands", MimeType.TIFF),
                       SentinelHubRequest.output_response("scl", MimeType.TIFF)],
            bbox=BBox(tile.bounds, crs=CRS(epsg)), size=(tile.width, tile.height),
            config=self.config)
        request.download_client_class = DeadlineClient  # the whole answer has a deadline
        (response,) = request.get_data(decode_data=False, max_threads=1)
        return _decode(response, tile.height, tile.width)


class _Undecodable(Exception):
    pass


def _decode(response: Any, h: int, w: int) -> np.ndarray:
    """(7, h, w) uint16 from the tar of ``bands.tif`` (6 x UINT16) and ``scl.tif`` (SCL,
    dataMask as UINT8); everything 0 where dataMask is 0."""
    try:
        files = response.decode()
        bands = np.asarray(files["bands.tif"]).reshape(h, w, 6)
        scl, mask = np.moveaxis(np.asarray(files["scl.tif"]).reshape(h, w, 2), -1, 0)
    except Exception as exc:  # tar, TIFF or layout: whatever the body was, it is not usable
        raise _Undecodable(f"undecodable response ({type(exc).__name__}: {exc})") from None
    out = np.zeros((7, h, w), np.uint16)
    valid = mask != 0
    out[:6] = np.where(valid, np.moveaxis(bands, -1, 0), 0)
    out[6] = np.where(valid, scl, 0)
    return out
