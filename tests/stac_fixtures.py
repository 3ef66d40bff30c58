"""Test helpers: a static STAC catalog of real COGs made from the demo simulator, and local
HTTP servers for it (static files with Range support; a small STAC API stand-in).

``build_demo_catalog`` renders the demo source's scenes for some sites and writes each as
Sentinel-2-like COGs (tiled 256, zstd, predictor 2; B02 B03 B04 B08 at 10 m, B11 B12 SCL at
20 m like real L2A unless ``swir_20m=False``) with realistic item JSON. Every other scene is cut
into two overlapping MGRS-like tiles (different origins, the first with a nodata gap in the
overlap), so the source's solar-day mosaic is exercised; items rotate through three provider
conventions:

* ``earthsearch-v1``: keys ``blue green red nir swir16 swir22 scl``, ``raster:bands``
  scale 0.0001 / offset -0.1 (or 0), ``earthsearch:boa_offset_applied: false``, short ids;
* ``planetary``: keys ``B02 ... B12 SCL``, ``s2:processing_baseline``, no raster offsets;
* ``earthsearch-v0``: keys ``B02 ...``, only ``sentinel:product_id`` tells the baseline.

``serve(root)`` serves a folder on 127.0.0.1 (port 0) with HTTP Range requests, which GDAL's
``/vsicurl/`` needs (``http.server.SimpleHTTPRequestHandler`` ignores Range); optionally it
also answers a minimal STAC API (``/api``: landing page, conformance, ``/api/search`` with
intersects/bbox, datetime, collections, ``query`` on ``eo:cloud_cover``, paging).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pystac
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from shapely.geometry import box, mapping, shape

from aoi import Site
from flows.sources import BANDS
from flows.sources.demo import DemoSource

STYLES = ("earthsearch-v1", "planetary", "earthsearch-v0")
_COMMON = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "B11": "swir16",
           "B12": "swir22", "SCL": "scl"}
_PAD = 12  # tiles reach 120 m beyond the site grid: windows never start at pixel 0
COG = "image/tiff; application=geotiff; profile=cloud-optimized"


@dataclass
class DemoCatalog:
    """What ``build_demo_catalog`` wrote."""

    root: Path
    catalog: Path
    items: list[dict] = field(default_factory=list)
    two_tile_days: int = 0
    files: int = 0


def build_demo_catalog(root: Path, sites: Sequence[Site], start: dt.date, end: dt.date,
                       source: DemoSource, *, swir_20m: bool = True) -> DemoCatalog:
    """Write a self-contained static STAC catalog of the demo's scenes under ``root``."""
    root = Path(root)
    catalog = pystac.Catalog("bluecarbon-demo", "Demo scenes as Sentinel-2 L2A COGs")
    collection = pystac.Collection(
        "sentinel-2-l2a", "Sentinel-2 L2A (demo simulator)",
        pystac.Extent(pystac.SpatialExtent([[-180, -90, 180, 90]]),
                      pystac.TemporalExtent([[None, None]])))
    catalog.add_child(collection)
    result = DemoCatalog(root=root, catalog=root / "catalog.json")
    for site in sites:
        refs = source.search(site, start, end)
        cube = source.load(site, refs, chunks=None).compute()
        grid = source.landscape(site).grid
        for i, ref in enumerate(refs):
            stack = np.stack([cube[b].values[i] for b in (*BANDS, "SCL")])
            tiles = _tiles(grid.width) if i % 2 == 0 else [(None, None)]
            result.two_tile_days += len(tiles) == 2
            for k, (c0, c1) in enumerate(tiles):
                data = stack.copy()
                if len(tiles) == 2 and k == 0:  # a nodata gap inside the overlap: B fills it
                    yy, xx = np.indices(data.shape[1:])
                    data[:, (xx >= tiles[1][0]) & (yy < data.shape[1] // 2)] = 0
                style = STYLES[(i + k) % len(STYLES)]
                item = _item(ref, grid, data, c0, c1, k, style, root / collection.id, swir_20m)
                result.files += len(item.assets)
                collection.add_item(item)
                result.items.append(item.to_dict(transform_hrefs=False))
    catalog.normalize_hrefs(str(root))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    result.items = [json.loads(Path(root, collection.id, d["id"], f"{d['id']}.json").read_text())
                    for d in result.items]
    return result


def _tiles(width: int) -> list[tuple[int | None, int | None]]:
    """Two overlapping column ranges, edges on 60 m (6 px) like MGRS tile origins."""
    a_end = int(round(0.62 * width / 6)) * 6
    b_start = int(round(0.38 * width / 6)) * 6
    return [(None, a_end), (b_start, None)]


def _item(ref, grid, data: np.ndarray, c0: int | None, c1: int | None, k: int, style: str,
          folder: Path, swir_20m: bool) -> pystac.Item:
    """One tile of one scene as COG files plus its pystac.Item."""
    height, width = data.shape[1:]
    c0 = -_PAD if c0 is None else c0
    c1 = width + _PAD if c1 is None else c1
    left = grid.left + c0 * grid.res
    top = grid.top + _PAD * grid.res
    # the tile's pixels on the grid, zero where it reaches beyond the site grid
    tile = np.zeros((data.shape[0], height + 2 * _PAD, c1 - c0), data.dtype)
    s0, s1 = max(c0, 0), min(c1, width)
    tile[:, _PAD:_PAD + height, s0 - c0:s1 - c0] = data[:, :, s0:s1]
    long_id = ref.scene_id
    tile_code = re.search(r"_T(\w{5})_", long_id).group(1)
    code = tile_code[:3] + ("AB"[k] + tile_code[4])
    long_id = long_id.replace(f"_T{tile_code}_", f"_T{code}_")
    baseline = re.search(r"_N(\d{2})(\d{2})_", long_id)
    baseline = f"{baseline.group(1)}.{baseline.group(2)}"
    when = ref.datetime
    if style == "planetary":  # PC ids carry no baseline: the property does
        item_id = re.sub(r"_N\d{4}", "", long_id)
    else:
        item_id = f"{long_id[:3]}_{code}_{when:%Y%m%d}_0_L2A"
    directory = folder / item_id
    directory.mkdir(parents=True, exist_ok=True)
    bounds = (left, top - tile.shape[1] * grid.res, left + tile.shape[2] * grid.res, top)
    footprint = _lonlat_box(bounds, grid.epsg)
    props: dict[str, Any] = {
        "platform": "sentinel-2" + long_id[2].lower(), "constellation": "sentinel-2",
        "instruments": ["msi"], "eo:cloud_cover": ref.cloud_cover, "proj:epsg": grid.epsg,
        "s2:mgrs_tile": code,
    }
    if style == "earthsearch-v1":
        props.update({"s2:processing_baseline": baseline, "s2:product_uri": long_id + ".SAFE",
                      "earthsearch:boa_offset_applied": False})
    elif style == "planetary":
        props.update({"s2:processing_baseline": baseline, "s2:product_uri": long_id + ".SAFE"})
    else:
        props.update({"sentinel:product_id": long_id})
    item = pystac.Item(item_id, mapping(footprint), list(footprint.bounds), when, props,
                       stac_extensions=[
                           "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                           "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                           "https://stac-extensions.github.io/raster/v1.1.0/schema.json"])
    for b, band in enumerate((*BANDS, "SCL")):
        coarse = swir_20m and band in ("B11", "B12", "SCL")
        pixels = _to_20m(tile[b], band) if coarse else tile[b]
        res = grid.res * (2 if coarse else 1)
        key = _COMMON[band] if style == "earthsearch-v1" else band
        path = directory / f"{band}.tif"
        _write_cog(path, pixels, left, top, res, grid.epsg)
        raster: dict[str, Any] = {"data_type": pixels.dtype.name, "nodata": 0,
                                  "spatial_resolution": res}
        if style == "earthsearch-v1" and band != "SCL":
            raster.update(scale=0.0001, offset=ref.boa_offset / 10000)
        item.add_asset(key, pystac.Asset(str(path), media_type=COG, roles=["data"], extra_fields={
            "gsd": res, "proj:shape": list(pixels.shape),
            "proj:transform": [res, 0.0, left, 0.0, -res, top],
            "raster:bands": [raster],
            "eo:bands": [{"name": band, "common_name": _COMMON[band]}] if band != "SCL" else []}))
    return item


def _to_20m(pixels: np.ndarray, band: str) -> np.ndarray:
    """A 10 m band as Sen2Cor would deliver it at 20 m: 2x2 means (nodata if any is), SCL by
    the top-left 10 m pixel (a class, not a mean)."""
    h, w = pixels.shape
    padded = np.zeros((h + h % 2, w + w % 2), pixels.dtype)
    padded[:h, :w] = pixels
    blocks = padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2)
    if band == "SCL":
        return np.ascontiguousarray(blocks[:, 0, :, 0])
    valid = (blocks != 0).all(axis=(1, 3))
    mean = np.rint(blocks.astype(np.float64).mean(axis=(1, 3)))
    return np.where(valid, mean, 0).astype(pixels.dtype)


def _write_cog(path: Path, pixels: np.ndarray, left: float, top: float, res: float,
               epsg: int) -> None:
    with rasterio.open(path, "w", driver="COG", width=pixels.shape[1], height=pixels.shape[0],
                       count=1, dtype=pixels.dtype, crs=f"EPSG:{epsg}",
                       transform=Affine(res, 0.0, left, 0.0, -res, top), nodata=0, compress="ZSTD",
                       level=1, predictor=2, blocksize=256) as dst:
        dst.write(pixels, 1)


def _lonlat_box(bounds: tuple[float, float, float, float], epsg: int) -> shapely.Polygon:
    to_ll = Transformer.from_crs(epsg, 4326, always_xy=True)
    ring = box(*bounds).exterior.segmentize(200)
    lon, lat = to_ll.transform(*np.asarray(ring.coords).T)
    return shapely.Polygon(np.column_stack([lon, lat]))


def write_cog(path: Path, pixels: np.ndarray, left: float, top: float, res: float,
              epsg: int) -> Path:
    """One single-band COG (tests build odd rasters with it)."""
    _write_cog(Path(path), pixels, left, top, res, epsg)
    return Path(path)


# -- HTTP -----------------------------------------------------------------------------------
@dataclass
class Served:
    """A running server: its base URL and what it answered."""

    url: str
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    """(method, path, Range header) of every request, in order."""
    bytes_sent: int = 0


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with single ``Range: bytes=a-b`` support, and an optional STAC API."""

    served: Served
    api_items: list[dict] | None = None

    def log_message(self, *args: Any) -> None:  # quiet: pytest shows failures, not access logs
        pass

    def _record(self) -> None:
        self.served.requests.append((self.command, self.path, self.headers.get("Range", "")))

    def do_GET(self) -> None:
        self._record()
        if self.api_items is not None and self.path.startswith("/api"):
            return self._api("GET")
        path = Path(self.translate_path(urlsplit(self.path).path))
        if not path.is_file():
            return self.send_error(404, "not found")
        size = path.stat().st_size
        start, stop = 0, size
        ranged = _byte_range(self.headers.get("Range"), size)
        if ranged == "bad":
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return
        if ranged:
            start, stop = ranged
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(stop - start))
        self.end_headers()
        with path.open("rb") as f:
            f.seek(start)
            body = f.read(stop - start)
        self.wfile.write(body)
        self.served.bytes_sent += len(body)

    def do_HEAD(self) -> None:
        self._record()
        path = Path(self.translate_path(urlsplit(self.path).path))
        if not path.is_file():
            return self.send_error(404, "not found")
        self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()

    def do_POST(self) -> None:
        self._record()
        if self.api_items is None or not self.path.startswith("/api"):
            return self.send_error(405, "method not allowed")
        return self._api("POST")

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        ctype = "application/geo+json" if body.get("type") == "FeatureCollection" else \
            "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _api(self, method: str) -> None:
        base = f"http://{self.headers['Host']}/api"
        route = urlsplit(self.path).path.rstrip("/")
        if route == "/api":
            return self._json(200, _landing(base))
        if route == "/api/conformance":
            return self._json(200, {"conformsTo": _landing(base)["conformsTo"]})
        if route != "/api/search":
            return self.send_error(404, "not found")
        if method == "POST":
            length = int(self.headers.get("Content-Length", 0))
            params = json.loads(self.rfile.read(length) or b"{}")
        else:
            params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        try:
            page = _search(self.api_items, params, base)
        except (ValueError, KeyError, TypeError) as exc:
            return self._json(400, {"code": "BadRequest", "description": str(exc)})
        return self._json(200, page)


def _byte_range(header: str | None, size: int):
    if not header:
        return None
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None  # a multi-range or odd request: answer with the whole file (allowed)
    if m.group(1):
        start = int(m.group(1))
        stop = min(int(m.group(2)) + 1, size) if m.group(2) else size
    else:
        start, stop = max(size - int(m.group(2)), 0), size
    return "bad" if start >= size or start >= stop else (start, stop)


_CONFORMS = ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search",
             "https://api.stacspec.org/v1.0.0/item-search#query"]


def _landing(base: str) -> dict:
    return {"type": "Catalog", "stac_version": "1.0.0", "id": "stand-in", "description": "test",
            "conformsTo": _CONFORMS, "links": [
                {"rel": "self", "href": base, "type": "application/json"},
                {"rel": "root", "href": base, "type": "application/json"},
                {"rel": "conformance", "href": f"{base}/conformance"},
                {"rel": "search", "href": f"{base}/search", "type": "application/geo+json",
                 "method": "GET"},
                {"rel": "search", "href": f"{base}/search", "type": "application/geo+json",
                 "method": "POST"}]}


def _search(items: list[dict], params: dict, base: str) -> dict:
    geom = params.get("intersects")
    if isinstance(geom, str):
        geom = json.loads(geom)
    area = shape(geom) if geom else None
    if params.get("bbox") is not None:
        bbox = params["bbox"]
        bbox = [float(v) for v in (bbox.split(",") if isinstance(bbox, str) else bbox)]
        area = box(*bbox) if area is None else area.intersection(box(*bbox))
    lo, hi = (params.get("datetime") or "../..").split("/")
    collections = params.get("collections")
    if isinstance(collections, str):
        collections = collections.split(",")
    query = params.get("query") or {}
    if isinstance(query, str):
        query = json.loads(query)
    limit = int(params.get("limit") or 10)
    token = int(params.get("token") or 0)
    found = []
    for it in items:
        when = it["properties"]["datetime"]
        if collections and it.get("collection") not in collections:
            continue
        if lo not in ("", "..") and when < lo.replace("+00:00", "Z"):
            continue
        if hi not in ("", "..") and when > hi.replace("+00:00", "Z"):
            continue
        if area is not None and not shape(it["geometry"]).intersects(area):
            continue
        cloud = query.get("eo:cloud_cover", {})
        if "lte" in cloud and it["properties"].get("eo:cloud_cover", 0) > cloud["lte"]:
            continue
        found.append(it)
    page = found[token:token + limit]
    links = []
    if token + limit < len(found):
        body = {**params, "token": token + limit}
        links.append({"rel": "next", "href": f"{base}/search", "method": "POST", "body": body,
                      "type": "application/geo+json"})
    return {"type": "FeatureCollection", "features": page, "links": links,
            "numberMatched": len(found), "numberReturned": len(page)}


def start_server(root: Path, handler: type) -> tuple[http.server.ThreadingHTTPServer,
                                                    threading.Thread, str]:
    """Serve ``root`` with ``handler`` (a ``SimpleHTTPRequestHandler``) on 127.0.0.1, a free
    port, from a daemon thread: ``(server, thread, url)``."""
    directory = os.fspath(root)

    def factory(*args: Any, **kwargs: Any):
        return handler(*args, directory=directory, **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), factory)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_address[1]}"


@contextlib.contextmanager
def serve(root: Path, api_items: list[dict] | None = None) -> Iterator[Served]:
    """Serve ``root`` on 127.0.0.1 (a free port) in a thread; yield its :class:`Served`."""
    served = Served(url="")
    handler = type("Handler", (_Handler,), {"served": served, "api_items": api_items})
    server, thread, served.url = start_server(root, handler)
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
