# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg37: the scene's deep-blue bias estimate beta (proto37 step 2) against the generator's:
to_rho(r_deep B02) - the fitted deep blue (the generator's atmosphere residual and glint are
left out, so this is approximate).  Diagnosis only.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg37/beta37.py PREPDIR SCCACHE SEED...
"""
import pickle, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parent))
import proto37 as P
from scenarios.water import to_rho

dd, scc = sys.argv[1], Path(sys.argv[2])
for seed in map(int, sys.argv[3:]):
    a = P.P36.load(dd, seed)
    F = P.fields(a)
    sc = pickle.loads((scc / f"seagrass-{seed}-300-18" / "scenario.pkl").read_bytes())
    deep = float(to_rho(sc.params["r_deep"]["B02"]))
    print(f"{seed:5d} r {F['r']:.2f} fitted deep blue {float(a['c_deep_blue']):.4f} generator {deep:.4f} -> bias {deep - float(a['c_deep_blue']):+.4f}; scene beta {F['beta']:+.4f}", flush=True)
