# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""Diagnosis (sg34): the water fit's plateau test on a cached seagrass seed.

The baseline composite (this tree's ``baseline_composite``), the (green, blue) histogram and
noise that ``indices.water.fit_water`` receives (captured), the plateau test's statistics
(``low`` = the deep_fraction/10 quantile of (B+G)/2, ``cut`` = the deep_fraction quantile,
``3 sigma``), and the baseline extent with the water parameters of each path:
``tree`` (this tree's fit_water), ``green`` (v6a's plateau: test and median on green alone,
forced), ``plateau`` (v5's plateau, its median by blue + green, the test skipped), ``noplat``
(no plateau: extrapolated along blue / green), ``bothdeep`` (the tree's plateau taken as
deep in both bands). diag_plateau.txt was made at v6a (ee9ea77: ``tree`` = ``green``).

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg34/diag_plateau.py CACHE SEED...
"""
import sys
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
from indices.seagrass_rule import seagrass_score

rule = RULES["seagrass"]
cache = Path(sys.argv[1])
_orig = W.fit_water
cap = {}

def spy(hist, rule, noise=(np.nan, np.nan)):
    cap["hist"], cap["noise"] = hist.copy(), noise
    return _orig(hist, rule, noise)

W.fit_water = spy

def plateau_stats(hist, noise):
    mid = W.centres(); total = hist.sum()
    avg = (mid[:, None] + mid[None, :]) / 2
    order = np.argsort(avg, axis=None); cum = np.cumsum(hist.ravel()[order])
    q = lambda f: avg.ravel()[order][np.searchsorted(cum, f * total)]
    sigma = 0.5 * float(np.hypot(*noise))
    return {f"q{f}": q(f) for f in (0.001, 0.005, 0.01, 0.02, 0.05, 0.1)}, sigma

def plateau_green(hist, noise, rule):
    """The plateau test and median on green alone (sg34's candidate)."""
    mid = W.centres(); total = hist.sum()
    if total == 0:
        return None
    gcounts = hist.sum(axis=1); cum = np.cumsum(gcounts)
    low = mid[np.searchsorted(cum, rule.deep_fraction / 10 * total)]
    cut = mid[np.searchsorted(cum, rule.deep_fraction * total)]
    sigma = float(noise[1])
    if cut - low > 3 * sigma:
        return None
    rows = mid <= low + 3 * sigma
    wts = np.where(rows[:, None], hist, 0)
    med = lambda c: float(mid[np.searchsorted(np.cumsum(c), 0.5 * c.sum())])
    return med(wts.sum(axis=0)), med(wts.sum(axis=1))

def forced(hist, noise, mode):
    """fit_water with the plateau test forced on ('plateau') or off ('noplat')."""
    orig = W.deep_plateau
    if mode == "green":
        W.deep_plateau = plateau_green
    elif mode == "noplat":
        W.deep_plateau = lambda *a, **k: None
    else:
        def always(h, n, r):  # the plateau's median without the test (cells within 3 sigma of low)
            mid = W.centres(); avg = (mid[:, None] + mid[None, :]) / 2
            order = np.argsort(avg, axis=None); cum = np.cumsum(h.ravel()[order])
            low = avg.ravel()[order][np.searchsorted(cum, r.deep_fraction / 10 * h.sum())]
            wts = np.where(avg <= low + 3 * 0.5 * float(np.hypot(*n)), h, 0)
            med = lambda c: float(mid[np.searchsorted(np.cumsum(c), 0.5 * c.sum())])
            return med(wts.sum(axis=0)), med(wts.sum(axis=1))
        W.deep_plateau = always
    try:
        return _orig(hist, rule, noise)
    finally:
        W.deep_plateau = orig

for seed in map(int, sys.argv[2:]):
    sc = sw.scenario(seed, "seagrass", sw.SIZE, sw.MONTHS, cache)
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    base = baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end)).compute()
    w = W.water_parameters(base, rule)
    w = w.compute() if hasattr(w.data, "compute") else w
    hist, noise = cap["hist"], cap["noise"]
    qs, sigma = plateau_stats(hist, noise)
    xs, ys = base["x"].values, base["y"].values
    cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
    g = np.ix_(rws, cols)
    site_m = np.asarray(sc.site, bool)[g]
    truth = float(sc.truth["baseline_extent_assessable_ha"].iloc[0])
    print(f"seed {seed} truth {truth:.1f} ha kd490 {getattr(sc, 'kd490', float('nan'))} noise {noise[0]:.5f},{noise[1]:.5f} sigma {sigma:.5f}")
    print("   (B+G)/2 quantiles", {k: round(float(v), 5) for k, v in qs.items()},
          f"(q0.05-q0.005)/3sigma = {(qs['q0.05'] - qs['q0.005']) / (3 * sigma):.2f}")
    print("   plateau (test as is):", W.deep_plateau(hist, noise, rule), "by green:", plateau_green(hist, noise, rule))
    pl = W.deep_plateau(hist, noise, rule)
    if pl is not None:
        gg, bb = W.sand_points(hist, rule)
        f = W.fit_sand_line(gg, bb, pl)
        if f is not None:
            bd, gd, r, _ = f; keep = (gg > gd) & (bb > bd); x = (gg[keep] - gd) ** r
            c = float((x * (bb[keep] - bd)).sum() / (x * x).sum())
            print(f"   deep-in-blue test: C sigma_G^r / (detect sigma_B) = {c * noise[1] ** r / (rule.detect_sigmas * noise[0]):.2f} (<= 1: deep in blue); fit through the plateau r {r:.2f}")
            ww = w.copy()
            for name, v in zip(("deep_blue", "deep_green", "k_ratio"), (bd, gd, r)):
                ww.loc[name] = v
            ok = (bb > bd) & (gg > gd)
            ww.loc["dii_sand"] = float(np.median(np.log(bb[ok] - bd) - r * np.log(gg[ok] - gd)))
            s = seagrass_score(base, rule, ww).values
            ext = ((s > 0) & site_m).sum() * 0.01
            print(f"   bothdeep deep {bd:.4f},{gd:.4f} r {r:.2f} | extent {ext:6.1f} (err {ext / truth - 1:+.2f}) assessed {np.isfinite(s[site_m]).mean():.2f}")
    for mode in ("tree", "green", "plateau", "noplat"):
        fit = _orig(hist, rule, noise) if mode == "tree" else forced(hist, noise, mode)
        ww = w.copy()
        for name, v in zip(("deep_blue", "deep_green", "k_ratio", "dii_sand", "estimated"), fit):
            ww.loc[name] = v
        s = seagrass_score(base, rule, ww).values
        ext = ((s > 0) & site_m).sum() * 0.01
        print(f"   {mode:8s} deep {fit[0]:.4f},{fit[1]:.4f} r {fit[2]:.2f} dii_sand {fit[3]:.3f} | extent {ext:6.1f} (err {ext / truth - 1:+.2f}) assessed {np.isfinite(s[site_m]).mean():.2f}")
    # diagnosis only (the generator's depth): where the darkest water lies, the deepest water's signals
    from indices.seagrass_rule import bottom_signals
    depth = np.asarray(sc.depth)[g]
    b0, g0, _ = bottom_signals(base, rule, w)
    B = (b0 + w.sel(parameter="deep_blue")).values; G = (g0 + w.sel(parameter="deep_green")).values
    avg = (B + G) / 2
    water = np.isfinite(avg) & (depth > 0)
    cut = np.nanquantile(avg[water], 0.05)
    dk = water & (avg <= cut)
    print("   depth of the darkest 5 %:", np.percentile(depth[dk], [10, 50, 90]).round(1),
          "site depth p50/p90/max", np.percentile(depth[water], [50, 90, 100]).round(1),
          "rho_deep(truth)", {k: round(float(W_.to_rho(v)), 4) for k, v in sc.params["r_deep"].items()})
    for lo, hi in ((20, 30), (30, 40), (40, 60), (60, 200)):
        sel = water & (depth > lo) & (depth <= hi)
        if sel.sum() > 30:
            print(f"   deglinted B/G at {lo}-{hi} m (n {sel.sum()}): {np.median(B[sel]):.4f} / {np.median(G[sel]):.4f}")
