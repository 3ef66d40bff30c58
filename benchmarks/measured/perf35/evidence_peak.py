"""Peak RSS and time of ``site_evidence_of(keep_base=True)`` alone, on a benchmark site
(the 2004² tile's catalog; ``PX`` 400, 1000 or 2000: a 1000² site is the largest of one
default block), in a fresh process: VmHWM before (imports, cube) and after.

    PYTHONPATH=$TREE python benchmarks/measured/perf35/evidence_peak.py PX
"""

import datetime as dt
import sys
import time
from pathlib import Path

import xarray as xr

from aoi import load_sites, site_grid, site_mask
from flows.runtime.startup import local_dask
from flows.site.evidence import site_evidence_of
from flows.sources import CHUNKS, get_source


def hwm() -> float:
    with open("/proc/self/status") as f:
        return next(int(x.split()[1]) for x in f if x.startswith("VmHWM")) / 1024


px = int(sys.argv[1])
tile = "tile-402-s0-v2-coast2" if px == 400 else "tile-2004-s0-v2-coast2"
(site,) = load_sites(Path(f"/work/wt/perf35-work/site-{px}.geojson"), max_area_ha=2e6)
source = get_source("stac", catalog=f"/work/wt/cache-perf35/{tile}/catalog-24/catalog.json")
scenes = source.search(site, dt.date(2023, 1, 1), dt.date(2025, 11, 25))
grid = site_grid(site)
mask = xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                    coords={"y": grid.y_coords(), "x": grid.x_coords()})
with local_dask():
    cube = source.load(site, scenes, chunks=CHUNKS)
    before = hwm()
    t = time.perf_counter()
    got = site_evidence_of(site, cube, grid, mask, keep_base=True)
    print(f"{px}²: evidence {time.perf_counter() - t:.2f} s, VmHWM {before:.0f} -> {hwm():.0f} "
          f"MiB (+{hwm() - before:.0f}), context {type(got.evidence.context.data).__name__}")
