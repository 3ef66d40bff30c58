"""Writing a scenario: a static STAC catalog of Sentinel-2-like COGs, and the sites file.

Each scene is one item (one MGRS-like tile covering the whole scene grid): B02 B03 B04 B08 at
10 m, B11 B12 SCL at 20 m, COGs (256 px tiles, zstd) on the scene's UTM grid, whose origin is
on a 60 m multiple like every Sentinel-2 tile. Items alternate the two provider conventions
the ``stac`` source reads (``flows/sources/stac.py``):

* Earth Search v1: asset keys ``blue green red nir swir16 swir22 scl``, ``raster:bands``
  ``scale`` 0.0001 and ``offset`` -0.1 (baseline >= 04.00) or 0, ``s2:processing_baseline``,
  ``earthsearch:boa_offset_applied: false``;
* Planetary Computer: keys ``B02 ... B12 SCL``, ``s2:processing_baseline`` only.
"""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from shapely.geometry import mapping

COMMON = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "B11": "swir16",
          "B12": "swir22", "SCL": "scl"}
COG = "image/tiff; application=geotiff; profile=cloud-optimized"
STYLES = ("earthsearch-v1", "planetary")


@dataclass(frozen=True)
class SceneRecord:
    """One written scene."""

    item_id: str
    product_id: str
    datetime: dt.datetime
    baseline: str
    boa_offset: int
    cloud_cover: float
    style: str


def utm_epsg(lon: float, lat: float) -> int:
    zone = int((lon + 180.0) // 6.0) + 1
    return (32600 if lat >= 0 else 32700) + zone


def lonlat_polygon(poly_utm: shapely.Polygon, epsg: int, step_m: float = 100.0
                   ) -> shapely.Polygon:
    """A UTM polygon in WGS84 lon/lat, its edges densified."""
    to_ll = Transformer.from_crs(epsg, 4326, always_xy=True)
    coords = np.asarray(shapely.segmentize(poly_utm, step_m).exterior.coords)
    lon, lat = to_ll.transform(coords[:, 0], coords[:, 1])
    return shapely.Polygon(np.column_stack([np.round(lon, 7), np.round(lat, 7)]))


def write_sites(path: Path, site_id: str, name: str, habitat: str, polygon: shapely.Polygon,
                baseline: tuple[dt.date, dt.date], country: str, notes: str) -> Path:
    feature = {"type": "Feature", "geometry": mapping(polygon), "properties": {
        "id": site_id, "name": name, "habitat": habitat,
        "baseline_start": baseline[0].isoformat(), "baseline_end": baseline[1].isoformat(),
        "country": country, "partner": "scenario generator", "notes": notes}}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}, indent=1))
    return path


def _write_cog(path: Path, pixels: np.ndarray, left: float, top: float, res: float,
               epsg: int) -> None:
    with rasterio.open(path, "w", driver="COG", width=pixels.shape[1], height=pixels.shape[0],
                       count=1, dtype=pixels.dtype, crs=f"EPSG:{epsg}",
                       transform=Affine(res, 0.0, left, 0.0, -res, top), nodata=0,
                       compress="ZSTD", level=1, predictor=2, blocksize=256,
                       overviews="NONE") as dst:
        dst.write(pixels, 1)


class CatalogWriter:
    """Collects scenes as items of a self-contained static catalog under ``root``; the COGs
    are written by a few threads (GDAL releases the GIL), :meth:`save` waits for them."""

    def __init__(self, root: Path, epsg: int, left: float, top: float, shape: tuple[int, int],
                 tile: str, res: float = 10.0):
        self._pool = ThreadPoolExecutor(4)
        self._pending: list = []
        self.root, self.epsg, self.left, self.top, self.res = Path(root), epsg, left, top, res
        self.shape, self.tile = shape, tile
        self.catalog = pystac.Catalog("bluecarbon-scenario",
                                      "Independent test scenario (Sentinel-2 L2A-like COGs)")
        self.collection = pystac.Collection(
            "sentinel-2-l2a", "Sentinel-2 L2A (scenario generator)",
            pystac.Extent(pystac.SpatialExtent([[-180, -90, 180, 90]]),
                          pystac.TemporalExtent([[None, None]])))
        self.catalog.add_child(self.collection)
        bounds = (left, top - shape[0] * res, left + shape[1] * res, top)
        self.footprint = lonlat_polygon(shapely.box(*bounds), epsg, 200.0)

    def add(self, index: int, when: dt.datetime, baseline: str, arrays: dict[str, np.ndarray],
            cloud_cover: float, platform: str = "A") -> SceneRecord:
        ts = when.strftime("%Y%m%dT%H%M%S")
        nbase = baseline.replace(".", "")
        orbit = 18 + (index % 3) * 100
        product = (f"S2{platform}_MSIL2A_{ts}_N{nbase}_R{orbit:03d}_T{self.tile}_"
                   f"{(when + dt.timedelta(hours=3)).strftime('%Y%m%dT%H%M%S')}")
        style = STYLES[index % len(STYLES)]
        item_id = (f"S2{platform}_{self.tile}_{when:%Y%m%d}_0_L2A" if style == "earthsearch-v1"
                   else product.replace(f"_N{nbase}", ""))
        offset = -1000 if tuple(int(p) for p in baseline.split(".")) >= (4, 0) else 0
        props: dict[str, Any] = {
            "platform": f"sentinel-2{platform.lower()}", "constellation": "sentinel-2",
            "instruments": ["msi"], "eo:cloud_cover": round(cloud_cover, 2),
            "proj:epsg": self.epsg, "s2:mgrs_tile": self.tile,
            "s2:processing_baseline": baseline, "s2:product_uri": product + ".SAFE"}
        if style == "earthsearch-v1":
            props["earthsearch:boa_offset_applied"] = False
        item = pystac.Item(item_id, mapping(self.footprint), list(self.footprint.bounds), when,
                           props, stac_extensions=[
                               "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                               "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                               "https://stac-extensions.github.io/raster/v1.1.0/schema.json"])
        folder = self.root / self.collection.id / item_id
        folder.mkdir(parents=True, exist_ok=True)
        for band, pixels in arrays.items():
            res = self.res * self.shape[0] / pixels.shape[0]
            path = folder / f"{band}.tif"
            self._pending.append(self._pool.submit(_write_cog, path, pixels, self.left,
                                                   self.top, res, self.epsg))
            raster: dict[str, Any] = {"data_type": pixels.dtype.name, "nodata": 0,
                                      "spatial_resolution": res}
            if style == "earthsearch-v1" and band != "SCL":
                raster.update(scale=0.0001, offset=offset / 10000)
            key = COMMON[band] if style == "earthsearch-v1" else band
            item.add_asset(key, pystac.Asset(str(path), media_type=COG, roles=["data"],
                                             extra_fields={
                "gsd": res, "proj:shape": list(pixels.shape),
                "proj:transform": [res, 0.0, self.left, 0.0, -res, self.top],
                "raster:bands": [raster],
                "eo:bands": [{"name": band, "common_name": COMMON[band]}]
                if band != "SCL" else []}))
        self.collection.add_item(item)
        return SceneRecord(item_id, product, when, baseline, offset, cloud_cover, style)

    def save(self) -> Path:
        for job in self._pending:
            job.result()
        self._pool.shutdown()
        self.catalog.normalize_hrefs(str(self.root))
        self.catalog.make_all_asset_hrefs_relative()
        self.catalog.save(pystac.CatalogType.SELF_CONTAINED)
        return self.root / "catalog.json"
