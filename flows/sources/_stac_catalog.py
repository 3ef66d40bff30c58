"""Reading STAC catalogues for :mod:`flows.sources.stac`: documents read bounded
(:mod:`flows.sources._io`), a static catalog walked once over its links, items parsed and
checked one by one.

* :func:`read_json`: one document, a regular file or an http answer of at most 64 MB within
  the request deadline; a one-line SourceError otherwise.
* :func:`walk`: every usable item under a catalog, collection, item collection or item,
  breadth first over ``child`` and ``item`` links, each document read once (a link loop
  ends), at most :data:`MAX_DOCUMENTS` of them.
* :func:`parse_item` / :func:`unusable`: an item that cannot be used (no id, unreadable,
  NaN in its footprint or bbox, a datetime outside Sentinel-2's record) is skipped and named
  to the caller's ``skip(name, reason)``; one bad item never sinks the others.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin

import pystac
import shapely
from shapely.geometry import shape

from aoi import SENTINEL2_FIRST_DAY
from flows.sources._io import MAX_DOCUMENT_BYTES, read_local, read_url
from flows.sources.base import SourceError, SourceUnreachable, redact

__all__ = ["MAX_DOCUMENTS", "catalog_file", "doc_key", "footprint", "item_time", "join",
           "one_line", "parse_item", "read_json", "unusable", "walk"]

ABSOLUTE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
MAX_DOCUMENTS = 200_000
"""Most documents (catalogs, collections, item files) one static catalog walk reads."""
Skip = Callable[[str, str], None]
"""Told each unusable item or document: ``skip(name, reason)``."""


def walk(root: dict, href: str, *, timeout: float, skip: Skip) -> list[pystac.Item]:
    """Every usable item under a static catalog, collection, item collection or single
    item: breadth first over ``child`` and ``item`` links, each document read once (a
    link loop ends; at most :data:`MAX_DOCUMENTS`); unusable items and documents are skipped
    and named to ``skip(name, reason)``; a document the catalogue cannot serve now (a
    timeout, an unreachable host) fails the walk, to be retried."""
    items: list[pystac.Item] = []
    queue: deque[tuple[str, dict]] = deque([(href, root)])
    seen = {doc_key(href)}
    while queue:
        where, doc = queue.popleft()
        kind = doc.get("type")
        if kind == "Feature":
            features: list = [doc]
        elif kind == "FeatureCollection":
            features = doc.get("features") if isinstance(doc.get("features"), list) else []
        elif kind in ("Catalog", "Collection"):
            features = []
            for link in doc.get("links") or []:
                if not (isinstance(link, dict) and link.get("rel") in ("child", "item")
                        and isinstance(link.get("href"), str) and link["href"].strip()):
                    continue
                target = join(where, link["href"].strip())
                if doc_key(target) in seen:
                    continue
                seen.add(doc_key(target))
                if len(seen) > MAX_DOCUMENTS:
                    raise SourceError(f"STAC catalog {redact(href)} links more than "
                                      f"{MAX_DOCUMENTS} documents; refused")
                try:
                    queue.append((target, read_json(target, timeout)))
                except SourceError as exc:
                    if exc.retryable or isinstance(exc, SourceUnreachable):
                        raise  # the catalogue, not this document, is at fault
                    skip(f"<{link['rel']} {redact(target)}>", str(exc))
        elif where == href:
            raise SourceError(f"{redact(href)} is not a STAC catalog, collection or item "
                              f"collection (type {str(kind)[:40]!r})")
        else:
            skip(f"<document {redact(where)}>", f"not a STAC object (type "
                                                      f"{str(kind)[:40]!r})")
            continue
        for n, feature in enumerate(features):
            item = parse_item(feature, where, f"feature {n} of {redact(where)}", skip)
            if item is not None:
                items.append(item)
    return items


def parse_item(feature: object, base: str | None, where: str, skip: Skip
               ) -> pystac.Item | None:
    """A pystac Item from one feature, its relative asset hrefs made absolute against
    ``base``; None (and the item named to ``skip``) if it is unusable."""
    name = where
    try:
        if not isinstance(feature, dict):
            raise ValueError("not a JSON object")
        if not (isinstance(feature.get("id"), str) and feature["id"].strip()):
            raise ValueError("no id")
        name = feature["id"][:200]
        item = pystac.Item.from_dict(feature, preserve_dict=False, migrate=True)
    except Exception as exc:  # noqa: BLE001 - whatever a broken item raises, it is skipped
        skip(name, f"not a readable STAC item ({one_line(exc)[:200]})")
        return None
    reason = unusable(item)
    if reason is not None:
        skip(item.id, reason)
        return None
    if base is not None:
        for asset in item.assets.values():
            if not ABSOLUTE.match(asset.href) and not os.path.isabs(asset.href):
                asset.href = join(base, asset.href)
    return item


def item_time(item: pystac.Item) -> dt.datetime | None:
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def unusable(item: pystac.Item) -> str | None:
    """Why an item cannot be used (its time or footprint), or None."""
    try:
        when = item_time(item)
    except (ValueError, TypeError, OverflowError) as exc:
        return f"unreadable datetime ({one_line(exc)[:80]})"
    if when is None:
        return "no datetime"
    latest = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    if not SENTINEL2_FIRST_DAY <= when.date() <= latest.date():
        return (f"datetime {when:%Y-%m-%d} is outside Sentinel-2's record "
                f"({SENTINEL2_FIRST_DAY} to today)")
    try:
        shape_ = footprint(item)
        shape_.intersects(shapely.Point(0, 0))  # GEOS reads it now, or says why not
    except (ValueError, TypeError, AttributeError, KeyError, IndexError,
            shapely.errors.GEOSException) as exc:
        return f"unreadable footprint ({one_line(exc)[:80]})"
    coords = shapely.get_coordinates(shape_)
    if shape_.is_empty or not len(coords):
        return "no footprint (geometry or bbox)"
    if not (math.isfinite(coords.sum()) and (abs(coords[:, 0]) <= 360).all()
            and (abs(coords[:, 1]) <= 90).all()):
        return "footprint coordinates are not finite lon/lat numbers"
    return None


def footprint(item: pystac.Item):
    if item.geometry:
        return shape(item.geometry)
    if item.bbox:
        return shapely.box(*item.bbox[:2], *item.bbox[-2:]) if len(item.bbox) == 4 else \
            shapely.box(item.bbox[0], item.bbox[1], item.bbox[3], item.bbox[4])
    return shapely.Point()  # nothing to intersect


def catalog_file(path: str) -> str:
    p = Path(path).expanduser()
    if p.is_dir():
        for name in ("catalog.json", "collection.json"):
            if (p / name).is_file():
                return str((p / name).resolve())
        raise SourceError(f"STAC catalog folder {p} holds no catalog.json or collection.json")
    return str(p.resolve())


def read_json(href: str, timeout: float) -> dict:
    """One STAC document, bounded (:mod:`flows.sources._io`): a regular file or an http
    answer of at most 64 MB within ``timeout`` seconds; a one-line SourceError otherwise."""
    if re.match(r"^https?://", href, re.I):
        body = read_url(href, what="STAC catalog", deadline=timeout,
                        max_bytes=MAX_DOCUMENT_BYTES, headers={"Accept": "application/json"})
    elif ABSOLUTE.match(href) and not href.lower().startswith("file://"):
        raise SourceError(f"STAC document {redact(href)}: only http(s) and local files are read")
    else:
        body = read_local(href.removeprefix("file://"), what="STAC catalog")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise SourceError(f"STAC catalog {redact(href)} is not JSON") from None
    if not isinstance(data, dict):
        raise SourceError(f"STAC catalog {redact(href)} is not a STAC object")
    return data


def doc_key(href: str) -> str:
    """A document's identity for the walk (so that a link loop ends)."""
    if re.match(r"^https?://", href, re.I):
        return href.split("#", 1)[0]
    return os.path.normpath(href)


def join(base: str, relative: str) -> str:
    if re.match(r"^https?://", base, re.I):
        return urljoin(base, relative)
    return str((Path(base).resolve().parent / relative).resolve())


def one_line(exc: object) -> str:
    text = str(exc).strip().splitlines()
    return redact(text[0] if text else type(exc).__name__)
