# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""Diagnosis (sg28): on a seed, the baseline's score at the pixels the months flip, and the
deglinted bottom signals of the baseline composite against its months'. Spies on
``indices.summary.habitat_score`` (a diagnosis, not a test). Needs the layer the sweep wrote:

    PYTHONPATH=$PWD:$PWD/tests:$PWD/benchmarks python benchmarks/measured/sg28/diag_baseline.py 314
"""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, "benchmarks")
import scenario_sweep as sw
import indices.summary as summ
from scenarios.run_scenario import site_change_rows

seed = int(sys.argv[1])
got = []; ins = []
orig = summ.habitat_score
def spy(refl, habitat, rule=None, **kw):
    s = orig(refl, habitat, rule, **kw)
    got.append(s); ins.append((refl, rule, kw))
    return s
summ.habitat_score = spy
sc = sw.scenario(seed, "seagrass", sw.SIZE, sw.MONTHS, Path("/work/wt/sg25-cache"))
sites = Path(f"/work/wt/sg28-layers/seagrass-{seed}-c12-a1-e0.1/sites.geojson")
rows = site_change_rows(sc, sites)
months = np.asarray(got[0].transpose("period", "y", "x"))
base = np.asarray(got[1].transpose("y", "x"))
xs, ys = got[1]["x"].values, got[1]["y"].values
cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
hab = np.asarray(sc.habitat[0]).astype(bool)[np.ix_(rws, cols)]
print("habitat", sc.habitat.shape, sc.habitat.dtype, "classes", np.unique(sc.classes)[:10])
site = np.asarray(sc.site, bool)[np.ix_(rws, cols)]
px = 0.01
for name, m in (("truth meadow", hab & site), ("truth not meadow", ~hab & site)):
    b = base[m]
    print(name, "ha", m.sum() * px, "| base score: >=1 %.1f, (0,1) %.1f, (-1,0] %.1f, <=-1 %.1f, NaN %.1f ha" % (
        (b >= 1).sum() * px, ((b > 0) & (b < 1)).sum() * px, ((b > -1) & (b <= 0)).sum() * px,
        (b <= -1).sum() * px, np.isnan(b).sum() * px))
    mm = months[:, m]
    conf_pos = (mm >= 1).sum(0); conf_neg = (mm <= -1).sum(0)
    for lo, hi in ((-99, -1), (-1, 0), (0, 1), (1, 99)):
        sel = (b > lo) & (b <= hi)
        if sel.sum():
            print(f"   base in ({lo},{hi}]: {sel.sum()*px:.1f} ha; months >=+1: median {np.median(conf_pos[sel]):.0f} of {mm.shape[0]}, <=-1: median {np.median(conf_neg[sel]):.0f}; month median score {np.nanmedian(mm[:, sel]):+.2f}")

from indices.seagrass_rule import bottom_signals
(mrefl, rule, kw), (brefl, _, _) = ins[0], ins[1]
water = kw["water"]
bm, gm, _ = bottom_signals(mrefl, rule, water); bb, gb, _ = bottom_signals(brefl, rule, water)
bm, gm = np.asarray(bm.transpose("period", "y", "x")), np.asarray(gm.transpose("period", "y", "x"))
bb, gb = np.asarray(bb.transpose("y", "x")), np.asarray(gb.transpose("y", "x"))
nir_m = np.asarray(mrefl["B08"].transpose("period", "y", "x")); nir_b = np.asarray(brefl["B08"].transpose("y", "x"))
print("water", dict(zip(water["parameter"].values, np.round(np.asarray(water, float), 4))))
for name, m in (("meadow base<=0", hab & site & (base <= 0)), ("meadow base>0", hab & site & (base > 0)), ("sand judged", ~hab & site & np.isfinite(base)), ("deep unjudged", ~hab & site & np.isnan(base))):
    print(f"{name}: blue base {np.nanmedian(bb[m]):.4f} months0-5 {np.nanmedian(bm[:6][:, m]):.4f} all months {np.nanmedian(bm[:, m]):.4f} | green base {np.nanmedian(gb[m]):.4f} months0-5 {np.nanmedian(gm[:6][:, m]):.4f} | NIR base {np.nanmedian(nir_b[m]):.4f} months {np.nanmedian(nir_m[:, m]):.4f}")
nb_ = np.asarray(brefl["n_clear"].transpose("y", "x")); nm_ = np.asarray(mrefl["n_clear"].transpose("period", "y", "x"))
print("periods", mrefl["period"].values[:6])
for name, m in (("meadow base<=0", hab & site & (base <= 0)), ("meadow base>0", hab & site & (base > 0))):
    print(name, "n_clear base median", np.median(nb_[m]), "months0-5 per month median", [float(np.median(nm_[i][m])) for i in range(6)], "all", [float(np.median(nm_[i][m])) for i in range(6, 18)])
    print("   blue per month", [round(float(np.nanmedian(bm[i][m])), 4) for i in range(18)])
