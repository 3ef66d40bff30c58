# ruff: noqa  (a one-off measurement kept as a record, not project code)
"""sg43: on which water the seagrass baseline extent is judged (issue 17: "seagrass extent
(of the assessable water) within 15 %"). Measurement only; the truth is used to score.

Per seed (scenes of CACHE, this tree's code = rule v6 = main 1a9c552 + records):
  called   reported baseline extent: baseline score > 0 on the site (as breakdown42.py,
           which reproduces the sweep's baseline_extent_ha)
  A        truth meadow (baseline) inside the truth's assessable water: depth > 0 and
           depth <= z_vis, z_vis from ONE scene's noise (tests/scenarios/scenario.py)
  B        truth meadow inside the water the RULE assessed: site & finite score & not land
           (the score's -CONTEXT_SCORE); with rule/truth assessed area and the truth meadow
           the rule left unassessed (all of it, and the part inside the truth's water)
  C        truth meadow inside z_vis recomputed per pixel from the COMPOSITE's noise:
           sigma_b(n) = sigma_b * f(n), n = the baseline composite's n_clear at the pixel,
           f(n) = min(1, 1.2533 / sqrt(n)) (asymptotic sd of the median of n normal views,
           sqrt(pi/2) sigma/sqrt(n); capped at one view's sigma), n = 0 -> not assessable;
           z_vis_C = max over B02, B03 of ln(contrast_b / (3 sigma_b f(n))) / (2 Kd_b), the
           generator's visibility_depth with the same sand / seagrass albedos (rebuilt from the
           seed's landscape; checked against the stored z_vis) and the same k = 3.
  C_exact  as C with f(n) the exact sd of the median of n iid normals (Monte Carlo, 2e5 draws,
           the mean of the middle two for even n): a sensitivity of C's assumption.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg43/water43.py CACHE OUT.jsonl SEEDS
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
from scenarios.render import NOISE, ATMOS_SD
from scenarios.water import WaterType, bottom_albedo, visibility_depth, to_rho

rule = RULES["seagrass"]
assert not getattr(rule, "place_green", False), "run with rule v6 (main)"
K = 3.0


def median_sd_exact(nmax, draws=200_000):
    rng = np.random.default_rng(0)
    out = {0: np.inf}
    for n in range(1, nmax + 1):
        out[n] = float(np.median(rng.standard_normal((draws, n)), axis=1).std())
    return out


def bottoms(seed):
    """The generator's sand / seagrass albedos and one-scene noise for the seed's z_vis."""
    seq = np.random.SeedSequence([seed, 1])
    _, r_land, *_ = (np.random.default_rng(s) for s in seq.spawn(6))
    land = ls.seagrass_landscape(r_land, int(np.ceil(sw.SIZE / 6) * 6), sw.MONTHS, 6)
    sand = bottom_albedo("sand", float(np.median(land.bottom_mix[land.classes == ls.SAND_BOTTOM])))
    grass = bottom_albedo("seagrass", float(np.median(land.bottom_mix[land.classes == ls.SEAGRASS])))
    noise = {b: float(np.sqrt(NOISE[b] ** 2 + ATMOS_SD[i] ** 2 + GLINT_SD ** 2))
             for i, b in enumerate(("B02", "B03"))}
    return sand, grass, noise


def zvis_map(water, sand, grass, noise, f):
    """visibility_depth with every band's noise times f (array): per pixel, m (0 if none)."""
    best = np.zeros_like(f, dtype=np.float64)
    for b in ("B02", "B03"):
        contrast = abs(float(to_rho(sand[b]) - to_rho(grass[b])))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.log(contrast / (K * noise[b] * f)) / (2.0 * water.kd[b])
        best = np.maximum(best, np.where(np.isfinite(z), z, 0.0))
    return best


cache, out = Path(sys.argv[1]), Path(sys.argv[2])
EXACT = median_sd_exact(40)
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
        ass = np.asarray(sc.assessable, bool)[ix] & st
        depth = np.asarray(sc.depth)[ix]
        n = np.asarray(base["n_clear"].values).astype(int)
        C = (s > 0) & st
        R = st & np.isfinite(s) & (s != -CONTEXT_SCORE)           # water the rule assessed
        water = WaterType.from_kd490(float(sc.params["kd490"]))
        sand, grass, noise = bottoms(seed)
        z1 = visibility_depth(water, sand, grass, noise)
        zv = float(sc.params["visibility_depth_m"])
        assert abs(z1 - zv) < 1e-6 * max(zv, 1), (seed, z1, zv)
        f_asym = np.where(n > 0, np.minimum(1.0, 1.2533 / np.sqrt(np.maximum(n, 1))), np.inf)
        f_exact = np.vectorize(lambda k: EXACT.get(int(k), 1.2533 / np.sqrt(k)))(n).astype(float)
        zc = zvis_map(water, sand, grass, noise, f_asym)
        ze = zvis_map(water, sand, grass, noise, f_exact)
        AC = st & (depth > 0) & (depth <= zc) & (n > 0)
        AE = st & (depth > 0) & (depth <= ze) & (n > 0)
        ha = lambda m: round(float(m.sum()) * 0.01, 2)
        rec = dict(
            seed=seed, called=ha(C),
            truth_A=ha(hab & ass), truth_B=ha(hab & R), truth_C=ha(hab & AC), truth_Cx=ha(hab & AE),
            truth_sweep=float(sc.truth["baseline_extent_assessable_ha"].iloc[0]),
            ass_truth_ha=ha(ass), ass_rule_ha=ha(R), ass_C_ha=ha(AC), ass_both_ha=ha(ass & R),
            rule_over_truth=round(float(R.sum() / max(ass.sum(), 1)), 3),
            meadow_unassessed_rule=ha(hab & ~R), meadow_unassessed_rule_in_A=ha(hab & ass & ~R),
            meadow_rule_beyond_A=ha(hab & R & ~ass), called_beyond_A=ha(C & ~ass),
            called_outside_C=ha(C & ~AC), meadow_all=ha(hab),
            zvis=round(zv, 2), zvis_C_med=round(float(np.median(zc[st & (n > 0)])), 2),
            n_med=float(np.median(n[st])), kd490=round(float(sc.params["kd490"]), 4),
            rule_depth_p95=round(float(np.percentile(depth[R & (depth > 0)], 95)), 2) if (R & (depth > 0)).any() else None,
            site_ha=ha(st))
        fh.write(json.dumps(rec) + "\n"); fh.flush()
        print(seed, rec["called"], rec["truth_A"], rec["truth_B"], rec["truth_C"], rec["zvis"], rec["zvis_C_med"], flush=True)
