# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg35: per cached seagrass seed, the baseline composite, the (green, blue) histogram and noise
that ``indices.water.fit_water`` receives, the site mask, habitat and depth (diagnosis only),
pickled to OUT/<seed>.pkl so that water-fit variants can be scored without recomputing.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg35/capture.py CACHE OUT SEED...
"""
import pickle, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, "benchmarks")
import scenario_sweep as sw
import indices.water as W
from scenarios import water as W_
from aoi import load_sites
from flows.sources import get_source
from indices.evidence import baseline_composite
from indices.habitat import RULES

rule = RULES["seagrass"]
cache, out = Path(sys.argv[1]), Path(sys.argv[2]); out.mkdir(exist_ok=True)
_orig = W.fit_water
cap = {}
def spy(hist, rule, noise=(np.nan, np.nan)):
    cap["hist"], cap["noise"] = hist.copy(), noise
    return _orig(hist, rule, noise)
W.fit_water = spy
for seed in map(int, sys.argv[3:]):
    sc = sw.scenario(seed, "seagrass", sw.SIZE, sw.MONTHS, cache)
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    base = baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end)).compute()
    w = W.water_parameters(base, rule)
    xs, ys = base["x"].values, base["y"].values
    cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
    g = np.ix_(rws, cols)
    rec = dict(seed=seed, base=base, w=w, hist=cap["hist"], noise=cap["noise"],
               site=np.asarray(sc.site, bool)[g], hab=np.asarray(sc.habitat)[0][g],
               depth=np.asarray(sc.depth)[g],
               truth=float(sc.truth["baseline_extent_assessable_ha"].iloc[0]),
               rho_deep={k: float(W_.to_rho(v)) for k, v in sc.params["r_deep"].items()})
    (out / f"{seed}.pkl").write_bytes(pickle.dumps(rec))
    print(seed, "ok", flush=True)
