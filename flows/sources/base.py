"""The contract every scene source keeps: scene references, the ``Source`` protocol, fetch
status and the errors a source raises (see :mod:`flows.sources` for the registry)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import xarray as xr

    from aoi import Site

__all__ = ["BANDS", "CHUNKS", "FETCH_BROKEN", "FETCH_OK", "FETCH_REASONS", "SceneRef", "Source",
           "SourceError", "SourceUnreachable", "failed_scenes", "redact", "status_rows"]


class SourceError(RuntimeError):
    """A source cannot deliver: missing catalogue, unusable item, refused request.

    The message is one line (URLs in it redacted: :func:`redact`), fit for the command line
    and the run summary. ``retryable``: whether trying again later could help (a timeout, a
    reset connection, HTTP 429 or 5xx); the flow retries only those."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(" ".join(redact(str(message)).split()))
        self.retryable = retryable


class SourceUnreachable(SourceError):
    """The source's service cannot be reached at all (no DNS answer, connection refused, no
    route, connection timed out): every site would fail the same way, so the run stops
    before or at the first site that meets it, says so once and exits with its own code."""


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"<>]*@")
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:[a-z0-9_.-]*(?:token|sig|signature|secret|password|passwd|pwd|credential|"
    r"auth|key|session|code)[a-z0-9_.-]*|sv|se|sp|sr|st|skoid|sktid|skt|ske|sks|skv)=)"
    r"[^&#\s'\"<>]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]{8,}")


def redact(text: object) -> str:
    """``text`` with the secrets URLs carry replaced by ``***``: the password (and user) of
    ``scheme://user:password@host``, and the values of query parameters that hold tokens or
    signatures (``token``, ``access_token``, ``sig``, ``X-Amz-Signature``,
    ``X-Amz-Credential``, ``X-Amz-Security-Token``, ``key``, ``password``, Azure SAS fields
    ``sv se sp sr st ...``), plus ``Bearer``/``Basic`` credentials. The one redaction of the
    project: every message, log line, run record and report that shows a URL goes through it."""
    out = _USERINFO.sub(r"\1***@", str(text))
    out = _QUERY_SECRET.sub(r"\1***", out)
    return _BEARER.sub(r"\1 ***", out)


FETCH_OK = 0
FETCH_BROKEN = 1
"""``fetch_status`` of a scene whose connection broke or whose body could not be decoded.

A source that can lose scenes (a download that fails after its retries) adds an int16
``fetch_status`` variable over ``time`` to the cube: 0 fetched, ``FETCH_BROKEN``, or the HTTP
status of the last failure, and ``fetch_status_rows`` (time, y), the same per pixel row
(:func:`status_rows`). The failed scene's pixels are nodata; the flow records the scene as
failed and writes no observation row for it, so the next run fetches it again."""


def status_rows(blocks: Any, heights: Any) -> Any:
    """``fetch_status_rows`` (time, y) from the read status of each row of blocks (time,
    block rows) and the blocks' heights: each pixel row gets the status of the reads it comes
    from, so that a strip of rows checks its own reads (a walk over row strips, see
    :func:`flows.site.site_tables`) and the max over rows is ``fetch_status``. Chunked
    along ``y`` as the reads are: the strips follow them."""
    import dask.array as da

    n = blocks.shape[0]
    return da.concatenate([da.broadcast_to(blocks[:, i:i + 1], (n, int(h)))
                           for i, h in enumerate(heights)], axis=1)


FETCH_DTYPE, FETCH_BANDS, FETCH_GEOREF, FETCH_RANGE, FETCH_NOT_FILE = 2, 3, 4, 5, 6
FETCH_REASONS: dict[int, str] = {
    FETCH_BROKEN: "connection broken or response undecodable",
    FETCH_DTYPE: "unusable raster: pixels are not integer digital numbers (floating point)",
    FETCH_BANDS: "unusable raster: a band's asset holds more than one band",
    FETCH_GEOREF: "unusable raster: no CRS, or its footprint does not cover the site as its "
                  "catalogue item says",
    FETCH_RANGE: "unusable raster: values outside L2A's range (negative or above 65535, or "
                 "SCL above 11)",
    FETCH_NOT_FILE: "unusable asset: not a regular file",
}
"""Reasons of the ``fetch_status`` codes below 100 (codes 100-599 are HTTP statuses). An
unusable raster is checked before use (:mod:`flows.sources._reader`): its scene is failed
with the reason, never stored as observed, and fetched again by the next run."""


def failed_scenes(scene_ids: Any, fetch_status: Any) -> dict[str, str]:
    """``{scene_id: reason}`` for scenes whose ``fetch_status`` (computed) is not 0."""
    import numpy as np

    out = {}
    for sid, code in zip(np.asarray(scene_ids).tolist(), np.asarray(fetch_status).tolist(),
                         strict=True):
        if code != FETCH_OK:
            out[str(sid)] = FETCH_REASONS.get(int(code), f"HTTP {code}")
    return out


#: The bands of the scene cube, in order; SCL rides along as uint8.
BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B08", "B11", "B12")

CHUNKS = 1024
"""Default spatial chunk of the cube, pixels (``time=1, y=CHUNKS, x=CHUNKS``; 2 MiB a uint16
band): the design's 1024-2048 px, and the run's ``--chunks`` default (``RunConfig.chunks``)."""


@dataclass(frozen=True, order=True)
class SceneRef:
    """One Sentinel-2 L2A acquisition over a site, as a source found it."""

    datetime: dt.datetime
    """Acquisition time, timezone-aware UTC."""
    scene_id: str
    """The provider's product id, e.g. ``S2B_MSIL2A_20230105T032119_N0509_R118_T47NPF_...``."""
    boa_offset: int
    """DN offset of the product: -1000 from processing baseline 04.00 on, else 0."""
    cloud_cover: float = float("nan")
    """Scene-level cloud cover in percent, as the catalogue reports it."""
    source: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


class Source(Protocol):
    name: str

    def search(self, site: Site, start: dt.date, end: dt.date) -> list[SceneRef]: ...

    def load(
        self, site: Site, scenes: list[SceneRef], chunks: int | None = CHUNKS
    ) -> xr.Dataset: ...
