# ruff: noqa  (a one-off measurement kept as a record)
"""sg40: wall time and peak traced memory (tracemalloc: numpy's allocations) of the place map,
sg38's eager build (tests/place_oracle38.py) against sg40's strips, same process, on sg35's
captured 300 px baselines, and on large synthetics: a captured baseline tiled to N x N.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg40/cost40.py CAP SEED... [--tile SEED N [old]]
"""
import pickle, sys, time, tracemalloc
from pathlib import Path
import numpy as np
import xarray as xr
import indices.water as W
from indices.habitat import RULES
from indices.seagrass_place import place_map
from place_oracle38 import place_map as oracle

rule = RULES["seagrass"]
cap = Path(sys.argv[1])
args = sys.argv[2:]
tile = None
if "--tile" in args:
    i = args.index("--tile")
    tile, args = args[i + 1:], args[:i]


def load(seed):
    return pickle.loads((cap / f"{seed}.pkl").read_bytes())["base"]


def measure(name, fn, base, w, reps=3):
    t = []
    for _ in range(reps):
        t0 = time.perf_counter(); pl = fn(base, rule, w); t.append(time.perf_counter() - t0)
        del pl
    tracemalloc.start(); pl = fn(base, rule, w); peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    px = base.sizes["y"] * base.sizes["x"]
    print(f"  {name:6s} median {np.median(t):.3f} s ({np.median(t) / px * 1e6:.2f} us/px) peak {peak / 2**20:.1f} MiB "
          f"({peak / px:.0f} B/px) supported {int(np.isfinite(pl.values[0]).sum())} q {pl.attrs.get('q', float('nan')):.3f}",
          flush=True)
    return pl


for seed in map(int, args):
    base = load(seed)
    w = W.water_parameters(base, rule)
    print(seed, f"{base.sizes['y']}x{base.sizes['x']}", flush=True)
    a = measure("sg38", oracle, base, w)
    b = measure("sg40", place_map, base, w)
    print("  identical", a.values.tobytes() == b.values.tobytes() and a.attrs == b.attrs, flush=True)

if tile:
    seed, n = int(tile[0]), int(tile[1])
    base = load(seed).transpose(..., "y", "x")
    ny, nx = base.sizes["y"], base.sizes["x"]
    reps = (-(-n // ny), -(-n // nx))
    big = xr.Dataset({k: (("y", "x"), np.tile(v.values, reps)[:n, :n]) for k, v in base.data_vars.items()
                      if v.dims == ("y", "x")},
                     coords={"y": 5e6 - 10.0 * np.arange(n), "x": 4e5 + 10.0 * np.arange(n)})
    w = W.water_parameters(base, rule)  # the tile's own water (the same site)
    print(f"tiled {seed} {n}x{n}", flush=True)
    b = measure("sg40", place_map, big, w, reps=1)
    lazy = big.chunk({"y": 1024, "x": 1024})  # a lazy composite in the flow's chunks
    c = measure("lazy40", place_map, lazy, w, reps=1)
    print("  lazy identical", c.values.tobytes() == b.values.tobytes() and c.attrs == b.attrs, flush=True)
    if len(tile) > 2:
        a = measure("sg38", oracle, big, w, reps=1)
        print("  identical", a.values.tobytes() == b.values.tobytes() and a.attrs == b.attrs, flush=True)
