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

An item none of these settles, without the needed assets, with a footprint, bbox or offset
that is not a finite number, or with a datetime outside Sentinel-2's record, is **skipped and
named** (:attr:`StacSource.skipped_items`, the run record's ``skipped_items``): a silently wrong
offset shifts NDVI by up to 0.3, and one bad item must not sink the site's other scenes.

Reading: a static catalog is walked **once per source** (the sites of a run share the walk, or
its failure), breadth first over ``child`` and ``item`` links with every document read once
(a link loop ends), each document a regular file or an http answer of at most 64 MB within
the request deadline (:mod:`flows.sources._io`); API pages likewise. Only errors a retry can
fix (timeouts, resets, HTTP 429 and 5xx) are marked ``retryable``; a service that cannot be
reached at all raises :class:`~flows.sources.SourceUnreachable` (:meth:`StacSource.preflight`
finds it before a run).

Planetary Computer hrefs need a SAS token: they are signed through ``planetary_computer``
when that package is installed; otherwise they are left as they are, with a warning.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pystac
import shapely
import xarray as xr

from aoi import Site
from flows.sources._io import (
    check_local,
    check_reachable,
    deadline_session,
    http_deadline,
    unreachable_reason,
)
from flows.sources._reader import CUBE_BANDS, Granule, load_cube, solar_day_scenes
from flows.sources._stac_catalog import (
    catalog_file,
    footprint,
    item_time,
    one_line,
    parse_item,
    read_json,
    walk,
)
from flows.sources.base import CHUNKS, SceneRef, SourceError, SourceUnreachable, redact

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
RETRIED = 2
"""Failed tries to read a catalogue (timeouts, 5xx) after which its failure is final for
the run: the search task retries each site, and the sites share the catalogue."""


class StacSource:
    """Sentinel-2 L2A scenes from a STAC API or a static STAC catalog (see the module doc)."""

    name = "stac"

    def __init__(self, catalog: str | os.PathLike[str] | None = None, *,
                 collections: Sequence[str] = ("sentinel-2-l2a",), max_cloud: float = 80.0,
                 sign: bool | None = None, timeout: float | None = None,
                 max_items: int = 10_000):
        """``collections`` are searched on APIs (static catalogs are taken whole);
        ``max_cloud`` is the scene-level ``eo:cloud_cover`` limit in percent (80: keep
        partly cloudy scenes, whose clear pixels SCL still yields, but not the overcast ones
        that only cost reads); ``sign``: None signs Planetary Computer hrefs when possible,
        True insists, False never signs; ``timeout``: the deadline of one http request,
        seconds (default ``BLUECARBON_HTTP_TIMEOUT`` or 120)."""
        if catalog is None or not str(catalog).strip():
            raise SourceError("the stac source needs a catalog: --catalog URL_OR_PATH")
        if not (isinstance(max_cloud, int | float) and 0 <= max_cloud <= 100):
            raise SourceError(f"max_cloud must be a percentage 0..100, got {max_cloud!r}")
        self.catalog = str(catalog)
        self.collections = tuple(collections)
        self.max_cloud = float(max_cloud)
        self.sign = sign
        self.timeout = http_deadline() if timeout is None else float(timeout)
        self.max_items = int(max_items)
        self._is_url = bool(re.match(r"^https?://", self.catalog, re.I))
        if not self._is_url and not Path(self.catalog).expanduser().exists():
            raise SourceError(f"STAC catalog {self.catalog} does not exist")
        self._api: Any = None
        self._static: list[pystac.Item] | None = None
        self._failed: SourceError | None = None
        self._tries = 0
        self._lock = threading.Lock()
        self.skipped_items: dict[str, str] = {}
        """Items left out, with why (an item id, or where it was when it has none)."""

    def __getstate__(self) -> dict[str, Any]:  # the lock stays behind (dask, pickling)
        state = dict(self.__dict__)
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def preflight(self) -> None:
        """Fail now, in one line, if the catalogue cannot be reached or opened: an http(s)
        catalogue's host must accept a connection (:class:`SourceUnreachable` within ~10 s
        otherwise); a local one must be a regular file or a folder holding one. Reads no
        document: the run's walk stays the only one."""
        if self._is_url:
            check_reachable(self.catalog, what="STAC catalog")
        else:
            check_local(catalog_file(self.catalog), what="STAC catalog")

    # -- Source protocol -----------------------------------------------------------------
    def search(self, site: Site, start: dt.date, end: dt.date) -> list[SceneRef]:
        """One scene per solar day over ``site`` between ``start`` and ``end`` (inclusive);
        items that cannot be used are skipped and named in :attr:`skipped_items`."""
        granules = []
        for item in self.items(site, start, end):
            try:
                granules.append(_granule(item))
            except SourceError as exc:
                self._skip(item.id, str(exc))
        return solar_day_scenes(site, granules, self.name)

    def _skip(self, name: str, reason: str) -> None:
        if name not in self.skipped_items:
            log.warning("STAC item %s skipped: %s", name, reason)
        self.skipped_items[name] = reason

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
        for item in found:  # each usable (checked as parsed: _parse_item)
            when = item_time(item)
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
        with self._lock:  # the sites of a run share one look at the root, and its failure
            if self._failed is not None:
                raise self._failed
            if self._api is None and self._static is None:
                try:
                    root = read_json(self.catalog, self.timeout)
                    conforms = root.get("conformsTo") or []
                    searchable = any(str(c).startswith(_API_CONFORMANCE)
                                     and "item-search" in str(c) for c in conforms)
                    if searchable and any(isinstance(link, dict) and link.get("rel") == "search"
                                          for link in root.get("links") or []):
                        self._api = self._open_api()
                    else:
                        self._static = walk(root, self.catalog, timeout=self.timeout,
                                            skip=self._skip)
                except SourceError as exc:
                    self._remember(exc)
                    raise
        return self._api is not None

    def _remember(self, exc: SourceError) -> None:
        """Share a failure to read the catalogue with every later site of the run: at once
        if a retry cannot fix it, after :data:`RETRIED` tries if it could (a timeout), so
        that sites do not each wait out the same deadline again."""
        self._tries += 1
        if not exc.retryable or self._tries >= RETRIED:
            self._failed = exc

    def _open_api(self):
        from pystac_client import Client
        from pystac_client.exceptions import APIError
        from pystac_client.stac_api_io import StacApiIO

        try:
            io = StacApiIO(timeout=self.timeout)
            deadline_session(io.session, self.timeout)
            return Client.open(self.catalog, modifier=_signer(self.catalog, self.sign),
                               stac_io=io)
        except (APIError, OSError, ValueError) as exc:
            raise _api_error(f"cannot open STAC API {redact(self.catalog)}", exc) from None

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
            items = []
            for page in search.pages_as_dicts():
                for feature in page.get("features") or []:
                    item = parse_item(feature, None, f"a search page of {redact(self.catalog)}",
                                      self._skip)
                    if item is not None:
                        items.append(item)
                    if len(items) >= self.max_items:
                        return items
            return items
        except (APIError, OSError, ValueError, TypeError, KeyError) as exc:
            raise _api_error(f"STAC search on {redact(self.catalog)} failed", exc) from None

    def _static_items(self, site: Site) -> list[pystac.Item]:
        with self._lock:  # walked once per source: the sites of a run share it, or its failure
            if self._failed is not None:
                raise self._failed
            if self._static is None:
                href = catalog_file(self.catalog) if not self._is_url else self.catalog
                try:
                    self._static = walk(read_json(href, self.timeout), href, timeout=self.timeout,
                                        skip=self._skip)
                except SourceError as exc:
                    self._remember(exc)
                    raise
        area = site.geometry
        return [it for it in self._static if footprint(it).intersects(area)]

# -- items -> granules -----------------------------------------------------------------
def _granule(item: pystac.Item) -> Granule:
    when = item_time(item)
    if when is None:
        raise SourceError(f"item {item.id} has no datetime")
    cloud = item.properties.get("eo:cloud_cover")
    props = {k: item.properties[k] for k in (*_BASELINE_KEYS[:1], "platform")
             if k in item.properties}
    props["collection"] = item.collection_id
    return Granule(item_id=item.id, datetime=when, hrefs=asset_hrefs(item),
                   boa_offset=boa_offset(item),
                   cloud_cover=float(cloud) if isinstance(cloud, int | float) else math.nan,
                   properties=props, footprint=tuple(footprint(item).bounds))


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
        try:
            scale, offset = float(rb.get("scale", 1.0)), float(rb.get("offset", 0.0))
        except (TypeError, ValueError):
            raise SourceError(f"item {item.id}: raster:bands scale/offset of {key} are not "
                              "numbers") from None
        if not (math.isfinite(scale) and math.isfinite(offset)):
            raise SourceError(f"item {item.id}: raster:bands scale {scale} / offset {offset} of "
                              f"{key} are not finite numbers")
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








# -- reading catalogues ------------------------------------------------------------------






def _api_error(prefix: str, exc: BaseException) -> SourceError:
    """A pystac-client failure as a one-line SourceError: unreachable, retryable (timeout,
    429, 5xx) or not."""
    reason = unreachable_reason(exc)
    if reason is not None:
        return SourceUnreachable(f"{prefix}: {reason}")
    status = getattr(exc, "status_code", None)
    text = one_line(exc)
    retryable = (isinstance(status, int) and (status in (408, 429) or status >= 500)) or \
        "timed out" in text.lower() or "timeout" in type(exc).__name__.lower()
    return SourceError(f"{prefix}: {text[:300]}", retryable=retryable)




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

