# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg42: where the green term (proto42.py, variant "all") adds meadow, on the seeds given on
stdin: by truth class, depth, distance to the gate's sand, green signal (truth only to score).

    echo 16 23 301 | PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg42/diag42.py
"""
import sys, numpy as np, xarray as xr
sys.argv = ["x", "/work/wt/cache-sg34", "/dev/null", "0"]
exec(open("benchmarks/measured/sg42/proto42.py").read().split("with out.open")[0])
from scipy import ndimage
for seed in map(int, sys.stdin.read().split()):
    sc = sw.scenario(seed, "seagrass", sw.SIZE, sw.MONTHS, cache)
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    base = baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end)).compute()
    ev = site_evidence(base, "seagrass"); water, place = ev.water, ev.place
    s = seagrass_score(base, rule, water, place).values
    s_gate = seagrass_score(base, rule, water, None).values
    b, g, _ = bottom_signals(base, rule, water); g = np.asarray(g, np.float64)
    views = np.asarray(base["n_clear"])
    gs, sup = green_place(base, water, s_gate, g, views)
    xs, ys = base["x"].values, base["y"].values
    cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
    ix = np.ix_(rws, cols)
    st = np.asarray(sc.site, bool)[ix]; hab = np.asarray(sc.habitat)[0][ix].astype(bool) & st
    ass = np.asarray(sc.assessable, bool)[ix] & st; depth = np.asarray(sc.depth)[ix]
    cls = np.asarray(sc.classes)[ix]
    add = (gs > 0) & ~np.isfinite(s) & st
    # distance to nearest gate-assessed sand
    sand = np.isfinite(s_gate) & (s_gate < 0) & (s_gate != -CONTEXT_SCORE)
    d = ndimage.distance_transform_edt(~sand) * 10
    print(seed, "zvis", sc.params["visibility_depth_m"], "noise_g", float(water.sel(parameter="noise_green")), "deep_green", float(water.sel(parameter="deep_green")))
    for name, m in (("true", add & hab & ass), ("deep", add & hab & ~ass), ("false", add & ~hab)):
        if m.sum():
            print(f"  {name:5s} {m.sum()*0.01:6.1f} ha depth q25/50/75 {np.percentile(depth[m],[25,50,75]).round(1)} dist-to-sand med {np.median(d[m]):.0f} m  g med {np.median(g[m]):.4f} classes {np.unique(cls[m], return_counts=True)}")
    print("  sand pixels g med", np.median(g[sand]), "gate-sand depth med", np.median(depth[sand & st]))
