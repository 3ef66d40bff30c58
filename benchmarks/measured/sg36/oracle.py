# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg36 step 1 (diagnosis; the generator's depth, visibility depth and habitat are used here):
the baseline extent if assessability were the truth's (depth <= z_vis) and the rule's per-pixel
call were kept where the rule assessed, with the rule's not-assessable pixels at assessable
depth counted as seagrass when
  * perfect: they are true seagrass (upper bound of what assessability alone can bring), or
  * dark:    their green bottom signal is below the site's sand at that depth by detect sigma
             (sand's green = median over the true non-seagrass water in 0.5 m depth bins).
'in' drops the rule's seagrass outside the truth's assessable water; 'keep' keeps it.

    python benchmarks/measured/sg36/oracle.py PREPDIR SEED...
"""
import sys
from pathlib import Path
import numpy as np

CTX = 10.0


def load(d, seed):
    z = np.load(Path(d) / f"{seed}.npz")
    return {k: z[k] for k in z.files}


def sand_green_at_depth(a, water):
    z, g = a["depth"], a["g"]
    ref = water & a["site"] & ~a["hab"] & a["assess_true"]
    bins = np.floor(z / 0.5).astype(int)
    out = np.full(g.shape, np.nan, np.float32)
    for k in np.unique(bins[a["assess_true"] & water]):
        m = ref & (bins == k)
        if m.sum() >= 5:
            out[bins == k] = np.median(g[m])
    return out


def figures(a):
    s, site, hab, at = a["score"], a["site"], a["hab"], a["assess_true"]
    land = s == -CTX
    water = ~land & np.isfinite(a["g"])
    rule_sg = (s > 0) & site
    unassessed = water & ~np.isfinite(s) & site
    ng = a["c_noise_g"] / a["c_k_ratio"] * a["c_detect"]   # detect * sigma_G (green units)
    gs = sand_green_at_depth(a, water)
    dark = unassessed & at & (a["g"] < gs - ng)
    perfect = unassessed & at & hab
    out = {"truth": float(a["truth"]), "main": rule_sg.sum() * .01}
    for name, extra in (("perfect", perfect), ("dark", dark)):
        out[name + "_in"] = ((rule_sg & at) | extra).sum() * .01
        out[name + "_keep"] = (rule_sg | extra).sum() * .01
    out["dark_false"] = (dark & ~hab).sum() * .01
    out["miss_unass_at"] = (unassessed & at & hab).sum() * .01
    out["miss_unass_deep"] = (unassessed & ~at & hab & site).sum() * .01
    out["false_main"] = (rule_sg & ~hab).sum() * .01
    out["false_main_out"] = (rule_sg & ~at).sum() * .01
    return out


if __name__ == "__main__":
    d = sys.argv[1]; rows = []
    for seed in map(int, sys.argv[2:]):
        f = figures(load(d, seed)); f["seed"] = seed; rows.append(f)
        t = f["truth"]
        print(f"{seed:5d} truth {t:6.1f} " + " ".join(
            f"{k} {f[k]:6.1f}({f[k] / t - 1:+.2f})" for k in ("main", "perfect_in", "perfect_keep", "dark_in", "dark_keep"))
            + f" | dark_false {f['dark_false']:.1f} miss_unass@vis {f['miss_unass_at']:.1f} miss_unass_deeper {f['miss_unass_deep']:.1f} main_false {f['false_main']:.1f} main_out_of_vis {f['false_main_out']:.1f}", flush=True)
    print()
    for k in ("main", "perfect_in", "perfect_keep", "dark_in", "dark_keep"):
        err = np.array([r[k] / r["truth"] - 1 for r in rows]); ae = np.array([abs(r[k] - r["truth"]) for r in rows])
        print(f"{k:13s} n {len(rows)} within15 {np.sum(np.abs(err) <= .15):3d} under-15 {np.sum(err < -.15):3d} over+15 {np.sum(err > .15):3d} "
              f"summed|err| {ae.sum():7.0f} ha median|rel| {np.median(np.abs(err)):.2f}")
    for k in ("dark_false", "miss_unass_at", "miss_unass_deep", "false_main", "false_main_out"):
        print(f"sum {k}: {sum(r[k] for r in rows):.0f} ha")
