"""Windowed reads of Sentinel-2 L2A rasters onto a site grid, and the solar-day mosaic.

Shared by the ``stac`` source (COGs over http, s3 or on disk) and the ``safe`` source (JPEG2000
inside an ESA SAFE folder). A source turns what its catalogue found into :class:`Granule` s
(one MGRS tile of one pass: its hrefs per band and its DN offset); :func:`solar_day_scenes`
groups them into one :class:`~flows.sources.SceneRef` per site and solar day; :func:`load_cube`
turns scenes into the lazy scene cube of the contract, **one dask task per scene x band x
read window** (the whole site, or a spatial chunk of a larger site), each reading only its
window from each tile of the mosaic.

Mosaic: tiles in a fixed order (item id), first valid (non-zero) pixel wins, band by band.
Tiles of one pass whose offset differs from the first tile's (a half-reprocessed day) have their
valid DN shifted by the difference, so one ``boa_offset`` per scene stays true; integer
arithmetic, DN stay uint16.

Resampling onto the site grid (``aoi.site_grid``: UTM, 10 m, origin on a 60 m multiple):

* source grid nested in the site grid (same CRS, pixel edges on ours, source pixel a whole
  multiple of ours: every 10, 20 and 60 m tile of the site's own UTM zone): **nearest**, done
  as an exact block replication of the source window. A 20 m B11 pixel becomes 2x2 of ours
  with its DN as delivered; bilinear would only make B11/B12 look 10 m without adding
  information, and would blend DN across cloud, shadow and swath (nodata) edges that SCL
  marks at 20 m anyway. Also the cheapest path: a plain windowed read, no warper.
* anything else (a tile of the neighbouring UTM zone, a source finer than the grid): GDAL's
  warper through a ``WarpedVRT`` onto the whole site grid, read by window: bilinear for
  reflectance (average when the source is finer than the grid), nearest for SCL always.
  Source nodata is 0 and stays 0.

One read task (:mod:`flows.sources._blocks`, whose names this module re-exports): handles are
one rasterio dataset (and VRT) per href *per thread*, cached (LRU) in thread-local storage, so
tasks never share a GDAL handle and need no global lock, and closed after the read when the
site is read whole (one read of each raster a pass). Every read runs under :data:`GDAL_ENV`
(COGs over http: no directory listing on open, merged range requests, retries).

Every raster is checked before use, once per opened handle: a local href must be a regular
file (a FIFO would block the read), the raster must hold one band of integers (floating-point
pixels are reflectance, not L2A digital numbers), have a CRS, and cover at least half of the
part of the site its catalogue item says it covers (a wrong CRS, a wrong transform or a 1 x 1
raster does not); every window read is checked for values outside 0..65535 (SCL: 0..11), which
a signed or wider integer type could carry and a cast to uint16 would wrap. An unusable raster
fails its scene with the reason (:data:`~flows.sources.FETCH_REASONS`), logged once.

Failures are data, as in the Sentinel Hub source: a raster that cannot be read after GDAL's
retries (404 or 403 asset, 429/5xx beyond the retries, a connection reset, a truncated or
corrupt TIFF) leaves its block nodata, is logged in one line, and sets the scene's entry of the
cube's ``fetch_status`` (time,) int16 variable (0 fetched, the HTTP status where GDAL names one,
else :data:`~flows.sources.FETCH_BROKEN`). The flow records such scenes as failed, writes no
observation row for them and fetches them again next run; the site's other scenes complete.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from aoi import Site, site_grid
from aoi.grid import SiteGrid
from flows.sources._blocks import (  # noqa: F401  (re-exported: the reader's names, as before)
    _DTYPES,
    _HTTP_CODE,
    GDAL_ENV,
    _handles,
    _why,
    read_block,
    read_block_status,
    replicate,
)
from flows.sources._checks import Unusable, check_raster
from flows.sources.base import (
    BANDS,
    FETCH_BROKEN,
    FETCH_OK,
    SceneRef,
    SourceError,
    redact,
    status_rows,
)

__all__ = ["CUBE_BANDS", "GDAL_ENV", "READ_WINDOW", "Granule", "Unusable", "check_raster",
           "load_cube", "read_block", "read_block_status", "redact", "replicate",
           "solar_day_scenes"]

log = logging.getLogger(__name__)

#: Variables of the scene cube, in order: the six reflectance bands, then SCL.
CUBE_BANDS: tuple[str, ...] = (*BANDS, "SCL")



@dataclass(frozen=True)
class Granule:
    """One tile of one pass, as a source found it: what a mosaic is made of."""

    item_id: str
    """The provider's id of this tile (STAC item id, SAFE product name)."""
    datetime: dt.datetime
    """Acquisition time, timezone-aware UTC."""
    hrefs: Mapping[str, str]
    """Readable href (path, http(s) URL, s3:// URL) per cube band ``B02 ... B12, SCL``."""
    boa_offset: int
    """DN offset of this tile's reflectance bands (-1000 or 0)."""
    cloud_cover: float = float("nan")
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    footprint: tuple[float, float, float, float] | None = None
    """Lon/lat bounds the catalogue gives the tile (its rasters must cover it over the site)."""


