# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg36: per captured seed (sg35's capture.py pickles, /work/wt/cache-sg35/cap), main's water
parameters and per-pixel arrays (score, offset ungated, bottom signals, constants), plus the
truth's assessable mask and visibility depth (diagnosis only), to OUT/<seed>.npz.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg36/prep.py CAP SCCACHE OUT SEED...
"""
import pickle, sys
from pathlib import Path
import numpy as np
import indices.water as W
from indices.habitat import RULES
from indices.seagrass_rule import seagrass_score, seagrass_offset, bottom_signals

rule = RULES["seagrass"]
cap, scc, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]); out.mkdir(exist_ok=True)
for seed in map(int, sys.argv[4:]):
    rec = pickle.loads((cap / f"{seed}.pkl").read_bytes())
    sc = pickle.loads((scc / f"seagrass-{seed}-300-18" / "scenario.pkl").read_bytes())
    base = rec["base"]
    w = W.water_parameters(base, rule)          # main's (this tree's) fit
    s = seagrass_score(base, rule, w).values
    c, off = seagrass_offset(base, rule, w, gate=False)
    b, g, _ = bottom_signals(base, rule, w)
    xs, ys = base["x"].values, base["y"].values
    cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
    ix = np.ix_(rws, cols)
    consts = {k: np.asarray(v.values if hasattr(v, "values") else v, np.float32) for k, v in c.items()}
    np.savez_compressed(out / f"{seed}.npz", score=s, offset=off.values, b=b.values, g=g.values,
                        site=rec["site"], hab=rec["hab"], depth=rec["depth"],
                        assess_true=np.asarray(sc.assessable, bool)[ix],
                        zvis=sc.params["visibility_depth_m"], truth=rec["truth"],
                        n_clear=base["n_clear"].values if "n_clear" in base else np.ones_like(s),
                        **{"c_" + k: v for k, v in consts.items()})
    print(seed, "ok", f"{np.sum((s > 0) & rec['site']) * 0.01:.2f}", flush=True)
