"""sg38's table (sg34's table.py, the branch named sg38): two sweep records (``benchmarks/scenario_sweep.py``), main and branch, seed by
seed, over the seeds both hold, optionally restricted to a range.

    python benchmarks/measured/sg38/table.py MAIN.jsonl BRANCH.jsonl [LO-HI]
"""
import json
import sys

import numpy as np


def load(path):
    return {r["seed"]: r for r in map(json.loads, open(path))}


def rel(pair):
    return abs(pair[0] / pair[1] - 1) if pair[1] > 0 else float("nan")


def summary(name, rr):
    base = [rel(q["baseline"]) for q in rr]
    final = [rel(q["final"]) for q in rr]
    summed = sum(abs(q["baseline"][0] - q["baseline"][1]) for q in rr)
    gain = [abs(q["gain"][0] - q["gain"][1]) for q in rr]
    loss = [abs(q["loss"][0] - q["loss"][1]) for q in rr]
    af = np.median([q["assessable_fraction"][0] for q in rr])
    af_t = np.median([q["assessable_fraction"][1] for q in rr])
    return (f"| {name} | {len(rr)} | {sum(q['extent_ok'] for q in rr)} | "
            f"{sum(q['change_ok'] for q in rr)} | {sum(e <= 0.15 for e in base)} "
            f"({np.nanmedian(base):.2f}) | {sum(e <= 0.15 for e in final)} "
            f"({np.nanmedian(final):.2f}) | {summed:.0f} | {np.mean(gain):.1f} / "
            f"{np.mean(loss):.1f} | {np.mean([q['covered'] for q in rr]):.3f} | "
            f"{af:.2f} (truth {af_t:.2f}) |")


def main(a, b, span=None):
    ra, rb = load(a), load(b)
    seeds = sorted(set(ra) & set(rb))
    if span:
        lo, hi = map(int, span.split("-"))
        seeds = [s for s in seeds if lo <= s <= hi]
    print("| run | n | extent_ok | change_ok | baseline within 15 % (median error) | final "
          "within 15 % (median error) | baseline summed error ha | gain / loss error ha mean "
          "| covered | last month's assessable fraction median |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(summary("main", [ra[s] for s in seeds]))
    print(summary("sg38 (v6)", [rb[s] for s in seeds]))
    print()
    print("| seed | truth base/final/gain/loss | main base/final/gain/loss ok | sg38 "
          "base/final/gain/loss ok | worse |")
    print("|---|---|---|---|---|")
    for s in seeds:
        t, m, n = ra[s], ra[s], rb[s]
        worse = []
        if rel(n["baseline"]) > rel(m["baseline"]) + 0.005:
            worse.append("base")
        if rel(n["final"]) > rel(m["final"]) + 0.005:
            worse.append("final")
        if m["extent_ok"] and not n["extent_ok"]:
            worse.append("extent_ok")
        if m["change_ok"] and not n["change_ok"]:
            worse.append("change_ok")

        def cell(q):
            return (f"{q['baseline'][0]:.0f}/{q['final'][0]:.0f}/{q['gain'][0]:.1f}/"
                    f"{q['loss'][0]:.1f} {int(q['extent_ok'])}{int(q['change_ok'])}")

        print(f"| {s} | {t['baseline'][1]:.0f}/{t['final'][1]:.0f}/{t['gain'][1]:.1f}/"
              f"{t['loss'][1]:.1f} | {cell(m)} | {cell(n)} | {' '.join(worse)} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
