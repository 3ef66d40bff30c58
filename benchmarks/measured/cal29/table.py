"""Print the table of benchmarks/measured/cal29 (helper cal29): baseline extent error (ha) of
the default and of each calibration, per seed, and sums."""
import json
import sys
from pathlib import Path

here = Path(__file__).parent
runs = sys.argv[1:] or ["main", "branch", "methods-site_axis", "methods-label_axis",
                        "methods-default+site_axis", "methods-default+label_axis"]
rows = {r: {x["seed"]: x for x in map(json.loads, open(here / f"{r}.jsonl"))} for r in runs}
seeds = sorted(rows[runs[0]])
print("seed truth default " + " ".join(runs))
for s in seeds:
    first = rows[runs[0]][s]
    cells = []
    for r in runs:
        x = rows[r].get(s)
        m = (x.get("calibration") or {}).get("method", "") if x else ""
        cells.append(f"{x['calibrated_error']:.2f}{'(' + m[:5] + ')' if m and r != 'main' else ''}"
                     if x else "-")
    print(f"{s} {first['truth']:.1f} {first['default_error']:.2f} " + " ".join(cells))
for r in runs:
    xs = [rows[r][s] for s in seeds if s in rows[r]]
    worse = sum(x["calibrated_error"] > x["default_error"] + 0.05 for x in xs)
    print(f"{r}: sum {sum(x['calibrated_error'] for x in xs):.2f} (default "
          f"{sum(x['default_error'] for x in xs):.2f}); worse than default (> 0.05 ha) on {worse}"
          f" of {len(xs)}; without seed 24 "
          f"{sum(x['calibrated_error'] for x in xs if x['seed'] != 24):.2f}")
