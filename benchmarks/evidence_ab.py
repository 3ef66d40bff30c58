"""A mangrove site's evidence alone, timed pass by pass, for an A/B of two checkouts (issue 22).

    PYTHONPATH=<checkout> python benchmarks/evidence_ab.py [--size 10980] [--scenes 4]
        [--chunks 1024] [--one-block N] [--rounds 1] [--save out.npz]

``flows.site.evidence.site_evidence_of`` (``keep_base=False``: the strips walk's two passes)
on ``synthetic.write_tile(change=True)``'s site, as ``benchmarks/tile_proxy.py`` loads it,
in this process after a 1026² x 2 warm-up: each ``dask.compute`` of the evidence timed
(wall and process CPU), the RSS sampled every 20 ms. ``--one-block 0`` splits a small tile
into blocks as a whole tile is (:data:`indices.neighbourhood.ONE_BLOCK`). ``--save`` keeps the
parameters and the context, to compare two checkouts bit for bit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

import dask  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402
import synthetic  # noqa: E402


class Peak:
    """The process's peak RSS (``/proc/self/statm`` every 20 ms) since the last reset."""

    def __init__(self):
        self.peak = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        page = os.sysconf("SC_PAGE_SIZE")
        while True:
            with open("/proc/self/statm") as f:
                self.peak = max(self.peak, int(f.read().split()[1]) * page)
            time.sleep(0.02)


def evidence(cache: Path, size: int, n: int, chunks: int) -> tuple[dict, object]:
    import flows.site.evidence as fe
    from aoi import site_grid, site_mask
    from flows.sources.stac import StacSource

    items = synthetic.write_tile(cache, size, n, change=True)
    site = synthetic.tile_site(size)
    source = StacSource(str(items))
    first, last = synthetic.scene_dates(n)
    scenes = source.search(site, first, last)
    grid = site_grid(site)
    import xarray as xr

    mask = xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                        coords={"y": grid.y_coords(), "x": grid.x_coords()})
    cube = source.load(site, scenes, chunks=chunks)
    passes = []
    real = dask.compute

    def timed(*args, **kw):
        w, c = time.perf_counter(), time.process_time()
        out = real(*args, **kw)
        passes.append((round(time.perf_counter() - w, 2), round(time.process_time() - c, 2)))
        return out

    fe.dask.compute = timed
    try:
        w, c = time.perf_counter(), time.process_time()
        got = fe.site_evidence_of(site, cube, grid, mask, keep_base=False)
        total = (round(time.perf_counter() - w, 2), round(time.process_time() - c, 2))
    finally:
        fe.dask.compute = real
    return {"passes_wall_cpu": passes, "total_wall_cpu": total}, got.evidence


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=10980)
    p.add_argument("--scenes", type=int, default=4)
    p.add_argument("--chunks", type=int, default=1024)
    p.add_argument("--one-block", type=int, default=None)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "BLUECARBON_BENCH_CACHE", "/tmp/bluecarbon-bench")))
    p.add_argument("--save", type=Path)
    args = p.parse_args(argv)
    numba.set_num_threads(2)
    dask.config.set(scheduler="threads", num_workers=2)
    import indices.neighbourhood

    if args.one_block is not None:
        indices.neighbourhood.ONE_BLOCK = args.one_block
    peak = Peak()
    evidence(args.cache, 1026, 2, args.chunks)  # warm-up: numba caches, imports
    for r in range(args.rounds):
        peak.peak = 0
        load = os.getloadavg()[0]
        got, ev = evidence(args.cache, args.size, args.scenes, args.chunks)
        got.update(round=r, size=args.size, scenes=args.scenes, chunks=args.chunks,
                   peak_gib=round(peak.peak / 2**30, 3), load=round(load, 1),
                   code=indices.context.__file__)
        print("RESULT " + json.dumps(got), flush=True)
    if args.save:
        np.savez(args.save, params=np.asarray(ev.params), context=np.asarray(ev.context))
    return 0


if __name__ == "__main__":
    sys.exit(main())
