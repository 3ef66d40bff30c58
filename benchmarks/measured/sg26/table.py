"""The tables of ``README.md`` from ``layer.py``'s records (helper sg26).

    python benchmarks/measured/sg26/table.py dev|s300

Columns as sg25's ``table.py`` (whose ``line`` this uses), plus the layer's depth error
against the truth over the water (median of the per-seed robust sigma, m).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "sg25"))
from table import line  # noqa: E402

LAYERS = (("c1", "truth's depth, 10 m"), ("c12", "120 m (EMODnet DTM), exact"),
          ("c12-iho2", "120 m, IHO S-44 Order 2 (0.51 m + 1.2 %)"),
          ("c12-e5", "120 m, 1 m + 5 %"), ("c12-e10", "120 m, 1 m + 10 %"),
          ("c46", "460 m (GEBCO), exact"), ("c46-e5", "460 m, 1 m + 5 %"),
          ("c46-e10", "460 m, 1 m + 10 %"), ("c12-e20", "120 m, 1 m + 20 %"),
          ("c46-e20", "460 m, 1 m + 20 %"), ("c92", "920 m, exact"),
          ("c12-e5-b2", "120 m, 1 m + 5 %, datum +2 m"))
CALS = (("truth", "truth's sand"), ("scene", "own sand v1"), ("scene2", "own sand v2"))


def main(tag: str) -> None:
    print("| calibration | layer | within 15 % (sets) | turbid, clear | called / truth "
          "(turbid, clear) | under / over | found | false ha median / mean (beyond) | "
          "assessed | depth error m |")
    print("|---" * 10 + "|")
    first = True
    for cal, cname in CALS:
        for name, lname in LAYERS:
            p = HERE / f"{tag}-{cal}-{name}.jsonl"
            if not p.exists():
                continue
            rows = [json.loads(s) for s in open(p)]
            if first:
                print(("| main v3 (numpy) | -- " + line(rows, "v3") + " |").replace(
                    " (0/0/0)", "" if tag != "dev" else " (0/0/0)"))
                first = False
            zs = np.median([float(o["zerr"].split("/")[1]) for o in rows])
            print((f"| {cname} | {lname} " + line(rows, "nc") + f" {zs:.2f} |").replace(
                " (0/0/0)", "" if tag != "dev" else " (0/0/0)"))
    for name in ("dist", "dist2"):
        p = HERE / f"{tag}-{name}.jsonl"
        if p.exists():
            rows = [json.loads(s) for s in open(p)]
            print(f"| own sand {'v2' if name == 'dist2' else 'v1'} | no layer: distance "
                  "from the shore " + line(rows, "nc") + " |")


if __name__ == "__main__":
    main(sys.argv[1])
