"""Windowed reads of Sentinel-2 L2A rasters onto a site grid, and the solar-day mosaic.

Shared by the ``stac`` source (COGs over http, s3 or on disk) and the ``safe`` source (JPEG2000
inside an ESA SAFE folder). A source turns what its catalogue found into :class:`Granule` s
(one MGRS tile of one pass: its hrefs per band and its DN offset); :func:`solar_day_scenes`
groups them into one :class:`~flows.sources.SceneRef` per site and solar day; :func:`load_cube`
turns scenes into the lazy scene cube of the contract, **one dask task per scene x band x
read window** (the whole site, or a spatial chunk of a larger site), each reading only its
window from each tile of the mosaic.

Mosaic: tiles in a fixed order (item id), first valid (non-zero) pixel wins, band by band.
Tiles of one pass whose offset differs from the first tile's (a half-reprocessed day) have their
valid DN shifted by the difference, so one ``boa_offset`` per scene stays true; integer
arithmetic, DN stay uint16.

Resampling onto the site grid (``aoi.site_grid``: UTM, 10 m, origin on a 60 m multiple):

* source grid nested in the site grid (same CRS, pixel edges on ours, source pixel a whole
  multiple of ours: every 10, 20 and 60 m tile of the site's own UTM zone): **nearest**, done
  as an exact block replication of the source window. A 20 m B11 pixel becomes 2x2 of ours
  with its DN as delivered; bilinear would only make B11/B12 look 10 m without adding
  information, and would blend DN across cloud, shadow and swath (nodata) edges that SCL
  marks at 20 m anyway. Also the cheapest path: a plain windowed read, no warper.
* anything else (a tile of the neighbouring UTM zone, a source finer than the grid): GDAL's
  warper through a ``WarpedVRT`` onto the whole site grid, read by window: bilinear for
  reflectance (average when the source is finer than the grid), nearest for SCL always.
  Source nodata is 0 and stays 0.

Handles: one rasterio dataset (and VRT) per href *per thread*, cached (LRU) in thread-local
storage, so tasks never share a GDAL handle and need no global lock. Every read runs under
:data:`GDAL_ENV` (COGs over http: no directory listing on open, merged range requests, retries).

Every raster is checked before use, once per opened handle: a local href must be a regular
file (a FIFO would block the read), the raster must hold one band of integers (floating-point
pixels are reflectance, not L2A digital numbers), have a CRS, and cover at least half of the
part of the site its catalogue item says it covers (a wrong CRS, a wrong transform or a 1 x 1
raster does not); every window read is checked for values outside 0..65535 (SCL: 0..11), which
a signed or wider integer type could carry and a cast to uint16 would wrap. An unusable raster
fails its scene with the reason (:data:`~flows.sources.FETCH_REASONS`), logged once.

Failures are data, as in the Sentinel Hub source: a raster that cannot be read after GDAL's
retries (404 or 403 asset, 429/5xx beyond the retries, a connection reset, a truncated or
corrupt TIFF) leaves its block nodata, is logged in one line, and sets the scene's entry of the
cube's ``fetch_status`` (time,) int16 variable (0 fetched, the HTTP status where GDAL names one,
else :data:`~flows.sources.FETCH_BROKEN`). The flow records such scenes as failed, writes no
observation row for them and fetches them again next run; the site's other scenes complete.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import operator
import os
import re
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dask.array as da
import numpy as np
import rasterio
import rasterio.errors
import xarray as xr
from affine import Affine
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from aoi import Site, site_grid
from aoi.grid import SiteGrid
from flows.sources._checks import Unusable, check_raster, check_values, log_once
from flows.sources._io import regular_file
from flows.sources.base import (
    BANDS,
    FETCH_BROKEN,
    FETCH_NOT_FILE,
    FETCH_OK,
    SceneRef,
    SourceError,
    redact,
    status_rows,
)

__all__ = ["CUBE_BANDS", "GDAL_ENV", "READ_WINDOW", "Granule", "Unusable", "check_raster",
           "load_cube", "read_block", "read_block_status", "redact", "replicate",
           "solar_day_scenes"]

log = logging.getLogger(__name__)

#: Variables of the scene cube, in order: the six reflectance bands, then SCL.
CUBE_BANDS: tuple[str, ...] = (*BANDS, "SCL")

GDAL_ENV: dict[str, Any] = {
    # opening /vsicurl/ URLs: do not list the "directory" (one request saved per file, and S3
    # or Azure listings can be huge); read the COG header in one 32 kB request
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_INGESTED_BYTES_AT_OPEN": 32768,
    # merge adjacent COG tiles into one range request
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    # bounded caches: a 16 MB VSI cache per open handle (up to 32 handles a thread) and a
    # block cache of 5 % of RAM grew with the files read (tile x 12: 3.1 GiB peak against
    # 1.0 GiB without, same speed; tests/test_memory.py). Each window is read once anyway.
    "VSI_CACHE": "FALSE",
    "GDAL_CACHEMAX": 64,
    # transient 429/5xx from public buckets: retry, but do not hang a nightly run forever
    "GDAL_HTTP_MAX_RETRY": 3,
    "GDAL_HTTP_RETRY_DELAY": 1,
    "GDAL_HTTP_CONNECTTIMEOUT": 10,
    "GDAL_HTTP_TIMEOUT": 120,  # the whole request (curl's CURLOPT_TIMEOUT), body included
    # a server that answers a byte now and then: given up after 30 s under 100 B/s
    "GDAL_HTTP_LOW_SPEED_TIME": 30,
    "GDAL_HTTP_LOW_SPEED_LIMIT": 100,
    # public buckets (Earth Search's s3:// hrefs) need no credentials
    "AWS_NO_SIGN_REQUEST": "YES",
}
"""GDAL settings for every read. ``CPL_VSIL_CURL_ALLOWED_EXTENSIONS`` is deliberately not set:
signed hrefs (Planetary Computer SAS tokens) end in a query string, not ``.tif``."""

_TUNABLE = ("GDAL_HTTP_MAX_RETRY", "GDAL_HTTP_RETRY_DELAY", "GDAL_HTTP_CONNECTTIMEOUT",
            "GDAL_HTTP_TIMEOUT", "GDAL_HTTP_LOW_SPEED_TIME", "GDAL_HTTP_LOW_SPEED_LIMIT")
# rasterio.Env's options override GDAL's environment variables: without this, a user setting
# GDAL_HTTP_MAX_RETRY for a flaky link (the GDAL way) would be silently ignored
GDAL_ENV.update({k: os.environ[k] for k in _TUNABLE if os.environ.get(k, "").strip()})

_DTYPES = {band: np.uint16 for band in BANDS} | {"SCL": np.uint8}
_MAX_HANDLES = 32  # per thread; a day mosaic touches 7 bands x a few tiles


@dataclass(frozen=True)
class Granule:
    """One tile of one pass, as a source found it: what a mosaic is made of."""

    item_id: str
    """The provider's id of this tile (STAC item id, SAFE product name)."""
    datetime: dt.datetime
    """Acquisition time, timezone-aware UTC."""
    hrefs: Mapping[str, str]
    """Readable href (path, http(s) URL, s3:// URL) per cube band ``B02 ... B12, SCL``."""
    boa_offset: int
    """DN offset of this tile's reflectance bands (-1000 or 0)."""
    cloud_cover: float = float("nan")
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    footprint: tuple[float, float, float, float] | None = None
    """Lon/lat bounds the catalogue gives the tile (its rasters must cover it over the site)."""


