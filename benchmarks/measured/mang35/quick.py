"""Quick check: per seed, the baseline composite's never-clear pixels before and after the
fill, the fill's month offsets, whether seen pixels are untouched, and the two timings:
    PYTHONPATH=<tree>:<tree>/tests:<tree>/benchmarks python quick.py SEED ..."""
import sys
import time
from pathlib import Path

import numpy as np
from scenario_sweep import scenario


def main(seeds):
    from aoi import load_sites
    from flows.sources import get_source
    from indices.composite import composite
    from indices.evidence import baseline_composite

    cache = Path("/work/wt/cache-mang35")
    for seed in seeds:
        sc = scenario(seed, "mangrove", 300, 18, cache)
        (site,) = load_sites(sc.sites)
        src = get_source("stac", catalog=str(sc.catalog))
        cube = src.load(site, src.search(site, sc.start, sc.end), chunks=None)
        bl = (site.baseline_start, site.baseline_end)
        t = time.perf_counter()
        b0 = composite(cube, *bl).compute()
        t0 = time.perf_counter() - t
        t = time.perf_counter()
        b1 = baseline_composite(cube, "mangrove", bl).compute()
        t1 = time.perf_counter() - t
        f = b1["baseline_fill"].values
        seen = b0.n_clear.values > 0
        same = all(np.array_equal(b0[v].values[seen], b1[v].values[seen], equal_nan=True)
                   for v in b0.data_vars)
        offsets = dict(zip(*np.unique(f[f != 0], return_counts=True), strict=True))
        print(seed, bl, "unseen", int((~seen).sum()), "after fill",
              int((b1.n_clear.values == 0).sum()), "offsets", offsets, "same where seen", same,
              f"{t0:.1f}s {t1:.1f}s", flush=True)


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]])
