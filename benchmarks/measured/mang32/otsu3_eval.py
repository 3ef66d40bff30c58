"""Offline: the axis's boundary candidates on a site's own histograms (helper mang32), main's
(the lower kept of Bayes and two-class Otsu) against the three-class Otsu's upper split, and
the baseline composite's truth kept / land taken (ha) above each, over the floor rule's
reached vegetation with MVI >= the floor (approximates the map: no context re-run).
    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/mang32/otsu3_eval.py SEED..."""
import json
import sys
from pathlib import Path

import dask
import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from scenario_sweep import mangrove_baseline  # noqa: E402

import indices.mangrove as M  # noqa: E402
from indices.evidence import _evidence_maps, unpack_evidence  # noqa: E402
from indices.mangrove_axis import AXIS_RANGE, axis_value, closed_share  # noqa: E402
from indices.spectral import compute_indices  # noqa: E402
from indices.splits import bayes_split, otsu3_split, otsu_split  # noqa: E402

for s in sys.argv[1:]:
    sc, site, cube, base, rule, params, codes = mangrove_baseline(int(s), Path("/work/wt/mang24-cache"))
    maps = {k: v.compute() for k, v in unpack_evidence(_evidence_maps(base, rule)).items()}
    ix = compute_indices(base, ["ndvi", "ndwi", "mvi"])
    samples = M._samples(ix, rule, maps["context"].astype(np.uint8), maps["shore"], maps["floor"])
    coef, hs, hv, hi, counts = (np.asarray(h, np.float64) for h in
                                dask.compute(*M._axis_parts(base, samples, rule, ix["ndvi"])))
    rec = {"seed": int(s), "axis_used": float(params.sel(parameter="axis_used")),
           "closed": round(closed_share(counts), 3)}
    if np.isfinite(coef).all():
        edges = np.linspace(np.log(AXIS_RANGE[0]), np.log(AXIS_RANGE[1]), hs.size + 1)
        med = int(np.searchsorted(np.cumsum(hs), 0.5 * hs.sum()))
        bayes, shape = bayes_split(hs, hv, med)
        o2, o3 = otsu_split(hv), otsu3_split(hv)
        z = axis_value(base, list(coef)).values
        ndvi, mvi = ix["ndvi"].values, ix["mvi"].values
        y, x = base["y"].values, base["x"].values
        i0 = int(round((sc.top - y[0]) / 10 - 0.5))
        j0 = int(round((x[0] - sc.left) / 10 - 0.5))
        crop = (slice(i0, i0 + mvi.shape[0]), slice(j0, j0 + mvi.shape[1]))
        inside = sc.site[crop]
        truth = sc.habitat[0][crop] & inside
        reach = (maps["floor"].values != 0) & (ndvi >= 0.4) & (mvi >= rule.mvi_floor) & inside
        rec["truth_ha"] = round(truth.sum() / 100, 1)
        for name, b in (("bayes", bayes), ("otsu", o2), ("otsu3_lo", o3[0] if o3 else None),
                        ("otsu3_hi", o3[1] if o3 else None)):
            if b is None:
                continue
            t = edges[b]
            rec[name] = [round(float(t), 3), round(float(shape[b:].sum()), 3),
                         round(float((reach & truth & (z >= t)).sum()) / 100, 1),
                         round(float((reach & ~truth & (z >= t)).sum()) / 100, 1)]
    print(json.dumps(rec), flush=True)
