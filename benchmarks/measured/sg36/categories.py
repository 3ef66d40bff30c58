# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg36: maps of what the rule assesses against the truth (categories.png): sand-coloured assessed sand, dark green assessed seagrass, red = true seagrass the rule leaves not assessable at depth <= z_vis, pink = true sand so, navy = not assessable beyond z_vis (blue: true seagrass there), land green. python categories.py SEED x6"""
import sys, numpy as np
sys.path.insert(0, "benchmarks/measured/sg36")
from proto import load
import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
fig, axs = plt.subplots(2, 3, figsize=(15, 10))
for ax, seed in zip(axs.ravel(), map(int, sys.argv[1:])):
    a = load("/work/wt/cache-sg36prep", seed); s = a["score"]
    land = s == -10; water = ~land & np.isfinite(a["g"]); ass = water & np.isfinite(s)
    img = np.zeros(s.shape + (3,))
    img[land] = (0.3, 0.6, 0.3)
    img[ass & (s < 0)] = (0.95, 0.9, 0.6)
    img[ass & (s > 0)] = (0, 0.5, 0)
    na = water & ~ass
    img[na & a["assess_true"] & a["hab"]] = (1, 0, 0)
    img[na & a["assess_true"] & ~a["hab"]] = (1, 0.6, 0.8)
    img[na & ~a["assess_true"]] = (0, 0, 0.5)
    img[na & ~a["assess_true"] & a["hab"]] = (0.3, 0.3, 1)
    ax.imshow(img); ax.contour(a["site"], [0.5], colors="w", linewidths=0.5)
    ax.set_title(f"{seed} zvis {float(a['zvis']):.1f}")
fig.savefig("benchmarks/measured/sg36/categories.png", dpi=60)
