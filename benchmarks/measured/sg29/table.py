"""sg29 (copied from sg28)'s table: several sweep records (``benchmarks/scenario_sweep.py``) side by side.

    python benchmarks/measured/sg29/table.py NAME=A.jsonl NAME=B.jsonl ...
"""
import json
import sys

import numpy as np


def load(path):
    return {r["seed"]: r for r in map(json.loads, open(path))}


def summary(name, rr):
    base = [abs(q["baseline"][0] / q["baseline"][1] - 1) for q in rr if q["baseline"][1] > 0]
    final = [abs(q["final"][0] / q["final"][1] - 1) for q in rr if q["final"][1] > 0]
    gain = [abs(q["gain"][0] - q["gain"][1]) for q in rr]
    loss = [abs(q["loss"][0] - q["loss"][1]) for q in rr]
    return (f"| {name} | {len(rr)} | {sum(q['extent_ok'] for q in rr)} | "
            f"{sum(e <= 0.15 for e in base)} ({np.median(base):.2f}) | "
            f"{sum(e <= 0.15 for e in final)} ({np.median(final):.2f}) | "
            f"{sum(q['change_ok'] for q in rr)} | {np.median(gain):.1f} / {np.mean(gain):.1f} | "
            f"{np.median(loss):.1f} / {np.mean(loss):.1f} | "
            f"{np.mean([q['covered'] for q in rr]):.3f} |")


def main(specs):
    runs = [(s.split("=", 1)[0], load(s.split("=", 1)[1])) for s in specs]
    seeds = sorted(set.intersection(*(set(r) for _, r in runs)))
    print("| run | n | extent_ok | baseline within 15 % (median error) | final within 15 % "
          "(median error) | change_ok | gain error ha median/mean | loss error ha median/mean "
          "| covered |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in runs:
        print(summary(name, [r[s] for s in seeds]))
    print()
    print("| seed | truth base/final/gain/loss | " + " | ".join(
        f"{n} base/final/gain/loss chg" for n, _ in runs) + " |")
    print("|---|---|" + "---|" * len(runs))
    for s in seeds:
        t = runs[0][1][s]
        cells = [f"{r[s]['baseline'][0]:.0f}/{r[s]['final'][0]:.0f}/{r[s]['gain'][0]:.1f}/"
                 f"{r[s]['loss'][0]:.1f} {int(r[s]['change_ok'])}" for _, r in runs]
        print(f"| {s} | {t['baseline'][1]:.0f}/{t['final'][1]:.0f}/{t['gain'][1]:.1f}/"
              f"{t['loss'][1]:.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
