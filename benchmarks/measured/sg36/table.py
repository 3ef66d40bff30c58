# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg36: per dev set, baseline-extent figures of main and of prototype variants from the
per-seed lines of proto.py's output (and oracle.py's). python table.py PROTO.txt ORACLE.txt..."""
import re, sys
import numpy as np
SETS = {"10-29": range(10, 30), "300-319": range(300, 320), "200-219": range(200, 220), "1300-1319": range(1300, 1320)}
rows = {}
for path in sys.argv[1:]:
    for line in open(path):
        m = re.match(r"\s*(\d+) truth\s+([\d.]+) (.*)", line)
        if not m:
            continue
        seed, t = int(m[1]), float(m[2])
        for name, val in re.findall(r"([a-z0-9_-]+)\s+([\d.]+)\(", m[3]):
            rows.setdefault(name, {})[seed] = (t, float(val))
print("| set | run | n | within 15 % | under -15 % / over +15 % | summed abs error ha | median rel. error |")
print("|---|---|---|---|---|---|---|")
names = [n for n in rows if n in ("main", "perfect_in", "dark_in", "med-10-2-hole", "med-10-1-hole", "med-10-2-core10", "med-10-2")]
for label, seeds in list(SETS.items()) + [("all 80", [s for r in SETS.values() for s in r])]:
    for n in names:
        pts = [rows[n][s] for s in seeds if s in rows[n]]
        if not pts:
            continue
        t, x = np.array(pts).T; e = x / t - 1
        b = "**" if label == "all 80" else ""
        print(f"| {b}{label}{b} | {n} | {len(t)} | {np.sum(abs(e) <= .15)} | {np.sum(e < -.15)} / {np.sum(e > .15)} | {np.abs(x - t).sum():.0f} | {np.median(abs(e)):.2f} |")
