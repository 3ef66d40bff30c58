"""Synthetic Sentinel-2 L2A tiles as local COGs plus a static STAC item collection.

The benchmarks and ``tests/test_memory.py`` need big inputs read through the real path
(``StacSource`` -> ``flows.sources._reader`` -> dask), fast to make and realistic where it
matters for speed and memory:

* one MGRS-like tile of ``size`` x ``size`` 10 m pixels in UTM 48N, origin on 60 m; B02 B03 B04
  B08 at 10 m, B11 B12 SCL at 20 m as Sen2Cor delivers them (tiled 1024, ZSTD level 1,
  predictor 2, no overviews: writing is the slow part, see docs in ``benchmarks/README.md``);
* three surface classes in 600 m patches (water, mangrove, mud) with L2A-like reflectance,
  DN = 10000 * rho + 1000 (baseline >= 04.00, ``raster:bands`` offset -0.1), 8 bits of
  per-pixel noise (so blocks compress like real scenes, ~1.5x), and per scene ~25 % cloud
  (SCL 8/9, bright DN) and ~4 % shadow (SCL 3) in 1.2 km cells;
* scene ``i`` is acquired ``30 * i`` days after 2024-01-05 (one a month), always written the same way, so
  catalogues of 3, 6 or 12 scenes share their files (``items-<n>.json``);
* with ``change=True`` (a separate folder), the landscape changes over time so that monthly
  gain and loss are not only noise: ~15 % of the mud patches become mangrove (planted) and
  ~15 % of the mangrove patches become mud (cleared), each patch from its own scene on
  (:func:`changed_classes`; gains from scene 3 to 14, losses from scene 5 to 16); and it
  is a coast as bluecarbon's mangrove rule needs one (:mod:`indices.context`): the mud is a
  tidal flat, flooded (water's reflectance and SCL) in every other scene from the first,
  and the mangrove's spectrum is inside the published MVI range (:data:`RHO_COAST`).

``python benchmarks/synthetic.py ROOT --size 2048 --scenes 6`` writes (or reuses) the files and
prints the JSON manifest; :func:`tile_site` gives the ``Site`` covering the tile.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from shapely.geometry import box, mapping

EPSG = 32648
LEFT, TOP = 399_960.0, 300_000.0  # multiples of 60 m, like S2 tile origins; ~2.7 N, 104.1 E
FIRST_DAY = dt.datetime(2024, 1, 5, 3, 30, tzinfo=dt.UTC)
BANDS10 = ("B02", "B03", "B04", "B08")
BANDS20 = ("B11", "B12")
KEYS = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "B11": "swir16",
        "B12": "swir22", "SCL": "scl"}
# reflectance per class: water, mangrove, mud; cloud
RHO = {"B02": (0.060, 0.030, 0.080), "B03": (0.050, 0.055, 0.100),
       "B04": (0.030, 0.030, 0.120), "B08": (0.020, 0.300, 0.150),
       "B11": (0.010, 0.120, 0.200), "B12": (0.005, 0.050, 0.180)}
RHO_COAST = {**RHO, "B03": (0.050, 0.035, 0.100), "B08": (0.020, 0.350, 0.150),
             "B11": (0.010, 0.075, 0.200)}
"""The changing landscape's reflectance: mangrove with MVI = |NIR - G| / |SWIR1 - G| ~ 7.9 and
NDVI ~ 0.84, inside the rule's ranges (Baloloy et al. 2020: MVI 4.5-16.5; NDVI >= 0.4) with
the 8 bits of noise (MVI ~ 4.8-22 at its extremes, above 16.5 for ~2 % of the pixels)."""
COAST_VERSION = 2
"""Version of the changing landscape (tides, :data:`RHO_COAST`): in its folder's name."""
CLOUD_DN = 1000 + 5200
SCL_CLASS = (6, 4, 5)
PATCH_M, CLOUD_M = 600, 1200
CREATION = {"driver": "GTiff", "tiled": True, "blockxsize": 1024, "blockysize": 1024,
            "compress": "ZSTD", "zstd_level": 1, "predictor": 2, "nodata": 0,
            "num_threads": "ALL_CPUS"}
FORMAT_VERSION = 2


