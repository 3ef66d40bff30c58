# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg37: per-set table (baseline extent within 15 %, summed |error|, median relative error) for
main, sg36's hole prototypes and sg37's blue place test, and the seeds the blue test makes worse
than main; the truth only scores.

    python benchmarks/measured/sg37/table37.py PREPDIR > table37-dev80.md
"""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parent))
import proto37 as P

SETS = {"10-29": range(10, 30), "300-319": range(300, 320), "200-219": range(200, 220),
        "1300-1319": range(1300, 1320)}
RUNS = ["main", "sg36 med-10-2-hole", "sg36 med-10-2-hole-basin", "thr-own-qD-cap200", "thr-own-qb-qD-cap200", "thr-nog-own-qb-qD-cap200", "thr-hole-own-qb-qD-cap200"]
dd = sys.argv[1]
res = {}
for name, seeds in SETS.items():
    for s in seeds:
        a = P.P36.load(dd, s); site = a["site"]; t = float(a["truth"])
        out = {"main": np.sum((a["score"] > 0) & site) * .01}
        for v in RUNS[1:]:
            sg = P.P36.place(a, v.split()[1])[0] if v.startswith("sg36") else P.place(a, v)[0]
            out[v] = np.sum(sg & site) * .01
        res[s] = (name, t, out)
print("| set | run | n | within 15 % | under / over | summed abs error ha | median rel. |")
print("|---|---|---|---|---|---|---|")
for name in list(SETS) + ["all 80"]:
    ss = [s for s in res if name == "all 80" or res[s][0] == name]
    for v in RUNS:
        t = np.array([res[s][1] for s in ss]); x = np.array([res[s][2][v] for s in ss]); e = x / t - 1
        print(f"| {name} | {v} | {len(ss)} | {np.sum(abs(e) <= .15)} | {np.sum(e < -.15)} / {np.sum(e > .15)} | {np.abs(x - t).sum():.0f} | {np.median(abs(e)):.2f} |")
for v in ["thr-nog-own-qb-qD-cap200", "thr-own-qb-qD-cap200"]:
  print(f"\nSeeds where {v} is worse than main (lost within 15 %, or |error| larger by > 0.5 ha):\n")
  print("| seed | truth ha | main ha | blue ha | lost within 15 % |")
  print("|---|---|---|---|---|")
  for s, (name, t, out) in res.items():
    m, x = out["main"], out[v]
    if abs(x - t) > abs(m - t) + 0.5:
        lost = abs(x / t - 1) > .15 >= abs(m / t - 1)
        print(f"| {s} | {t:.1f} | {m:.1f} ({m / t - 1:+.0%}) | {x:.1f} ({x / t - 1:+.0%}) | {'**yes**' if lost else ''} |")
