"""The STAC source: Sentinel-2 L2A from any STAC API or static STAC catalog.

``StacSource(catalog=URL_OR_PATH)`` takes

* a STAC API root URL (Earth Search v1, Planetary Computer, ...): searched with pystac-client
  by the site polygon, the date range and ``eo:cloud_cover`` (``query`` or CQL2 ``filter``,
  whichever the API conforms to; filtered again here in any case);
* a static catalog: ``catalog.json`` / ``collection.json`` (or a folder holding one) on disk
  or over http, an ItemCollection / FeatureCollection file, or one item; walked with pystac
  and filtered here by geometry, solar day and cloud cover (every collection in it is taken).

Scenes are one per site and local solar day: the MGRS tiles of one pass are mosaicked onto the
site grid by :mod:`flows.sources._reader` (first valid pixel wins, items in id order;
``scene_id`` = the first item id). Pixels are read lazily from the COG assets, window by
window, one dask task per scene x band x spatial chunk.

Assets: the Earth Search v1 keys (``blue green red nir swir16 swir22 scl``) or the ESA names
(``B02 ... B12 SCL``, Earth Search v0, Planetary Computer), else an asset whose ``eo:bands``
names the band.

DN offset per item, first rule that applies (:func:`boa_offset`); never from the date, since
pre-2022 scenes reprocessed at baseline 05.xx carry the offset too:

1. ``earthsearch:boa_offset_applied`` (or ``sentinel:boa_offset_applied``) true: Element 84
   already removed the offset from the pixels, so 0. This flag wins over ``raster:bands``: its
   maintainers call it the truth where the two disagree (``offset: -0.1`` is left on
   harmonised items). The flag is also known to say *false* on some 2022 (and 2025) scenes
   whose pixels were harmonised (cirrus-earth-search#33, earth-search#71); no metadata tells
   those apart, so they get -1000 like the documentation says. Where that matters, search
   Earth Search's ``sentinel-2-c1-l2a`` (ESA's reprocessed Collection 1: consistent baseline,
   correct ``raster:bands``) instead of ``sentinel-2-l2a``.
2. ``raster:bands`` scale/offset of the reflectance assets: offset -0.1 at scale 0.0001 ->
   -1000 (a scale other than 0.0001 is refused: those are not L2A DN).
3. ``s2:processing_baseline`` (``sentinel:processing_baseline``, ``processing:version``):
   04.00 and later -> -1000, else 0 (Planetary Computer items).
4. the ``_Nxxxx_`` of the product id (``s2:product_uri``, ``sentinel:product_id``, item id).

An item none of these settles, or without the needed assets, fails the site with a one-line
:class:`~flows.sources.SourceError` naming it: a silently wrong offset shifts NDVI by up to 0.3.

Planetary Computer hrefs need a SAS token: they are signed through ``planetary_computer``
when that package is installed; otherwise they are left as they are, with a warning.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pystac
import shapely
import xarray as xr
from shapely.geometry import shape

from aoi import Site
from flows.sources._reader import CUBE_BANDS, Granule, load_cube, redact, solar_day_scenes
from flows.sources.base import CHUNKS, SceneRef, SourceError

__all__ = ["ASSET_KEYS", "StacSource", "asset_hrefs", "boa_offset"]

log = logging.getLogger(__name__)

ASSET_KEYS: dict[str, tuple[str, ...]] = {
    "B02": ("blue", "B02"), "B03": ("green", "B03"), "B04": ("red", "B04"),
    "B08": ("nir", "B08"), "B11": ("swir16", "B11"), "B12": ("swir22", "B12"),
    "SCL": ("scl", "SCL"),
}
"""Asset keys tried per cube band: Earth Search v1 common names, then ESA band names."""

_HARMONISED_FLAGS = ("earthsearch:boa_offset_applied", "sentinel:boa_offset_applied")
_BASELINE_KEYS = ("s2:processing_baseline", "sentinel:processing_baseline", "processing:version")
_PRODUCT_KEYS = ("s2:product_uri", "sentinel:product_id", "s2:product_id")
_PRODUCT_BASELINE = re.compile(r"_N(\d{2})(\d{2})_")
_API_CONFORMANCE = "https://api.stacspec.org/v1."
_ABSOLUTE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


class StacSource:
    """Sentinel-2 L2A scenes from a STAC API or a static STAC catalog (see the module doc)."""

    name = "stac"

    def __init__(self, catalog: str | os.PathLike[str] | None = None, *,
                 collections: Sequence[str] = ("sentinel-2-l2a",), max_cloud: float = 80.0,
                 sign: bool | None = None, timeout: float = 30.0, max_items: int = 10_000):
        """``collections`` are searched on APIs (static catalogs are taken whole);
        ``max_cloud`` is the scene-level ``eo:cloud_cover`` limit in percent (80: keep
        partly cloudy scenes, whose clear pixels SCL still yields, but not the overcast ones
        that only cost reads); ``sign``: None signs Planetary Computer hrefs when possible,
        True insists, False never signs."""
        if catalog is None or not str(catalog).strip():
            raise SourceError("the stac source needs a catalog: --catalog URL_OR_PATH")
        if not (isinstance(max_cloud, int | float) and 0 <= max_cloud <= 100):
            raise SourceError(f"max_cloud must be a percentage 0..100, got {max_cloud!r}")
        self.catalog = str(catalog)
        self.collections = tuple(collections)
        self.max_cloud = float(max_cloud)
        self.sign = sign
        self.timeout = float(timeout)
        self.max_items = int(max_items)
        self._is_url = bool(re.match(r"^https?://", self.catalog, re.I))
        if not self._is_url and not Path(self.catalog).expanduser().exists():
            raise SourceError(f"STAC catalog {self.catalog} does not exist")
        self._api: Any = None
        self._static: list[pystac.Item] | None = None

    # -- Source protocol -----------------------------------------------------------------
    def search(self, site: Site, start: dt.date, end: dt.date) -> list[SceneRef]:
        """One scene per solar day over ``site`` between ``start`` and ``end`` (inclusive)."""
        items = self.items(site, start, end)
        return solar_day_scenes(site, (_granule(it) for it in items), self.name)

    def load(self, site: Site, scenes: list[SceneRef], chunks: int | None = CHUNKS) -> xr.Dataset:
        return load_cube(site, scenes, chunks, source=self.name)

    # -- catalogue -----------------------------------------------------------------------
    def items(self, site: Site, start: dt.date, end: dt.date) -> list[pystac.Item]:
        """The items over ``site`` whose solar day is in ``[start, end]`` and whose cloud
        cover is at most ``max_cloud`` (items without ``eo:cloud_cover`` are kept)."""
        lon, _ = site.centroid_lonlat
        solar = dt.timedelta(hours=lon / 15.0)
        # a UTC window one day wider on each side: the solar day decides
        lo = dt.datetime.combine(start, dt.time(0), dt.UTC) - dt.timedelta(days=1)
        hi = dt.datetime.combine(end, dt.time(23, 59, 59), dt.UTC) + dt.timedelta(days=1)
        found = self._api_items(site, lo, hi) if self._is_api() else self._static_items(site)
        keep = {}
        for item in found:
            when = _item_time(item)
            cloud = item.properties.get("eo:cloud_cover")
            if when is None or not start <= (when + solar).date() <= end:
                continue
            if isinstance(cloud, int | float) and cloud > self.max_cloud:
                continue
            keep[item.id] = item
        return [keep[k] for k in sorted(keep)]

    def _is_api(self) -> bool:
        if not self._is_url:
            return False
        if self._api is None and self._static is None:
            root = _read_json(self.catalog, self.timeout)
            conforms = root.get("conformsTo") or []
            searchable = any(str(c).startswith(_API_CONFORMANCE) and "item-search" in str(c)
                             for c in conforms)
            if searchable and any(link.get("rel") == "search" for link in root.get("links", [])):
                self._api = self._open_api()
            else:
                self._static = _walk(root, self.catalog)
        return self._api is not None

    def _open_api(self):
        from pystac_client import Client
        from pystac_client.exceptions import APIError

        try:
            return Client.open(self.catalog, modifier=_signer(self.catalog, self.sign),
                               timeout=self.timeout)
        except (APIError, OSError, ValueError) as exc:
            raise SourceError(f"cannot open STAC API {redact(self.catalog)}: "
                              f"{_one_line(exc)}") from None

    def _api_items(self, site: Site, lo: dt.datetime, hi: dt.datetime) -> list[pystac.Item]:
        from pystac_client.exceptions import APIError

        client = self._api
        kwargs: dict[str, Any] = {}
        if client.conforms_to("QUERY"):
            kwargs["query"] = {"eo:cloud_cover": {"lte": self.max_cloud}}
        elif client.conforms_to("FILTER"):
            kwargs["filter"] = {"op": "<=", "args": [{"property": "eo:cloud_cover"},
                                                     self.max_cloud]}
            kwargs["filter_lang"] = "cql2-json"
        try:
            search = client.search(collections=list(self.collections) or None,
                                   intersects=shapely.geometry.mapping(site.geometry),
                                   datetime=[lo, hi], max_items=self.max_items, limit=100,
                                   **kwargs)
            return list(search.items())
        except (APIError, OSError, ValueError) as exc:
            raise SourceError(f"STAC search on {redact(self.catalog)} failed: "
                              f"{_one_line(exc)}") from None

    def _static_items(self, site: Site) -> list[pystac.Item]:
        if self._static is None:
            href = _catalog_file(self.catalog) if not self._is_url else self.catalog
            self._static = _walk(_read_json(href, self.timeout), href)
        area = site.geometry
        return [it for it in self._static if _footprint(it).intersects(area)]


# -- items -> granules -----------------------------------------------------------------
def _granule(item: pystac.Item) -> Granule:
    when = _item_time(item)
    if when is None:
        raise SourceError(f"item {item.id} has no datetime")
    cloud = item.properties.get("eo:cloud_cover")
    props = {k: item.properties[k] for k in (*_BASELINE_KEYS[:1], "platform")
             if k in item.properties}
    props["collection"] = item.collection_id
    return Granule(item_id=item.id, datetime=when, hrefs=asset_hrefs(item),
                   boa_offset=boa_offset(item),
                   cloud_cover=float(cloud) if isinstance(cloud, int | float) else math.nan,
                   properties=props)


def asset_hrefs(item: pystac.Item) -> dict[str, str]:
    """Absolute href of each cube band's asset; a one-line SourceError naming what is missing."""
    assets = item.assets
    lower = {k.lower(): k for k in assets}
    by_name = {}
    for key, asset in assets.items():
        for b in asset.extra_fields.get("eo:bands") or []:
            if isinstance(b, dict) and b.get("name"):
                by_name.setdefault(str(b["name"]).upper(), key)
    hrefs, missing = {}, []
    for band in CUBE_BANDS:
        key = next((k for k in ASSET_KEYS[band] if k in assets), None)
        key = key or next((lower[k.lower()] for k in ASSET_KEYS[band] if k.lower() in lower), None)
        key = key or by_name.get(band)
        if key is None:
            missing.append(band)
            continue
        hrefs[band] = assets[key].get_absolute_href() or assets[key].href
    if missing:
        have = ", ".join(sorted(assets)[:12]) or "none"
        raise SourceError(f"item {item.id} has no asset for {', '.join(missing)} "
                          f"(looked for {', '.join(k for b in missing for k in ASSET_KEYS[b])};"
                          f" it has {have})")
    return hrefs


