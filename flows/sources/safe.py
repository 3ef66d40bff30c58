"""The SAFE source: ESA Sentinel-2 L2A products (``*.SAFE`` folders, JPEG2000) on disk.

``SafeSource(catalog=PATH)`` takes one SAFE folder or a folder of them (searched two levels
deep for ``MTD_MSIL2A.xml``). Everything the scene cube needs comes from the product metadata,
never from the date:

* acquisition time ``PRODUCT_START_TIME``, product id ``PRODUCT_URI`` (minus ``.SAFE``);
* footprint ``EXT_POS_LIST`` (lat lon pairs) to match sites; cloud cover
  ``Cloud_Coverage_Assessment``;
* the DN offset ``BOA_ADD_OFFSET`` of the bands used (baseline 04.00 on: -1000; older
  products have no such list: 0). One offset per scene is the contract, so bands that
  disagree are refused;
* the band files from the ``IMAGE_FILE`` list, at the finest resolution present on disk:
  B02 B03 B04 B08 from R10m, B11 B12 SCL from R20m, else R60m. R20m and R60m carry no B08;
  where only those exist (e.g. a 60 m extract), B8A (865 nm, the narrow NIR that ESA
  resamples B08's role into at 20/60 m) stands in for it and the scene's properties say so.

Pixels go through the same windowed reader as the STAC source (:mod:`flows.sources._reader`),
GDAL's JP2OpenJPEG driver, onto the site's 10 m grid: a 60 m pixel becomes 6 x 6 of ours by
exact block replication. Tiles of one pass (several SAFE products) are mosaicked per solar
day.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import shapely
import xarray as xr

from aoi import SENTINEL2_FIRST_DAY, Site
from flows.sources._io import read_local
from flows.sources._reader import CUBE_BANDS, Granule, load_cube, solar_day_scenes
from flows.sources.base import CHUNKS, SceneRef, SourceError

__all__ = ["SafeProduct", "SafeSource", "find_products"]

log = logging.getLogger(__name__)

#: Index of each band in ESA's ``band_id`` numbering (B01 .. B12 with B8A after B08).
BAND_ID = {"B01": 0, "B02": 1, "B03": 2, "B04": 3, "B05": 4, "B06": 5, "B07": 6, "B08": 7,
           "B8A": 8, "B09": 9, "B10": 10, "B11": 11, "B12": 12}
_PREFERRED = {"B02": ("10m", "20m", "60m"), "B03": ("10m", "20m", "60m"),
              "B04": ("10m", "20m", "60m"), "B08": ("10m",), "B11": ("20m", "60m"),
              "B12": ("20m", "60m"), "SCL": ("20m", "60m")}
_NIR_STAND_IN = ("B8A", ("20m", "60m"))


@dataclass(frozen=True)
class SafeProduct:
    """The metadata of one L2A SAFE product that the scene cube needs."""

    path: Path
    product_id: str
    datetime: dt.datetime
    boa_offset: int
    cloud_cover: float
    footprint: shapely.Geometry
    files: dict[str, Path]
    """Readable JP2 file per cube band."""
    baseline: str
    stand_ins: dict[str, str]
    """Cube band -> the band read in its place (``{"B08": "B8A"}`` for 20/60 m extracts)."""

    def granule(self) -> Granule:
        props = {"s2:processing_baseline": self.baseline, "path": str(self.path)}
        if self.stand_ins:
            props["stand_ins"] = dict(self.stand_ins)
        return Granule(item_id=self.product_id, datetime=self.datetime,
                       hrefs={b: str(p) for b, p in self.files.items()},
                       boa_offset=self.boa_offset, cloud_cover=self.cloud_cover,
                       properties=props, footprint=tuple(self.footprint.bounds))


def find_products(root: str | os.PathLike[str]) -> list[Path]:
    """SAFE folders at ``root``: itself, or its children and grandchildren, sorted."""
    root = Path(root).expanduser()
    if (root / "MTD_MSIL2A.xml").is_file():
        return [root]
    found = sorted({p.parent for p in (*root.glob("*/MTD_MSIL2A.xml"),
                                       *root.glob("*/*/MTD_MSIL2A.xml"))})
    return found


MAX_MTD_BYTES = 16 * 2**20
"""Largest product metadata file read (a real MTD_MSIL2A.xml is ~60 kB)."""


def read_product(path: Path) -> SafeProduct:
    """Parse ``MTD_MSIL2A.xml`` of one SAFE folder; a one-line SourceError if unusable (a
    FIFO or device in its place is refused unread, a file over 16 MB too)."""
    mtd = path / "MTD_MSIL2A.xml"
    try:
        root = ET.fromstring(read_local(mtd, what="SAFE metadata", max_bytes=MAX_MTD_BYTES))
    except ET.ParseError as exc:
        raise SourceError(f"cannot read {mtd}: {str(exc).splitlines()[0]}") from None
    text = _texts(root)

    def one(tag: str) -> str:
        if not text.get(tag):
            raise SourceError(f"{mtd} has no {tag}")
        return text[tag][0]

    product_id = one("PRODUCT_URI").removesuffix(".SAFE")
    try:
        when = dt.datetime.fromisoformat(one("PRODUCT_START_TIME").replace("Z", "+00:00"))
    except ValueError:
        raise SourceError(f"{mtd}: PRODUCT_START_TIME is not a time") from None
    baseline = text.get("PROCESSING_BASELINE", ["?"])[0]
    files, stand_ins = _band_files(path, text.get("IMAGE_FILE", []) + text.get("IMAGE_FILE_2A", []))
    missing = [b for b in CUBE_BANDS if b not in files]
    if missing:
        raise SourceError(f"SAFE product {product_id} has no readable file for "
                          f"{', '.join(missing)} under {path}")
    offsets = {int(el.get("band_id", -1)): int(float(el.text or 0))
               for el in root.iter() if _local(el.tag) == "BOA_ADD_OFFSET"}
    used = {b: offsets.get(BAND_ID[stand_ins.get(b, b)], 0) for b in CUBE_BANDS[:-1]}
    if len(set(used.values())) > 1:
        raise SourceError(f"SAFE product {product_id}: bands disagree on BOA_ADD_OFFSET {used}")
    cloud = text.get("Cloud_Coverage_Assessment", ["nan"])[0]
    return SafeProduct(path=path, product_id=product_id, datetime=when.astimezone(dt.UTC),
                       boa_offset=next(iter(used.values())), cloud_cover=float(cloud),
                       footprint=_footprint(text.get("EXT_POS_LIST", [""])[0], mtd),
                       files=files, baseline=baseline, stand_ins=stand_ins)


class SafeSource:
    """Sentinel-2 L2A scenes from SAFE products on disk (see the module doc)."""

    name = "safe"

    def __init__(self, catalog: str | os.PathLike[str] | None = None, *,
                 max_cloud: float = 100.0):
        """``catalog``: a SAFE folder or a folder of them; ``max_cloud``: scene-level cloud
        limit in percent (100 by default: products on disk were chosen by someone)."""
        if catalog is None or not str(catalog).strip():
            raise SourceError("the safe source needs a folder: --catalog PATH")
        self.root = Path(catalog).expanduser()
        if not self.root.exists():
            raise SourceError(f"SAFE folder {self.root} does not exist")
        if not 0 <= max_cloud <= 100:
            raise SourceError(f"max_cloud must be a percentage 0..100, got {max_cloud!r}")
        self.max_cloud = float(max_cloud)
        self.skipped_items: dict[str, str] = {}
        """Products left out, with why."""

    def preflight(self) -> None:
        """Fail now, in one line, if the folder cannot be listed."""
        if not self.root.is_dir():
            raise SourceError(f"SAFE folder {self.root} is not a folder")

    @cached_property
    def products(self) -> list[SafeProduct]:
        """Every usable product; one that is not (unreadable metadata, missing bands, a time
        outside Sentinel-2's record) is skipped and named in :attr:`skipped_items`."""
        paths = find_products(self.root)
        if not paths:
            raise SourceError(f"no Sentinel-2 L2A SAFE product (MTD_MSIL2A.xml) under {self.root}")
        products = []
        for path in paths:
            try:
                product = read_product(path)
            except SourceError as exc:
                self.skipped_items[path.name] = str(exc)
                log.warning("SAFE product %s skipped: %s", path.name, exc)
                continue
            latest = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
            if not SENTINEL2_FIRST_DAY <= product.datetime.date() <= latest.date():
                self.skipped_items[product.product_id] = (
                    f"acquisition time {product.datetime:%Y-%m-%d} is outside Sentinel-2's "
                    "record")
                continue
            products.append(product)
        if not products:  # nothing usable at all: a setup problem, said in one line
            first = next(iter(self.skipped_items.values()))
            raise SourceError(f"no usable SAFE product under {self.root}"
                              + (f" ({len(self.skipped_items)} skipped); the first: {first}"
                                 if len(self.skipped_items) > 1 else f": {first}"))
        for p in products:
            if p.stand_ins:
                log.info("%s: no 10 m B08 on disk, reading %s", p.product_id,
                         ", ".join(f"{v} for {k}" for k, v in p.stand_ins.items()))
        return products

    def search(self, site: Site, start: dt.date, end: dt.date) -> list[SceneRef]:
        lon, _ = site.centroid_lonlat
        solar = dt.timedelta(hours=lon / 15.0)
        chosen = [p.granule() for p in self.products
                  if start <= (p.datetime + solar).date() <= end
                  and not (math.isfinite(p.cloud_cover) and p.cloud_cover > self.max_cloud)
                  and p.footprint.intersects(site.geometry)]
        return solar_day_scenes(site, chosen, self.name)

    def load(self, site: Site, scenes: list[SceneRef], chunks: int | None = CHUNKS) -> xr.Dataset:
        return load_cube(site, scenes, chunks, source=self.name)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _texts(root: ET.Element) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for el in root.iter():
        if el.text and el.text.strip():
            out.setdefault(_local(el.tag), []).append(el.text.strip())
    return out


def _band_files(path: Path, entries: list[str]) -> tuple[dict[str, Path], dict[str, str]]:
    """The finest existing file per cube band, from IMAGE_FILE entries like
    ``GRANULE/L2A_.../IMG_DATA/R20m/T29UNU_20221005T115411_B11_20m``."""
    present: dict[tuple[str, str], Path] = {}
    for entry in entries:
        name = entry.rsplit("/", 1)[-1]
        parts = name.split("_")
        if len(parts) < 3:
            continue
        band, res = parts[-2], parts[-1]
        file = path / f"{entry}.jp2"
        if file.is_file():
            present[(band, res)] = file
    files, stand_ins = {}, {}
    for band, resolutions in _PREFERRED.items():
        res = next((r for r in resolutions if (band, r) in present), None)
        if res is not None:
            files[band] = present[(band, res)]
        elif band == "B08":
            alt, alt_res = _NIR_STAND_IN
            res = next((r for r in alt_res if (alt, r) in present), None)
            if res is not None:
                files[band], stand_ins[band] = present[(alt, res)], alt
    return files, stand_ins


def _footprint(pos_list: str, mtd: Path) -> shapely.Geometry:
    try:
        values = [float(v) for v in pos_list.split()]
        lat, lon = values[0::2], values[1::2]
        polygon = shapely.Polygon(list(zip(lon, lat, strict=True)))
    except (ValueError, shapely.errors.GEOSException):
        raise SourceError(f"{mtd}: EXT_POS_LIST is not a footprint polygon") from None
    if polygon.is_empty or not polygon.is_valid:
        polygon = shapely.make_valid(polygon)
    return polygon
