# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg34, section 4's first item sized (not built): the baseline scored with this tree's water
fit (v6b) and with the same plateau taken as deep in green only (``_deep_in_blue`` forced
False: blue extrapolated); seagrass where both say so (the pixels they disagree on reported
as not assessable) against the truth.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg34/diag_disagree.py CACHE SEED...
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
orig = W._deep_in_blue
for seed in map(int, sys.argv[2:]):
    sc = sw.scenario(seed, "seagrass", sw.SIZE, sw.MONTHS, cache)
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    base = baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end)).compute()
    xs, ys = base["x"].values, base["y"].values
    cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
    g = np.ix_(rws, cols)
    site_m = np.asarray(sc.site, bool)[g]; hab = np.asarray(sc.habitat)[0][g]
    truth = float(sc.truth["baseline_extent_assessable_ha"].iloc[0])
    s = {}
    for name, fn in (("tree", orig), ("green-only", lambda *a, **k: False)):
        W._deep_in_blue = fn
        w = W.water_parameters(base, rule)
        s[name] = seagrass_score(base, rule, w).values
        p = dict(zip(W.PARAMETERS, np.round(np.asarray(w, float), 4)))
        sg = (s[name] > 0) & site_m
        print(f"seed {seed} {name:10s} deep {p['deep_blue']},{p['deep_green']} r {p['k_ratio']}: extent {sg.sum() * 0.01:6.1f} (truth {truth:.1f}) false {np.sum(sg & ~hab) * 0.01:.1f}")
    W._deep_in_blue = orig
    both = (s["tree"] > 0) & (s["green-only"] > 0) & site_m
    print(f"seed {seed} both agree  : extent {both.sum() * 0.01:6.1f} (truth {truth:.1f}) false {np.sum(both & ~hab) * 0.01:.1f}")