def solar_day_scenes(site: Site, granules: Iterable[Granule], source: str) -> list[SceneRef]:
    """One :class:`SceneRef` per local solar day over ``site``, oldest first.

    The solar day is the UTC time shifted by the site centroid's longitude / 15 h, so one
    overpass (about 10:30 local time) never splits across two days and two passes on one UTC
    day at high latitude stay apart only if they fall on different local days. Tiles are
    ordered by item id: that order decides the mosaic ("first valid pixel wins"), and the first
    id becomes ``scene_id``, stable when a later-sorting tile is added to a catalogue.
    ``boa_offset`` is the first tile's; the others carry a DN ``shift`` to match it.
    """
    lon, _ = site.centroid_lonlat
    days: dict[dt.date, list[Granule]] = {}
    for g in granules:
        if g.datetime.tzinfo is None:
            raise SourceError(f"{g.item_id}: acquisition time has no time zone")
        day = (g.datetime.astimezone(dt.UTC) + dt.timedelta(hours=lon / 15.0)).date()
        days.setdefault(day, []).append(g)
    scenes = []
    for day in sorted(days):
        tiles = sorted(days[day], key=lambda g: g.item_id)
        first = tiles[0]
        assets = {band: tuple((g.hrefs[band], 0 if band == "SCL" else
                               g.boa_offset - first.boa_offset) for g in tiles)
                  for band in CUBE_BANDS}
        clouds = [g.cloud_cover for g in tiles if math.isfinite(g.cloud_cover)]
        props = dict(first.properties)
        props.update(items=tuple(g.item_id for g in tiles), assets=assets, solar_day=day,
                     footprints=tuple(_bounds(g.footprint) for g in tiles))
        scenes.append(SceneRef(
            datetime=first.datetime.astimezone(dt.UTC), scene_id=first.item_id,
            boa_offset=first.boa_offset,
            cloud_cover=round(float(np.mean(clouds)), 4) if clouds else float("nan"),
            source=source, properties=props))
    return scenes


