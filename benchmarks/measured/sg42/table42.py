# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg42: the breakdown's table (breakdown42.py's jsonl): one line per seed whose baseline extent
is not within 15 % of the assessable truth, the dominant cause, and the totals by cause.

    python benchmarks/measured/sg42/table42.py breakdown-dev80.jsonl
"""
import json, sys
from collections import Counter, defaultdict
rows = [json.loads(l) for l in open(sys.argv[1])]
MISS = ["miss_noq", "miss_reach", "miss_maphere", "miss_gate", "miss_place", "miss_land"]
FALS = ["fals_deep", "fals_gate", "fals_place"]
NAMES = {"miss_noq": "under: meadow not assessed, no place map (q<1)",
         "miss_reach": "under: not assessed, beyond the map's reach",
         "miss_maphere": "under: not assessed where the map holds",
         "miss_gate": "under: gate called meadow sand", "miss_place": "under: map called meadow sand",
         "miss_land": "under: meadow called land", "fals_deep": "over: true meadow deeper than z_vis",
         "fals_gate": "over: gate called sand meadow", "fals_place": "over: map called sand meadow"}
print("| seed | truth ha | v6 ha | err % | dominant | " + " | ".join(k.replace("_", " ") for k in MISS + FALS)
      + " | kd490 | z_vis m | meadow depth med m | q | map ha | r | truth / rule assessable | views |")
print("|" + "---|" * (5 + len(MISS) + len(FALS) + 8))
count, tot = Counter(), defaultdict(float)
fail = 0
for r in rows:
    t, c = r["truth"], r["called"]
    if abs(c - t) <= 0.15 * t:
        continue
    fail += 1
    over = c > t
    keys = FALS if over else MISS
    dom = max(keys, key=lambda k: r[k])
    count[dom] += 1
    for k in MISS + FALS:
        tot[k] += r[k]
    print(f"| {r['seed']} | {t:.0f} | {c:.0f} | {100 * (c - t) / max(t, 1e-9):+.0f} | {dom.replace('_', ' ')} | "
          + " | ".join(f"{r[k]:.1f}" for k in MISS + FALS)
          + f" | {r['kd490']:.3f} | {r['zvis']:.1f} | {r['meadow_depth_med']} | {r['q']} | {r['map_ha']:.0f} | {r['k_ratio']} | "
            f"{r['truth_assess_frac']:.2f} / {r['rule_assess_frac']:.2f} | {r['n_views_med']:.0f} |")
print(f"\n{fail} of {len(rows)} seeds outside 15 % (baseline); within: {len(rows) - fail}")
print("\n| dominant cause | seeds | summed ha over failing seeds |\n|---|---|---|")
for k in MISS + FALS:
    print(f"| {NAMES[k]} | {count[k]} | {tot[k]:.0f} |")
allt = defaultdict(float)
for r in rows:
    for k in MISS + FALS:
        allt[k] += r[k]
print("\nAll 80 seeds, ha by cause: " + ", ".join(f"{k} {allt[k]:.0f}" for k in MISS + FALS))
