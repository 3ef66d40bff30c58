# ruff: noqa  (a one-off diagnosis kept as a record)
"""sg39: at the place pixels a month flips, its bands against the baseline's (run on v6b, 94518fc^):
    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg39/diag39_bands.py SEED MONTH..."""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, "benchmarks")
import scenario_sweep as sw
from aoi import load_sites
from flows.sources import get_source
from indices.composite import monthly_composite
from indices.evidence import baseline_composite, site_evidence
from indices.masks import BANDS
from indices.seagrass_rule import (GLINT_COMPOSITE, bottom_signals, mask_turbid_water,
                                   seagrass_offset, seagrass_score, turbid_scenes, seagrass_constants)
from indices.seagrass_place import place_terms
seed = int(sys.argv[1]); T = [int(x) for x in sys.argv[2:]]
sc = sw.scenario(seed, "seagrass", sw.SIZE, sw.MONTHS, Path("/work/wt/cache-sg34"))
(site,) = load_sites(sc.sites)
source = get_source("stac", catalog=str(sc.catalog))
cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
base = baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end)).compute()
ev = site_evidence(base, "seagrass"); rule, water, place = ev.rule, ev.water, ev.place
turbid, wm = turbid_scenes(cube, rule)
months = monthly_composite(mask_turbid_water(cube, (turbid, wm)), ("B02", "B03", "B04", "B08"),
                           clear_bands=BANDS, deglint=GLINT_COMPOSITE).compute()
xs, ys = base["x"].values, base["y"].values
cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
site_m = np.asarray(sc.site, bool)[np.ix_(rws, cols)]
hab = np.asarray(sc.habitat)[:, rws][:, :, cols]
s0 = seagrass_score(base, rule, water, place).values
_, off0 = seagrass_offset(base, rule, water)
plc0 = np.isfinite(s0) & ~np.isfinite(off0.values) & site_m
b0 = bottom_signals(base, rule, water)[0].values
thr, con, tol = (a.values for a in place_terms(place, rule))
nb = float(water.sel(parameter='noise_blue')); nv = float(water.sel(parameter='n_views'))
print("base n_clear in place px", np.percentile(base.n_clear.values[plc0], [5, 50, 95]))
for t in T:
    m = months.isel(period=t)
    s = seagrass_score(m, rule, water, place).values
    b = bottom_signals(m, rule, water)[0].values
    nc = m.n_clear.values
    sig = nb * np.sqrt(nv / np.maximum(nc, 1))
    lost = plc0 & (s0 > 0) & (s <= 0)
    kept = plc0 & (s0 > 0) & (s > 0)
    print(f"m{t} lost {lost.sum()} kept {kept.sum()}")
    for name, sel in (("lost", lost), ("kept", kept)):
        if not sel.any(): continue
        d = (b - b0)[sel]
        print(f"  {name}: nc {np.percentile(nc[sel],[5,50,95])} (b-b0) pct5/50/95 {np.percentile(d,[5,50,95]).round(4)} "
              f"base margin (thr-b0)/sig_base {np.percentile(((thr-b0)/(nb))[sel],[5,50,95]).round(2)} "
              f"month (b-thr)/sig_m {np.percentile(((b-thr)/sig)[sel],[5,50,95]).round(2)} thr {np.percentile(thr[sel],[5,50,95]).round(4)} b0 {np.percentile(b0[sel],[5,50,95]).round(4)}")
    # sand in place region: month vs base
    sand = plc0 & (s0 < 0)
    print(f"  place sand (b-b0) median {np.nanmedian((b-b0)[sand & (nc>0)]):+.4f}; gate-judged water (b-b0) median {np.nanmedian((b-b0)[np.isfinite(off0.values) & site_m & (nc>0)]):+.4f}")
    # the month's own sd of b-b0 over place pixels vs its claimed noise
    d = (b - b0)[plc0 & (nc > 0)]
    mad = 1.4826 * np.median(np.abs(d - np.median(d)))
    print(f"  robust sd of (b-b0) over place px {mad:.4f} vs claimed sqrt(sig_m^2+sig_b^2) {np.sqrt((nb*np.sqrt(nv))**2 + nb**2):.4f}")
from indices.water import water_mask
for t in T:
    m = months.isel(period=t)
    s = seagrass_score(m, rule, water, place).values
    _, off = seagrass_offset(m, rule, water)
    lost = plc0 & (s0 > 0) & (s <= 0)
    wmk = water_mask(m, rule).values
    print(t, "lost", lost.sum(), "score pct", np.percentile(s[lost], [5, 25, 50, 75, 95]).round(2),
          "gate-judged", np.sum(lost & np.isfinite(off.values)), "not water", np.sum(lost & ~wmk))
print("---- bands at lost pixels")
for t in T:
    m = months.isel(period=t)
    s = seagrass_score(m, rule, water, place).values
    lost = plc0 & (s0 > 0) & (s <= 0)
    kept = plc0 & (s > 0)
    for nm, sel in (("lost", lost), ("kept", kept)):
        f = lambda v: np.percentile(v[sel], [10, 50, 90]).round(4)
        print(t, nm, "base G", f(base.B03.values), "NIR", f(base.B08.values), "| month G", f(m.B03.values), "NIR", f(m.B08.values), "B02", f(m.B02.values))
    w = np.isfinite(off0.values) & site_m
    print(t, "month-base over gate water: G", np.nanmedian((m.B03 - base.B03).values[w]).round(4), "NIR", np.nanmedian((m.B08 - base.B08).values[w]).round(4))
