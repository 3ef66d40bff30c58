"""The meadow's fate and the false seagrass by the truth's depth, with the tree's own rule
(a record of helper sg23, run on main 335f5c9 + variants.patch: ``where-sep.log``).

    PYTHONPATH=<tree>:<tree>/tests:<tree>/benchmarks python benchmarks/measured/sg23/where.py 13 211
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from seagrass_diagnosis import _load

from indices.seagrass_rule import SeagrassRule, seagrass_offset
from indices.water import water_parameters

BANDS = ((0, 4), (4, 8), (8, 12), (12, 16), (16, 20), (20, 30), (30, 200))


def main(seeds: list[int], cache: Path = Path("/work/wt/sg23-cache")) -> None:
    rule = SeagrassRule()
    for seed in seeds:
        sc, base = _load(seed, cache)
        c, off = seagrass_offset(base, rule, water_parameters(base, rule).compute())
        off, t = off.values, float(c["threshold"])
        c0 = int(round((float(base.x[0]) - 5 - sc.left) / 10))
        r0 = int(round((sc.top - (float(base.y[0]) + 5)) / 10))
        win = (slice(r0, r0 + off.shape[0]), slice(c0, c0 + off.shape[1]))
        site, m0, ok, depth = sc.site[win], sc.habitat[0][win], sc.assessable[win], sc.depth[win]
        called = np.isfinite(off) & (off <= t) & site
        assessed = np.isfinite(off) & site
        print(seed, f"kd {sc.params['kd490']:.3f} vis {sc.params['visibility_depth_m']:.1f}m")
        for lo, hi in BANDS:
            z = site & (depth > lo) & (depth <= hi)
            m, s = z & m0 & ok, z & ~m0
            share = (f"called {np.mean(called[m]):.2f} notass {np.mean(~assessed[m]):.2f}"
                     if m.any() else "called nan notass nan")
            print(f"  {lo}-{hi}m: meadow {m.sum() / 100:.0f}ha {share} | other "
                  f"{s.sum() / 100:.0f}ha false {called[s].sum() / 100:.1f}ha")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]])
