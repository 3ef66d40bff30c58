"""Two sweep records (``benchmarks/scenario_sweep.py``) seed by seed, and their sums.

    python benchmarks/measured/sg27/compare.py A.jsonl B.jsonl
"""
import json
import sys

import numpy as np


def load(path):
    return {r["seed"]: r for r in map(json.loads, open(path))}


def main(a_path, b_path):
    a, b = load(a_path), load(b_path)
    seeds = sorted(set(a) & set(b))
    print(f"{'seed':>5} {'kd':>5} | {'A base':>8} {'B base':>8} {'truth':>7} | A ext B ext "
          f"| A chg B chg | A cov B cov")
    for s in seeds:
        x, y = a[s], b[s]
        print(f"{s:>5} {x.get('kd490', 0):5.3f} | {x['baseline'][0]:8.1f} {y['baseline'][0]:8.1f}"
              f" {x['baseline'][1]:7.1f} | {int(x['extent_ok'])}   {int(y['extent_ok'])}     | "
              f"{int(x['change_ok'])}   {int(y['change_ok'])}     | {x['covered']:.2f} "
              f"{y['covered']:.2f}")
    for name, r in (("A", a), ("B", b)):
        rr = [r[s] for s in seeds]
        base = [abs(q["baseline"][0] / q["baseline"][1] - 1) for q in rr if q["baseline"][1] > 0]
        final = [abs(q["final"][0] / q["final"][1] - 1) for q in rr if q["final"][1] > 0]
        gain = [abs(q["gain"][0] - q["gain"][1]) for q in rr]
        loss = [abs(q["loss"][0] - q["loss"][1]) for q in rr]
        print(f"{name} n {len(rr)} extent_ok {sum(q['extent_ok'] for q in rr)} change_ok "
              f"{sum(q['change_ok'] for q in rr)} covered {np.mean([q['covered'] for q in rr]):.3f}"
              f" | baseline within 15 % {sum(e <= 0.15 for e in base)}, median error "
              f"{np.median(base):.2f} | final within 15 % {sum(e <= 0.15 for e in final)}, median "
              f"error {np.median(final):.2f} | gain error median/mean {np.median(gain):.1f}/"
              f"{np.mean(gain):.1f} ha, loss {np.median(loss):.1f}/{np.mean(loss):.1f} ha | "
              f"{rr[0]['rule_id']}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
