"""Where the truth's classes fall on a site's discriminant axis (helper mang32): z quantiles
(10/50/90) of the truth's mangrove and of each land class the floor rule reaches, with the
axis's Bayes and Otsu boundaries (indices.evidence.mangrove_axis_report), and the extent
(truth kept / land taken, ha, reached vegetation with MVI >= the floor) at each.
    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/mang32/axis_classes.py SEED..."""
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from scenario_sweep import mangrove_baseline  # noqa: E402
from scenarios import landscape as ls  # noqa: E402

from indices.evidence import _evidence_maps, mangrove_axis_report, unpack_evidence  # noqa: E402
from indices.mangrove_axis import AXIS_COEFFICIENTS, axis_value  # noqa: E402
from indices.spectral import compute_indices  # noqa: E402

for s in sys.argv[1:]:
    sc, site, cube, base, rule, params, codes = mangrove_baseline(int(s), Path("/work/wt/mang24-cache"))
    rep = mangrove_axis_report(base, rule)
    coef = [float(params.sel(parameter=k)) for k in AXIS_COEFFICIENTS]
    z = axis_value(base, coef).values
    maps = {k: v.compute() for k, v in unpack_evidence(_evidence_maps(base, rule)).items()}
    ix = compute_indices(base, ["ndvi", "mvi"])
    ndvi, mvi = ix["ndvi"].values, ix["mvi"].values
    y, x = base["y"].values, base["x"].values
    i0 = int(round((sc.top - y[0]) / 10 - 0.5))
    j0 = int(round((x[0] - sc.left) / 10 - 0.5))
    ny, nx = mvi.shape
    crop = (slice(i0, i0 + ny), slice(j0, j0 + nx))
    cls, inside = sc.classes[crop], sc.site[crop]
    truth = sc.habitat[0][crop] & inside
    reach = (maps["floor"].values != 0) & (ndvi >= 0.4) & (mvi >= rule.mvi_floor) & inside
    out = {"seed": int(s), "bayes": rep.get("bayes"), "otsu": rep.get("otsu"),
           "used": rep.get("boundary"), "mangrove": np.round(np.nanpercentile(z[truth], [10, 50, 90]), 2).tolist()}
    for c in (ls.OIL_PALM, ls.RUBBER, ls.FOREST, ls.RICE, ls.GRASS):
        m = reach & (cls == c)
        if m.sum() > 50:
            out[ls.CLASS_NAMES[c]] = [int(m.sum())] + np.round(np.nanpercentile(z[m], [10, 50, 90]), 2).tolist()
    for name in ("bayes", "otsu"):
        b = rep.get(name)
        if b is not None and np.isfinite(b):
            out[f"at_{name}"] = [round(float((reach & truth & (z >= b)).sum()) / 100, 1),
                                 round(float((reach & ~truth & (z >= b)).sum()) / 100, 1)]
    out["truth_ha"] = round(truth.sum() / 100, 1)
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in out.items()}), flush=True)
