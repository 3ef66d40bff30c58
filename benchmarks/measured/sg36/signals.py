# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg36: per seed, the bottom signals in units of the rule's noise (b / sigma_B, g / sigma_G; 10/50/90 %) and the generator's depth of the water the rule leaves not assessable, split by the truth (diagnosis only). python signals.py SEED..."""
import sys, numpy as np
sys.path.insert(0, "benchmarks/measured/sg36")
from proto import load
for seed in map(int, sys.argv[1:]):
    a = load("/work/wt/cache-sg36prep", seed); s = a["score"]
    land = s == -10; water = ~land & np.isfinite(a["g"]); ass = water & np.isfinite(s)
    sb = a["c_noise_b"]; sg = a["c_noise_g"] / a["c_k_ratio"]
    sb = np.broadcast_to(sb, s.shape); sg = np.broadcast_to(sg, s.shape)
    na = water & ~ass & a["site"]
    print(seed, "r", float(a["c_k_ratio"]), "zvis", float(a["zvis"]), "sigB med", np.median(sb), "sigG", np.median(sg))
    for name, m in (("pink(sand,vis,NA)", na & a["assess_true"] & ~a["hab"]), ("red(grass,vis,NA)", na & a["assess_true"] & a["hab"]),
                    ("deep(NA,>zvis)", na & ~a["assess_true"]), ("sand assessed", ass & (s < 0) & a["site"]), ("grass assessed", ass & (s > 0) & a["site"])):
        if m.sum() == 0: continue
        q = lambda v: " ".join(f"{x:5.1f}" for x in np.percentile(v[m], [10, 50, 90]))
        print(f"  {name:20s} n {m.sum():6d} b/sB {q(a['b']/sb)} | g/sG {q(a['g']/sg)} | depth {q(a['depth'])}")
