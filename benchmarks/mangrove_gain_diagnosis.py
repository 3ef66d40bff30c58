"""Where does a replanting's missed gain go? A diagnosis on the independent generator's seeds
(helper mang27, session 32), not a rule.

    PYTHONPATH=<tree>:<tree>/tests python benchmarks/mangrove_gain_diagnosis.py <seed> [...] \\
        [--cache DIR] [--json OUT]

For the truth's gain pixels at the final month (replanted mudflat whose canopy covers half the
pixel, ``tests/scenarios/landscape.py``, after the truth's minimum mapping unit), the
pipeline's own steps replayed here (the site's evidence, the monthly composites and scores of
:func:`indices.summary.monthly_inputs`, the walk of :func:`indices.change.monthly_states`):

* context level of the site's final context (0 outside: the score is ``-CONTEXT_SCORE``;
  1 connected canopy: NDVI and MVI/axis; 2 the tidal flat: NDVI alone; 3 tidal ground);
* canopy cover at the last month (the generator's ``cover_at``, the landscape replayed from
  the seed) and its months past t50 (cover 0.5);
* the last month's composite NDVI and MVI, and of the pixel's clear dry looks after t50:
  how many, the best NDVI term and the best MVI (or axis) term of the spectral score;
* why the pixel is not in the map's gain (first that applies): ``mapped`` (it is);
  ``context`` (level 0); ``unseen`` (no look, NaN score, after t50: tide or clouds);
  ``ndvi`` (no confident look for it, the NDVI term the limit); ``mvi`` (no confident look
  for it, the MVI/axis/cover term the limit); ``pending`` (one confident look, no second);
  ``reverted`` (flipped to mangrove, then back); ``mmu`` (mangrove in the state, its patch
  under the minimum mapping unit);
* the lag of the first month the state turns mangrove after t50.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REASONS = ("mapped", "context", "unseen", "ndvi", "mvi", "pending", "reverted", "mmu")


def landscape(seed: int, size: int, months: int):
    """The generator's landscape of ``seed`` replayed (its ``r_land`` child seed)."""
    from scenarios import landscape as ls

    size = int(np.ceil(size / 6) * 6)
    r_land = np.random.default_rng(np.random.SeedSequence([seed, 0]).spawn(6)[1])
    return ls.mangrove_landscape(r_land, size, months, 6)


