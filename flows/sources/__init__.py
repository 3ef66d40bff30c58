"""Scene sources: where Sentinel-2 L2A scenes come from.

Every source offers the same two calls, and the flow never needs to know which one it has:

``search(site, start, end) -> list[SceneRef]``
    the scenes over a site in a date range, one per solar day, oldest first;
``load(site, scenes, chunks) -> xr.Dataset``
    the lazy scene cube of the contract in ``design.md``: dims ``(time, y, x)`` on the site's
    UTM grid at 10 m, uint16 bands ``B02 B03 B04 B08 B11 B12``, uint8 ``SCL``, coords ``time``,
    ``boa_offset`` and ``scene_id``.
"""

from __future__ import annotations

from typing import Any

from flows.sources.base import (
    BANDS,
    CHUNKS,
    FETCH_BROKEN,
    FETCH_OK,
    FETCH_REASONS,
    SceneRef,
    Source,
    SourceError,
    SourceUnreachable,
    failed_scenes,
    redact,
    status_rows,
)

__all__ = ["BANDS", "CHUNKS", "FETCH_BROKEN", "FETCH_OK", "FETCH_REASONS", "SOURCES", "SceneRef",
           "Source", "SourceError", "SourceUnreachable", "failed_scenes", "get_source", "redact",
           "status_rows"]


def _demo(**kwargs: Any) -> Source:
    from flows.sources.demo import DemoSource

    return DemoSource(**kwargs)


def _stac(**kwargs: Any) -> Source:
    from flows.sources.stac import StacSource

    return StacSource(**kwargs)


def _safe(**kwargs: Any) -> Source:
    from flows.sources.safe import SafeSource

    return SafeSource(**kwargs)


def _sentinelhub(**kwargs: Any) -> Source:
    from flows.sources.sentinelhub import SentinelHubSource

    return SentinelHubSource(**kwargs)


SOURCES = {"demo": _demo, "stac": _stac, "safe": _safe, "sentinelhub": _sentinelhub}
"""Source factories by the name ``--source`` takes."""


def get_source(name: str, **kwargs: Any) -> Source:
    try:
        factory = SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown source {name!r}; choose one of {', '.join(SOURCES)}") from None
    return factory(**kwargs)
