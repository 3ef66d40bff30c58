# ruff: noqa  (a one-off measurement kept as a record, not project code)
"""sg43: are the rule's calls in optically deep water informative? Per seed, in the water the
rule assessed (site, finite score, not land) BEYOND variant D's per-pixel z_vis (the deepest of
the truth variants: composite noise, no scene-wide atmospheric offset; water43d.py), the
meadow it called and how much of it is true meadow, against the base rate of true meadow in
that water. Calls no better than the base rate carry no information about the bottom.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg43/deep43.py CACHE OUT.jsonl SEEDS
"""
import json, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, "benchmarks")
import scenario_sweep as sw
from aoi import load_sites
from flows.sources import get_source
from indices.evidence import baseline_composite, site_evidence
from indices.habitat import RULES
from indices.rules import CONTEXT_SCORE
from indices.seagrass_rule import seagrass_score
from scenarios import landscape as ls
from scenarios.scenario import GLINT_SD
from scenarios.render import NOISE
from scenarios.water import WaterType, bottom_albedo, to_rho

rule = RULES["seagrass"]
K = 3.0
cache, out = Path(sys.argv[1]), Path(sys.argv[2])
with out.open("a") as fh:
    for seed in sw.parse_seeds(sys.argv[3]):
        sc = sw.scenario(seed, "seagrass", sw.SIZE, sw.MONTHS, cache)
        (site,) = load_sites(sc.sites)
        source = get_source("stac", catalog=str(sc.catalog))
        cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
        base = baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end)).compute()
        ev = site_evidence(base, "seagrass", rule)
        s = seagrass_score(base, rule, ev.water, ev.place).values
        xs, ys = base["x"].values, base["y"].values
        cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
        ix = np.ix_(rws, cols)
        st = np.asarray(sc.site, bool)[ix]
        hab = np.asarray(sc.habitat)[0][ix].astype(bool) & st
        depth = np.asarray(sc.depth)[ix]
        n = np.asarray(base["n_clear"].values).astype(int)
        seq = np.random.SeedSequence([seed, 1])
        _, r_land, *_ = (np.random.default_rng(q) for q in seq.spawn(6))
        land = ls.seagrass_landscape(r_land, int(np.ceil(sw.SIZE / 6) * 6), sw.MONTHS, 6)
        sand = bottom_albedo("sand", float(np.median(land.bottom_mix[land.classes == ls.SAND_BOTTOM])))
        grass = bottom_albedo("seagrass", float(np.median(land.bottom_mix[land.classes == ls.SEAGRASS])))
        water = WaterType.from_kd490(float(sc.params["kd490"]))
        f = np.where(n > 0, np.minimum(1.0, 1.2533 / np.sqrt(np.maximum(n, 1))), np.inf)
        zd = np.zeros(n.shape)
        for b in ("B02", "B03"):
            sig = float(np.sqrt(NOISE[b] ** 2 + GLINT_SD ** 2))
            c = abs(float(to_rho(sand[b]) - to_rho(grass[b])))
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.log(c / (K * sig * f)) / (2 * water.kd[b])
            zd = np.maximum(zd, np.where(np.isfinite(z), z, 0.0))
        R = st & np.isfinite(s) & (s != -CONTEXT_SCORE)
        C = (s > 0) & st
        deep = R & (depth > zd)
        ha = lambda m: round(float(m.sum()) * 0.01, 2)
        rec = dict(seed=seed, rule_deep_ha=ha(deep), meadow_in_rule_deep=ha(deep & hab),
                   called_deep=ha(C & deep), called_deep_true=ha(C & deep & hab),
                   called_shallow=ha(C & ~deep), called_shallow_true=ha(C & ~deep & hab))
        fh.write(json.dumps(rec) + "\n"); fh.flush()
        print(seed, rec, flush=True)