def boa_offset(item: pystac.Item) -> int:
    """DN offset of an L2A item's reflectance bands (see the module doc for the rules)."""
    props = item.properties
    for flag in _HARMONISED_FLAGS:
        if props.get(flag) is True:
            return 0
    found: dict[str, int] = {}
    for band in CUBE_BANDS[:-1]:
        key = next((k for k in ASSET_KEYS[band] if k in item.assets), None)
        bands = item.assets[key].extra_fields.get("raster:bands") if key else None
        rb = bands[0] if isinstance(bands, list) and bands and isinstance(bands[0], dict) else {}
        if "offset" not in rb and "scale" not in rb:
            continue
        scale, offset = float(rb.get("scale", 1.0)), float(rb.get("offset", 0.0))
        if not math.isclose(scale, 1e-4, rel_tol=1e-6):
            raise SourceError(f"item {item.id}: raster:bands scale {scale:g} of {key} is not "
                              "0.0001, so its pixels are not L2A digital numbers")
        found[band] = round(offset / scale)
    if found:
        if len(set(found.values())) > 1:
            raise SourceError(f"item {item.id}: reflectance bands disagree on the BOA offset "
                              f"({found})")
        return next(iter(found.values()))
    for key in _BASELINE_KEYS:
        value = props.get(key)
        if value is not None:
            major_minor = _baseline(str(value))
            if major_minor is not None:
                return -1000 if major_minor >= (4, 0) else 0
    for text in (*(props.get(k) for k in _PRODUCT_KEYS), item.id):
        m = _PRODUCT_BASELINE.search(str(text or ""))
        if m:
            return -1000 if (int(m.group(1)), int(m.group(2))) >= (4, 0) else 0
    raise SourceError(f"item {item.id}: cannot tell its BOA offset (no raster:bands offset, "
                      "processing baseline or _Nxxxx_ product id)")