def _bounds(footprint: Any) -> tuple[float, float, float, float] | None:
    """Finite lon/lat bounds not spanning the antimeridian, else None (no coverage check)."""
    try:
        b = tuple(float(v) for v in footprint)
    except (TypeError, ValueError):
        return None
    ok = len(b) == 4 and all(math.isfinite(v) for v in b) and 0 < b[2] - b[0] <= 180 \
        and b[1] < b[3]
    return b if ok else None  # type: ignore[return-value]


# -- the cube ------------------------------------------------------------------------------
READ_WINDOW = 2048
"""A site up to this many pixels on a side (or up to one chunk) is read whole: one task per
scene for all bands, its chunks views into it. COGs of 20 m bands are tiled 1024 px (2048 of
our pixels), so chunks of 1024 would decode each such tile up to four times, once a chunk."""


def load_cube(site: Site, scenes: Sequence[SceneRef], chunks: int | None, *,
              source: str) -> xr.Dataset:
    """The lazy scene cube of ``scenes`` (made by :func:`solar_day_scenes`) on ``site``'s grid.

    Dims ``(time, y, x)``, chunks ``(1, chunks, chunks)``; uint16 ``B02 ... B12``, uint8 ``SCL``;
    coords ``time`` (datetime64[ns], naive UTC), ``boa_offset`` (int16), ``scene_id``; and
    ``fetch_status`` (time,) int16 (see the module doc). Nothing is read until computed; the
    status comes from the same read tasks as the pixels, so computing both reads once.

    One read task per band, scene and read window: the window is the whole site when it fits
    :data:`READ_WINDOW`, else a chunk. Chunks are views into it, so the cube's chunking (and
    every sum over it) is what ``chunks`` says either way.
    """
    grid = site_grid(site)
    step = int(chunks or max(grid.shape))
    ys = _spans(grid.height, step)
    xs = _spans(grid.width, step)
    whole = max(grid.shape) <= max(READ_WINDOW, step)
    read_step = step * len(ys if grid.height >= grid.width else xs) if whole else step
    data, statuses = _band_arrays(scenes, grid, ys, xs, read_step)
    times = np.array([np.datetime64(s.datetime.astimezone(dt.UTC).replace(tzinfo=None), "ns")
                      for s in scenes], dtype="datetime64[ns]")
    coords = {
        "time": times, "y": grid.y_coords(), "x": grid.x_coords(),
        "boa_offset": ("time", np.array([s.boa_offset for s in scenes], np.int16)),
        "scene_id": ("time", np.array([s.scene_id for s in scenes], dtype=object)),
    }
    ds = xr.Dataset({k: (("time", "y", "x"), v) for k, v in data.items()}, coords=coords)
    rows = status_rows(da.stack(statuses).max(axis=(0, 3)), [h for _, h in ys])
    ds["fetch_status_rows"] = (("time", "y"), rows)  # chunked as the reads
    ds["fetch_status"] = ("time", da.stack(statuses).max(axis=(0, 2, 3)))
    ds["fetch_status"].attrs["meaning"] = (
        f"{FETCH_OK}: read; {FETCH_BROKEN}: connection broken or raster undecodable; else the "
        "HTTP status of the failed read (pixels of that block are nodata)")
    ds.attrs.update(crs=grid.crs, transform=grid.transform, res=grid.res, site_id=site.id,
                    source=source)
    return ds


