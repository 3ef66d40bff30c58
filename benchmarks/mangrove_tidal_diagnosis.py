"""Does the canopy's tidal signal tell the mangrove from the terrestrial vegetation connected to
it? A diagnosis on the independent generator's seeds (issue 17, extent failures), not a rule.

    PYTHONPATH=<tree>:<tree>/tests python benchmarks/mangrove_tidal_diagnosis.py <seed> [...] \\
        [--cache DIR] [--thresholds] [--index lnir|ndvi] [--json OUT]

The literature's multi-tide evidence: a mangrove canopy is periodically submerged, so its
reflectance changes between high- and low-tide views while terrestrial vegetation never floods
(Xia, Qin, Li, Huang & Su 2018, "Mapping mangrove forests based on multi-tidal high-resolution
satellite imagery", Remote Sens. 10(9):1343, doi:10.3390/rs10091343: the submerged mangrove
recognition index, SMRI, from the high- and low-tide difference; "An improved submerged
mangrove recognition index-based method ...", Remote Sens. 2022, 14(13):3112,
doi:10.3390/rs14133112, whose authors the stored copy does not show; Jia et al. 2019, Remote
Sens. 11(17):2043, doi:10.3390/rs11172043: the same problem from a single tide). How often a
stand floods depends on its height in the tidal frame: the landward mangrove is flooded by the
highest tides only (Watson's inundation classes, 1928; Friess 2017, Wetlands 37:603-613,
"J.G. Watson, inundation classes, and their influence on paradigms in mangrove forest
ecology").

The tide of each view is not known; it is estimated from the scene, as the share of the coast's
intertidal ground seen wet (NDWI > 0) among its clear pixels in that view (views that see less
than a fifth of it are left out): the coast's water and flat of the pipeline's baseline evidence
(:func:`indices.coast_maps.coast_codes` 2 and 3; inland paddies and ponds are not among them)
seen both wet and dry in the series (Murray et al. 2012, Remote Sens. 4:3417).

Per pixel and clear view, the canopy's value is log NIR (``--index ndvi``: NDVI; a submerged
floor mixes water into the canopy's NIR: the generator's, ``tests/scenarios/render.py``, mixes
up to 30 % of water reflectance at 6 m depth) minus the view's median of it over the site's
vegetation never seen wet in the series (baseline NDVI > 0.6): the view's gain, haze and
season removed. Per pixel: ``slope``, the least-squares slope of that anomaly against the
view's tide share, sign flipped (a drop at high tide is positive); ``drop``, its median in the
lowest-tide third of the views minus the highest-tide third. Both over the baseline's views
and over all the series' views (a canopy's height in the tidal frame does not change).

One block a seed: the views and tide shares; the truth's mangrove by height in the tidal frame
(h / tidal range); main's baseline map (``score > 0`` on the baseline composite with the site's
evidence) split into true mangrove (TP), missed mangrove (FN), terrestrial vegetation taken
(FP land); the mangrove within 10 px of that FP land (the boundary a tidal test would have to
draw); AUC of TP vs each (0.5: no separation); an oracle with the generator's heights and
tides (:func:`true_tides`): the share of each group seen in at least one clear view with its
floor under 0.1 m of water or more, and the rank correlation of the tide share with the tide. ``--thresholds``: main's rule with the site threshold forced to each MVI of a grid,
the baseline extent over the truth (what ANY threshold the Otsu/Bayes step could estimate
gives)."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage

THRESHOLDS = (3.0, 3.25, 3.5, 3.75, 4.0, 4.25, 4.5, 4.75, 5.0, 5.5)
"""MVI thresholds of ``--thresholds``."""
HEIGHT_BANDS = ((0.2, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.1))
"""Bands of the truth's height over the tidal range (mangrove lies in 0.25-1.05)."""


def quartiles(a: np.ndarray) -> list:
    """10th, 50th, 90th percentiles (rounded), [] when empty."""
    a = a[np.isfinite(a)]
    return [round(float(v), 3) for v in np.percentile(a, (10, 50, 90))] if a.size else []