def _coarse(rng: np.random.Generator, size: int, cell_px: int, **kw) -> np.ndarray:
    n = -(-size // cell_px)
    return rng.integers(0, 1000, (n, n), **kw)


def _blow_up(coarse: np.ndarray, cell_px: int, size: int) -> np.ndarray:
    return np.repeat(np.repeat(coarse, cell_px, 0), cell_px, 1)[:size, :size]


def _noise(rng: np.random.Generator, size: int, shift: int) -> np.ndarray:
    """8-bit noise: a 1024² random block tiled (blocks compress independently, so this costs
    no realism) and rolled per scene."""
    block = rng.integers(0, 256, (1024, 1024), dtype=np.uint16)
    reps = -(-(size + shift) // 1024)
    return np.tile(block, (reps, reps))[shift:shift + size, shift:shift + size]


GAIN_FROM, LOSS_FROM, CHANGE_SPREAD = 3, 5, 12
"""Changing landscape: a patch that changes does so from scene ``GAIN_FROM`` (planted mud)
or ``LOSS_FROM`` (cleared mangrove) plus its own 0..``CHANGE_SPREAD - 1``."""


def changed_classes(classes_c: np.ndarray, i: int, size: int, seed: int) -> np.ndarray:
    """The coarse class map (0 water, 1 mangrove, 2 mud) of scene ``i`` of a changing
    landscape: mud patches whose draw is below 150 (of 1000) are mangrove from scene
    ``GAIN_FROM + draw % CHANGE_SPREAD`` on, mangrove patches whose draw is 850 or more mud
    from scene ``LOSS_FROM + draw % CHANGE_SPREAD`` on (a draw per patch, its own generator:
    the landscape itself is that of ``change=False``)."""
    draw = _coarse(np.random.default_rng([seed, 7]), size, PATCH_M // 10, dtype=np.uint16)
    out = classes_c.copy()
    out[(classes_c == 2) & (draw < 150) & (GAIN_FROM + draw % CHANGE_SPREAD <= i)] = 1
    out[(classes_c == 1) & (draw >= 850) & (LOSS_FROM + draw % CHANGE_SPREAD <= i)] = 2
    return out


def scene_arrays(i: int, size: int, seed: int = 0, *, change: bool = False
                 ) -> dict[str, np.ndarray]:
    """The bands of scene ``i`` (10 m bands ``size``², 20 m ones ``size // 2``²);
    ``change``: of the changing landscape (:func:`changed_classes`), a tidal coast."""
    land = np.random.default_rng(seed)  # the same landscape every scene
    classes_c = (_coarse(land, size, PATCH_M // 10, dtype=np.uint16) % 3).astype(np.uint8)
    if change:
        classes_c = changed_classes(classes_c, i, size, seed)
        if i % 2 == 0:  # high tide: the flats (mud) are under water
            classes_c = np.where(classes_c == 2, np.uint8(0), classes_c)
    rho = RHO_COAST if change else RHO
    sky = np.random.default_rng([seed, i])
    cloud_c = _coarse(sky, size, CLOUD_M // 10, dtype=np.uint16)
    out = {}
    for res, bands in ((10, BANDS10), (20, (*BANDS20, "SCL"))):
        n = size * 10 // res
        cls = _blow_up(classes_c, PATCH_M // res, n)
        cloud = _blow_up(cloud_c, CLOUD_M // res, n)
        cloudy, shadow = cloud < 250, (cloud >= 250) & (cloud < 290)
        for band in bands:
            if band == "SCL":
                scl = np.asarray(SCL_CLASS, np.uint8)[cls]
                scl[shadow] = 3
                scl[cloudy] = np.where(cloud[cloudy] < 120, 9, 8).astype(np.uint8)
                out[band] = scl
                continue
            lut = np.round(np.asarray(rho[band]) * 10000 + 1000).astype(np.uint16)
            dn = lut[cls] + _noise(sky, n, (i * 37) % 512)
            dn[shadow] = (dn[shadow] // 3 + 700).astype(np.uint16)
            dn[cloudy] = CLOUD_DN
            out[band] = dn
    return out


def _write(path: Path, pixels: np.ndarray, res: float) -> None:
    tmp = path.with_suffix(".tmp.tif")
    with rasterio.open(tmp, "w", width=pixels.shape[1], height=pixels.shape[0], count=1,
                       dtype=pixels.dtype, crs=f"EPSG:{EPSG}",
                       transform=Affine(res, 0, LEFT, 0, -res, TOP), **CREATION) as dst:
        dst.write(pixels, 1)
    os.replace(tmp, path)


def _lonlat(bounds: tuple[float, float, float, float]) -> shapely.Polygon:
    to_ll = Transformer.from_crs(EPSG, 4326, always_xy=True)
    ring = box(*bounds).exterior.segmentize(500)
    lon, lat = to_ll.transform(*np.asarray(ring.coords).T)
    return shapely.Polygon(np.column_stack([lon, lat]))


def _item(i: int, size: int, folder: str) -> dict:
    when = FIRST_DAY + dt.timedelta(days=i * 30)
    item_id = f"S2B_48NUG_{when:%Y%m%d}_0_L2A"
    bounds = (LEFT, TOP - size * 10.0, LEFT + size * 10.0, TOP)
    footprint = _lonlat(bounds)
    assets = {}
    for band in (*BANDS10, *BANDS20, "SCL"):
        res = 10 if band in BANDS10 else 20
        rb = {"data_type": "uint8" if band == "SCL" else "uint16", "nodata": 0,
              "spatial_resolution": res}
        if band != "SCL":
            rb.update(scale=0.0001, offset=-0.1)
        assets[KEYS[band]] = {
            "href": f"{folder}/{band}.tif", "type": "image/tiff; application=geotiff",
            "roles": ["data"], "raster:bands": [rb],
            "proj:shape": [size * 10 // res] * 2,
            "proj:transform": [res, 0.0, LEFT, 0.0, -res, TOP]}
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": item_id,
        "stac_extensions": ["https://stac-extensions.github.io/raster/v1.1.0/schema.json",
                            "https://stac-extensions.github.io/projection/v1.1.0/schema.json"],
        "geometry": mapping(footprint), "bbox": list(footprint.bounds),
        "properties": {"datetime": when.isoformat().replace("+00:00", "Z"),
                       "platform": "sentinel-2b", "eo:cloud_cover": 25.0, "proj:epsg": EPSG,
                       "s2:processing_baseline": "05.10",
                       "earthsearch:boa_offset_applied": False},
        "links": [], "assets": assets, "collection": "sentinel-2-l2a"}


def write_tile(root: str | os.PathLike, size: int, n_scenes: int, *, seed: int = 0,
               threads: int = 2, log=None, change: bool = False) -> Path:
    """Write (or reuse) ``n_scenes`` scenes of a ``size``² tile under ``root``; return the
    path of the item collection ``items-<n_scenes>.json`` (relative asset hrefs).
    ``change``: the changing landscape (:func:`changed_classes`), in its own folder."""
    if size % 6:
        raise ValueError("size must be a multiple of 6 (60 m)")
    root = Path(root) / (f"tile-{size}-s{seed}-v{FORMAT_VERSION}"
                         + (f"-coast{COAST_VERSION}" if change else ""))
    root.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(n_scenes):
        item = _item(i, size, f"scenes/{i:03d}")
        folder = root / "scenes" / f"{i:03d}"
        done = folder / "done"
        if not done.exists():
            folder.mkdir(parents=True, exist_ok=True)
            if log:
                log(f"writing scene {i} of {size}² to {folder}")
            arrays = scene_arrays(i, size, seed, change=change)
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(_write, [folder / f"{b}.tif" for b in arrays], arrays.values(),
                              [10.0 if b in BANDS10 else 20.0 for b in arrays]))
            del arrays
            done.write_text("ok")
        items.append(item)
    path = root / f"items-{n_scenes}.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": items}))
    return path


def tile_site(size: int, *, months_baseline: int = 3):
    """The ``Site`` covering the tile (inset 30 m, so its grid is exactly the tile)."""
    from aoi import Site

    geometry = _lonlat((LEFT + 30, TOP - size * 10.0 + 30, LEFT + size * 10.0 - 30, TOP - 30))
    start = FIRST_DAY.date().replace(day=1)
    end = (FIRST_DAY + dt.timedelta(days=30 * months_baseline - 5)).date()
    return Site(id=f"tile-{size}", name=f"synthetic tile {size}", habitat="mangrove",
                geometry=geometry, baseline_start=start, baseline_end=end)


def scene_dates(n_scenes: int) -> tuple[dt.date, dt.date]:
    """First and last acquisition day of ``n_scenes`` scenes."""
    return FIRST_DAY.date(), (FIRST_DAY + dt.timedelta(days=30 * (n_scenes - 1))).date()


def bytes_per_scene(size: int) -> int:
    """Raw (decoded) bytes of one scene: 4 x 10 m uint16, 2 x 20 m uint16, 20 m uint8 SCL."""
    q = (size // 2) ** 2
    return 4 * size * size * 2 + 2 * q * 2 + q


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root")
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--scenes", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--change", action="store_true", help="the changing landscape")
    args = p.parse_args(argv)
    path = write_tile(args.root, args.size, args.scenes, seed=args.seed, change=args.change,
                      log=lambda m: print(m, file=sys.stderr))
    print(json.dumps({"items": str(path), "size": args.size, "scenes": args.scenes,
                      "raw_gb": round(bytes_per_scene(args.size) * args.scenes / 1e9, 3),
                      "disk_gb": round(sum(f.stat().st_size for f in path.parent.rglob("*.tif"))
                                       / 1e9, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["bytes_per_scene", "changed_classes", "scene_arrays", "scene_dates", "tile_site",
           "write_tile"]
