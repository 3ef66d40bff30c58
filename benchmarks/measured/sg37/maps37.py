# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg37: maps of the blue place test's additions on a few seeds (the truth colours the
additions only, for diagnosis).  Grey: land / outside water; light blue: not assessed, not
called; yellow: rule's sand; dark green: rule's seagrass; lime: added, true meadow at assessable
depth; orange: added, true meadow beyond z_vis; red: added, not meadow; black contour: z_vis.

    python benchmarks/measured/sg37/maps37.py PREPDIR VARIANT OUT.png SEED...
"""
import sys
from pathlib import Path
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.colors import ListedColormap
sys.path.insert(0, str(Path(__file__).resolve().parent))
import proto37 as P

dd, var, out = sys.argv[1], sys.argv[2], sys.argv[3]
seeds = list(map(int, sys.argv[4:]))
fig, axs = plt.subplots(1, len(seeds), figsize=(4.2 * len(seeds), 4.6))
cmap = ListedColormap(["0.6", "#cfe8ff", "#f2e394", "#1b5e20", "#7cfc00", "#ff9800", "#d50000"])
for ax, s in zip(np.atleast_1d(axs), seeds):
    a = P.P36.load(dd, s)
    sg, dark, todo, F = P.place(a, var)
    hab, at = a["hab"], a["assess_true"]
    c = np.zeros(a["g"].shape, int)
    c[F["water"]] = 1
    c[F["assessed"] & (a["score"] <= 0)] = 2
    c[a["score"] > 0] = 3
    c[dark & hab & at] = 4
    c[dark & hab & ~at] = 5
    c[dark & ~hab] = 6
    ax.imshow(c, cmap=cmap, vmin=0, vmax=6, interpolation="nearest")
    ax.contour(a["depth"], levels=[float(a["zvis"])], colors="k", linewidths=0.6)
    ext = np.sum(sg & a["site"]) * .01; t = float(a["truth"]); m = np.sum((a["score"] > 0) & a["site"]) * .01
    ax.set_title(f"{s}: truth {t:.0f}, main {m:.0f} ({m / t - 1:+.0%}), blue {ext:.0f} ({ext / t - 1:+.0%})\nr {F['r']:.2f} q {F['q']:.2f}", fontsize=8)
    ax.set_xticks([]); ax.set_yticks([])
fig.tight_layout(); fig.savefig(out, dpi=90)