def solar_day_scenes(site: Site, granules: Iterable[Granule], source: str) -> list[SceneRef]:
    """One :class:`SceneRef` per local solar day over ``site``, oldest first.

    The solar day is the UTC time shifted by the site centroid's longitude / 15 h, so one
    overpass (about 10:30 local time) never splits across two days and two passes on one UTC
    day at high latitude stay apart only if they fall on different local days. Tiles are
    ordered by item id: that order decides the mosaic ("first valid pixel wins"), and the first
    id becomes ``scene_id``, stable when a later-sorting tile is added to a catalogue.
    ``boa_offset`` is the first tile's; the others carry a DN ``shift`` to match it.
    """
    lon, _ = site.centroid_lonlat
    days: dict[dt.date, list[Granule]] = {}
    for g in granules:
        if g.datetime.tzinfo is None:
            raise SourceError(f"{g.item_id}: acquisition time has no time zone")
        day = (g.datetime.astimezone(dt.UTC) + dt.timedelta(hours=lon / 15.0)).date()
        days.setdefault(day, []).append(g)
    scenes = []
    for day in sorted(days):
        tiles = sorted(days[day], key=lambda g: g.item_id)
        first = tiles[0]
        assets = {band: tuple((g.hrefs[band], 0 if band == "SCL" else
                               g.boa_offset - first.boa_offset) for g in tiles)
                  for band in CUBE_BANDS}
        clouds = [g.cloud_cover for g in tiles if math.isfinite(g.cloud_cover)]
        props = dict(first.properties)
        props.update(items=tuple(g.item_id for g in tiles), assets=assets, solar_day=day,
                     footprints=tuple(_bounds(g.footprint) for g in tiles))
        scenes.append(SceneRef(
            datetime=first.datetime.astimezone(dt.UTC), scene_id=first.item_id,
            boa_offset=first.boa_offset,
            cloud_cover=round(float(np.mean(clouds)), 4) if clouds else float("nan"),
            source=source, properties=props))
    return scenes


def _bounds(footprint: Any) -> tuple[float, float, float, float] | None:
    """Finite lon/lat bounds not spanning the antimeridian, else None (no coverage check)."""
    try:
        b = tuple(float(v) for v in footprint)
    except (TypeError, ValueError):
        return None
    ok = len(b) == 4 and all(math.isfinite(v) for v in b) and 0 < b[2] - b[0] <= 180 \
        and b[1] < b[3]
    return b if ok else None  # type: ignore[return-value]


# -- the cube ------------------------------------------------------------------------------
READ_WINDOW = 2048
"""A site up to this many pixels on a side (or up to one chunk) is read whole: one task per
scene for all bands, its chunks views into it. COGs of 20 m bands are tiled 1024 px (2048 of
our pixels), so chunks of 1024 would decode each such tile up to four times, once a chunk."""


def load_cube(site: Site, scenes: Sequence[SceneRef], chunks: int | None, *,
              source: str) -> xr.Dataset:
    """The lazy scene cube of ``scenes`` (made by :func:`solar_day_scenes`) on ``site``'s grid.

    Dims ``(time, y, x)``, chunks ``(1, chunks, chunks)``; uint16 ``B02 ... B12``, uint8 ``SCL``;
    coords ``time`` (datetime64[ns], naive UTC), ``boa_offset`` (int16), ``scene_id``; and
    ``fetch_status`` (time,) int16 (see the module doc). Nothing is read until computed; the
    status comes from the same read tasks as the pixels, so computing both reads once.

    One read task per band, scene and read window: the window is the whole site when it fits
    :data:`READ_WINDOW`, else a chunk. Chunks are views into it, so the cube's chunking (and
    every sum over it) is what ``chunks`` says either way.
    """
    grid = site_grid(site)
    step = int(chunks or max(grid.shape))
    ys = _spans(grid.height, step)
    xs = _spans(grid.width, step)
    whole = max(grid.shape) <= max(READ_WINDOW, step)
    read_step = step * len(ys if grid.height >= grid.width else xs) if whole else step
    data, statuses = _band_arrays(scenes, grid, ys, xs, read_step)
    times = np.array([np.datetime64(s.datetime.astimezone(dt.UTC).replace(tzinfo=None), "ns")
                      for s in scenes], dtype="datetime64[ns]")
    coords = {
        "time": times, "y": grid.y_coords(), "x": grid.x_coords(),
        "boa_offset": ("time", np.array([s.boa_offset for s in scenes], np.int16)),
        "scene_id": ("time", np.array([s.scene_id for s in scenes], dtype=object)),
    }
    ds = xr.Dataset({k: (("time", "y", "x"), v) for k, v in data.items()}, coords=coords)
    rows = status_rows(da.stack(statuses).max(axis=(0, 3)), [h for _, h in ys])
    ds["fetch_status_rows"] = (("time", "y"), rows)  # chunked as the reads
    ds["fetch_status"] = ("time", da.stack(statuses).max(axis=(0, 2, 3)))
    ds["fetch_status"].attrs["meaning"] = (
        f"{FETCH_OK}: read; {FETCH_BROKEN}: connection broken or raster undecodable; else the "
        "HTTP status of the failed read (pixels of that block are nodata)")
    ds.attrs.update(crs=grid.crs, transform=grid.transform, res=grid.res, site_id=site.id,
                    source=source)
    return ds


