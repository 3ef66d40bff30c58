"""The Sentinel Hub source: Catalog API search and Process API download through sentinelhub-py.

``search`` pages through the Catalog API (STAC search, optional cloud filter) and groups the
items into one :class:`~flows.sources.SceneRef` per solar day. ``load`` builds the lazy scene
cube: one Process API request per scene and spatial tile (at most ``max_tile_px`` = 2500 px a
side, the service's limit; larger sites are split on 60 m boundaries and stitched), one dask
task each, onto the site's UTM grid at 10 m (``aoi.site_grid``).

Choices, and why:

* **harmonizeValues false**: DN as delivered, and ``boa_offset`` from the ``_Nxxxx_`` baseline
  in the catalog item id (-1000 from 04.00 on). With the service default (true) the offset is
  removed *and negatives are clamped to 0*, and 0 is nodata in the scene cube: dark water in
  B11/B12 (reflectance near 0, negative with noise) would be masked out over every seagrass
  site. A day mosaicking tiles of different baselines (a half-reprocessed pass) is the one
  exception: it is requested harmonised, with ``boa_offset`` 0, so one offset per scene holds.
* **units DN, UINT16** bands and **UINT8** SCL + dataMask, as two responses (a tar). Where
  ``dataMask`` is 0 every band and SCL are set to 0, the cube's nodata.
* **Failures are data, not exceptions**: a tile that still fails after the client's bounded
  retries (5xx and broken connections ``max_download_attempts`` times with backoff; 429
  honouring ``Retry-After`` up to ``max_rate_limit_retries``; one token refresh on 401; an
  undecodable body retried like a 5xx) is logged, its pixels come back as nodata, and the
  cube's ``fetch_status`` variable (time,) int16 says which scenes are incomplete: 0 fetched,
  else the HTTP status of the last failure, or :data:`FETCH_BROKEN` (connection dropped,
  truncated or undecodable body). It is lazy and computed with everything else, so it works
  on a distributed cluster too. The flow must not store observation rows of those scenes
  (an incremental run then fetches them again): see :func:`failed_scenes`.

Every request has a deadline for the whole answer, body included (``BLUECARBON_HTTP_TIMEOUT``,
:class:`flows.sources._io.DeadlineAdapter`): the client's own timeout bounds each socket read
only. A service that cannot be reached at all (no DNS answer, connection refused, no route) is
not retried: :meth:`SentinelHubSource.preflight` finds it before a run (exit code 4), a search
raises :class:`~flows.sources.SourceUnreachable`, and a tile request fails at once.

Credentials come from ``SH_CLIENT_ID`` / ``SH_CLIENT_SECRET``; ``SH_BASE_URL`` / ``SH_TOKEN_URL``
point at another deployment (Copernicus Data Space Ecosystem, a test server). One
``SHConfig(use_defaults=True, ...)`` is built from them and passed to every sentinelhub-py call,
so nothing is read from or written to ``~/.config/sentinelhub``. Credentials never enter a dask
graph: on a distributed cluster each worker reads them from its own environment (see
:class:`_Fetcher`), so set ``SH_CLIENT_ID`` / ``SH_CLIENT_SECRET`` there too.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time

import dask
import dask.array as da
import numpy as np
import requests
import xarray as xr
from oauthlib.oauth2.rfc6749.errors import OAuth2Error
from sentinelhub import CRS, BBox, Geometry, SentinelHubCatalog
from sentinelhub.exceptions import DownloadFailedException, MissingDataInRequestException

from aoi import Site
from aoi.antimeridian import crosses_antimeridian
from aoi.grid import site_grid
from flows.sources._io import check_reachable, unreachable_reason
from flows.sources._sh_client import DeadlineClient, Unreachable, describe, status
from flows.sources._sh_process import (
    _PASS_MARGIN,
    ENV_BASE,
    ENV_TOKEN,
    EVALSCRIPT,
    SentinelHubSettings,
    _Fetcher,
    _ScenePlan,
    _tiles,
    l2a_collection,
)
from flows.sources.base import (
    BANDS,
    CHUNKS,
    FETCH_BROKEN,
    FETCH_OK,
    SceneRef,
    SourceError,
    SourceUnreachable,
    failed_scenes,
    redact,
    status_rows,
)

__all__ = ["EVALSCRIPT", "FETCH_BROKEN", "FETCH_OK", "SentinelHubSettings", "SentinelHubSource",
           "baseline_offset", "failed_scenes", "l2a_collection"]
# re-exported: the fetch-status vocabulary is shared by every source (flows.sources); the
# settings and the Process API request are in flows.sources._sh_process

MAX_TILE_PX = 2500
"""Largest width or height the Process API renders in one request."""

_BASELINE = re.compile(r"_N(\d{2})(\d{2})_")


def baseline_offset(item_id: str) -> tuple[str, int]:
    """``("05.09", -1000)`` from ``..._N0509_...``: baseline 04.00 and later carry the offset."""
    match = _BASELINE.search(item_id)
    if not match:
        raise SourceError(f"sentinelhub: catalog item {item_id!r} has no _Nxxxx_ processing baseline")
    major, minor = match.groups()
    return f"{major}.{minor}", (-1000 if int(major) >= 4 else 0)


class SentinelHubSource:
    """Sentinel-2 L2A from a Sentinel Hub deployment (see the module docstring)."""

    name = "sentinelhub"

    def __init__(self, settings: SentinelHubSettings | None = None, *,
                 max_cloud: float | None = 80.0, max_tile_px: int = MAX_TILE_PX,
                 page_size: int = 100, catalog: str | None = None):
        """``max_cloud``: scene-level cloud limit in percent, the catalog filter
        ``eo:cloud_cover <= max_cloud`` (80 by default, as the stac source: nearly overcast
        scenes cost processing units and add next to nothing); 100 or None keeps every scene."""
        if catalog is not None:
            raise SourceError("--catalog is for the stac source; point the sentinelhub source "
                              f"at another deployment with {ENV_BASE} and {ENV_TOKEN}")
        if not 6 <= int(max_tile_px) <= MAX_TILE_PX:
            raise SourceError(f"max_tile_px must be between 6 and {MAX_TILE_PX}, got {max_tile_px}")
        if max_cloud is not None and not (isinstance(max_cloud, int | float)
                                          and 0 <= max_cloud <= 100):
            raise SourceError(f"max_cloud must be a percentage 0..100, got {max_cloud!r}")
        max_cloud = None if max_cloud is None or max_cloud >= 100 else float(max_cloud)
        if not 1 <= page_size <= 100:
            raise SourceError(f"page_size must be between 1 and 100, got {page_size}")
        self.settings = settings or SentinelHubSettings.from_env()
        self.max_cloud, self.max_tile_px, self.page_size = (
            max_cloud, int(max_tile_px), int(page_size))
        self._fetcher = _Fetcher(self.settings, max_cloud)

    def preflight(self) -> None:
        """Fail now, in one line (:class:`SourceUnreachable`, within 12 s), unless the service
        and its token service accept a connection. Sends nothing."""
        end = time.monotonic() + 12.0
        check_reachable(self.settings.base_url, what="Sentinel Hub", timeout=10.0)
        check_reachable(self.settings.token_url, what="the Sentinel Hub token service",
                        timeout=max(1.0, end - time.monotonic()))

    # -- search --------------------------------------------------------------------------
    def search(self, site: Site, start: dt.date, end: dt.date) -> list[SceneRef]:
        """Catalog items over the site's bounding box in ``[start, end]``, one ref per solar
        day, oldest first."""
        catalog = SentinelHubCatalog(config=self._fetcher.config)
        catalog.client = DeadlineClient(config=self._fetcher.config,
                                         default_retry_time=catalog.client.default_retry_time / 1000)
        query = "" if self.max_cloud is None else f"eo:cloud_cover <= {self.max_cloud:g}"
        try:
            # a site split at the antimeridian: its parts, not a bounding box round the world
            where = ({"geometry": Geometry(site.geometry, crs=CRS.WGS84)}
                     if crosses_antimeridian(site.geometry)
                     else {"bbox": BBox(site.geometry.bounds, crs=CRS.WGS84)})
            items = list(catalog.search(
                self._fetcher.collection, time=(start, end), limit=self.page_size,
                filter=query or None, **where,
                fields={"include": ["id", "properties.datetime", "properties.eo:cloud_cover"],
                        "exclude": []}))
        except (DownloadFailedException, MissingDataInRequestException, OAuth2Error,
                requests.RequestException, KeyError, TypeError, Unreachable) as exc:
            where = f"sentinelhub: catalog search for site {site.id} failed"
            reason = unreachable_reason(exc)
            if reason is not None:
                raise SourceUnreachable(f"{where}: {redact(self.settings.base_url)}: "
                                        f"{reason}") from None
            code = status(exc) if isinstance(exc, DownloadFailedException) else None
            retryable = (code is None and isinstance(exc, DownloadFailedException | requests.
                                                     RequestException)) or \
                (code is not None and (code in (408, 429) or code >= 500))
            raise SourceError(f"{where}: {describe(exc)}", retryable=retryable) from None
        lon = site.centroid_lonlat[0]
        days: dict[dt.date, list[tuple[dt.datetime, str, float]]] = {}
        for item in items:
            when = dt.datetime.fromisoformat(item["properties"]["datetime"]).astimezone(dt.UTC)
            solar_day = (when + dt.timedelta(hours=lon / 15)).date()
            cloud = float(item["properties"].get("eo:cloud_cover", math.nan))
            days.setdefault(solar_day, []).append((when, item["id"], cloud))
        return [self._scene(sorted(group)) for _, group in sorted(days.items())]

    def _scene(self, group: list[tuple[dt.datetime, str, float]]) -> SceneRef:
        ids = sorted({item_id for _, item_id, _ in group})
        baselines = {baseline_offset(i) for i in ids}
        harmonize = len({off for _, off in baselines}) > 1
        (baseline, offset), *_ = sorted(baselines)
        first, last = group[0][0], group[-1][0]
        span = ((first - _PASS_MARGIN).isoformat(), (last + _PASS_MARGIN).isoformat())
        return SceneRef(
            datetime=first, scene_id=group[0][1], boa_offset=0 if harmonize else offset,
            cloud_cover=_mean([c for *_, c in group]),
            source=self.name,
            properties={"s2:processing_baseline": baseline, "sentinelhub:items": tuple(ids),
                        "sentinelhub:time_range": span, "sentinelhub:harmonize": harmonize})

    # -- load ----------------------------------------------------------------------------
    def load(self, site: Site, scenes: list[SceneRef], chunks: int | None = CHUNKS) -> xr.Dataset:
        """The lazy scene cube of the contract plus ``fetch_status`` (time,) int16."""
        grid = site_grid(site)
        ny, nx = grid.shape
        tiles = _tiles(grid, self.max_tile_px)
        fetch = dask.delayed(self._fetcher, pure=True, nout=2)
        stacks, statuses = [], []
        for ref in scenes:
            plan = _ScenePlan.of(ref)
            rows, codes = [], []
            for tile_row in tiles:
                row, row_codes = [], []
                for tile in tile_row:
                    data, code = fetch(plan, grid.epsg, tile,
                                       dask_key_name=f"sentinelhub-{ref.scene_id}-{tile.key}")
                    row.append(da.from_delayed(data, shape=(7, tile.height, tile.width),
                                               dtype=np.uint16))
                    row_codes.append(da.from_delayed(code, shape=(), dtype=np.int16))
                rows.append(row)
                codes.append(da.stack(row_codes).max())
            stacks.append(da.block(rows))
            statuses.append(da.stack(codes))
        stack = da.stack(stacks) if scenes else da.zeros((0, 7, ny, nx), dtype=np.uint16)
        blocks = (da.stack(statuses) if scenes
                  else da.zeros((0, len(tiles)), dtype=np.int16))  # (time, tile rows)
        status = blocks.max(axis=1)
        chunks = chunks or max(ny, nx)
        data = {b: stack[:, i].rechunk((1, chunks, chunks)) for i, b in enumerate(BANDS)}
        data["SCL"] = stack[:, 6].astype(np.uint8).rechunk((1, chunks, chunks))
        times = np.array([np.datetime64(s.datetime.astimezone(dt.UTC).replace(tzinfo=None), "ns")
                          for s in scenes], dtype="datetime64[ns]")
        coords = {
            "time": times, "y": grid.y_coords(), "x": grid.x_coords(),
            "boa_offset": ("time", np.array([s.boa_offset for s in scenes], np.int16)),
            "scene_id": ("time", np.array([s.scene_id for s in scenes], dtype=object)),
        }
        ds = xr.Dataset({k: (("time", "y", "x"), v) for k, v in data.items()}, coords=coords)
        ds["fetch_status"] = ("time", status)
        rows = status_rows(blocks, [row[0].height for row in tiles])
        ds["fetch_status_rows"] = (("time", "y"), rows)  # chunked as the requests: tile rows
        ds["fetch_status"].attrs["meaning"] = (
            f"{FETCH_OK}: fetched; {FETCH_BROKEN}: connection broken or body undecodable; "
            "else the HTTP status of the last failed request (pixels of that tile are nodata)")
        ds.attrs.update(crs=f"EPSG:{grid.epsg}", transform=grid.transform, res=grid.res,
                        site_id=site.id, source=self.name)
        return ds


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan
