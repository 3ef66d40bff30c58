"""Main against branch, per set of seeds (helper sg24): the sweep records
(``benchmarks/scenario_sweep.py --kind seagrass``) and the false seagrass of the baseline
(``benchmarks/seagrass_deepwater.py``'s ``main_f``, ha: the rule as the tree has it).

    python benchmarks/measured/sg24/compare.py main.jsonl branch.jsonl \\
        [--deep main-deepwater.log branch-deepwater.log]
"""
from __future__ import annotations

import json
import statistics
import sys

SETS = {"10-29": range(10, 30), "200-219": range(200, 220), "1300-1319": range(1300, 1320),
        "1700-1719": range(1700, 1720)}


def records(path):
    out = {}
    for line in open(path):
        if line.startswith("{"):
            r = json.loads(line)
            out[r["seed"]] = r
    return out


def false_ha(path):
    out = {}
    for line in open(path):
        parts = line.split()
        if parts and parts[0] == "seed" and "main_f" in parts:
            out[int(parts[1])] = float(parts[parts.index("main_f") + 1])
    return out


def row(name, recs, fal, seeds):
    rs = [recs[s] for s in seeds if s in recs]
    if not rs:
        return None
    n = len(rs)
    ext = sum(r["extent_ok"] for r in rs)
    chg = sum(r["change_ok"] for r in rs)
    cov = 100 * statistics.mean(r["covered"] for r in rs)
    ratio = statistics.median(r["baseline"][0] / r["baseline"][1] for r in rs if r["baseline"][1])
    f = [fal[s] for s in seeds if s in fal]
    fmed = f"{statistics.median(f):.1f}" if f else "-"
    return (f"{name:8s} n {n:2d} extent {ext:2d} gain&loss {chg:2d} cover {cov:5.1f}% "
            f"base/truth {ratio:.2f} false(ha, median) {fmed}")


def main(argv):
    deep = argv[argv.index("--deep") + 1:] if "--deep" in argv else []
    paths = argv[:argv.index("--deep")] if deep else argv
    for label, sel in list(SETS.items()) + [("all", None)]:
        for i, p in enumerate(paths):
            recs = records(p)
            fal = false_ha(deep[i]) if deep else {}
            seeds = sel if sel is not None else [s for k, v in SETS.items()
                                                  if k != "1700-1719" for s in v]
            r = row(["main", "branch"][i] if len(paths) == 2 else p, recs, fal, seeds)
            if r:
                print(f"{label:9s} {r}")


if __name__ == "__main__":
    main(sys.argv[1:])
