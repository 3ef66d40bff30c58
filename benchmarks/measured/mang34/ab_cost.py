"""CPU cost of a site's first pass (``indices.evidence.mangrove_first_pass``, computed with
dask's synchronous scheduler: process CPU seconds, less exposed to the shared machine's load
than wall time) on a cached scene's baseline composite, tiled ``--tile`` times a side.
Run once per tree, interleaved (helper mang34):

    PYTHONPATH=<tree>:<tree>/tests:<tree>/benchmarks python ab_cost.py CACHE SEED TILE REPEATS
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import dask
import numpy as np
import xarray as xr


def main() -> int:
    from scenario_sweep import mangrove_baseline

    from indices.evidence import mangrove_first_pass

    cache, seed, tile, reps = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    _, _, _, base, rule, _, _ = mangrove_baseline(seed, cache)
    if tile > 1:
        ny, nx = base.sizes["y"], base.sizes["x"]
        big = {v: (base[v].dims, np.tile(base[v].values, (tile, tile))) for v in base.data_vars}
        base = xr.Dataset(big, coords={"y": base["y"].values[0] - 10.0 * np.arange(ny * tile),
                                       "x": base["x"].values[0] + 10.0 * np.arange(nx * tile)})
    times = []
    with dask.config.set(scheduler="synchronous"):
        for _ in range(reps):
            t0 = time.process_time()
            params, codes = mangrove_first_pass(base.chunk({"y": 600, "x": 600}), rule)
            dask.compute(params)
            times.append(time.process_time() - t0)
    print(json.dumps({"tree": sys.path[0] if False else str(Path(__file__).resolve().parents[1]),
                      "seed": seed, "px": base.sizes["y"], "cpu_s": [round(t, 2) for t in times],
                      "median": round(float(np.median(times)), 2)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
