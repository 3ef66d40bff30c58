# ruff: noqa  (a one-off prototype kept as a record, not project code)
"""sg42 prototype: a green place test where the rule's gate leaves a water pixel and the blue
place map does not hold it (the q < 1 sites, where blue does not see past green).

The gate asks a pixel's *own* green bottom signal to be ``detect`` sigma above the deep
water; a dark meadow's green signal is small, so the gate leaves meadow at depths where
*sand* is still plainly seen in green (the truth's assessable water is where sand and meadow
differ by 3 sigma, not where the meadow itself is seen). As the blue place map does, per
10-px block the rule's sand pixels' median green bottom signal, its decay per metre from a
local plane on ln g over the 5x5 blocks around (Cleveland 1979), carried from the nearest
sand block with Maritorena et al. (1994)'s exp(-gamma d), capped at the plane's radius; a
place is supported where sand's contrast to the threshold bottom (albedo_ratio_green times
sand's) is ``detect`` sigma of the pixel's green noise; there the pixel is meadow when its
green is below the threshold bottom's. Truth only to score.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg42/proto42.py CACHE OUT.jsonl SEEDS [variant]
"""
import json, sys
from pathlib import Path
import numpy as np
import xarray as xr
from scipy import ndimage
sys.path.insert(0, "benchmarks")
import scenario_sweep as sw
from aoi import load_sites
from flows.sources import get_source
from indices.evidence import baseline_composite, site_evidence
from indices.habitat import RULES
from indices.rules import CONTEXT_SCORE
from indices.seagrass_rule import seagrass_score, bottom_signals, seagrass_constants
from indices.seagrass_place import _block_median, _plane_gradient

rule = RULES["seagrass"]
cache, out = Path(sys.argv[1]), Path(sys.argv[2])
variant = sys.argv[4] if len(sys.argv) > 4 else "all"


def green_place(base, water, s_gate, g, views):
    block, win = rule.place_block, rule.place_window
    res = float(abs(base["x"].values[1] - base["x"].values[0]))
    land = s_gate == -CONTEXT_SCORE
    wat = np.isfinite(np.asarray(base["B02"])) & ~land & np.isfinite(g)
    sand = np.isfinite(s_gate) & ~land & (s_gate < 0) & (g > 0)
    open_ = wat & ~np.isfinite(s_gate)
    mg = _block_median(np.log(np.maximum(g, rule.min_bottom_signal)), sand, block, rule.place_min_sand)
    own = np.isfinite(mg)
    gamma = _plane_gradient(mg, win, only=own) / (block * res)
    have = own & np.isfinite(gamma) & (gamma > 0)
    ny, nx = g.shape
    if not have.any():
        return np.full(g.shape, np.nan), np.zeros(g.shape, bool)
    near = np.repeat(np.repeat(have, block, 0), block, 1)[:ny, :nx]
    dist, (iy, ix) = ndimage.distance_transform_edt(~near, return_indices=True)
    dist = dist * res
    by, bx = iy // block, ix // block
    g_edge = np.exp(np.where(have, mg, np.nan)[by, bx])
    gam = np.where(have, gamma, np.nan)[by, bx]
    sand_true = g_edge * np.exp(-gam * dist)
    if variant.startswith("seen1v"):  # at one view's noise (what a month of one scene resolves)
        views = np.ones_like(views)
    c = seagrass_constants(water, rule, xr.DataArray(views, dims=("y", "x")).clip(min=1).astype(np.float32))
    sig_g = np.asarray(np.broadcast_to(c["noise_g"] / c["k_ratio"], g.shape), np.float64)
    a_g = rule.albedo_ratio_green
    cap = win * block * res
    supported = open_ & np.isfinite(sand_true) & ((1 - a_g) * sand_true >= rule.detect_sigmas * sig_g) & (dist <= cap)
    thr = a_g * sand_true
    ok = supported & (np.abs(g - thr) >= rule.detect_sigmas * sig_g)
    if variant.startswith("seen"):  # the pixel's own bottom seen in green (the gate's green test)
        ok = ok & (g >= rule.detect_sigmas * sig_g)
    score = np.where(ok, (thr - g) / (rule.tolerance_share * (1 - a_g) * sand_true), np.nan)
    return score, supported


with out.open("a") as fh:
    for seed in sw.parse_seeds(sys.argv[3]):
        sc = sw.scenario(seed, "seagrass", sw.SIZE, sw.MONTHS, cache)
        (site,) = load_sites(sc.sites)
        source = get_source("stac", catalog=str(sc.catalog))
        cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
        base = baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end)).compute()
        ev = site_evidence(base, "seagrass")
        water, place = ev.water, ev.place
        s = seagrass_score(base, rule, water, place).values
        s_gate = seagrass_score(base, rule, water, None).values
        b, g, _ = bottom_signals(base, rule, water)
        g = np.asarray(g, np.float64)
        views = np.asarray(base["n_clear"]) if "n_clear" in base else np.ones(g.shape)
        gs, sup = green_place(base, water, s_gate, g, views)
        q = float(place.attrs.get("q", np.nan))
        if variant.endswith("qlt1") and q >= 1:
            gs = np.full(g.shape, np.nan)
        s2 = np.where(np.isfinite(s), s, gs)
        xs, ys = base["x"].values, base["y"].values
        cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
        ix = np.ix_(rws, cols)
        st = np.asarray(sc.site, bool)[ix]
        hab = np.asarray(sc.habitat)[0][ix].astype(bool) & st
        ass = np.asarray(sc.assessable, bool)[ix] & st
        T = hab & ass
        C, C2 = (s > 0) & st, (s2 > 0) & st
        add = C2 & ~C
        ha = lambda m: round(float(m.sum()) * 0.01, 2)
        rec = dict(seed=seed, variant=variant, q=round(q, 2), truth=ha(T), v6=ha(C), proto=ha(C2),
                   ok_v6=bool(abs(ha(C) - ha(T)) <= 0.15 * ha(T)), ok_proto=bool(abs(ha(C2) - ha(T)) <= 0.15 * ha(T)),
                   add_true=ha(add & T), add_deep=ha(add & hab & ~ass), add_false=ha(add & ~hab),
                   supported_ha=ha(sup & st))
        fh.write(json.dumps(rec) + "\n"); fh.flush()
        print(json.dumps(rec), flush=True)