def _assets(scene: SceneRef, band: str) -> tuple[tuple[str, int, Any], ...]:
    """``(href, shift, footprint)`` of each tile of the scene's mosaic, for ``band``."""
    try:
        tiles = scene.properties["assets"][band]
        footprints = tuple(scene.properties.get("footprints") or ())
        if len(footprints) != len(tiles):  # a scene made elsewhere: no coverage check
            footprints = (None,) * len(tiles)
        return tuple((str(h), int(s), _bounds(f)) for (h, s), f in zip(tiles, footprints,
                                                                        strict=True))
    except (KeyError, TypeError, ValueError):
        raise SourceError(f"scene {scene.scene_id} carries no {band} asset; "
                          "was it found by this source's search()?") from None


def _spans(size: int, step: int) -> tuple[tuple[int, int], ...]:
    return tuple((start, min(step, size - start)) for start in range(0, size, step))


def _band_arrays(scenes: Sequence[SceneRef], grid: SiteGrid, ys: tuple[tuple[int, int], ...],
                 xs: tuple[tuple[int, int], ...], read_step: int
                 ) -> tuple[dict[str, da.Array], list[da.Array]]:
    """Each band (time, y, x) and the read status of each of its blocks (time, ny, nx): views
    into one read task per band, scene and read window (``read_step`` px, a multiple of the
    chunk side), so that computing one band reads that band only."""
    ychunks = tuple(n for _, n in ys)
    xchunks = tuple(n for _, n in xs)
    ntime = (1,) * len(scenes)
    windows = {}
    for i, (y0, h) in enumerate(ys):
        for j, (x0, w) in enumerate(xs):
            ry, rx = y0 // read_step * read_step, x0 // read_step * read_step
            read = (ry, rx, min(read_step, grid.height - ry), min(read_step, grid.width - rx))
            windows[(i, j)] = (read, (y0 - ry, y0 - ry + h, x0 - rx, x0 - rx + w))
    bands, statuses = {}, []
    for band in CUBE_BANDS:
        if not scenes:
            bands[band] = da.zeros((0, grid.height, grid.width), dtype=_DTYPES[band],
                                   chunks=(1, ychunks, xchunks))
            statuses.append(da.zeros((0, len(ys), len(xs)), dtype=np.int16, chunks=1))
            continue
        per_scene = [_assets(s, band) for s in scenes]
        token = tokenize(band, per_scene, grid, ys, xs, read_step)
        read, name, status = f"read-{band}-{token}", f"{band}-{token}", f"status-{band}-{token}"
        reads: dict[tuple, tuple] = {}
        blocks: dict[tuple, tuple] = {}
        codes: dict[tuple, tuple] = {}
        for t, rasters in enumerate(per_scene):
            for (i, j), (window, cut) in windows.items():
                key = (read, t, window[0] // read_step, window[1] // read_step)
                reads[key] = (read_block_status, rasters, grid, band, window)
                blocks[(name, t, i, j)] = (_window, key, cut)
                codes[(status, t, i, j)] = (operator.getitem, key, 1)
        pixels = HighLevelGraph({read: reads, name: blocks}, {read: set(), name: {read}})
        flags = HighLevelGraph({read: reads, status: codes}, {read: set(), status: {read}})
        bands[band] = da.Array(pixels, name, chunks=(ntime, ychunks, xchunks),
                               dtype=_DTYPES[band])
        statuses.append(da.Array(flags, status, chunks=(ntime, (1,) * len(ys), (1,) * len(xs)),
                                 dtype=np.int16))
    return bands, statuses


def _window(read: tuple[np.ndarray, np.ndarray], cut: tuple[int, int, int, int]) -> np.ndarray:
    """Rows ``cut[0]:cut[1]`` and columns ``cut[2]:cut[3]`` of a read block (a view)."""
    return read[0][:, cut[0]:cut[1], cut[2]:cut[3]]


# -- one task: one band of one scene, one window ------------------------------------------
_HTTP_CODE = re.compile(r"\bHTTP (?:(?:error|response) code(?: on \S+)? ?: ?)?(\d{3})\b")
"""An HTTP status in a read error: ours (``HTTP 404``, see :func:`_why`) or GDAL's (``HTTP error
code : 503``, ``HTTP response code: 429``, ``HTTP response code on <url>: 500``). Case matters:
the lower-case ``http://`` of an href never matches."""


def read_block_status(rasters: Sequence[tuple[str, int]], grid: SiteGrid, band: str,
                      window: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_block`, with a failed read turned into data: ``(block, status)`` where
    ``status`` is a (1, 1, 1) int16 array, 0 when read, else the HTTP status GDAL reported or
    :data:`~flows.sources.FETCH_BROKEN`; a failed block is all nodata (a mosaic missing one
    of its tiles would be silently incomplete)."""
    try:
        block, code = read_block(rasters, grid, band, window), FETCH_OK
    except Unusable as exc:
        code = exc.code
        log_once(f"{exc}; its scene is failed")
        block = np.zeros((1, window[2], window[3]), dtype=_DTYPES[band])
    except SourceError as exc:
        match = _HTTP_CODE.search(str(exc))
        code = int(match.group(1)) if match else FETCH_BROKEN
        log.warning("%s; block %s left as nodata", exc, window)
        block = np.zeros((1, window[2], window[3]), dtype=_DTYPES[band])
    return block, np.full((1, 1, 1), code, dtype=np.int16)


def read_block(rasters: Sequence[tuple[str, int]], grid: SiteGrid, band: str,
               window: tuple[int, int, int, int]) -> np.ndarray:
    """Mosaic ``band`` of one scene in ``window`` = (row, col, height, width) of ``grid``.

    ``rasters`` are ``(href, shift)`` or ``(href, shift, footprint)`` in mosaic order (the
    footprint: the tile's lon/lat bounds from its catalogue, see :func:`check_raster`); the
    first non-zero pixel wins; ``shift`` is added to valid DN (clipped to 1..65535). Returns a
    ``(1, height, width)`` array; :class:`Unusable` for a raster that fails the checks.
    """
    row, col, h, w = window
    dtype = _DTYPES[band]
    out = np.zeros((h, w), dtype=dtype)
    fresh = True  # nothing written yet: every pixel is empty (and written in place if it can)
    with rasterio.Env(**GDAL_ENV):
        for href, shift, *rest in rasters:
            footprint = rest[0] if rest else None
            if not fresh:
                empty = out == 0
                if not empty.any():
                    break
            try:
                part = _read_one(href, grid, band, window, footprint,
                                 into=out if fresh and not shift else None)
            except rasterio.errors.RasterioError as exc:
                _handles().forget(href)  # a handle that failed may hold a broken state
                raise SourceError(f"cannot read {band} from {redact(href)}: "
                                  f"{redact(_why(exc, href))}") from None
            if part is None:
                continue
            (r0, r1, c0, c1), values = part
            if values is None:  # checked and written into ``out`` as read (zeros stay zeros)
                fresh = False
                continue
            check_values(values, band, href, dtype)
            target = out[r0:r1, c0:c1]
            fill = (values != 0) if fresh else empty[r0:r1, c0:c1] & (values != 0)
            fresh = False
            if shift:
                shifted = np.clip(values.astype(np.int32) + shift, 1, np.iinfo(dtype).max)
                target[fill] = shifted[fill].astype(dtype)
            else:
                target[fill] = values[fill]
    return out[np.newaxis]


def _why(exc: BaseException, href: str) -> str:
    """One line on a failed read: GDAL's innermost message (rasterio's outer one is often
    "Read failed. See previous exception"), and for an http(s) raster GDAL could not open,
    the HTTP status it answers now (GDAL's open error does not say; a 404 asset must not
    read as a corrupt file)."""
    causes = []
    while exc is not None and len(causes) < 10:
        causes.append(exc)
        exc = exc.__cause__ or exc.__context__
    texts = [" ".join(str(c).split()) for c in causes if str(c).strip()]
    message = texts[-1] if texts else type(causes[0]).__name__
    if "not recognized as being in a supported file format" in message or \
            "No such file" in message:
        status = _probe_status(href)
        if status is not None and status >= 400:
            return f"HTTP {status}"
    return message[:300]


def _probe_status(href: str, timeout: float = 10.0) -> int | None:
    """The HTTP status of a one-byte GET of an http(s) ``href``; None when it is no URL or
    nothing answers."""
    if not re.match(r"^https?://", href, re.I):
        return None
    request = urllib.request.Request(href, headers={"Range": "bytes=0-0"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _read_one(href: str, grid: SiteGrid, band: str, window: tuple[int, int, int, int],
              footprint: tuple[float, float, float, float] | None = None,
              into: np.ndarray | None = None):
    """One raster's pixels in the window: ``((r0, r1, c0, c1), values)`` relative to the
    window, or None where the raster does not reach it. ``into``: the window's array, where a
    nested raster's pixels are written in place (``values`` is then None), as delivered,
    once their values are checked (:func:`~flows.sources._checks.check_values`)."""
    src = _handles().dataset(href, band, grid, footprint)
    factor = _nesting(src, grid)
    if factor is not None:
        return _read_nested(src, grid, factor, window, into, (band, href))
    resampling = Resampling.nearest if band == "SCL" else (
        Resampling.average if abs(src.res[0]) < grid.res else Resampling.bilinear)
    vrt = _handles().warped(href, src, grid, resampling)
    row, col, h, w = window
    values = vrt.read(1, window=Window(col, row, w, h))
    return (0, h, 0, w), values


def _nesting(src, grid: SiteGrid) -> tuple[int, int, int] | None:
    """``(k, row_offset, col_offset)`` when every source pixel is exactly k x k grid pixels
    starting at a grid pixel edge (same CRS, north-up), else None."""
    t = src.transform
    if src.crs is None or src.crs.to_epsg() != grid.epsg or t.b != 0 or t.d != 0 or t.a != -t.e:
        return None
    k = t.a / grid.res
    oc = (t.c - grid.left) / grid.res
    orow = (grid.top - t.f) / grid.res
    if not all(abs(v - round(v)) < 1e-6 for v in (k, oc, orow)) or round(k) < 1:
        return None
    return int(round(k)), int(round(orow)), int(round(oc))


def _read_nested(src, grid: SiteGrid, nesting: tuple[int, int, int],
                 window: tuple[int, int, int, int], into: np.ndarray | None = None,
                 what: tuple[str, str] | None = None):
    """The raster's pixels in the window as k x k grid pixels each (:func:`_read_one`);
    written in place into ``into`` only after the values are checked against the band
    ``what = (band, href)`` (a cast to the cube's type would wrap them)."""
    k, orow, ocol = nesting
    row, col, h, w = window
    # the window clipped to the raster's footprint, in grid pixels
    r0, r1 = max(row, orow), min(row + h, orow + src.height * k)
    c0, c1 = max(col, ocol), min(col + w, ocol + src.width * k)
    if r0 >= r1 or c0 >= c1:
        return None
    sr0, sc0 = (r0 - orow) // k, (c0 - ocol) // k
    sr1, sc1 = -(-(r1 - orow) // k), -(-(c1 - ocol) // k)
    values = src.read(1, window=Window(sc0, sr0, sc1 - sc0, sr1 - sr0))
    region = (r0 - row, r1 - row, c0 - col, c1 - col)
    dr, dc = r0 - orow - sr0 * k, c0 - ocol - sc0 * k
    if into is not None:
        if what is None:
            raise ValueError("an in-place read needs the band and href its values are checked for")
        check_values(values, what[0], what[1], into.dtype)
        replicate(values, k, dr, dc, into[region[0]:region[1], region[2]:region[3]])
        return region, None
    if k > 1:
        out = np.empty((r1 - r0, c1 - c0), values.dtype)
        replicate(values, k, dr, dc, out)
        values = out
    return region, values


def replicate(values: np.ndarray, k: int, dr: int, dc: int, target: np.ndarray) -> None:
    """``target[i, j] = values[(i + dr) // k, (j + dc) // k]``: a source pixel as k x k grid
    pixels (nearest, exact), from row ``dr`` and column ``dc`` of the first one's block;
    written as k² strided copies (~2 ms a 2000² window at k = 2, where two ``np.repeat`` and
    a copy took ~6)."""
    height, width = target.shape
    for a in range(k):
        i0 = (a - dr) % k  # the target rows i0, i0 + k, ... come from source row (i0 + dr) // k + m
        rows = len(range(i0, height, k))
        for b in range(k):
            j0 = (b - dc) % k
            cols = len(range(j0, width, k))
            s0, t0 = (i0 + dr) // k, (j0 + dc) // k
            target[i0::k, j0::k] = values[s0:s0 + rows, t0:t0 + cols]


class _Handles(threading.local):
    """This thread's open datasets and warped views, least recently used closed first."""

    def __init__(self) -> None:
        self.open: OrderedDict[tuple, Any] = OrderedDict()
        self.verdicts: dict[tuple, Any] = {}

    def _get(self, key: tuple, make, valid=lambda obj: not obj.closed) -> Any:
        obj = self.open.get(key)
        if obj is not None and valid(obj):
            self.open.move_to_end(key)
            return obj
        obj = self.open[key] = make()
        while len(self.open) > _MAX_HANDLES:
            _, old = self.open.popitem(last=False)
            old.close()
        return obj

    def dataset(self, href: str, band: str | None = None, grid: SiteGrid | None = None,
                footprint: tuple[float, float, float, float] | None = None):
        """The open dataset of ``href``, checked (:func:`check_raster`) when first opened for
        this band, grid and footprint (a failed check is remembered too)."""
        checked = ("checked", href, band, grid, footprint)
        verdict = self.verdicts.get(checked)
        if isinstance(verdict, Unusable):
            raise verdict

        def make():
            if not _REMOTE.match(href) and not regular_file(href):
                if os.path.lexists(href):  # a FIFO would block the open, a device never end
                    raise Unusable(FETCH_NOT_FILE, f"{redact(href)} is not a regular file")
            return rasterio.open(href)

        src = self._get(("ds", href), make)
        if band is not None and grid is not None and verdict is None:
            try:
                check_raster(src, href, band, grid, footprint)
            except Unusable as exc:
                self.verdicts[checked] = exc
                raise
            self.verdicts[checked] = True
            if len(self.verdicts) > 4 * _MAX_HANDLES:
                self.verdicts.pop(next(iter(self.verdicts)))
        return src

    def forget(self, href: str) -> None:
        """Close and drop this thread's handles of ``href`` (after a failed read)."""
        for key in [k for k in self.open if k[1] == href]:
            self.open.pop(key).close()

    def warped(self, href: str, src, grid: SiteGrid, resampling: Resampling):
        def make():
            return WarpedVRT(src, crs=grid.crs, transform=Affine(*grid.transform),
                             width=grid.width, height=grid.height, resampling=resampling,
                             src_nodata=0, nodata=0)
        # a view is only good while the very handle it was made on is open
        return self._get(("vrt", href, grid, resampling), make,
                         valid=lambda vrt: vrt.src_dataset is src and not src.closed)


_LOCAL = _Handles()
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|/vsi)", re.I)


def _handles() -> _Handles:
    return _LOCAL
