"""Monthly class and change maps of a site as Cloud Optimized GeoTIFFs.

Layout under the results root::

    <root>/maps/<site_id>/<YYYY-MM>_class.tif     0 not habitat, 1 habitat, 255 nodata
    <root>/maps/<site_id>/<YYYY-MM>_change.tif    0 stable non-habitat, 1 stable habitat,
                                                  2 gain, 3 loss, 255 nodata
    <root>/maps/.write.lock                       writers' lock

Each file: one uint8 band on the site grid (UTM CRS and transform of :func:`aoi.site_grid`),
COG layout with 256 px tiles (512 above 2048 px), compressed with zstd level 1 (deflate where
this GDAL lacks zstd; zstd-1 writes ~5x faster than deflate-6 at the same ratio, see
docs/performance.md), overviews down to one tile resampled by MODE (a class map must not be
averaged; computed by :func:`indices.maps.mode_halve`: a whole tile's map is written in
0.76 s, 3.3 s with GDAL's own; none for a map of at most 2 x 2 tiles), a colour table and
nodata 255 (QGIS shows it as is), and tags ``site_id``, ``habitat``, ``period``,
``product``, ``processing_version``, ``legend`` (JSON), ``mmu_ha``.
Files are written to a hidden temp file and ``os.replace``d (atomic); the same input gives the
same bytes, so reruns are idempotent. The arrays come from :func:`indices.maps.monthly_maps`
(or, for a site walked month by month, :class:`indices.maps.MapsWalk`), which share the change
table's month walk: the maps' areas are the table's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd
import rasterio
import rasterio.shutil
import xarray as xr
from rasterio.io import MemoryFile
from rasterio.transform import Affine

from aoi import Site, site_grid
from aoi.grid import SiteGrid
from flows import PROCESSING_VERSION
from flows.results.files import StoreError, atomic_path, check_inside, ensure_dir, writer_lock
from flows.results.store import check_site_id
from flows.runtime.memory import release_pages
from indices.maps import CHANGE_CODES, CLASS_CODES, NODATA, mode_halve

__all__ = ["COLOURS", "MAPS_DIR", "map_path", "write_cog", "write_site_maps"]

MAPS_DIR = "maps"
_CLEAR = (0, 0, 0, 0)
_HABITAT_RGBA = {"mangrove": (0, 109, 44, 255), "seagrass": (0, 128, 128, 255)}
COLOURS = {
    "class": {0: (236, 226, 198, 255), 1: None, NODATA: _CLEAR},
    "change": {0: (224, 224, 224, 255), 1: None, 2: (43, 131, 186, 255),
               3: (215, 25, 28, 255), NODATA: _CLEAR},
}
"""Colour table per product (RGBA); ``None``: the habitat's colour (mangrove green, seagrass
teal). Gain blue, loss red, no data transparent."""
_LEGENDS = {"class": CLASS_CODES, "change": CHANGE_CODES}
_DESCRIPTIONS = {"class": "habitat class", "change": "change since the baseline"}


def map_path(root: str | os.PathLike[str], site_id: str, period, product: str) -> Path:
    """``<root>/maps/<site_id>/<YYYY-MM>_<product>.tif`` (the site id is checked)."""
    if product not in _LEGENDS:
        raise ValueError(f"unknown map product {product!r}; expected one of {sorted(_LEGENDS)}")
    month = pd.Timestamp(period).strftime("%Y-%m")
    return Path(root) / MAPS_DIR / check_site_id(site_id) / f"{month}_{product}.tif"


@functools.cache
def _compression() -> dict:
    """zstd level 1 where this GDAL has it, else deflate."""
    try:  # georeferenced, so that reading it back warns of nothing: a warnings filter set
        # here would not be thread-safe (two sites write maps at once; issue 21)
        with MemoryFile() as mem:
            with mem.open(driver="GTiff", width=1, height=1, count=1, dtype="uint8",
                          crs="EPSG:4326", transform=Affine(0.5, 0, 0, 0, -0.5, 0),
                          compress="ZSTD") as dst:
                dst.write(np.zeros((1, 1, 1), np.uint8))
            with mem.open() as src:
                if src.compression is not None and src.compression.value == "ZSTD":
                    return {"compress": "ZSTD", "level": 1}
    except rasterio.errors.RasterioError:
        pass
    return {"compress": "DEFLATE", "level": 6}


def _overview_count(height: int, width: int, block: int) -> int:
    """Halvings until the coarsest overview fits one tile; none for a map of at most 2 x 2
    tiles, which a viewer reads whole anyway (MODE overviews are 80 % of the cost of writing
    a small map: 18 ms against 3.7 ms without, measured on a 288 x 240 map)."""
    longest = max(height, width)
    if longest <= 2 * block:
        return 0
    return math.ceil(math.log2(longest / block))


def _profile(grid: SiteGrid) -> dict:
    block = 256 if max(grid.shape) <= 2048 else 512
    count = _overview_count(*grid.shape, block)
    overviews = ({"overview_resampling": "MODE", "overview_count": count} if count
                 else {"overviews": "NONE"})
    return {
        "driver": "COG", "height": grid.height, "width": grid.width, "count": 1,
        "dtype": "uint8", "crs": grid.crs, "transform": Affine(*grid.transform),
        "nodata": NODATA, "blocksize": block, **overviews, **_compression(),
    }


def _unchanged(path: Path, array: np.ndarray, grid: SiteGrid, tags: dict[str, str],
               colormap: dict) -> bool:
    """True when ``path`` already holds exactly this map (pixels, grid, encoding, tags,
    colours): rewriting it would give the same bytes, so the write is skipped. A COG costs
    ~25 ms to encode (MODE overviews) and an fsync; reading it back ~2 ms."""
    profile = _profile(grid)
    try:
        with rasterio.open(path) as src:
            return (src.shape == array.shape and src.crs == rasterio.crs.CRS.from_user_input(
                        grid.crs) and src.transform == profile["transform"]
                    and src.block_shapes == [(profile["blocksize"],) * 2]
                    and src.compression is not None
                    and src.compression.value == profile["compress"]
                    and src.overviews(1) == [2 ** (k + 1) for k in range(
                        profile.get("overview_count", 0))]
                    and {k: v for k, v in src.tags().items() if k in tags} == tags
                    and all(src.colormap(1).get(k) == tuple(v) for k, v in colormap.items())
                    and np.array_equal(src.read(1), array))
    except (rasterio.errors.RasterioError, ValueError):
        return False


def write_cog(path: Path, array: np.ndarray, grid: SiteGrid, *, colormap: dict,
              tags: dict[str, str], description: str = "", root: Path | None = None) -> Path:
    """Write a uint8 ``(y, x)`` array on ``grid`` as a COG at ``path``, atomically (never
    through a link below the results folder ``root``)."""
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.shape != grid.shape:
        raise ValueError(f"{path.name}: expected uint8 {grid.shape}, got {array.dtype} "
                         f"{array.shape}")
    profile = _profile(grid)
    ensure_dir(path.parent, root)
    with atomic_path(path, root) as tmp:
        if profile.get("overview_count"):
            _write_with_overviews(tmp, array, grid, profile, colormap=colormap, tags=tags,
                                  description=description)
        else:
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(array, 1)
                dst.write_colormap(1, colormap)
                dst.update_tags(**tags)
                dst.set_band_description(1, description)
    return path


def _write_with_overviews(tmp: Path, array: np.ndarray, grid: SiteGrid, profile: dict, *,
                          colormap: dict, tags: dict[str, str], description: str) -> None:
    """The COG of :func:`write_cog` with MODE overviews computed by
    :func:`indices.maps.mode_halve`: each level goes to an uncompressed in-memory GeoTIFF, a
    VRT gives them as the map's overviews (with its grid, colours, tags and description), and
    GDAL's COG driver copies it with ``OVERVIEWS=FORCE_USE_EXISTING``. A whole tile's map:
    0.76 s against 3.3 s with GDAL's own MODE overviews (~0.4 s with none)."""
    levels = [array]
    for _ in range(profile["overview_count"]):
        levels.append(mode_halve(levels[-1], NODATA))
    with contextlib.ExitStack() as stack:
        names = []
        for k, level in enumerate(levels):
            mem = stack.enter_context(MemoryFile())
            with mem.open(driver="GTiff", height=level.shape[0], width=level.shape[1],
                          count=1, dtype="uint8", tiled=True, blockxsize=512,
                          blockysize=512, crs=grid.crs,
                          transform=Affine(*grid.transform) @ Affine.scale(2 ** k)) as dst:
                dst.write(level, 1)
            names.append(mem.name)
        with rasterio.open(_vrt(grid, names, colormap, tags, description)) as src:
            rasterio.shutil.copy(src, tmp, driver="COG", OVERVIEWS="FORCE_USE_EXISTING",
                                 BLOCKSIZE=profile["blocksize"],
                                 COMPRESS=profile["compress"], LEVEL=profile["level"])


