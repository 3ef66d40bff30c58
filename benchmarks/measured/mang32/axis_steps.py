"""The discriminant axis's steps (indices.evidence.mangrove_axis_report) on cached scenes
(helper mang32): why the axis is off or on.
    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/mang32/axis_steps.py SEED..."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from scenario_sweep import mangrove_baseline  # noqa: E402

from indices.evidence import mangrove_axis_report  # noqa: E402

for s in sys.argv[1:]:
    sc, site, cube, base, rule, params, codes = mangrove_baseline(int(s), Path("/work/wt/mang24-cache"))
    rep = mangrove_axis_report(base, rule)
    print(json.dumps({"seed": int(s), **{k: round(float(v), 3) for k, v in rep.items()}}), flush=True)
