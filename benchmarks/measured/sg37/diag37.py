# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg37: where the blue place test's additions lie (distance from the nearest sand block, depth
relative to the truth's z_vis), per seed; the truth is used only to diagnose.

    python benchmarks/measured/sg37/diag37.py PREPDIR VARIANT SEED...
"""
import sys
from pathlib import Path
import numpy as np
from scipy import ndimage
sys.path.insert(0, str(Path(__file__).resolve().parent))
import proto37 as P

dd, var = sys.argv[1], sys.argv[2]
for seed in map(int, sys.argv[3:]):
    a = P.P36.load(dd, seed)
    sg, dark, todo, F = P.place(a, var)
    site, hab, z, zv = a["site"], a["hab"], a["depth"], float(a["zvis"])
    have = F["raw"] & np.isfinite(F["fb"])
    hp = P.up(have.astype(float), z.shape) > 0
    dist = ndimage.distance_transform_edt(~hp) * 10
    sand_z = np.percentile(z[F["sand"] & site], 95) if (F["sand"] & site).any() else np.nan
    print(f"{seed} zvis {zv:5.1f} rule-sand z95 {sand_z:5.1f} r {F['r']:.2f} beta {F['beta']:+.4f} sigB {np.median(a['c_noise_b']):.4f} truth {float(a['truth']):.1f} main {np.sum((a['score']>0)&site)*.01:.1f}")
    for lo, hi in [(0, 0), (1, 100), (101, 200), (201, 1e9)]:
        m = dark & site & (dist >= lo) & (dist <= hi)
        print(f"   d {lo:>4}-{hi:<6g} added {m.sum()*.01:6.1f} ha: true<=zvis {np.sum(m & hab & (z <= zv))*.01:6.1f}  seagrass>zvis {np.sum(m & hab & (z > zv))*.01:6.1f}  sand<=zvis {np.sum(m & ~hab & (z <= zv))*.01:6.1f}  sand>zvis {np.sum(m & ~hab & (z > zv))*.01:6.1f}")
