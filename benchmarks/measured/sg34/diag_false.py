# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg34: where the branch's extra seagrass lies (false and true, by depth), the baseline scored
with this tree's water fit (v6b) and with v5's plateau (the median by blue + green).

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg34/diag_false.py CACHE SEED...
"""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, "benchmarks")
import scenario_sweep as sw
import indices.water as W
from aoi import load_sites
from flows.sources import get_source
from indices.evidence import baseline_composite
from indices.habitat import RULES
from indices.seagrass_rule import seagrass_score

rule = RULES["seagrass"]
cache = Path(sys.argv[1])
v6b = W.deep_plateau

def v5(h, n, r):
    mid = W.centres(); avg = (mid[:, None] + mid[None, :]) / 2
    order = np.argsort(avg, axis=None); cum = np.cumsum(h.ravel()[order]); t = h.sum()
    low = avg.ravel()[order][np.searchsorted(cum, r.deep_fraction / 10 * t)]
    cut = avg.ravel()[order][np.searchsorted(cum, r.deep_fraction * t)]
    s = 0.5 * float(np.hypot(*n))
    if cut - low > 3 * s:
        return None
    w = np.where(avg <= low + 3 * s, h, 0)
    med = lambda c: float(mid[np.searchsorted(np.cumsum(c), 0.5 * c.sum())])
    return med(w.sum(axis=0)), med(w.sum(axis=1))

for seed in map(int, sys.argv[2:]):
    sc = sw.scenario(seed, "seagrass", sw.SIZE, sw.MONTHS, cache)
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    base = baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end)).compute()
    xs, ys = base["x"].values, base["y"].values
    cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
    g = np.ix_(rws, cols)
    site_m = np.asarray(sc.site, bool)[g]; hab = np.asarray(sc.habitat)[0][g]; depth = np.asarray(sc.depth)[g]
    ass = np.asarray(sc.assessable, bool)[g]
    out = {}
    for name, fn in (("v5", v5), ("v6b", v6b)):
        W.deep_plateau = fn
        w = W.water_parameters(base, rule)
        s = seagrass_score(base, rule, w).values
        out[name] = s
        p = dict(zip(W.PARAMETERS, np.round(np.asarray(w, float), 4)))
        line = []
        for lo, hi in ((0, 10), (10, 20), (20, 30), (30, 60)):
            d = site_m & (depth > lo) & (depth <= hi)
            line.append(f"{lo}-{hi} m: true {np.sum((s > 0) & d & hab & ass) * 0.01:.1f} false {np.sum((s > 0) & d & ~hab) * 0.01:.1f}")
        print(f"seed {seed} {name}: deep {p['deep_blue']},{p['deep_green']} r {p['k_ratio']} | seagrass ha by depth: " + "; ".join(line))
    W.deep_plateau = v6b
