# ruff: noqa  (a one-off measurement kept as a record)
"""sg38: wall time and peak traced memory (tracemalloc, numpy allocations) of the place map
(indices.seagrass_place.place_map) on sg35's captured 300 px baselines.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg38/cost38.py CAP SEED...
"""
import pickle, sys, time, tracemalloc
from pathlib import Path
import numpy as np
import indices.water as W
from indices.habitat import RULES
from indices.seagrass_place import place_map

rule = RULES["seagrass"]
for seed in map(int, sys.argv[2:]):
    base = pickle.loads((Path(sys.argv[1]) / f"{seed}.pkl").read_bytes())["base"]
    w = W.water_parameters(base, rule)
    t = []
    for _ in range(3):
        t0 = time.perf_counter(); pl = place_map(base, rule, w); t.append(time.perf_counter() - t0)
    tracemalloc.start(); place_map(base, rule, w); peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    px = base.sizes["y"] * base.sizes["x"]
    print(f"{seed} {base.sizes['y']}x{base.sizes['x']} median {np.median(t):.3f} s peak {peak / 2**20:.1f} MiB "
          f"({peak / px:.0f} B/px) supported {int(np.isfinite(pl.values[0]).sum())}", flush=True)
