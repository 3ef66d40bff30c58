"""main vs branch per seed from two calibration_scenes.py records (helper cal31):
``python table.py main.jsonl branch.jsonl``: a markdown table, sums, seeds worse/better than
the default (> 0.05 ha)."""
from __future__ import annotations

import json
import sys


def load(path):
    return {r["seed"]: r for r in map(json.loads, open(path))}


def main(a, b):
    main_, branch = load(a), load(b)
    print("| seed | truth | default | main | branch |")
    print("|---|---|---|---|---|")
    sums = [0.0, 0.0, 0.0]
    worse, better = [[], []], [[], []]
    for seed in sorted(main_):
        m, r = main_[seed], branch.get(seed)
        if r is None:
            continue
        d = m["default_error"]
        cells = [f"{d:.2f}"]
        for i, x in enumerate((m, r)):
            e = x["calibrated_error"]
            cells.append(f"{e:.2f} ({x['calibration']['method']})")
            sums[i + 1] += e
            if e > d + 0.05:
                worse[i].append(seed)
            if e < d - 0.05:
                better[i].append(seed)
        sums[0] += d
        print(f"| {seed} | {m['truth']} | " + " | ".join(cells) + " |")
    print(f"| **sum** | | **{sums[0]:.2f}** | **{sums[1]:.2f}** | **{sums[2]:.2f}** |")
    print(f"| worse than default | | | {len(worse[0])} {worse[0]} | {len(worse[1])} {worse[1]} |")
    print(f"| better than default | | | {len(better[0])} {better[0]} | {len(better[1])} "
          f"{better[1]} |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
