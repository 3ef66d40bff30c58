"""Does a Fisher discriminant axis separate a site's mangrove stand from the land vegetation
its mangrove context reaches, where MVI alone does not? (helper mang24, diagnosis only)

    PYTHONPATH=$PWD python benchmarks/mangrove_lda_diagnosis.py SEED... [--cache DIR] [--json OUT]

On a scenario's baseline composite (the sweep's scenes, ``benchmarks/scenario_sweep.py``) and
main's evidence (``indices.evidence.mangrove_first_pass``):

* features per vegetated pixel: log B02 B03 B04 B08 B11 B12 (``log6``), or MVI, NDVI, NDMI
  (B08-B11)/(B08+B11), log B11/B12, log B04 (``idx5``);
* (a) UPPER BOUND: Fisher's linear discriminant (Fisher 1936, Ann. Eugen. 7:179-188; pooled
  within-class covariance) trained on the truth's stable stand vs the truth's land vegetation
  that the floor rule reaches (``reach``: connected at MVI 3.0): AUC along the axis, and the
  best achievable extent error from a threshold on it;
* (b) the rule's own samples: the shore canopy (``shore == SHORE`` without the SWIR footprint,
  vegetation) vs the vegetation the published rule left unconnected (context level 0): their
  axis; AUC of the truth's stand vs reached land vegetation on it; a Bayes boundary on the
  reached vegetation's projected histogram like :func:`indices.mangrove.scene_threshold`
  (shore shape scaled above its median); extent / truth of reached vegetation above it.
* MVI alone for comparison (AUC of the same two truth groups).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

KINDS = ("log6", "idx5", "log4")
BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")


def fisher(xa, xb):
    """Fisher's axis w = Sw^-1 (mu_a - mu_b), oriented so class a is high."""
    ma, mb = xa.mean(0), xb.mean(0)
    sw = np.cov(xa, rowvar=False) * (len(xa) - 1) + np.cov(xb, rowvar=False) * (len(xb) - 1)
    sw /= len(xa) + len(xb) - 2
    w = np.linalg.solve(sw + 1e-9 * np.eye(len(ma)), ma - mb)
    return w / np.linalg.norm(w)


def features(b, kind):
    f = {k: np.maximum(b[k], 1e-4) for k in BANDS}
    if kind == "log6":
        return np.stack([np.log(f[k]) for k in BANDS], -1)
    if kind == "log4":  # the bands a mangrove month loads (indices.summary.MONTH_BANDS)
        return np.stack([np.log(f[k]) for k in ("B03", "B04", "B08", "B11")], -1)
    mvi = (f["B08"] - f["B03"]) / (f["B11"] - f["B03"])
    ndvi = (f["B08"] - f["B04"]) / (f["B08"] + f["B04"])
    ndmi = (f["B08"] - f["B11"]) / (f["B08"] + f["B11"])
    return np.stack([np.log(np.clip(mvi, 0.5, 32)), ndvi, ndmi, np.log(f["B11"] / f["B12"]),
                     np.log(f["B04"])], -1)


def bayes_extent(score_shore, score_reach, truth_n, stand_r, land_r, bins=256):
    """Bayes boundary on the projected reach histogram (shore shape scaled above its median):
    first bin below the shore median where 'rest' is more frequent."""
    lo, hi = np.percentile(np.concatenate([score_shore, score_reach]), [0.1, 99.9])
    edges = np.linspace(lo, hi, bins + 1)
    mid = 0.5 * (edges[1:] + edges[:-1])
    hs = np.histogram(np.clip(score_shore, lo, hi), edges)[0].astype(float)
    hv = np.histogram(np.clip(score_reach, lo, hi), edges)[0].astype(float)
    shape = hs / hs.sum()
    med = np.median(score_shore)
    up = mid >= med
    scale = hv[up].sum() / max(shape[up].sum(), 1e-12)
    sm = np.array([1, 2, 3, 2, 1]) / 9
    man = np.convolve(scale * shape, sm, "same")
    rest = np.convolve(np.maximum(hv - scale * shape, 0), sm, "same")
    i = int(np.searchsorted(mid, med))
    while i > 0 and man[i - 1] > rest[i - 1]:
        i -= 1
    out = {}
    from indices.mangrove import otsu_split
    o = otsu_split(hv)
    for name, j in (("bayes", i), ("otsu", o), ("lower", min(i, o))):
        t = edges[j]
        out[name] = [round(float((score_reach >= t).sum()) / truth_n, 2),
                     round(float((stand_r >= t).sum()) / truth_n, 2),
                     round(float((land_r >= t).sum()) / truth_n, 2)]
    return out
    return float(t), [round(float((score_reach >= t).sum()) / truth_n, 2),
                      round(float((stand_r >= t).sum()) / truth_n, 2),
                      round(float((land_r >= t).sum()) / truth_n, 2)]