def diagnose(seed: int, cache: Path) -> dict:
    """One seed's table (module doc)."""
    from scenario_sweep import MONTHS, SIZE, mangrove_baseline
    from scenarios.truth import drop_small

    from indices.change import monthly_states
    from indices.composite import monthly_composite
    from indices.evidence import mangrove_final_context
    from indices.mangrove_rule import mangrove_score, mangrove_spectral_score
    from indices.masks import BANDS
    from indices.rules import STRONG
    from indices.spectral import compute_indices
    from indices.summary import MONTH_BANDS

    sc, site, cube, base, rule, params, codes = mangrove_baseline(seed, cache)
    land = landscape(seed, SIZE, MONTHS)
    assert np.array_equal(land.classes_at(0), sc.classes)
    codes = codes.compute()
    context = mangrove_final_context(base, rule, params, codes).compute()
    months = monthly_composite(cube, MONTH_BANDS["mangrove"], clear_bands=BANDS).compute()
    scores = mangrove_score(months, rule, context, params).transpose("period", "y", "x").values
    base_score = mangrove_score(base, rule, context, params).values
    ix = compute_indices(months, ["ndvi", "mvi", "ndwi", "mndwi"])
    ndvi, mvi = ix["ndvi"].values, ix["mvi"].values
    dry = ~(ix["ndwi"].values > 0) & ~(ix["mndwi"].values > 0)
    spectral = mangrove_spectral_score(months, rule, params).values
    ndvi_term = (ndvi - rule.ndvi_min) / rule.ndvi_tolerance
    # the truth on the composite's grid
    y, x = base["y"].values, base["x"].values
    i0 = int(round((sc.top - y[0]) / 10 - 0.5))
    j0 = int(round((x[0] - sc.left) / 10 - 0.5))
    ny, nx = base_score.shape
    crop = (slice(i0, i0 + ny), slice(j0, j0 + nx))
    inside = sc.site[crop]
    habitat = sc.habitat[:, crop[0], crop[1]]
    n = habitat.shape[0]
    # the composites' months (a month without a scene has none) as the truth's month index
    import datetime as dt
    month_ix = np.array([sc.periods.index(dt.date.fromisoformat(str(p)[:10]))
                         for p in months["period"].values])
    truth_gain = drop_small(habitat[-1] & ~habitat[0], 10)
    t50 = land.gain_t50[crop]
    cover_last = land.cover_at(n - 1 + 0.5)[crop]
    # the walk, and the state before the minimum mapping unit month by month
    states = list(monthly_states(scores, base_score, inside, mmu_pixels=10, strong=STRONG))
    mapped_gain = states[-1].gain
    base_map = (base_score > 0) & inside
    state = base_map.copy()
    pending = np.zeros_like(state)
    first_on = np.full(state.shape, -1)
    ever_on = np.zeros_like(state)
    looks_for = np.zeros(state.shape, int)  # confident looks for mangrove after t50
    seen_after = np.zeros(state.shape, int)
    for k, m in enumerate(month_ix):
        s = scores[k]
        seen = np.isfinite(s) & inside
        conf = seen & (np.abs(s) >= 1)
        hab = s > 0
        against = conf & (hab != state)
        flip = against & (pending | (np.abs(s) >= STRONG))
        state = np.where(flip, hab, state)
        pending = np.where(conf, against & ~flip, pending)
        newly = state & ~base_map & (first_on < 0)
        first_on[newly] = m
        ever_on |= state & ~base_map
        after = m + 1 >= np.nan_to_num(t50, nan=1e9)
        looks_for += (conf & hab & after)
        seen_after += (seen & after)
    pre_mmu = state & ~base_map
    level = context.values
    px = truth_gain & inside
    reason = np.full(px.shape, "", object)
    ok = mapped_gain & px
    reason[ok] = "mapped"
    todo = px & ~ok
    for name, sel in (("context", level == 0), ("unseen", seen_after == 0),
                      ("mmu", pre_mmu), ("reverted", ever_on & ~pre_mmu),
                      ("pending", pending & ~state)):
        reason[todo & sel] = name
        todo &= ~sel
    # no confident look for mangrove: which term of the score held it
    with np.errstate(all="ignore"):
        after_m = (month_ix[:, None, None] + 1) >= np.nan_to_num(t50, nan=1e9)[None]
        look = np.isfinite(scores) & after_m & dry
        best_ndvi = np.nanmax(np.where(look, ndvi_term, np.nan), 0)
        best_spec = np.nanmax(np.where(look, spectral, np.nan), 0)
        best_mvi = np.nanmax(np.where(look, mvi, np.nan), 0)
        best_ndvi_raw = np.nanmax(np.where(look, ndvi, np.nan), 0)
    flat = level == 2
    ndvi_limit = (best_ndvi < 1) | flat | ~np.isfinite(best_spec)
    reason[todo & ndvi_limit] = "ndvi"
    reason[todo & ~ndvi_limit] = "mvi"
    lag = np.where(first_on >= 0, first_on + 0.5 - t50, np.nan)[px & (first_on >= 0)]
    rec = {"seed": seed, "truth_gain_px": int(px.sum()),
           "mapped_gain_px": int((mapped_gain & inside).sum()),
           "mapped_in_truth_px": int(ok.sum()),
           "false_gain_px": int((mapped_gain & inside & ~truth_gain).sum()),
           "level": {str(v): int((px & (level == v)).sum()) for v in (0, 1, 2, 3)},
           "reason": {r: int((reason == r).sum()) for r in REASONS},
           "reason_by_level": {str(v): {r: int(((reason == r) & (level == v)).sum())
                                        for r in REASONS if ((reason == r) & (level == v)).any()}
                               for v in (0, 1, 2, 3)},
           "cover_last_q": np.percentile(cover_last[px], (10, 50, 90)).round(2).tolist(),
           "months_past_t50_q": np.percentile(n - 0.5 - t50[px], (10, 50, 90)).round(1).tolist(),
           "seen_after_t50_q": np.percentile(seen_after[px], (10, 50, 90)).tolist(),
           "dry_looks_after_t50_q": np.percentile(look.sum(0)[px], (10, 50, 90)).tolist(),
           "last_ndvi_q": np.nanpercentile(ndvi[-1][px], (10, 50, 90)).round(2).tolist(),
           "last_mvi_q": np.nanpercentile(mvi[-1][px], (10, 50, 90)).round(2).tolist(),
           "best_dry_ndvi_q": _q(best_ndvi_raw[px]), "best_dry_mvi_q": _q(best_mvi[px]),
           "best_dry_spectral_q": _q(best_spec[px]),
           "missed_best_dry_ndvi_q": _q(best_ndvi_raw[px & ~ok]),
           "missed_best_dry_mvi_q": _q(best_mvi[px & ~ok]),
           "missed_best_dry_spectral_q": _q(best_spec[px & ~ok]),
           "lag_months_q": _q(lag),
           "mvi_min": round(float(params.sel(parameter="mvi_min")), 2),
           "axis_used": int(params.sel(parameter="axis_used")),
           "ndvi_half": round(float(params.sel(parameter="ndvi_half")), 3)}
    # why the looks after t50 were not looks: no clear view, under the tide (NDWI > 0),
    # wet (MNDWI > 0) with the score below the threshold; and the NDVI of the wet ones
    nclear = months["n_clear"].transpose("period", "y", "x").values
    ndwi, mndwi = ix["ndwi"].values, ix["mndwi"].values
    cell = px[None] & after_m
    rec["looks_after_t50"] = {
        "all": int(cell.sum()), "seen": int((cell & np.isfinite(scores)).sum()),
        "no_clear_view": int((cell & (nclear == 0)).sum()),
        "under_tide_ndwi": int((cell & (nclear > 0) & (ndwi > 0)).sum()),
        "wet_mndwi_low": int((cell & (nclear > 0) & ~(ndwi > 0) & (mndwi > 0)
                              & ~np.isfinite(scores)).sum())}
    rec["ndvi_under_tide_q"] = _q(ndvi[cell & (nclear > 0) & (ndwi > 0)])
    rec["ndvi_wet_mndwi_q"] = _q(ndvi[cell & (nclear > 0) & ~(ndwi > 0) & (mndwi > 0)])
    rec["ndvi_seen_q"] = _q(ndvi[cell & np.isfinite(scores)])
    rec["score_seen_q"] = _q(scores[cell & np.isfinite(scores)])
    rec["n_clear_seen"] = {str(k): int((cell & np.isfinite(scores) & (nclear == k)).sum())
                           for k in (1, 2, 3)}
    # what other walks of the same scores would give (final gain in the truth / outside it)
    rec["variants"] = {}
    bix = compute_indices(base, ["ndvi", "ndwi"])
    bare = ((bix["ndvi"] < 0.25) & (bix["ndwi"] < 0)).values
    half = float(params.sel(parameter="ndvi_half"))
    factor = np.where(nclear <= 1, np.sqrt(0.44867), np.where(nclear == 2, np.sqrt(0.44867 / 0.5), 1.0))
    from indices.mangrove_rule import mangrove_candidates
    cand = mangrove_candidates(base, rule, params).values
    extra = {"cand": cand, "ndwi": ndwi, "mndwi": mndwi, "ndvi": ndvi, "half": half, "bare": bare, "ndvi_term": ndvi_term,
             "cover_term": (ndvi - half) / rule.ndvi_tolerance, "factor": factor, "dry": dry}
    for name, sc_ in variants(scores, level, base_map, extra).items():
        g = list(monthly_states(sc_, base_score, inside, mmu_pixels=10, strong=STRONG))[-1].gain
        rec["variants"][name] = [int((g & truth_gain).sum()), int((g & ~truth_gain).sum())]
    # the pixels with looks but no change: their best and worst score after t50 (a best >= 1
    # then cleared: a later confident look against mangrove)
    after_scores = np.where(after_m & np.isfinite(scores), scores, np.nan)
    rest = (reason == "ndvi") | (reason == "mvi")
    best, worst = np.nanmax(after_scores, 0), np.nanmin(after_scores, 0)
    rec["no_change_looks"] = {"n": int(rest.sum()), "best_q": _q(best[rest]),
                              "worst_q": _q(worst[rest]),
                              "best_confident": int((rest & (best >= 1)).sum()),
                              "cleared": int((rest & (best >= 1) & (worst <= -1)).sum())}
    # confident looks against mangrove after t50 on the missed pixels, by level and by
    # whether the view was wet (NDWI > 0 or MNDWI > 0: the flat leaves those unjudged)
    against = after_m & (scores <= -1) & (px & ~ok)[None]
    wetv = ~dry
    rec["against_looks"] = {str(v): {"wet": int((against & wetv & (level == v)[None]).sum()),
                                     "dry": int((against & dry & (level == v)[None]).sum()),
                                     "px_wet": int((against & wetv & (level == v)[None])
                                                   .any(0).sum())}
                            for v in (1, 2, 3)}
    # connected canopy (level 1): of the dry looks after t50 of the missed pixels, which term
    # of the spectral score limits it (NDVI, or the MVI/axis term, or the canopy-cover term
    # where MVI > mvi_max), and their values
    import dataclasses
    other = mangrove_spectral_score(months, dataclasses.replace(rule, ndvi_min=-100.0),
                                    params).values
    l1 = (px & ~ok & (level == 1))[None] & look
    cover_side = mvi > rule.mvi_max
    ndvi_lim = ndvi_term <= other
    rec["level1_missed_dry_looks"] = {
        "n": int(l1.sum()), "ndvi_limits": int((l1 & ndvi_lim).sum()),
        "mvi_axis_limits": int((l1 & ~ndvi_lim & ~cover_side).sum()),
        "cover_limits": int((l1 & ~ndvi_lim & cover_side).sum()),
        "ndvi_term_q": _q(ndvi_term[l1]), "other_term_q": _q(other[l1]),
        "other_term_axis_side_q": _q(other[l1 & ~cover_side]),
        "other_term_cover_side_q": _q(other[l1 & cover_side]),
        "views_1": int((l1 & (nclear == 1)).sum())}
    l2 = (px & ~ok & (level == 2))[None] & look
    rec["level2_missed_dry_looks"] = {"n": int(l2.sum()), "ndvi_term_q": _q(ndvi_term[l2]),
                                      "views_1": int((l2 & (nclear == 1)).sum())}
    # the same on all pixels of the replanting whose cover passed 0.5 dry: a mixture check
    # (NDVI / MVI of dry looks against cover), from the generator's cover at the look
    covers, nds, mvs = [], [], []
    for k, m in enumerate(month_ix):
        c = land.cover_at(m + 0.5)[crop]
        sel = px & np.isfinite(scores[k]) & dry[k]
        covers.append(c[sel])
        nds.append(ndvi[k][sel])
        mvs.append(mvi[k][sel])
    c, nd, mv = (np.concatenate(a) for a in (covers, nds, mvs))
    rec["dry_looks_by_cover"] = {
        f"{lo:.1f}-{hi:.1f}": [int(((c >= lo) & (c < hi)).sum()),
                               _q(nd[(c >= lo) & (c < hi)]), _q(mv[(c >= lo) & (c < hi)])]
        for lo, hi in ((0.0, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01))}
    return rec


