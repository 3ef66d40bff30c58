# ruff: noqa  (a one-off measurement kept as a record, not project code)
"""sg43, variant D (a sensitivity of C, added after C's result): the truth's z_vis from the
noise that a site-relative rule cannot cancel. The generator's one-scene noise is
sqrt(sensor^2 + ATMOS_SD^2 + GLINT_SD^2); ATMOS_SD is a per-scene, per-band additive offset
uniform over the scene (tests/scenarios/render.py), which moves sand and meadow alike and so
leaves their contrast within a composite unchanged. D drops it:
  D1  sigma_b = sqrt(sensor_b^2 + GLINT_SD^2), one scene (no composite factor)
  D   D1's sigma times f(n) = min(1, 1.2533 / sqrt(n)), n = n_clear, as C
Same sand / seagrass albedos, k = 3 and max over B02, B03 as the generator (water43.py).

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg43/water43d.py CACHE OUT.jsonl SEEDS
"""
import json, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, "benchmarks")
import scenario_sweep as sw
from aoi import load_sites
from flows.sources import get_source
from indices.evidence import baseline_composite
from scenarios import landscape as ls
from scenarios.scenario import GLINT_SD
from scenarios.render import NOISE
from scenarios.water import WaterType, bottom_albedo, to_rho

K = 3.0
cache, out = Path(sys.argv[1]), Path(sys.argv[2])
with out.open("a") as fh:
    for seed in sw.parse_seeds(sys.argv[3]):
        sc = sw.scenario(seed, "seagrass", sw.SIZE, sw.MONTHS, cache)
        (site,) = load_sites(sc.sites)
        source = get_source("stac", catalog=str(sc.catalog))
        cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
        base = baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end)).compute()
        xs, ys = base["x"].values, base["y"].values
        cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
        ix = np.ix_(rws, cols)
        st = np.asarray(sc.site, bool)[ix]
        hab = np.asarray(sc.habitat)[0][ix].astype(bool) & st
        depth = np.asarray(sc.depth)[ix]
        n = np.asarray(base["n_clear"].values).astype(int)
        seq = np.random.SeedSequence([seed, 1])
        _, r_land, *_ = (np.random.default_rng(s) for s in seq.spawn(6))
        land = ls.seagrass_landscape(r_land, int(np.ceil(sw.SIZE / 6) * 6), sw.MONTHS, 6)
        sand = bottom_albedo("sand", float(np.median(land.bottom_mix[land.classes == ls.SAND_BOTTOM])))
        grass = bottom_albedo("seagrass", float(np.median(land.bottom_mix[land.classes == ls.SEAGRASS])))
        water = WaterType.from_kd490(float(sc.params["kd490"]))
        f = np.where(n > 0, np.minimum(1.0, 1.2533 / np.sqrt(np.maximum(n, 1))), np.inf)
        z1, zd = 0.0, np.zeros(n.shape)
        for b in ("B02", "B03"):
            sig = float(np.sqrt(NOISE[b] ** 2 + GLINT_SD ** 2))
            c = abs(float(to_rho(sand[b]) - to_rho(grass[b])))
            if c > K * sig:
                z1 = max(z1, float(np.log(c / (K * sig)) / (2 * water.kd[b])))
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.log(c / (K * sig * f)) / (2 * water.kd[b])
            zd = np.maximum(zd, np.where(np.isfinite(z), z, 0.0))
        ha = lambda m: round(float(m.sum()) * 0.01, 2)
        A1 = st & (depth > 0) & (depth <= z1)
        AD = st & (depth > 0) & (depth <= zd) & (n > 0)
        rec = dict(seed=seed, truth_D1=ha(hab & A1), truth_D=ha(hab & AD), ass_D1_ha=ha(A1),
                   ass_D_ha=ha(AD), zvis_D1=round(z1, 2), zvis_D_med=round(float(np.median(zd[st & (n > 0)])), 2))
        fh.write(json.dumps(rec) + "\n"); fh.flush()
        print(seed, rec, flush=True)
