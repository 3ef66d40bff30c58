"""For the record (helper mang36): the axis's steps and the land guard on the demo scenario
``CLOSED_OTHER`` of tests/test_calibration.py (the old closed-canopy OTHER, red 0.032).

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/mang36/demo_closed_other.py SEEDS
"""
from __future__ import annotations

import json
import sys


def main() -> int:
    from test_calibration import CLOSED_OTHER, SITES, DemoSource, _baseline

    from indices.evidence import mangrove_axis_report
    from indices.habitat import MangroveRule

    site = SITES["selangor-kuala-selangor"]
    for seed in (int(s) for s in sys.argv[1].split(",")):
        source = DemoSource(seed=seed, scenario=CLOSED_OTHER)
        true_ha = source.truth(site).extent_ha(site.baseline_end)
        default_ha, base, _ = _baseline(site, source)
        rep = mangrove_axis_report(base, MangroveRule())
        print(json.dumps({"seed": seed, "truth_ha": round(true_ha, 2),
                          "default_ha": round(default_ha, 2),
                          **{k: round(float(v), 4) for k, v in rep.items()}}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