def best_extent(s_stand, s_land, truth_n):
    """Over thresholds: the one whose (stand kept + land taken) / truth is nearest 1, and the
    kept / taken there."""
    ts = np.percentile(np.concatenate([s_stand, s_land]), np.linspace(0, 100, 401))
    best = None
    for t in ts:
        k, ld = (s_stand >= t).sum() / truth_n, (s_land >= t).sum() / truth_n
        err = abs(k + ld - 1) + (0 if k >= 0.9 else 1)
        if best is None or err < best[0]:
            best = (err, round(k + ld, 2), round(k, 2), round(ld, 2))
    return best[1:]


def diagnose(seed, cache):
    from scenario_sweep import auc, mangrove_baseline
    from scenarios import landscape as ls

    from indices.context import SHORE
    from indices.evidence import _evidence_maps, unpack_evidence
    from indices.mangrove import water_footprint
    from indices.spectral import compute_indices

    land_veg = (ls.OIL_PALM, ls.RUBBER, ls.FOREST, ls.RICE, ls.GRASS, ls.SHRUB)
    sc, site, cube, base, rule, params, codes = mangrove_baseline(seed, cache)
    maps = {k: v.compute() for k, v in unpack_evidence(_evidence_maps(base, rule)).items()}
    ix = compute_indices(base, ["ndvi", "mvi"])
    ndvi, mvi = ix["ndvi"].values, ix["mvi"].values
    veg = (ndvi >= rule.ndvi_min) & (mvi <= rule.mvi_max) & np.isfinite(mvi)
    shore = veg & (maps["shore"].values == SHORE) & ~water_footprint(maps["shore"]).values
    inland = veg & (maps["context"].values.astype(np.uint8) == 0)
    reach = veg & (maps["floor"].values.astype(np.uint8) != 0)
    y, x = base["y"].values, base["x"].values
    i0 = int(round((sc.top - y[0]) / 10 - 0.5))
    j0 = int(round((x[0] - sc.left) / 10 - 0.5))
    ny, nx = mvi.shape
    crop = (slice(i0, i0 + ny), slice(j0, j0 + nx))
    cls, inside = sc.classes[crop], sc.site[crop]
    habitat = sc.habitat[:, crop[0], crop[1]]
    stand = habitat[0] & habitat.all(0) & inside
    land = np.isin(cls, land_veg) & inside & ~habitat.any(0)
    truth_n = int((habitat[0] & inside).sum())
    b = {k: base[k].values.astype(float) for k in BANDS}
    rec = {"seed": seed, "mvi_min": round(float(params.sel(parameter="mvi_min")), 2),
           "estimated": int(params.sel(parameter="estimated")), "truth_px": truth_n,
           "n": {"stand_reach": int((stand & reach).sum()), "land_reach": int((land & reach).sum()),
                 "shore": int(shore.sum()), "inland": int(inland.sum()),
                 "shore_is_stand": round(float((stand & shore).sum() / max(shore.sum(), 1)), 2),
                 "inland_is_land": round(float((land & inland).sum() / max(inland.sum(), 1)), 2)}}
    ms, ml = mvi[stand & reach], mvi[land & reach]
    rec["mvi_auc"] = round(auc(ms, ml), 3)
    rec["mvi_best"] = best_extent(ms, ml, truth_n)
    for kind in KINDS:
        F = features(b, kind)
        ok = np.isfinite(F).all(-1)
        fs, fl = F[stand & reach & ok], F[land & reach & ok]
        w = fisher(fs, fl)
        out = {"upper_auc": round(auc(fs @ w, fl @ w), 3),
               "upper_best": best_extent(fs @ w, fl @ w, truth_n),
               "upper_w": [round(float(v), 2) for v in w]}
        fsh, fin = F[shore & ok], F[inland & ok]
        w2 = fisher(fsh, fin)
        out["rule_w"] = [round(float(v), 2) for v in w2]
        out["rule_auc_samples"] = round(auc(fsh @ w2, fin @ w2), 3)
        out["rule_auc_truth"] = round(auc(fs @ w2, fl @ w2), 3)
        out["rule_best"] = best_extent(fs @ w2, fl @ w2, truth_n)
        out.update(bayes_extent(fsh @ w2, F[reach & ok] @ w2, truth_n, fs @ w2, fl @ w2))
        out["cos_upper_rule"] = round(float(w @ w2), 2)
        rec[kind] = out
    return rec


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("seeds", type=int, nargs="+")
    p.add_argument("--cache", type=Path, default=Path("/work/wt/mang23-cache"))
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    for s in a.seeds:
        rec = diagnose(s, a.cache)
        print(json.dumps(rec), flush=True)
        if a.json:
            with a.json.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
