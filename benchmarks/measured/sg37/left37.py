# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg37: the meadow at assessable depth that the rule leaves not assessed and the blue place
test (VARIANT) still does not reach, split by why: site q < 1 (blue does not see past green),
or q >= 1 but beyond the reach (distance from the nearest sand block > min(cap, ln q / gamma)),
or reached but called sand.  The truth only diagnoses.

    python benchmarks/measured/sg37/left37.py PREPDIR VARIANT SEED...
"""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parent))
import proto37 as P

dd, var = sys.argv[1], sys.argv[2]
tot = np.zeros(5)
for seed in map(int, sys.argv[3:]):
    a = P.P36.load(dd, seed)
    sg, dark, todo, F = P.place(a, var)
    site, hab, at = a["site"], a["hab"], a["assess_true"]
    na = F["water"] & ~F["assessed"] & site & hab & at
    missed = na & ~dark
    qlow = missed & (F["q"] < 1)
    unreached = missed & ~todo & (F["q"] >= 1)
    called_sand = missed & todo
    row = np.array([na.sum(), missed.sum(), qlow.sum(), unreached.sum(), called_sand.sum()]) * .01
    tot += row
    print(f"{seed:5d} q {F['q']:.2f} not-assessed meadow {row[0]:6.1f} ha, still missed {row[1]:6.1f}: q<1 {row[2]:6.1f}, beyond reach {row[3]:6.1f}, reached but called sand {row[4]:6.1f}")
print(f"total not-assessed meadow at assessable depth {tot[0]:.0f} ha; still missed {tot[1]:.0f}: site q<1 {tot[2]:.0f}, beyond reach {tot[3]:.0f}, reached but called sand {tot[4]:.0f}")
