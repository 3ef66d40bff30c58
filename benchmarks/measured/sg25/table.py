"""The table of ``README.md`` from ``sandfield.py``'s records (helper sg25).

    python benchmarks/measured/sg25/table.py benchmarks/measured/sg25/p500.jsonl [...]

Per record and rule (``v3``: main's rule in numpy; ``nc``: the sand-field rule): seeds within
15 % of the truth (by set 10-29 / 200-219 / 1300-1319; turbid = Kd(490) >= 0.05 /m), the
median called / truth, the median share of the truth's meadow found inside its assessable
water, false seagrass (called where the truth has no meadow; median and mean ha, and of it
beyond the truth's assessable water), the assessed water / the truth's assessable water.
"""
from __future__ import annotations

import json
import sys

import numpy as np

SETS = ((10, 29), (200, 219), (1300, 1319))


def line(rows, tag):
    v = np.array([o[tag] for o in rows])
    ok = np.abs(v - 1) <= 0.15
    sets = "/".join(str(int(sum(ok[i] for i, o in enumerate(rows) if lo <= o["seed"] <= hi)))
                    for lo, hi in SETS)
    turbid = np.array([o["kd490"] >= 0.05 for o in rows])
    f = np.array([o[tag + "_f"] for o in rows])
    fd = np.array([o[tag + "_fdeep"] for o in rows])
    return (f"| {int(ok.sum())} ({sets}) | {int(ok[turbid].sum())}/{int(turbid.sum())}, "
            f"{int(ok[~turbid].sum())}/{int((~turbid).sum())} | {np.median(v):.2f} "
            f"({np.median(v[turbid]):.2f}, {np.median(v[~turbid]):.2f}) | "
            f"{int((v < 0.85).sum())} / {int((v > 1.15).sum())} | "
            f"{np.median([o[tag + '_in'] for o in rows]):.2f} | {np.median(f):.1f} / {f.mean():.1f}"
            f" ({np.median(fd):.1f} / {fd.mean():.1f}) | "
            f"{np.median([o[tag + '_a'] for o in rows]):.2f} |")


if __name__ == "__main__":
    print("| record | rule | within 15 % (sets) | turbid, clear | called / truth (turbid, clear)"
          " | under / over | found | false ha median / mean (beyond assessable) | assessed |")
    print("|---" * 9 + "|")
    for i, path in enumerate(sys.argv[1:]):
        rows = [json.loads(s) for s in open(path)]
        name = path.rsplit("/", 1)[-1].removesuffix(".jsonl")
        if i == 0:
            print(f"| {name} | main v3 (numpy) " + line(rows, "v3"))
        print(f"| {name} | sand field " + line(rows, "nc"))
