"""One read task of the scene cube (:mod:`flows.sources._reader`): one band of one scene in one
window of the site grid, mosaicked from the scene's tiles, with its fetch status.

Handles: one rasterio dataset (and VRT) per href *per thread*, cached (LRU) in thread-local
storage, so tasks never share a GDAL handle and need no global lock; a read that is the only
one of its raster in a pass (a site read whole, :data:`~flows.sources._reader.READ_WINDOW`)
closes its handles after it (``keep=False``): an open GeoTIFF holds ~one decoded block of
memory (2 MiB for a 1024² uint16 COG), so 32 kept handles a thread of rasters never read again
were ~0.3 GiB of a 2000² x 24 run's floor. Every read runs under :data:`GDAL_ENV`. The checks
and failures-as-data are described in :mod:`flows.sources._reader`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import rasterio
import rasterio.errors
from affine import Affine
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from aoi.grid import SiteGrid
from flows.sources._checks import Unusable, check_raster, check_values, log_once
from flows.sources._io import regular_file
from flows.sources.base import (
    BANDS,
    FETCH_BROKEN,
    FETCH_NOT_FILE,
    FETCH_OK,
    SourceError,
    redact,
)

__all__ = ["GDAL_ENV", "read_block", "read_block_status", "replicate"]

log = logging.getLogger("flows.sources._reader")

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


_HTTP_CODE = re.compile(r"\bHTTP (?:(?:error|response) code(?: on \S+)? ?: ?)?(\d{3})\b")
"""An HTTP status in a read error: ours (``HTTP 404``, see :func:`_why`) or GDAL's (``HTTP error
code : 503``, ``HTTP response code: 429``, ``HTTP response code on <url>: 500``). Case matters:
the lower-case ``http://`` of an href never matches."""


def read_block_status(rasters: Sequence[tuple[str, int]], grid: SiteGrid, band: str,
                      window: tuple[int, int, int, int], keep: bool = True
                      ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_block`, with a failed read turned into data: ``(block, status)`` where
    ``status`` is a (1, 1, 1) int16 array, 0 when read, else the HTTP status GDAL reported or
    :data:`~flows.sources.FETCH_BROKEN`; a failed block is all nodata (a mosaic missing one
    of its tiles would be silently incomplete)."""
    try:
        block, code = read_block(rasters, grid, band, window, keep), FETCH_OK
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
               window: tuple[int, int, int, int], keep: bool = True) -> np.ndarray:
    """Mosaic ``band`` of one scene in ``window`` = (row, col, height, width) of ``grid``.

    ``rasters`` are ``(href, shift)`` or ``(href, shift, footprint)`` in mosaic order (the
    footprint: the tile's lon/lat bounds from its catalogue, see :func:`check_raster`); the
    first non-zero pixel wins; ``shift`` is added to valid DN (clipped to 1..65535). Returns a
    ``(1, height, width)`` array; :class:`Unusable` for a raster that fails the checks.
    ``keep``: leave this thread's handles of the rasters open for the next read (else closed
    after this one: a raster read once a pass, see the module doc).
    """
    row, col, h, w = window
    out = np.zeros((h, w), dtype=_DTYPES[band])
    try:
        with rasterio.Env(**GDAL_ENV):
            _mosaic(out, rasters, grid, band, window)
    finally:
        if not keep:
            for href, *_ in rasters:
                _handles().forget(href)
    return out[np.newaxis]


def _mosaic(out: np.ndarray, rasters: Sequence[tuple], grid: SiteGrid, band: str,
            window: tuple[int, int, int, int]) -> None:
    """:func:`read_block`'s mosaic into ``out`` (zeros), first valid pixel wins."""
    dtype = out.dtype
    fresh = True  # nothing written yet: every pixel is empty (and written in place if it can)
    for href, shift, *rest in rasters:
        footprint = rest[0] if rest else None
        if not fresh:
            empty = out == 0
            if not empty.any():
                return
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
