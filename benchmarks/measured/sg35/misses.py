# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg35: where the true (generator-assessable) seagrass goes, per variant: called seagrass,
scored sand (<= 0), not assessable (NaN); and the false seagrass by depth. Truth only to score.

    PYTHONPATH=$PWD:$PWD/tests:$PWD/benchmarks/measured/sg35 python .../misses.py CAPDIR VARIANT,... SEED...
"""
import pickle, sys
from pathlib import Path
import numpy as np
from variants import VARIANTS, rule
from cands import VARIANTS as C
from indices.seagrass_rule import seagrass_score
VARIANTS.update(C)
cap = Path(sys.argv[1]); names = sys.argv[2].split(",")
acc = {n: np.zeros(3) for n in names}; fd = {n: np.zeros(4) for n in names}
bins = (0, 10, 20, 30, 1e9)
for seed in map(int, sys.argv[3:]):
    rec = pickle.loads((cap / f"{seed}.pkl").read_bytes())
    for n in names:
        fit = VARIANTS[n](rec["hist"], rec["noise"], rec)
        w = rec["w"].copy()
        for k, v in zip(("deep_blue", "deep_green", "k_ratio", "dii_sand", "estimated"), fit):
            w.loc[k] = v
        s = seagrass_score(rec["base"], rule, w).values
        t = rec["site"] & rec["hab"]
        acc[n] += [np.sum(t & (s > 0)), np.sum(t & (s <= 0)), np.sum(t & np.isnan(s))]
        f = rec["site"] & ~rec["hab"] & (s > 0)
        fd[n] += np.histogram(rec["depth"][f], bins)[0]
for n in names:
    a = acc[n] * 0.01; print(f"{n}: true seagrass (all depths) called {a[0]:.0f} ha, scored sand {a[1]:.0f}, not assessable {a[2]:.0f}; false by depth 0-10/10-20/20-30/30+ m: {np.round(fd[n] * 0.01).astype(int).tolist()}")
