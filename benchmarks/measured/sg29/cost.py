# ruff: noqa  (a measurement kept as a record, not project code)
"""sg29: cost of the glint-consistent median (``deglint``) against the per-band median, on
random DN (numpy, the parallel kernel, and dask chunks, its serial twin): median of runs,
interleaved.

    PYTHONPATH=$PWD python benchmarks/measured/sg29/cost.py [n_scenes] [size] [runs]
"""
import sys
import time

import numpy as np
import xarray as xr

from indices.composite import composite, monthly_composite
from indices.seagrass_rule import GLINT_COMPOSITE

n_t = int(sys.argv[1]) if len(sys.argv) > 1 else 8
size = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
rng = np.random.default_rng(0)
bands = ("B02", "B03", "B04", "B08", "B11", "B12")
shape = (n_t, size, size)
ds = xr.Dataset({b: (("time", "y", "x"), rng.integers(1, 7000, shape).astype(np.uint16)) for b in bands},
                coords={"time": np.datetime64("2024-01-01", "ns") + np.arange(n_t) * np.timedelta64(1, "D"),
                        "y": np.arange(size) * -10.0, "x": np.arange(size) * 10.0,
                        "boa_offset": ("time", np.full(n_t, -1000, np.int16))})
ds["SCL"] = (("time", "y", "x"), rng.choice(np.array([3, 4, 5, 6, 8, 9], np.uint8), shape))
lazy = ds.chunk({"time": 1, "y": 512, "x": 512})

cases = {
    "numpy per-band": lambda: composite(ds, "2024-01-01", "2024-12-31"),
    "numpy deglint": lambda: composite(ds, "2024-01-01", "2024-12-31", deglint=GLINT_COMPOSITE),
    "dask per-band": lambda: composite(lazy, "2024-01-01", "2024-12-31").compute(),
    "dask deglint": lambda: composite(lazy, "2024-01-01", "2024-12-31", deglint=GLINT_COMPOSITE).compute(),
    "dask months 4 bands per-band": lambda: monthly_composite(lazy, ("B02", "B03", "B04", "B08"), clear_bands=bands).compute(),
    "dask months 4 bands deglint": lambda: monthly_composite(lazy, ("B02", "B03", "B04", "B08"), clear_bands=bands, deglint=GLINT_COMPOSITE).compute(),
}
for f in cases.values():  # warm-up (numba cache load)
    f()
times = {k: [] for k in cases}
for _ in range(runs):
    for k, f in cases.items():
        t0 = time.perf_counter(); f(); times[k].append(time.perf_counter() - t0)
print(f"{n_t} scenes, {size}^2, {runs} runs, median s:")
for k, v in times.items():
    print(f"  {k:32s} {np.median(v):.3f}")
for a, b in (("numpy per-band", "numpy deglint"), ("dask per-band", "dask deglint"),
             ("dask months 4 bands per-band", "dask months 4 bands deglint")):
    print(f"  ratio {b} / {a}: {np.median(times[b]) / np.median(times[a]):.2f}")