def per_pixel(val: np.ndarray, share: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(slope, drop, n_high)`` of the anomaly ``val`` (t, y, x; NaN not clear) against the
    views' tide ``share`` (t,): module doc; ``n_high`` the clear views in the top third."""
    hi = share >= np.percentile(share, 200 / 3)
    lo = share <= np.percentile(share, 100 / 3)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # all-NaN pixels (never clear in a third)
        drop = np.nanmedian(val[lo], 0) - np.nanmedian(val[hi], 0)
        s = np.where(np.isfinite(val), share[:, None, None], np.nan)
        ds = s - np.nanmean(s, 0)
        var = np.nansum(ds ** 2, 0)
        slope = -np.nansum(ds * (val - np.nanmean(val, 0)), 0) / np.where(var > 0, var, np.nan)
    return slope, drop, (np.isfinite(val) & hi[:, None, None]).sum(0)


def true_tides(seed: int, size: int, n_months: int, n_scenes: int, tidal: float) -> np.ndarray:
    """The generator's tide of each scene (m above the lowest tide), replaying its scene draws
    (``tests/scenarios/scenario.py``, ``make_scenario``'s defaults: baseline 6 months, a second
    scene a month with probability 0.25): for the oracle only; checked against the number of
    scenes."""
    from scenarios.scenario import _site_polygon

    r_scenes = np.random.default_rng(np.random.SeedSequence([seed, 0]).spawn(6)[4])
    size = int(np.ceil(size / 6) * 6)
    r_scenes.integers(6, 11)
    _site_polygon(r_scenes, size, 0.0, 0.0)
    tides = []
    for _ in range(n_months):
        n = 1 + int(r_scenes.random() < 0.25)
        r_scenes.choice(np.arange(1, 29), size=n, replace=False)
        for _ in range(n):
            r_scenes.integers(0, 60)
            tides.append(float(r_scenes.uniform(0, tidal)))
            if r_scenes.random() < 0.4:
                r_scenes.uniform(0.002, 0.03)
            if not r_scenes.random() < 0.2:
                r_scenes.uniform(0.03, 0.7)
            r_scenes.random(), r_scenes.random(), r_scenes.random()
            r_scenes.integers(2**31)
    if len(tides) != n_scenes:
        raise RuntimeError(f"replayed {len(tides)} scenes, the catalog has {n_scenes}")
    return np.array(tides)


def diagnose(seed: int, cache: Path, thresholds: bool = False, index: str = "lnir") -> dict:
    """One seed's figures (module doc); ``index`` the canopy's value: ``lnir`` log NIR, or
    ``ndvi`` (the SMRI's high- and low-tide difference is one of NDVI-like indices)."""
    from scenario_sweep import MONTHS, SIZE, auc, mangrove_baseline
    from scenarios import landscape as ls

    from indices.evidence import mangrove_final_context
    from indices.mangrove_rule import mangrove_score
    from indices.masks import VALID_SCL

    land_veg = (ls.OIL_PALM, ls.RUBBER, ls.FOREST, ls.RICE, ls.GRASS, ls.SHRUB)
    sc, site, cube, base, rule, params, codes = mangrove_baseline(seed, cache)
    codes = codes.compute()
    context = mangrove_final_context(base, rule, params, codes)
    mapped = (mangrove_score(base, rule, context, params) > 0).values
    cube = cube.compute()
    g, r, n = (cube[b].values.astype(float) for b in ("B03", "B04", "B08"))
    clear = np.isin(cube["SCL"].values, VALID_SCL) & (g > 0) & (n > 0)
    wet = clear & (g > n)
    times = cube["time"].values
    inbase = times < np.datetime64(site.baseline_end) + np.timedelta64(1, "D")
    # the coast's intertidal ground over the whole series: its water and flat (codes 2, 3 of
    # the baseline's evidence: inland paddies and ponds are not among them) seen both wet and
    # dry in the series' clear views (the baseline's flat alone can be a few pixels)
    flat = (np.isin(codes.values, (2, 3)) & (wet.sum(0) >= 1)
            & ((clear & ~wet).sum(0) >= 1))
    seen = (clear & flat).sum((1, 2))
    share = (wet & flat).sum((1, 2)) / np.maximum(seen, 1)
    judged = seen >= max(50, 0.2 * flat.sum())  # views that see a fifth of the flat
    ndvi = ((base["B08"] - base["B04"]) / (base["B08"] + base["B04"])).values
    reference = (wet.sum(0) == 0) & (ndvi > 0.6)
    if index == "ndvi":
        value = np.where(clear, (n - r) / np.maximum(n + r, 1e-6), np.nan)
    else:
        value = np.where(clear, np.log(np.maximum(n, 1e-4)), np.nan)
    ref = np.array([np.nanmedian(value[t][reference & clear[t]])
                    if (reference & clear[t]).sum() > 50 else np.nan for t in range(len(times))])
    anomaly = value - ref[:, None, None]
    # the truth on the composite's grid
    y, x = base["y"].values, base["x"].values
    i0 = int(round((sc.top - y[0]) / 10 - 0.5))
    j0 = int(round((x[0] - sc.left) / 10 - 0.5))
    ny, nx = mapped.shape
    tr = float(sc.params["tidal_range_m"])
    crop = (slice(i0, i0 + ny), slice(j0, j0 + nx))
    cls, height, inside = sc.classes[crop], sc.height[crop], sc.site[crop]
    habitat = sc.habitat[:, crop[0], crop[1]]
    mangrove = habitat[0] & habitat.all(0) & inside  # stable mangrove
    veg_land = np.isin(cls, land_veg) & inside & ~habitat.any(0)
    groups = {"TP": mangrove & mapped, "FN": mangrove & ~mapped, "FP_land": veg_land & mapped,
              "land_not_mapped": veg_land & ~mapped}
    groups["mangrove_near_FP_land"] = mangrove & ndimage.binary_dilation(groups["FP_land"],
                                                                          iterations=10)
    for lo, hi in HEIGHT_BANDS:
        groups[f"mangrove_h{lo:.1f}-{hi:.1f}"] = mangrove & (height >= lo * tr) & (height < hi * tr)
    # oracle: the generator's tide of each view (the share saturates at 1 once the flat is
    # covered: it cannot rank the tides that reach the forest)
    tide = true_tides(seed, SIZE, MONTHS, len(times), tr)
    rec = {"seed": seed, "index": index, "tidal_range_m": round(tr, 2), "views": int(len(times)),
           "baseline_views": int(inbase.sum()), "flat_px": int(flat.sum()),
           "judged_views": [int((inbase & judged).sum()), int(judged.sum())],
           "share": [round(float(s), 2) for s in share],
           "tide_over_range": [round(float(t) / tr, 2) for t in tide],
           "share_tide_spearman": round(float(np.corrcoef(
               np.argsort(np.argsort(share[judged])), np.argsort(np.argsort(tide[judged])))[0, 1]),
               2),
           "truth_px": int((habitat[0] & inside).sum()), "mapped_px": int((mapped & inside).sum()),
           "mvi_min": round(float(params.sel(parameter="mvi_min")), 2),
           "estimated": int(params.sel(parameter="estimated")),
           "mvi_scene": round(float(params.sel(parameter="mvi_scene")), 2),
           "mvi_method": int(params.sel(parameter="mvi_method"))}
    seaward = mangrove & (height < 0.5 * tr)
    for label, sel in (("baseline", inbase & judged), ("all", judged)):
        slope, drop, n_high = per_pixel(anomaly[sel], share[sel])
        under = (clear[sel] & (tide[sel, None, None] > height[None] + 0.1)).sum(0)
        part = {"high_tide_views": int((share[sel] >= np.percentile(share[sel], 200 / 3)).sum()),
                "n_high_median_mangrove": float(np.median(n_high[mangrove])),
                "flooded_once": {k: round(float((under[m] >= 1).mean()), 2)
                                 for k, m in groups.items()
                                 if m.any() and k not in ("FP_land", "land_not_mapped")},
                "slope": {k: quartiles(slope[m]) for k, m in groups.items()},
                "drop": {k: quartiles(drop[m]) for k, m in groups.items()},
                "auc_slope": {k: round(auc(slope[groups["TP"]], slope[groups[k]]), 2)
                              for k in ("FN", "FP_land", "mangrove_near_FP_land")},
                "auc_slope_near": round(auc(slope[groups["mangrove_near_FP_land"]],
                                            slope[groups["FP_land"]]), 2),
                # how many clear high-tide views the seaward stand (h < 0.5 of the range,
                # flooded in most) needs to stand out from the land vegetation main takes
                "auc_seaward_by_high_views": {
                    str(k): [round(auc(slope[seaward & (np.minimum(n_high, 4) == k)],
                                       slope[groups["FP_land"]]), 2),
                             int((seaward & (np.minimum(n_high, 4) == k)).sum())]
                    for k in (0, 1, 2, 3, 4)}}
        part["px"] = {k: int(m.sum()) for k, m in groups.items()}
        rec[label] = part
    if thresholds:
        truth = max(int((habitat[0] & inside).sum()), 1)
        rec["forced"] = {}
        for t in THRESHOLDS:
            p = params.copy()
            p.loc[{"parameter": "mvi_min"}] = t
            p.loc[{"parameter": "mvi_tolerance_share"}] = rule.mvi_tolerance_share
            ctx = mangrove_final_context(base, rule, p, codes)
            m = (mangrove_score(base, rule, ctx, p) > 0).values & inside
            rec["forced"][str(t)] = [round(m.sum() / truth, 2),
                                     round((m & habitat[0]).sum() / truth, 2),
                                     round((m & np.isin(cls, land_veg)).sum() / truth, 2)]
    return rec


def summary(rec: dict) -> str:
    """A few lines of ``rec`` for reading."""
    out = [f"seed {rec['seed']}: tidal range {rec['tidal_range_m']} m, {rec['views']} views "
           f"({rec['baseline_views']} baseline; seeing the flat {rec['judged_views']}), share-tide "
           f"rank correlation {rec['share_tide_spearman']}, flat {rec['flat_px']} px; truth "
           f"{rec['truth_px']} px, main {rec['mapped_px']} px (MVI {rec['mvi_min']}, state "
           f"{rec['estimated']}, boundary {rec['mvi_scene']} method {rec['mvi_method']})"]
    for label in ("baseline", "all"):
        p = rec[label]
        out.append(f"  [{label}] high-tide views {p['high_tide_views']} (clear over the mangrove:"
                   f" {p['n_high_median_mangrove']:.0f}); AUC slope TP vs FN "
                   f"{p['auc_slope']['FN']}, vs FP land {p['auc_slope']['FP_land']}; mangrove "
                   f"near FP land vs FP land {p['auc_slope_near']}; seaward stand vs FP land by "
                   f"clear high-tide views (AUC, px) {p['auc_seaward_by_high_views']}")
        for k, q in p["slope"].items():
            flooded = p["flooded_once"].get(k)
            out.append(f"    {k:24s} {p['px'][k]:6d} px  slope {q}"
                       + (f"  floor flooded >= 0.1 m once: {flooded}" if flooded is not None
                          else ""))
    if "forced" in rec:
        out.append("  forced MVI threshold -> extent / truth (mangrove kept, land veg taken): "
                   + "; ".join(f"{t}: {v[0]} ({v[1]}, {v[2]})" for t, v in rec["forced"].items()))
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("seeds", type=int, nargs="+")
    p.add_argument("--cache", type=Path, default=Path("/tmp/scenario-cache"))
    p.add_argument("--thresholds", action="store_true")
    p.add_argument("--json", type=Path, help="append one JSON line a seed")
    p.add_argument("--index", choices=("lnir", "ndvi"), default="lnir",
                   help="the canopy's value regressed on the tide share")
    a = p.parse_args(argv)
    for seed in a.seeds:
        rec = diagnose(seed, a.cache, a.thresholds, a.index)
        print(summary(rec), flush=True)
        if a.json:
            with a.json.open("a") as f:
                f.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