def _vrt(grid: SiteGrid, names: list[str], colormap: dict, tags: dict[str, str],
         description: str) -> str:
    """VRT XML of a uint8 map on ``grid`` read from ``names[0]`` with the others as its
    overviews, palette ``colormap`` (entries missing below its largest code transparent),
    dataset metadata ``tags`` and band ``description``."""
    def source(name: str) -> str:
        return (f"<SourceFilename relativeToVRT=\"0\">{escape(name)}</SourceFilename>"
                f"<SourceBand>1</SourceBand>")

    entries = "".join(
        "<Entry c1=\"{}\" c2=\"{}\" c3=\"{}\" c4=\"{}\"/>".format(
            *colormap.get(code, (0, 0, 0, 0))) for code in range(max(colormap, default=-1) + 1))
    palette = (f"<ColorInterp>Palette</ColorInterp><ColorTable>{entries}</ColorTable>"
               if entries else "<ColorInterp>Gray</ColorInterp>")
    metadata = "".join(f"<MDI key={quoteattr(k)}>{escape(v)}</MDI>" for k, v in tags.items())
    geotransform = ", ".join(repr(float(v)) for v in Affine(*grid.transform).to_gdal())
    return (f"<VRTDataset rasterXSize=\"{grid.width}\" rasterYSize=\"{grid.height}\">"
            f"<SRS>{escape(grid.crs)}</SRS><GeoTransform>{geotransform}</GeoTransform>"
            f"<Metadata>{metadata}</Metadata>"
            f"<VRTRasterBand dataType=\"Byte\" band=\"1\">"
            f"<Description>{escape(description)}</Description>"
            f"<NoDataValue>{NODATA}</NoDataValue>{palette}"
            f"<SimpleSource>{source(names[0])}</SimpleSource>"
            + "".join(f"<Overview>{source(n)}</Overview>" for n in names[1:])
            + "</VRTRasterBand></VRTDataset>")


