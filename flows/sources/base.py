"""The contract every scene source keeps: scene references, the ``Source`` protocol, fetch
status and the errors a source raises (see :mod:`flows.sources` for the registry)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import xarray as xr

    from aoi import Site

__all__ = ["BANDS", "CHUNKS", "FETCH_BROKEN", "FETCH_OK", "SceneRef", "Source", "SourceError",
           "failed_scenes", "status_rows"]


class SourceError(RuntimeError):
    """A source cannot deliver: missing catalogue, unreachable service, unusable item.

    The message is one line, fit for the command line and the run summary."""


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


def failed_scenes(scene_ids: Any, fetch_status: Any) -> dict[str, str]:
    """``{scene_id: reason}`` for scenes whose ``fetch_status`` (computed) is not 0."""
    import numpy as np

    out = {}
    for sid, code in zip(np.asarray(scene_ids).tolist(), np.asarray(fetch_status).tolist(),
                         strict=True):
        if code != FETCH_OK:
            out[str(sid)] = ("connection broken or response undecodable" if code == FETCH_BROKEN
                             else f"HTTP {code}")
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
