# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""Diagnosis (sg29): does the per-band median of the baseline composite mix scenes before
Hedley's deglint?  On a cached seagrass seed, the baseline composite made four ways from the
same clear views (the baseline's scenes, plume water masked as main does):

* ``band``: main's per-band median (``indices.evidence.baseline_composite``);
* ``nirmed``: per pixel the view whose NIR is the median (even counts: the mean of the two
  middle views, every band from those two), every band from it;
* ``medoid``: per pixel the view nearest the others (sum of Euclidean distances over B02 B03
  B04 B08; Flood 2013), every band from it;
* ``dgmed``: Hedley's deglint per scene with main's site slopes and reference before a
  per-band median of the deglinted blue and green, the deglint of the NIR median added back;
* ``branch``: this tree's ``baseline_composite`` (sg29: ``deglint=GLINT_COMPOSITE``, slope 1,
  only where a pixel has >= 3 views).

For each: the site's water parameters refitted to it, the baseline score, its extent against
the truth's assessable meadow, the score and the deglinted bottom signal at the meadow main's
baseline calls sand.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg29/diag_composite.py 305 /work/wt/sg25-cache
"""
import sys
from pathlib import Path
import numpy as np
import xarray as xr
sys.path.insert(0, "benchmarks")
import scenario_sweep as sw
from aoi import load_sites
from flows.sources import get_source
from indices.composite import composite
from indices.evidence import baseline_composite
from indices.habitat import RULES
from indices.masks import BANDS, VALID_SCL
from indices.seagrass_rule import bottom_signals, mask_turbid_water, seagrass_score, turbid_scenes
from indices.water import PARAMETERS, water_parameters

seed, cache = int(sys.argv[1]), Path(sys.argv[2])
sc = sw.scenario(seed, "seagrass", sw.SIZE, sw.MONTHS, cache)
(site,) = load_sites(sc.sites)
source = get_source("stac", catalog=str(sc.catalog))
cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None).compute()
baseline = (site.baseline_start, site.baseline_end)
rule = RULES["seagrass"]
branch = baseline_composite(cube, "seagrass", baseline).compute()  # this tree's

times = cube["time"].values
inside = (times >= np.datetime64(baseline[0])) & (times < np.datetime64(baseline[1]) + np.timedelta64(1, "D"))
bc = cube.isel(time=np.flatnonzero(inside))
bc = mask_turbid_water(bc, turbid_scenes(bc, rule)).compute()
main = composite(bc, *baseline)  # main's per-band median of the same views
off = bc["boa_offset"].values.astype(np.float32)[:, None, None]
R = {b: np.maximum(bc[b].values.astype(np.float32) + off, 0) / np.float32(10000) for b in BANDS}
clear = np.isin(bc["SCL"].values, list(VALID_SCL))
for b in BANDS:
    clear &= bc[b].values != 0
n = clear.sum(0)
T = clear.shape[0]
print("seed", seed, "baseline scenes", T, "clear views median", np.median(n))

def pick(order_key):
    """Per pixel the middle view(s) by order_key (NaN where not clear); mean of the two middle
    views for even counts; all bands from them."""
    k = np.where(clear, order_key, np.inf)
    idx = np.argsort(k, axis=0, kind="stable")
    lo = np.clip((n - 1) // 2, 0, T - 1); hi = np.clip(n // 2, 0, T - 1)
    i_lo = np.take_along_axis(idx, lo[None], 0)[0]; i_hi = np.take_along_axis(idx, hi[None], 0)[0]
    out = {}
    for b in BANDS:
        v = (np.take_along_axis(R[b], i_lo[None], 0)[0] + np.take_along_axis(R[b], i_hi[None], 0)[0]) / 2
        out[b] = np.where(n > 0, v, np.nan).astype(np.float32)
    return out

def medoid():
    X = np.stack([np.where(clear, R[b], np.nan) for b in ("B02", "B03", "B04", "B08")])  # (4,T,y,x)
    d = np.sqrt(np.nansum((X[:, :, None] - X[:, None, :]) ** 2, axis=0))  # (T,T,y,x)
    d = np.where(clear[:, None] & clear[None, :], d, 0).sum(1)
    d = np.where(clear, d, np.inf)
    i = np.argmin(d, axis=0)
    return {b: np.where(n > 0, np.take_along_axis(R[b], i[None], 0)[0], np.nan).astype(np.float32) for b in BANDS}

def as_ds(bands):
    ds = xr.Dataset({b: xr.DataArray(v, dims=("y", "x"), coords={"y": main.y, "x": main.x}) for b, v in bands.items()})
    return ds.assign(n_clear=main["n_clear"])

# check: the per-band median of these views is main's
band = {b: np.nanmedian(np.where(clear, R[b], np.nan), axis=0).astype(np.float32) for b in BANDS}
print("per-band median reproduces main:", all(np.array_equal(band[b], main[b].values, equal_nan=True) for b in BANDS))
w_main = water_parameters(main, rule).compute()
p = dict(zip(PARAMETERS, np.asarray(w_main, float)))
ex = np.maximum(R["B08"] - np.float32(p["nir_ref"]), 0)
dg = dict(R)
dg["B02"] = R["B02"] - np.float32(p["glint_blue"]) * ex
dg["B03"] = R["B03"] - np.float32(p["glint_green"]) * ex
dgmed = {b: np.nanmedian(np.where(clear, dg[b], np.nan), axis=0).astype(np.float32) for b in BANDS}
# the deglint of the composite's own NIR median added back, so that the score's deglint (same
# slopes, same reference) leaves exactly the median of the per-scene deglinted bands
ex_med = np.maximum(dgmed["B08"] - np.float32(p["nir_ref"]), 0)
dgmed["B02"] = dgmed["B02"] + np.float32(p["glint_blue"]) * ex_med
dgmed["B03"] = dgmed["B03"] + np.float32(p["glint_green"]) * ex_med
comps = {"band": main, "nirmed": as_ds(pick(R["B08"])), "medoid": as_ds(medoid()), "dgmed": as_ds(dgmed), "branch": branch}

z = {"habitat": np.asarray(sc.habitat), "site": np.asarray(sc.site, bool),
     "assessable": np.asarray(sc.assessable, bool), "depth": np.asarray(sc.depth)}
xs, ys = main["x"].values, main["y"].values
cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
g = np.ix_(rws, cols)
hab, site_m, ass = z["habitat"][0][g], z["site"][g], z["assessable"][g]
truth = float(sc.truth["baseline_extent_assessable_ha"].iloc[0])
px = 0.01
scores, sigs = {}, {}
for name, ds in comps.items():
    w = water_parameters(ds, rule).compute()
    s = seagrass_score(ds, rule, w).values
    b, gg, _ = bottom_signals(ds, rule, w)
    scores[name] = s; sigs[name] = (b.values, gg.values, ds["B08"].values)
    pw = dict(zip(PARAMETERS, np.round(np.asarray(w, float), 4)))
    ext = ((s > 0) & site_m).sum() * px
    print(f"{name:7s} extent {ext:6.1f} ha (truth {truth:.1f}, err {ext / truth - 1:+.2f}) assessed {np.isfinite(s[site_m]).mean():.2f} | "
          f"deep {pw['deep_blue']},{pw['deep_green']} r {pw['k_ratio']} glint {pw['glint_blue']},{pw['glint_green']} nir_ref {pw['nir_ref']} noise {pw['noise_blue']},{pw['noise_green']}")
missed = hab & site_m & ass & (scores["band"] <= 0)
sand = ~hab & site_m & ass & np.isfinite(scores["band"])
print(f"missed meadow (main's baseline score <= 0 on the truth's assessable meadow): {missed.sum() * px:.1f} ha; judged bare: {sand.sum() * px:.1f} ha")
for name in comps:
    s = scores[name]; b, gg, nir = sigs[name]
    print(f"  {name:7s} at missed: score median {np.nanmedian(s[missed]):+.2f}, >0 {np.mean(s[missed] > 0):.2f}, <=-1 {np.mean(s[missed] <= -1):.2f}, NaN {np.mean(np.isnan(s[missed])):.2f} | "
          f"blue {np.nanmedian(b[missed]):.4f} green {np.nanmedian(gg[missed]):.4f} NIR {np.nanmedian(nir[missed]):.4f} || "
          f"bare: score>0 {np.mean(s[sand] > 0):.3f}; meadow all: >0 {np.mean(s[hab & site_m & ass] > 0):.2f}")

meadow = hab & site_m & ass
d = z["depth"][g]
print(f"truth assessable meadow {meadow.sum() * px:.1f} ha; per composite, of it (ha): >0 | (-1,0] | (-10,-1] | land(-10) | NaN")
for name in comps:
    s = scores[name][meadow]
    print(f"  {name:7s} {np.sum(s > 0) * px:6.1f} {np.sum((s > -1) & (s <= 0)) * px:6.1f} {np.sum((s > -10) & (s <= -1)) * px:6.1f} {np.sum(s == -10) * px:6.1f} {np.sum(np.isnan(s)) * px:6.1f}")
d = z["depth"][g]
nan_main = meadow & np.isnan(scores["band"])
for name in comps:  # with main's water parameters: the composites' signals compared alike
    b, gg, _ = bottom_signals(comps[name], rule, w_main)
    b, gg = b.values, gg.values
    line = []
    for lab, m in (("meadow", meadow), ("bare", ~hab & site_m & ass)):
        for lo, hi in ((0, 5), (5, 10), (10, 15), (15, 20), (20, 30)):
            sel = m & (d > lo) & (d <= hi)
            if sel.sum() > 50:
                line.append(f"{lab}{lo}-{hi} {np.nanmedian(b[sel]):.4f}/{np.nanmedian(gg[sel]):.4f}")
    print(f"  main's water, {name:7s} blue/green bottom signal by depth:", "; ".join(line))
print("main NaN meadow depth quartiles", np.percentile(d[nan_main], [10, 25, 50, 75, 90]).round(1), "; called meadow depth", np.percentile(d[meadow & (scores['band'] > 0)], [10, 50, 90]).round(1))
for name in comps:
    b, gg, nir = sigs[name]
    print(f"  {name:7s} at main's NaN meadow: blue {np.nanmedian(b[nan_main]):.4f} green {np.nanmedian(gg[nan_main]):.4f} NIR {np.nanmedian(nir[nan_main]):.4f}")
diff = max(float(np.nanmax(np.abs(band[b] - main[b].values))) for b in BANDS)
print("max |numpy per-band median - main|", diff, "n_clear equal", np.array_equal(n, main['n_clear'].values))

# the baseline period's months (as the change walk composites them, per-band: mostly one or
# two views, so either way): the median over the months of their bottom signal, main's water
from indices.composite import monthly_composite
months = monthly_composite(bc, ("B02", "B03", "B04", "B08"), clear_bands=BANDS)
bm, gm, _ = bottom_signals(months, rule, w_main)
bm = np.nanmedian(bm.transpose("period", "y", "x").values, axis=0)
gm = np.nanmedian(gm.transpose("period", "y", "x").values, axis=0)
print("  views per month (median over the water):", [float(np.median(v[site_m])) for v in months["n_clear"].values])
line = []
for lab, m in (("meadow", meadow), ("bare", ~hab & site_m & ass)):
    for lo, hi in ((0, 5), (5, 10), (10, 15), (15, 20), (20, 30)):
        sel = m & (d > lo) & (d <= hi)
        if sel.sum() > 50:
            line.append(f"{lab}{lo}-{hi} {np.nanmedian(bm[sel]):.4f}/{np.nanmedian(gm[sel]):.4f}")
print("  main's water, median of the baseline months' blue/green bottom signal by depth:", "; ".join(line))
