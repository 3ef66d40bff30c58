# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg36: where the true seagrass at assessable depth (depth <= z_vis; diagnosis only) that the rule
leaves not assessable lies: in holes of the rule's seen bottom (not-assessed water enclosed by
assessed water or land, 4-connected, not touching the image edge: what proto.py's 'hole' can
reach) or in not-assessed water that reaches the edge; and the true sand at assessable depth
that the rule does not see either (its green gate ends shallower than the truth's z_vis).
python breakdown.py PREPDIR SEED..."""
import sys
import numpy as np
from scipy import ndimage
sys.path.insert(0, "benchmarks/measured/sg36")
from proto import load, CTX
tot = np.zeros(6)
print("seed  zvis  r    | missed@vis: in holes / open (ha) | true sand@vis not assessed / assessed (ha) | rule's green sees sand to (m: 99th percentile of the depth of the sand it assesses)")
for seed in map(int, sys.argv[2:]):
    a = load(sys.argv[1], seed); s = a["score"]
    land = s == -CTX; water = ~land & np.isfinite(a["g"]); ass = water & np.isfinite(s); na = water & ~ass
    lab, _ = ndimage.label(na)
    edge = np.unique(np.r_[lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    hole = na & ~np.isin(lab, edge[edge > 0])
    site, hab, at = a["site"], a["hab"], a["assess_true"]
    miss = na & at & hab & site
    v = np.array([(miss & hole).sum(), (miss & ~hole).sum(), (na & at & ~hab & site).sum(), (ass & at & ~hab & site).sum(), 0, 0]) * .01
    tot += v
    sand_d = a["depth"][ass & ~hab & site & (s < 0)]
    z90 = np.percentile(sand_d, 99) if sand_d.size else np.nan
    print(f"{seed:5d} {float(a['zvis']):5.1f} {float(a['c_k_ratio']):.2f} | {v[0]:7.1f} / {v[1]:7.1f} | {v[2]:7.1f} / {v[3]:7.1f} | {z90:5.1f}")
print(f"total missed@vis in holes {tot[0]:.0f} ha, open {tot[1]:.0f} ha; true sand@vis not assessed {tot[2]:.0f} ha, assessed {tot[3]:.0f} ha")
