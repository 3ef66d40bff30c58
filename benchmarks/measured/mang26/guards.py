"""Candidate guards for rule v8's discriminant axis (helper mang26, measurement only).

    PYTHONPATH=$PWD:$PWD/benchmarks:$PWD/tests python benchmarks/measured/mang26/guards.py \
        [real] [SEED...] --out FILE.jsonl

For a baseline composite: the axis as v8 computes it (indices.mangrove), its split
(axis_report), and per guard the value: (1) the admitted stand's median MVI (shore canopy
with z above the boundary; where v8 set none, the boundary the axis would use without the
three-quarters rule: the lower of Bayes' and Otsu's), (2) Mahalanobis D^2 of the two
samples, (3) the shore canopy's median NDVI, (4) the shore canopy's median MVI and the
admitted stand's median NDVI and share of NDVI >= 0.7.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import dask
import numpy as np
import xarray as xr

from indices.evidence import _evidence_maps, mangrove_first_pass, unpack_evidence
from indices.habitat import RULES
from indices.mangrove import MANGROVE_PARAMETERS, _samples, axis_report
from indices.mangrove_axis import axis_coefficients, axis_value, moments
from indices.spectral import compute_indices

RULE = RULES["mangrove"]


def guards(base: xr.Dataset) -> dict:
    params, _ = mangrove_first_pass(base, RULE)
    p = dict(zip(MANGROVE_PARAMETERS, np.asarray(params.compute()).tolist(), strict=True))
    maps = {k: v.compute() for k, v in unpack_evidence(_evidence_maps(base, RULE)).items()}
    reach = maps["floor"] if RULE.scene_threshold else None
    rep = axis_report(base, RULE, maps["context"], maps["shore"], reach)
    ix = compute_indices(base, ["ndvi", "ndwi", "mvi"])
    samples = _samples(ix, RULE, maps["context"].astype(np.uint8), maps["shore"], reach)
    shore_s, inland_s = (s.values for s in (samples[0], samples[2]))
    sm, im = (np.asarray(m, np.int64) for m in dask.compute(
        moments(samples[0], base), moments(samples[2], base)))
    coef = axis_coefficients(sm, im, RULE.min_sample_px)
    z = axis_value(base, coef).values if np.isfinite(coef).all() else np.full(shore_s.shape, np.nan)
    ndvi, mvi = ix["ndvi"].values, ix["mvi"].values
    if p["axis_used"] == 1:
        b = p["axis_boundary"]
    else:
        cands = [rep.get(k, np.nan) for k in ("bayes", "otsu")]
        cands = [c for c in cands if np.isfinite(c)]
        b = min(cands) if cands else np.nan
    adm = shore_s & (z > b) if np.isfinite(b) else np.zeros_like(shore_s)
    med = lambda a: float(np.median(a)) if a.size else np.nan  # noqa: E731
    return {"axis_used": p["axis_used"], "mvi_min": p["mvi_min"], "estimated": p["estimated"],
            "n_shore": int(shore_s.sum()), "n_inland": int(inland_s.sum()),
            "z_median": rep.get("median"), "inland_p90": rep.get("inland_p90"),
            "above_bayes": rep.get("above_bayes"), "above_otsu": rep.get("above_otsu"),
            "boundary_used_or_wouldbe": b, "n_admitted": int(adm.sum()),
            "g1_admitted_mvi_median": med(mvi[adm]), "g2_d2": rep.get("d2"),
            "g3_shore_ndvi_median": med(ndvi[shore_s]),
            "g4a_shore_mvi_median": med(mvi[shore_s]),
            "g4b_admitted_ndvi_median": med(ndvi[adm]),
            "g4c_admitted_ndvi_ge07_share": float((ndvi[adm] >= 0.7).mean()) if adm.any()
            else np.nan,
            "g4d_shore_ndvi_ge07_share": float((ndvi[shore_s] >= 0.7).mean())}


def real_bases():
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
    import test_realdata_mangrove as t
    from conftest import REALDATA
    out = {}
    for name, fx in (("wales", t.wales), ("ireland", t.ireland)):
        cube = fx.__wrapped__(REALDATA)
        refl = xr.Dataset({b: ((cube[b].astype(np.float32) + cube["boa_offset"]) / 1e4)
                           .clip(min=0).where(cube["SCL"].isin((2, 4, 5, 6, 7)) & (cube[b] > 0))
                           for b in ("B02", "B03", "B04", "B08", "B11", "B12")}).isel(time=0)
        ndwi = compute_indices(refl, ["ndwi"])["ndwi"]
        n_clear = (ndwi.notnull() * RULE.min_views).astype(np.int16)
        out[name] = refl.assign(n_clear=n_clear,
                                n_wet=xr.where(ndwi > 0, n_clear, 0).astype(np.int16))
    return out


def seed_base(seed: int, cache: Path):
    from scenario_sweep import MONTHS, SIZE, scenario

    from aoi import load_sites
    from flows.sources import get_source
    from indices.evidence import baseline_composite
    sc = scenario(seed, "mangrove", SIZE, MONTHS, cache)
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    return baseline_composite(cube, "mangrove",
                              (site.baseline_start, site.baseline_end)).compute()


def main(argv):
    out = Path(argv[argv.index("--out") + 1])
    args = [a for a in argv if a not in ("--out", str(out))]
    cache = Path("/work/wt/mang24-cache")
    with out.open("a") as f:
        for a in args:
            t0 = time.perf_counter()
            if a == "real":
                for name, base in real_bases().items():
                    rec = {"case": name, **guards(base), "s": time.perf_counter() - t0}
                    f.write(json.dumps(rec) + "\n")
                    f.flush()
                    print(rec, flush=True)
                continue
            rec = {"case": int(a), **guards(seed_base(int(a), cache)),
                   "s": time.perf_counter() - t0}
            f.write(json.dumps(rec) + "\n")
            f.flush()
            print(rec, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
