"""Sweep the mangrove rule over independent scenario seeds (300 px, 18 months): one JSON line
a seed with the figures of ``tests/test_independent_scenes.py`` (``_figures``, ``_extent_ok``
10 %, ``_change_ok``). Scenes are generated once under ``--cache`` (shared by the code trees
compared: the generator is in tests/scenarios, not in the code under test).

    PYTHONPATH=<tree>:<tree>/tests python benchmarks/mangrove_sweep.py --seeds 10-29 --out x.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def _seeds(spec: str) -> list[int]:
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cache", type=Path, default=Path("/tmp/mang20-scenes"))
    p.add_argument("--size", type=int, default=300)
    p.add_argument("--months", type=int, default=18)
    a = p.parse_args()
    from scenarios import make_scenario
    from scenarios.run_scenario import site_change_rows
    from test_independent_scenes import _change_ok, _extent_ok, _figures

    for seed in _seeds(a.seeds):
        t0 = time.perf_counter()
        sc = make_scenario(seed, kind="mangrove", size=a.size, n_months=a.months,
                           out_dir=a.cache / f"mangrove-{seed}-{a.size}-{a.months}")
        rows = site_change_rows(sc)
        f = _figures(sc, rows)
        rec = {"seed": seed, **{k: [float(v) for v in f[k]] for k in
                                ("baseline", "final", "gain", "loss")},
               "covered": float(f["covered"].mean()), "width": float(np.median(f["width"])),
               "change_ok": bool(_change_ok(f)), "extent_ok": bool(_extent_ok(f, 0.10)),
               "rule_id": str(rows["rule_id"].iloc[0]), "s": round(time.perf_counter() - t0, 1)}
        with open(a.out, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
