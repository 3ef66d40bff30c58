"""For the record (helper mang34): which seeds' axis rule v14 fits against the trimmed
terrestrial sample, and the axis's steps (``indices.evidence.mangrove_axis_report`` on the
baseline composite the sweep builds), with the site's MVI state.

    PYTHONPATH=$PWD:$PWD/tests:$PWD/benchmarks python benchmarks/measured/mang34/trim_report.py CACHE SEEDS
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    from scenario_sweep import mangrove_baseline, parse_seeds

    from indices.evidence import mangrove_axis_report

    cache = Path(sys.argv[1])
    for seed in parse_seeds(sys.argv[2]):
        sc, site, cube, base, rule, params, codes = mangrove_baseline(seed, cache)
        rep = mangrove_axis_report(base, rule)
        p = {k: round(float(params.sel(parameter=k)), 3)
             for k in ("mvi_min", "estimated", "axis_used", "axis_boundary")}
        print(json.dumps({"seed": seed, **p,
                          **{k: round(float(v), 3) for k, v in rep.items()}}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