def variants(scores: np.ndarray, level: np.ndarray, base_map: np.ndarray, x: dict) -> dict:
    """Scores rewritten so that :func:`indices.change.monthly_states` walks other gain rules:
    ``flat1``: on the flat (level 2) a confident look for mangrove is strong (one look gains,
    as on tidal ground); ``cusum``: where the baseline is not mangrove, a confident look for
    mangrove whose run of positive looks since the last look against (months unseen skipped)
    sums to ``STRONG`` is made strong (Page's cumulative sum)."""
    from indices.rules import STRONG

    out = {"tree": scores}
    flat1 = scores.copy()
    sel = (level == 2)[None] & (scores >= 1)
    flat1[sel] = np.maximum(flat1[sel], STRONG)
    out["flat1"] = flat1
    cus = scores.copy()
    run = np.zeros(scores.shape[1:], np.float32)
    for k in range(scores.shape[0]):
        s = scores[k]
        seen = np.isfinite(s)
        run = np.where(seen, np.where(s > 0, run + s, 0), run)
        hit = seen & (s >= 1) & (run >= STRONG) & ~base_map
        cus[k] = np.where(hit, np.maximum(s, STRONG), s)
    out["cusum"] = cus
    # the flat: one confident look gains alone where its NDVI is past the site's half cover
    fh = scores.copy()
    sel = (level == 2)[None] & (scores >= 1) & (x["ndvi"] >= x["half"])
    fh[sel] = np.maximum(fh[sel], STRONG)
    out["flat_half"] = fh
    # connected ground the baseline saw bare (the site's bare endmember mask): the canopy
    # cover decides (NDVI past the site's half cover) instead of the MVI / axis
    l1 = ((level == 1) & x["bare"] & ~base_map)[None] & np.isfinite(scores)
    cov = np.minimum(x["ndvi_term"], x["cover_term"]) * x["factor"]
    cov = np.where(cov < 0, np.maximum(cov, -np.nextafter(STRONG, 0)), cov)
    for name, start in (("l1mud", scores), ("flat_half+l1mud", fh), ("flat1+l1mud", flat1)):
        v = start.copy()
        v[l1] = cov[l1]
        out[name] = v
    ground = ((level == 1) & ~x["cand"])[None]
    wet_unjudged = (x["ndwi"] > 0) | ((x["mndwi"] > 0) & (scores < 0))
    for name, start in (("ground", scores), ("flat_half+ground", fh), ("flat1+ground", flat1)):
        v = start.copy()
        v[ground & wet_unjudged] = np.nan
        out[name] = v
    # connected ground the baseline saw no canopy on, as tidal ground: views under the tide
    # unjudged, a confident look for mangrove strong, one against kept above -STRONG
    below = np.nextafter(np.float32(STRONG), np.float32(0))
    v = fh.copy()
    g = np.broadcast_to(ground, v.shape)
    v[g & wet_unjudged] = np.nan
    v = np.where(g & (v >= 1), np.maximum(v, STRONG), np.where(g, np.maximum(v, -below), v))
    out["flat_half+ground_tidal"] = v
    v = out["flat_half+l1mud"].copy()
    sel = l1 & (cov >= 1)
    v[sel] = np.maximum(v[sel], STRONG)
    out["flat_half+l1mud1"] = v
    return out


def _q(a) -> list:
    a = np.asarray(a, float)
    a = a[np.isfinite(a)]
    return np.percentile(a, (10, 50, 90)).round(2).tolist() if a.size else []


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("seeds", type=int, nargs="+")
    p.add_argument("--cache", type=Path, default=Path("/work/wt/mang24-cache"))
    p.add_argument("--json", type=Path, help="append one JSON line a seed")
    a = p.parse_args(argv)
    import warnings
    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels (never seen after t50)
    for seed in a.seeds:
        rec = diagnose(seed, a.cache)
        print(json.dumps(rec), flush=True)
        if a.json:
            with a.json.open("a") as f:
                f.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
