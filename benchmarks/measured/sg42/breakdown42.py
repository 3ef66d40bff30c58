# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg42: where rule v6's baseline extent goes wrong on a seed, pixel by pixel against the
generator's truth (diagnosis only: the truth is used to score, never in the rule).

Per seed (scenes of CACHE, the current tree's code): the baseline composite, the site's
evidence (water, place map), the baseline score with and without the place map. The truth
meadow counted is the generator's baseline meadow on the water it calls assessable
(depth <= z_vis). Missed meadow and false meadow (ha) are split by what judged the pixel:

  miss_gate   gate judged it, called sand        fals_gate   gate called it meadow
  miss_place  place term judged it, called sand  fals_place  place term called it meadow
  miss_land   called land (NDWI)                 fals_deep   true meadow beyond z_vis
  miss_noq    not assessed, site map empty (q<1 or none)
  miss_reach  not assessed, map elsewhere but not here
  miss_maphere not assessed though the map holds here (below the map's noise test)

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg42/breakdown42.py CACHE OUT.jsonl SEEDS [v6]

(breakdown-dev80.jsonl was made before the v7 commit, with v6's code; with v7's code pass v6.)
"""
import json, pickle, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, "benchmarks")
import scenario_sweep as sw
from aoi import load_sites
from flows.sources import get_source
from indices.evidence import baseline_composite, site_evidence
from indices.habitat import RULES
from indices.rules import CONTEXT_SCORE
from indices.seagrass_rule import seagrass_score, bottom_signals

import dataclasses
rule = RULES["seagrass"]
if len(sys.argv) > 4 and sys.argv[4] == "v6" and hasattr(rule, "place_green"):
    rule = dataclasses.replace(rule, place_green=False)  # rule v6: no green place term (sg42)
cache, out = Path(sys.argv[1]), Path(sys.argv[2])
with out.open("a") as fh:
    for seed in sw.parse_seeds(sys.argv[3]):
        sc = sw.scenario(seed, "seagrass", sw.SIZE, sw.MONTHS, cache)
        (site,) = load_sites(sc.sites)
        source = get_source("stac", catalog=str(sc.catalog))
        cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
        base = baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end)).compute()
        ev = site_evidence(base, "seagrass", rule)
        water, place = ev.water, ev.place
        s = seagrass_score(base, rule, water, place).values
        s_gate = seagrass_score(base, rule, water, None).values
        b, g, _ = bottom_signals(base, rule, water)
        xs, ys = base["x"].values, base["y"].values
        cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
        ix = np.ix_(rws, cols)
        st = np.asarray(sc.site, bool)[ix]
        hab = np.asarray(sc.habitat)[0][ix].astype(bool) & st
        ass = np.asarray(sc.assessable, bool)[ix] & st
        depth = np.asarray(sc.depth)[ix]
        T = hab & ass
        C = (s > 0) & st
        mapped = np.isfinite(place.sel(layer="sand_blue").values) if place is not None else np.zeros_like(C)
        by_gate = np.isfinite(s_gate) & (s_gate != -CONTEXT_SCORE)
        land = s == -CONTEXT_SCORE
        by_place = np.isfinite(s) & ~by_gate & ~land
        nan = ~np.isfinite(s)
        M, F = T & ~C, C & ~T
        ha = lambda m: round(float(m.sum()) * 0.01, 2)
        w = {k: float(water.sel(parameter=k)) for k in water["parameter"].values}
        nviews = np.asarray(base["n_clear"].values)[st] if "n_clear" in base else np.array([np.nan])
        water_px = st & (~land) & np.isfinite(np.asarray(base["B02"].values))
        rec = dict(
            seed=seed, truth=ha(T), called=ha(C), err=round(ha(C) - ha(T), 2),
            truth_sweep=float(sc.truth["baseline_extent_assessable_ha"].iloc[0]),
            hit=ha(T & C), miss_gate=ha(M & by_gate), miss_place=ha(M & by_place),
            miss_land=ha(M & land),
            miss_noq=ha(M & nan & (not mapped.any())), miss_reach=ha(M & nan & ~mapped & mapped.any()),
            miss_maphere=ha(M & nan & mapped),
            fals_deep=ha(F & hab & ~ass), fals_gate=ha(F & ~hab & by_gate),
            fals_place=ha(F & ~hab & by_place), fals_gate_deep=ha(F & hab & ~ass & by_gate),
            true_meadow_all=ha(hab), truth_assess_frac=round(float(ass.sum() / st.sum()), 3),
            rule_assess_frac=round(float((st & np.isfinite(s) & ~land).sum() / st.sum()), 3),
            zvis=round(float(sc.params["visibility_depth_m"]), 2), kd490=round(float(sc.params["kd490"]), 4),
            meadow_depth_med=round(float(np.median(depth[hab])) if hab.any() else np.nan, 2),
            miss_depth_med=round(float(np.median(depth[M])) if M.any() else np.nan, 2),
            q=round(float(place.attrs.get("q", np.nan)), 2) if place is not None else None,
            beta=round(float(place.attrs.get("beta", np.nan)), 4) if place is not None else None,
            map_ha=ha(mapped & st), k_ratio=round(w.get("k_ratio", np.nan), 3),
            glint_blue=round(w.get("glint_blue", np.nan), 3), nir_ref=round(w.get("nir_ref", np.nan), 4),
            noise_blue=round(w.get("noise_blue", np.nan), 5), noise_green=round(w.get("noise_green", np.nan), 5),
            n_views_med=float(np.nanmedian(nviews)), sand_gate_ha=ha(st & by_gate & (s <= 0) & ~land))
        fh.write(json.dumps(rec) + "\n"); fh.flush()
        print(seed, rec["truth"], rec["called"], rec["err"], flush=True)
