"""Where a seed's baseline extent error sits, step by step of rule v11 (helper mang32; records).

    PYTHONPATH=$PWD:$PWD/tests nice -n 5 python benchmarks/measured/mang32/diag.py SEED... \
        [--cache /work/wt/mang24-cache] [--json OUT]

On the sweep's cached scene (``benchmarks/scenario_sweep.mangrove_baseline``: baseline
composite, default rule, first pass) and main's evidence: the site's parameters, the final
context (``indices.evidence.mangrove_final_context``) and the baseline composite's score
(``indices.mangrove_rule.mangrove_score``, > 0 mapped). The truth's baseline mangrove
(``sc.habitat[0]`` inside the site) is compared pixel by pixel:

* ``fn``: truth mangrove scored <= 0, each pixel given the FIRST failing step of: not seen
  (NaN), context level 0 with the spectral test passed (``ctx_only``), level 0 and the
  spectral test failed too (``ctx_spec``), connected/tidal with NDVI < 0.4 (``ndvi``), MVI
  above ``mvi_max`` with cover < ndvi_half (``cover``), MVI below the floor 3.0
  (``floor``), the axis's boundary (``axis``, axis read) or the site's MVI threshold
  (``mvi``), flat with NDVI (``flat``), other;
* ``fp``: non-mangrove scored > 0, by truth class and context level;
* the samples the site's threshold is estimated from: shore canopy and unconnected
  vegetation, their MVI quantiles and what the truth says they hold;
* MVI and NDVI quantiles of the truth's mangrove and of each land class the floor rule
  reaches; the extent a plain MVI threshold would give over the floor rule's reach.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))


def q(a, qs=(10, 50, 90)):
    a = a[np.isfinite(a)]
    return [round(float(v), 2) for v in np.percentile(a, qs)] if a.size else None


def diagnose(seed: int, cache: Path) -> dict:
    from scenario_sweep import mangrove_baseline
    from scenarios import landscape as ls

    from indices.context import INTERTIDAL, SHORE
    from indices.evidence import _evidence_maps, mangrove_final_context, unpack_evidence
    from indices.mangrove import water_footprint
    from indices.mangrove_rule import mangrove_score, mangrove_spectral_score
    from indices.spectral import compute_indices

    sc, site, cube, base, rule, params, codes = mangrove_baseline(seed, cache)
    maps = {k: v.compute() for k, v in unpack_evidence(_evidence_maps(base, rule)).items()}
    final = mangrove_final_context(base, rule, params, codes).compute()
    score = mangrove_score(base, rule, final, params).values
    spec = mangrove_spectral_score(base, rule, params).values
    ix = compute_indices(base, ["ndvi", "mvi", "ndwi"])
    ndvi, mvi = ix["ndvi"].values, ix["mvi"].values
    p = {k: float(params.sel(parameter=k)) for k in params["parameter"].values}
    y, x = base["y"].values, base["x"].values
    i0 = int(round((sc.top - y[0]) / 10 - 0.5))
    j0 = int(round((x[0] - sc.left) / 10 - 0.5))
    ny, nx = mvi.shape
    crop = (slice(i0, i0 + ny), slice(j0, j0 + nx))
    cls, inside = sc.classes[crop], sc.site[crop]
    truth = sc.habitat[0][crop] & inside
    level = final.values.astype(np.uint8)
    pub, floor = maps["context"].values.astype(np.uint8), maps["floor"].values.astype(np.uint8)
    mapped = (score > 0) & inside
    fn, fp = truth & ~mapped, mapped & ~truth
    ok_ndvi = ndvi >= rule.ndvi_min
    over = mvi > rule.mvi_max
    half = p["ndvi_half"]
    axis_used = p.get("axis_used", 0) == 1
    reasons = {
        "unseen": np.isnan(score),
        "ctx_only": (level == 0) & (spec > 0),
        "ctx_spec": (level == 0) & ~(spec > 0),
        "flat": level == INTERTIDAL,
        "ndvi": ~ok_ndvi,
        "cover": over & (ndvi < half),
        "floor": ~over & (mvi < rule.mvi_floor),
        "axis" if axis_used else "mvi": ~over & ~(spec > 0),
    }
    left = fn.copy()
    fn_out = {}
    for k, m in reasons.items():
        hit = left & m
        fn_out[k] = int(hit.sum())
        left &= ~hit
    fn_out["other"] = int(left.sum())
    names = ls.CLASS_NAMES
    fp_out = {}
    for c in np.unique(cls[fp]):
        for lv in np.unique(level[fp & (cls == c)]):
            fp_out[f"{names.get(int(c), c)}@{int(lv)}"] = int((fp & (cls == c) & (level == lv)).sum())
    veg = ok_ndvi & (mvi <= rule.mvi_max) & np.isfinite(mvi)
    shore = veg & (maps["shore"].values == SHORE) & ~water_footprint(maps["shore"]).values
    inland = veg & (pub == 0)
    reach = veg & (floor != 0)

    def comp(mask):
        out = {}
        for c in np.unique(cls[mask]):
            out[names.get(int(c), str(c))] = int((mask & (cls == c)).sum())
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    land_codes = (ls.OIL_PALM, ls.RUBBER, ls.FOREST, ls.RICE, ls.GRASS, ls.SHRUB, ls.URBAN)
    land_q = {names[c]: {"n_reach": int((reach & (cls == c) & inside).sum()),
                         "mvi": q(mvi[(cls == c) & inside & veg])}
              for c in land_codes if ((cls == c) & inside).any()}
    # a plain MVI threshold over the floor rule's reach (context of the floor rule), NDVI >= 0.4
    sweep = {}
    for t in (3.0, 3.5, 4.0, 4.5, p["mvi_min"]):
        sel = reach & inside & (mvi >= t)
        sweep[f"{t:.2f}"] = [round((sel & truth).sum() / 100, 1), round((sel & ~truth).sum() / 100, 1)]
    keys = ("mvi_min", "mvi_scene", "estimated", "mvi_method", "shore_mvi", "inland_mvi_q90",
            "n_shore", "n_inland", "ndvi_half", "axis_used", "axis_boundary", "axis_closed_share",
            "mvi_tolerance_share")
    return {
        "seed": seed, "params": {k: round(p[k], 3) for k in keys if k in p},
        "truth_ha": round(truth.sum() / 100, 1), "mapped_ha": round(mapped.sum() / 100, 1),
        "tp_ha": round((truth & mapped).sum() / 100, 1), "fn_ha": round(fn.sum() / 100, 1),
        "fp_ha": round(fp.sum() / 100, 1), "fn_px": fn_out,
        "fp_px": dict(sorted(fp_out.items(), key=lambda kv: -kv[1])),
        "truth_levels": {str(lv): int((truth & (level == lv)).sum()) for lv in np.unique(level[truth])},
        "truth_pub_level0": int((truth & (pub == 0)).sum()),
        "truth_floor_level0": int((truth & (floor == 0)).sum()),
        "truth_mvi": q(mvi[truth]), "truth_ndvi": q(ndvi[truth]),
        "fn_mvi": q(mvi[fn]), "fn_ndvi": q(ndvi[fn]),
        "shore": {"n": int(shore.sum()), "mvi": q(mvi[shore]), "is": comp(shore & inside)},
        "inland": {"n": int(inland.sum()), "mvi": q(mvi[inland]), "is": comp(inland & inside)},
        "land": land_q, "mvi_sweep_reach_ha": sweep,
        "scene": {k: (round(v, 3) if isinstance(v, float) else v)
                  for k, v in sc.params.items() if isinstance(v, (int, float, str))},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("seeds", type=int, nargs="+")
    ap.add_argument("--cache", type=Path, default=Path("/work/wt/mang24-cache"))
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    for s in a.seeds:
        rec = diagnose(s, a.cache)
        print(json.dumps(rec), flush=True)
        if a.json:
            with a.json.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
