# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg35: the plateau's green level (v6b: median of the truncated window; v6: one symmetric
step) against the deglinted water measured deeper than 45 m (the generator's depth, for the
diagnosis only), on captured seeds with >= 300 such pixels.

    PYTHONPATH=$PWD:$PWD/tests:$PWD/benchmarks/measured/sg35 python .../deep_level.py CAPDIR SEED...
"""
import pickle, sys
from pathlib import Path
import numpy as np
from indices.habitat import RULES
from indices.seagrass_rule import bottom_signals
from cands import make
rule = RULES["seagrass"]
rows = []
for seed in map(int, sys.argv[2:]):
    rec = pickle.loads((Path(sys.argv[1]) / f"{seed}.pkl").read_bytes())
    w = rec["w"]; b0, g0, _ = bottom_signals(rec["base"], rule, w)
    B = (b0 + w.sel(parameter="deep_blue")).values; G = (g0 + w.sel(parameter="deep_green")).values
    s = np.isfinite(G) & (rec["depth"] > 45)
    if s.sum() < 300:
        continue
    p6b = make(False, "median")(rec["hist"], rec["noise"], rule)
    p6 = make(True, "median")(rec["hist"], rec["noise"], rule)
    if p6b is None:
        continue
    ref = (np.median(B[s]), np.median(G[s]))
    rows.append((seed, s.sum(), ref, p6b, p6))
    print(f"{seed:5d} n>45m {s.sum():6d} measured B/G {ref[0]:.4f}/{ref[1]:.4f} | v6b {p6b[0]:.4f}/{p6b[1]:.4f} | v6 {p6[0]:.4f}/{p6[1]:.4f}", flush=True)
for i, n in ((3, "v6b"), (4, "v6")):
    dg = np.array([r[i][1] - r[2][1] for r in rows]); db = np.array([r[i][0] - r[2][0] for r in rows])
    print(f"{n}: {len(rows)} seeds, green - measured: median {np.median(dg):+.4f}, median |.| {np.median(abs(dg)):.4f}; blue - measured: median {np.median(db):+.4f}, median |.| {np.median(abs(db)):.4f}")