def write_site_maps(root: str | os.PathLike[str], site: Site, maps: xr.Dataset, *,
                    grid: SiteGrid | None = None, since: dt.date | None = None,
                    until: dt.date | None = None,
                    processing_version: str = PROCESSING_VERSION) -> list[Path]:
    """Write the class and change COG of each period of computed :func:`site_maps` output.

    Periods from ``since`` to ``until`` (month starts, inclusive; None: unbounded) are written,
    plus any earlier or later period whose files are missing (a first run with maps after
    incremental runs without them fills the history). A file that already holds exactly the
    same map is left alone (same bytes; a full rerun costs reads, not encodes and fsyncs).
    Returns the paths written.
    Raises :class:`flows.results.StoreError` for an unsafe site id, before anything is written.
    """
    site_id = check_site_id(site.id)
    if any(v.chunks for v in maps.data_vars.values()):
        raise ValueError("write_site_maps needs computed maps: compute site_maps() first")
    grid = grid or site_grid(site)
    habitat_rgba = _HABITAT_RGBA.get(site.habitat, (0, 109, 44, 255))
    root = Path(root)
    jobs = []
    for i, period in enumerate(pd.to_datetime(maps["period"].values)):
        day = period.date()
        due = (since is None or day >= since) and (until is None or day <= until)
        for product in ("class", "change"):
            path = map_path(root, site_id, period, product)
            if due or not path.is_file():
                colours = {k: (habitat_rgba if v is None else v)
                           for k, v in COLOURS[product].items()}
                tags = {
                    "site_id": site_id, "habitat": site.habitat,
                    "period": period.strftime("%Y-%m"), "product": product,
                    "processing_version": processing_version,
                    "legend": json.dumps({str(k): v for k, v in _LEGENDS[product].items()}),
                    "mmu_ha": str(maps.attrs.get("mmu_ha", "")),
                }
                jobs.append((path, maps[product].values[i], colours, tags, product))

    def write(job) -> Path | None:
        path, array, colours, tags, product = job
        try:
            check_inside(path, root)
            if path.is_file() and _unchanged(path, array, grid, tags, colours):
                return None
            return write_cog(path, array, grid, colormap=colours, tags=tags,
                             description=_DESCRIPTIONS[product], root=root)
        finally:
            release_pages(array)  # a large site's maps: one month's pages at a time

    _compression()  # probe once, before the threads
    try:
        with writer_lock(root / MAPS_DIR, root=root):
            # GDAL encodes outside the GIL: a few threads keep the cores busy on many small maps
            with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
                done = list(pool.map(write, jobs))
    except OSError as exc:
        raise StoreError(f"{root / MAPS_DIR / site_id}: write failed: "
                         f"{str(exc).splitlines()[0]}") from exc
    return [p for p in done if p is not None]
