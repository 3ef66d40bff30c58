# ruff: noqa  (a one-off check kept as a record)
"""sg38: the rule's place map (indices.seagrass_place, rule v6) against sg37's prototype
(variant thr-nog-own-qb-qD-cap200) on sg35's captured baselines: baseline extent per seed.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg38/smoke38.py CAP PREP SEED...
"""
import pickle, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sg37"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sg36"))
import proto37 as P37, proto as P36
import indices.water as W
from indices.habitat import RULES
from indices.seagrass_place import place_map
from indices.seagrass_rule import seagrass_score

rule = RULES["seagrass"]
cap, prep = Path(sys.argv[1]), sys.argv[2]
for seed in map(int, sys.argv[3:]):
    rec = pickle.loads((cap / f"{seed}.pkl").read_bytes())
    base = rec["base"]; site = rec["site"]; t = float(rec["truth"])
    w = W.water_parameters(base, rule)
    pl = place_map(base, rule, w)
    s0 = seagrass_score(base, rule, w).values
    s1 = seagrass_score(base, rule, w, pl).values
    a = P36.load(prep, seed)
    sg, dark, todo, F = P37.place(a, "thr-nog-own-qb-qD-cap200")
    e0, e1, ep = (np.sum(x & site) * .01 for x in (s0 > 0, s1 > 0, sg))
    sup = np.isfinite(pl.values[0])
    print(f"{seed:5d} truth {t:6.1f} main {e0:6.1f} rule-v6 {e1:6.1f} ({e1/t-1:+.2f}) proto {ep:6.1f} ({ep/t-1:+.2f}) "
          f"q {pl.attrs.get('q', np.nan):.2f}/{F['q']:.2f} beta {pl.attrs.get('beta', np.nan):+.4f}/{F['beta']:+.4f} "
          f"supported {sup.sum()} / proto {todo.sum()} same-call {np.sum((s1 > 0) == sg) / sg.size:.4f}", flush=True)