def _baseline(text: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*(\d{1,2})\.(\d{1,2})\s*", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _item_time(item: pystac.Item) -> dt.datetime | None:
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _footprint(item: pystac.Item):
    if item.geometry:
        return shape(item.geometry)
    if item.bbox:
        return shapely.box(*item.bbox[:2], *item.bbox[-2:]) if len(item.bbox) == 4 else \
            shapely.box(item.bbox[0], item.bbox[1], item.bbox[3], item.bbox[4])
    return shapely.Point()  # nothing to intersect


# -- reading catalogues ------------------------------------------------------------------
def _catalog_file(path: str) -> str:
    p = Path(path).expanduser()
    if p.is_dir():
        for name in ("catalog.json", "collection.json"):
            if (p / name).is_file():
                return str((p / name).resolve())
        raise SourceError(f"STAC catalog folder {p} holds no catalog.json or collection.json")
    return str(p.resolve())


def _read_json(href: str, timeout: float) -> dict:
    try:
        if re.match(r"^https?://", href, re.I):
            request = urllib.request.Request(href, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                text = response.read().decode("utf-8")
        else:
            text = Path(href).read_text(encoding="utf-8")
        data = json.loads(text)
    except urllib.error.HTTPError as exc:
        raise SourceError(f"cannot read STAC catalog {redact(href)}: HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        why = "connection refused" if isinstance(reason, ConnectionRefusedError) else \
            _one_line(reason)
        raise SourceError(f"cannot reach STAC catalog {redact(href)}: {why}") from None
    except TimeoutError:
        raise SourceError(f"cannot reach STAC catalog {redact(href)}: timed out") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read STAC catalog {redact(href)}: {_one_line(exc)}") from None
    except json.JSONDecodeError:
        raise SourceError(f"STAC catalog {redact(href)} is not JSON") from None
    if not isinstance(data, dict):
        raise SourceError(f"STAC catalog {redact(href)} is not a STAC object")
    return data


def _walk(root: dict, href: str) -> list[pystac.Item]:
    """Every item under a static catalog, collection, item collection or single item."""
    kind = root.get("type")
    try:
        if kind == "FeatureCollection":
            items: Iterable[pystac.Item] = pystac.ItemCollection.from_dict(root).items
        elif kind == "Feature":
            items = [pystac.Item.from_dict(root)]
        elif kind in ("Catalog", "Collection"):
            obj = pystac.read_dict(root, href=href)
            items = obj.get_items(recursive=True)
        else:
            raise SourceError(f"{redact(href)} is not a STAC catalog, collection or item "
                              f"collection (type {kind!r})")
        items = list(items)
    except SourceError:
        raise
    except (pystac.STACError, OSError, ValueError, KeyError, TypeError) as exc:
        raise SourceError(f"cannot read STAC catalog {redact(href)}: {_one_line(exc)}") from None
    for item in items:
        if item.get_self_href() is None:  # item-collection members: relative to the file
            for asset in item.assets.values():
                if not _ABSOLUTE.match(asset.href) and not os.path.isabs(asset.href):
                    asset.href = _join(href, asset.href)
    return items


def _join(base: str, relative: str) -> str:
    if re.match(r"^https?://", base, re.I):
        return urljoin(base, relative)
    return str((Path(base).resolve().parent / relative).resolve())


def _signer(url: str, sign: bool | None):
    if sign is False or (sign is None and "planetarycomputer.microsoft.com" not in url):
        return None
    try:
        import planetary_computer
    except ImportError:
        if sign:
            raise SourceError("sign=True needs the planetary-computer package") from None
        log.warning("planetary_computer is not installed: Planetary Computer asset hrefs are "
                    "left unsigned, and reads of them fail unless they are public")
        return None
    return planetary_computer.sign_inplace


def _one_line(exc: object) -> str:
    text = str(exc).strip().splitlines()
    return redact(text[0] if text else type(exc).__name__)
