"""sg35's table: sweep records (``benchmarks/scenario_sweep.py``) side by side, per seed set and
over all, with the seeds each lost or gained against the first.

    python benchmarks/measured/sg35/table3.py NAME=A.jsonl[+A2.jsonl] NAME=B.jsonl ... [--sets 10-29,300-319]
"""
import json
import sys

import numpy as np


def load(spec):
    out = {}
    for path in spec.split("+"):
        out.update({r["seed"]: r for r in map(json.loads, open(path))})
    return out


def rel(pair):
    return pair[0] / pair[1] - 1 if pair[1] > 0 else float("nan")


def row(name, rr):
    base = np.array([rel(q["baseline"]) for q in rr])
    summed = sum(abs(q["baseline"][0] - q["baseline"][1]) for q in rr)
    return (f"| {name} | {len(rr)} | {sum(q['extent_ok'] for q in rr)} | "
            f"{sum(q['change_ok'] for q in rr)} | {np.nanmedian(abs(base)):.2f} / "
            f"{np.nanmean(abs(base)):.2f} | {summed:.0f} | {np.sum(base < -0.15)} / "
            f"{np.sum(base > 0.15)} | {np.mean([q['covered'] for q in rr]):.3f} |")


def main(args):
    sets = None
    if args and args[-1].startswith("--sets"):
        sets = [tuple(map(int, s.split("-"))) for s in args[-1].split("=", 1)[1].split(",")]
        args = args[:-1]
    runs = [(a.split("=", 1)[0], load(a.split("=", 1)[1])) for a in args]
    seeds = sorted(set.intersection(*(set(r) for _, r in runs)))
    sets = sets or [(min(seeds), max(seeds))]
    print("| set | run | n | extent_ok | change_ok | median / mean rel. baseline error | "
          "summed baseline error ha | under -15 % / over +15 % | covered |")
    print("|---|---|---|---|---|---|---|---|---|")
    for lo, hi in sets + ([(min(seeds), max(seeds))] if len(sets) > 1 else []):
        ss = [s for s in seeds if lo <= s <= hi and any(a <= s <= b for a, b in sets)]
        label = f"{lo}-{hi}" if (lo, hi) in sets else "all"
        for name, r in runs:
            print(f"| {label} " + row(name, [r[s] for s in ss]))
    ref_name, ref = runs[0]
    for name, r in runs[1:]:
        print(f"\n{name} against {ref_name}:")
        for key in ("extent_ok", "change_ok"):
            lost = [s for s in seeds if ref[s][key] and not r[s][key]]
            won = [s for s in seeds if r[s][key] and not ref[s][key]]
            print(f"  {key}: lost {lost}, gained {won}")
        worse = [s for s in seeds if abs(rel(r[s]['baseline'])) > abs(rel(ref[s]['baseline'])) + 0.05]
        print(f"  baseline error up by > 0.05: {worse}")


if __name__ == "__main__":
    main(sys.argv[1:])