def _assets(scene: SceneRef, band: str) -> tuple[tuple[str, int, Any], ...]:
    """``(href, shift, footprint)`` of each tile of the scene's mosaic, for ``band``."""
    try:
        tiles = scene.properties["assets"][band]
        footprints = tuple(scene.properties.get("footprints") or ())
        if len(footprints) != len(tiles):  # a scene made elsewhere: no coverage check
            footprints = (None,) * len(tiles)
        return tuple((str(h), int(s), _bounds(f)) for (h, s), f in zip(tiles, footprints,
                                                                        strict=True))
    except (KeyError, TypeError, ValueError):
        raise SourceError(f"scene {scene.scene_id} carries no {band} asset; "
                          "was it found by this source's search()?") from None


def _spans(size: int, step: int) -> tuple[tuple[int, int], ...]:
    return tuple((start, min(step, size - start)) for start in range(0, size, step))


def _band_arrays(scenes: Sequence[SceneRef], grid: SiteGrid, ys: tuple[tuple[int, int], ...],
                 xs: tuple[tuple[int, int], ...], read_step: int
                 ) -> tuple[dict[str, da.Array], list[da.Array]]:
    """Each band (time, y, x) and the read status of each of its blocks (time, ny, nx): views
    into one read task per band, scene and read window (``read_step`` px, a multiple of the
    chunk side), so that computing one band reads that band only."""
    ychunks = tuple(n for _, n in ys)
    xchunks = tuple(n for _, n in xs)
    ntime = (1,) * len(scenes)
    windows = {}
    # read once a pass (one window: the whole site): its handles are closed after the read
    keep = len({w // read_step for w, _ in ys}) * len({w // read_step for w, _ in xs}) > 1
    for i, (y0, h) in enumerate(ys):
        for j, (x0, w) in enumerate(xs):
            ry, rx = y0 // read_step * read_step, x0 // read_step * read_step
            read = (ry, rx, min(read_step, grid.height - ry), min(read_step, grid.width - rx))
            windows[(i, j)] = (read, (y0 - ry, y0 - ry + h, x0 - rx, x0 - rx + w))
    bands, statuses = {}, []
    for band in CUBE_BANDS:
        if not scenes:
            bands[band] = da.zeros((0, grid.height, grid.width), dtype=_DTYPES[band],
                                   chunks=(1, ychunks, xchunks))
            statuses.append(da.zeros((0, len(ys), len(xs)), dtype=np.int16, chunks=1))
            continue
        per_scene = [_assets(s, band) for s in scenes]
        token = tokenize(band, per_scene, grid, ys, xs, read_step)
        read, name, status = f"read-{band}-{token}", f"{band}-{token}", f"status-{band}-{token}"
        reads: dict[tuple, tuple] = {}
        blocks: dict[tuple, tuple] = {}
        codes: dict[tuple, tuple] = {}
        for t, rasters in enumerate(per_scene):
            for (i, j), (window, cut) in windows.items():
                key = (read, t, window[0] // read_step, window[1] // read_step)
                reads[key] = (read_block_status, rasters, grid, band, window, keep)
                blocks[(name, t, i, j)] = (_window, key, cut)
                codes[(status, t, i, j)] = (operator.getitem, key, 1)
        pixels = HighLevelGraph({read: reads, name: blocks}, {read: set(), name: {read}})
        flags = HighLevelGraph({read: reads, status: codes}, {read: set(), status: {read}})
        bands[band] = da.Array(pixels, name, chunks=(ntime, ychunks, xchunks),
                               dtype=_DTYPES[band])
        statuses.append(da.Array(flags, status, chunks=(ntime, (1,) * len(ys), (1,) * len(xs)),
                                 dtype=np.int16))
    return bands, statuses


def _window(read: tuple[np.ndarray, np.ndarray], cut: tuple[int, int, int, int]) -> np.ndarray:
    """Rows ``cut[0]:cut[1]`` and columns ``cut[2]:cut[3]`` of a read block (a view)."""
    return read[0][:, cut[0]:cut[1], cut[2]:cut[3]]
