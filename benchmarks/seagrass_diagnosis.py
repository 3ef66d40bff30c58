"""Where the seagrass extent goes missing on the independent generator: per seed, the
baseline composite's meadow (over the generator's assessable water) judged not assessable,
called sand or called seagrass; the fitted water against the generator's; and what two
other assessability tests would give.

    PYTHONPATH=<tree>:<tree>/tests python benchmarks/seagrass_diagnosis.py <seed> [...] \\
        [--cache DIR] [--depths]

Scenes from the cache of ``benchmarks/scenario_sweep.py --kind seagrass`` (300 px, 18 months;
generated there if absent). The baseline composite, the water parameters and the bottom signals are the
pipeline's own (:func:`indices.evidence.baseline_composite`,
:func:`indices.water.water_parameters`, :func:`indices.seagrass_rule.bottom_signals`,
:func:`indices.seagrass_rule.seagrass_constants`); the gate is recomputed here in numpy from
the same terms, and its called area is checked against :func:`seagrass_offset` (``chk``).

One line a seed (areas in ha, over the site):

* ``truth``: meadow of the baseline's first month over the generator's assessable water;
  ``called``: the rule's seagrass (``score > 0``) in the baseline composite;
* ``notass`` / ``sand`` / ``grass``: shares of the truth's meadow the rule judged not
  assessable, called sand, called seagrass; ``sand_assessed``: the share of the sand bottom
  over the generator's assessable water the rule assessed (against ``1 - notass``);
  ``lost``: the truth's meadow lost by the last month (ha) and ``lost_notass`` the share of
  it the baseline judged not assessable (a loss there cannot be seen); ``green``: share
  failing the green gate (bottom not seen above the deep water), the rest of ``notass``
  fails the blue gate (the pixel's blue within ``detect_sigmas`` of the threshold's line);
* ``r`` fitted / true (``k_B / k_G``, the generator's Austin-Petzold Kd of B02 and B03);
  ``deepB`` / ``deepG``: the fitted deep water minus the generator's (its Morel deep
  reflectance at the surface), in units of the neighbour-difference noise;
  ``dG``: the deep water's median green bottom signal (pixels deeper than 30 m, from the
  truth's depth: a diagnosis, not a rule) and ``sdG`` its spread (1.4826 MAD), both in
  units of the neighbour-difference noise the gate uses (``noise_green``);
* ``af``: the share of the site assessed, rule / truth;
* ``sep``: called seagrass (false: of it, not meadow) if the blue gate asked instead that
  sand and vegetation (offset ``2 T``, the threshold being their geometric mean) differ at
  the pixel's green by ``detect_sigmas`` noise (a test on the hypotheses, not on the
  observed blue); ``env``: the same with the green gate and the noise taken from the deep
  water's own centre and spread (the environmental noise of Wettle, Brando & Dekker 2004,
  Remote Sens. Environ. 93:188-197: the spread of an optically deep, homogeneous area of
  the image; here found with the truth's depth, so an upper bound of what such a noise
  model would assess, not a rule); ``seen``: every pixel whose green is ``detect_sigmas``
  of that spread above that centre judged, by its side of the threshold, with no blue gate
  (what the index could call if only "is a bottom seen at all" were asked); ``deep``: the
  rule as it is with the generator's deep water in place of the fitted one (``r`` and the
  sand's DII refitted through it); ``depth``: the depth known (the truth's, an upper bound
  of a bathymetry layer): a pixel's green against the median green of the sand at its depth,
  seagrass below ``albedo_ratio_green`` of it, judged where sand and vegetation (that ratio
  squared) differ by ``detect_sigmas`` of the deep water's spread.

``--depths``: the meadow's and the sand's fate by depth band as well.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scenario_sweep import MONTHS, SIZE, scenario
from scenarios.water import to_rho

from aoi import load_sites
from flows.sources import get_source
from indices.evidence import baseline_composite
from indices.histogram import histogram
from indices.seagrass_rule import SeagrassRule, bottom_signals, seagrass_constants, seagrass_offset
from indices.water import (
    BINS,
    PARAMETERS,
    fit_sand_line,
    sand_points,
    water_mask,
    water_parameters,
)

SAND_BOTTOM = 20  # tests/scenarios/landscape.py
DEPTH_BANDS = ((0, 2), (2, 4), (4, 6), (6, 8), (8, 12), (12, 16), (16, 20), (20, 30), (30, 60))


def _load(seed: int, cache: Path):
    sc = scenario(seed, "seagrass", SIZE, MONTHS, cache)
    (site,) = load_sites(sc.sites)
    src = get_source("stac", catalog=str(sc.catalog))
    cube = src.load(site, src.search(site, sc.start, sc.end), chunks=None)
    base = baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end))
    return sc, base.compute()


def _with_true_deep(base, rule, water, r_deep):
    """The site's water with the generator's deep water (its Morel deep reflectance at the
    surface) in place of the fitted one, ``r`` and the sand's DII refitted through it
    (:func:`indices.water.fit_sand_line` with the deep water fixed); None without a fit."""
    wp = dict(zip(PARAMETERS, water.values.tolist(), strict=True))
    b, g, _ = bottom_signals(base, rule, water)
    wet = water_mask(base, rule) & base["B02"].notnull() & base["B08"].notnull()
    hist = np.asarray(histogram(wet, g + wp["deep_green"], b + wp["deep_blue"]))
    gp, bp = sand_points(hist.reshape(BINS, BINS), rule)
    deep_b, deep_g = float(to_rho(r_deep["B02"])), float(to_rho(r_deep["B03"]))
    fit = fit_sand_line(gp, bp, (deep_b, deep_g))
    if fit is None:
        return None
    ok = (bp > deep_b) & (gp > deep_g)
    dii = float(np.median(np.log(bp[ok] - deep_b) - fit[2] * np.log(gp[ok] - deep_g)))
    out = water.copy()
    for k, v in (("deep_blue", deep_b), ("deep_green", deep_g), ("k_ratio", fit[2]),
                 ("dii_sand", dii)):
        out.loc[{"parameter": k}] = v
    return out


def diagnose(seed: int, cache: Path, rule: SeagrassRule | None = None,
             depths: bool = False) -> dict:
    rule = rule or SeagrassRule()
    sc, base = _load(seed, cache)
    water = water_parameters(base, rule).compute()
    wp = dict(zip(PARAMETERS, water.values.tolist(), strict=True))
    b, g, _ = bottom_signals(base, rule, water)
    c = seagrass_constants(water, rule, base["n_clear"].clip(min=1).astype(np.float32))
    b, g = b.values.astype(np.float64), g.values.astype(np.float64)
    wet = water_mask(base, rule).values
    r, t = float(c["k_ratio"]), float(c["threshold"])
    sand_c = np.exp(float(c["dii_sand"]))
    nb, ng = c["noise_b"].values, c["noise_g"].values
    floor = rule.min_bottom_signal
    seen = wet & (g > floor)
    gs = np.where(seen, g, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        off = np.log(np.maximum(b, floor)) - r * np.log(gs) - np.log(sand_c)
        sand_b = sand_c * gs ** r  # sand's blue at the pixel's green
        line = np.exp(t) * sand_b  # the threshold bottom's
        green_ok = r * gs >= rule.detect_sigmas * ng
        blue_ok = np.abs(b - line) >= rule.detect_sigmas * np.sqrt(nb ** 2 + (line * ng / gs) ** 2)
        rule_ok = seen & green_ok & blue_ok
        separation = sand_b * (1 - np.exp(2 * t))
        sep_ok = seen & green_ok & (separation >= rule.detect_sigmas
                                    * np.sqrt(nb ** 2 + (sand_b * ng / gs) ** 2))
    # the grids: the composite's pixel centres against the scenario's top-left corner
    c0 = int(round((float(base.x[0]) - 5 - sc.left) / 10))
    r0 = int(round((sc.top - (float(base.y[0]) + 5)) / 10))
    win = (slice(r0, r0 + b.shape[0]), slice(c0, c0 + b.shape[1]))
    site, meadow0 = sc.site[win], sc.habitat[0][win]
    assessable, depth, classes = sc.assessable[win], sc.depth[win], sc.classes[win]
    meadow = site & meadow0 & assessable
    sand_a = site & ~meadow0 & assessable & (classes == SAND_BOTTOM)
    lost = meadow & ~sc.habitat[-1][win]  # the meadow lost by the last month
    deep = site & wet & (depth > 30)
    if deep.sum() >= 100:
        gm, bm = np.nanmedian(g[deep]), np.nanmedian(b[deep])
        sg = 1.4826 * np.nanmedian(np.abs(g[deep] - gm))
        sb = 1.4826 * np.nanmedian(np.abs(b[deep] - bm))
        with np.errstate(invalid="ignore", divide="ignore"):
            bottom_ok = seen & (gs - gm >= rule.detect_sigmas * sg)
            env_ok = bottom_ok & (separation >= rule.detect_sigmas
                                  * np.sqrt(sb ** 2 + (r * sand_b * sg / gs) ** 2))
    else:
        gm = sg = np.nan
        env_ok = bottom_ok = np.zeros_like(seen)
    _, checked = seagrass_offset(base, rule, water)
    true_deep = _with_true_deep(base, rule, water, sc.params["r_deep"])
    if true_deep is not None:
        c2, off2 = seagrass_offset(base, rule, true_deep)
        deep_called = (np.isfinite(off2.values) & (off2.values <= float(c2["threshold"]))
                       & site)
    else:
        deep_called = np.zeros_like(site)
    kd, r_deep = sc.params["kd"], sc.params["r_deep"]
    ha = 0.01
    called = rule_ok & (off <= t) & site
    out = {"seed": seed, "kd490": sc.params["kd490"], "truth": meadow.sum() * ha,
           "called": called.sum() * ha,
           "chk": float((np.isfinite(checked.values) & (checked.values <= t) & site).sum() * ha),
           "notass": float(np.mean(~rule_ok[meadow])),
           "green": float(np.mean(~(seen & green_ok)[meadow])),
           "sand": float(np.mean(rule_ok[meadow] & (off[meadow] > t))),
           "grass": float(np.mean(rule_ok[meadow] & (off[meadow] <= t))),
           "sand_assessed": float(np.mean(rule_ok[sand_a])) if sand_a.any() else np.nan,
           "lost": lost.sum() * ha,
           "lost_notass": float(np.mean(~rule_ok[lost])) if lost.any() else np.nan,
           "r": float(r), "r_true": kd["B02"] / kd["B03"],
           "deepB": (wp["deep_blue"] - float(to_rho(r_deep["B02"]))) / wp["noise_blue"],
           "deepG": (wp["deep_green"] - float(to_rho(r_deep["B03"]))) / wp["noise_green"],
           "dG": float(gm / wp["noise_green"]), "sdG": float(sg / wp["noise_green"]),
           "af": float(rule_ok[site].mean()), "af_true": float(assessable[site].mean())}
    for name, ok in (("sep", sep_ok), ("env", env_ok), ("seen", bottom_ok)):
        got = ok & (off <= t) & site
        out[name] = got.sum() * ha
        out[name + "_false"] = (got & ~meadow0).sum() * ha
    # depth known (the truth's: an upper bound of a bathymetry layer): green against the
    # median green of the sand at the pixel's depth (1 m bins), the threshold bottom
    # albedo_ratio_green of it, judged where sand and vegetation (the threshold squared)
    # differ by detect_sigmas of the deep water's spread
    sand_all = site & wet & ~meadow0 & (classes == SAND_BOTTOM)
    zbin = np.clip(np.floor(np.nan_to_num(depth, nan=-1.0)), -1, 80).astype(int) + 1
    ref = np.full(zbin.max() + 1, np.nan)
    for z in np.unique(zbin[sand_all]):
        sel = sand_all & (zbin == z)
        if sel.sum() >= 20:
            ref[z] = np.nanmedian(g[sel])
    sand_g = ref[zbin]
    a_g = rule.albedo_ratio_green
    with np.errstate(invalid="ignore"):
        depth_ok = (wet & np.isfinite(sand_g)
                    & (sand_g * (1 - a_g ** 2) >= rule.detect_sigmas * sg))
        depth_called = depth_ok & (g <= a_g * sand_g) & site
    out["depth"] = depth_called.sum() * ha
    out["depth_false"] = (depth_called & ~meadow0).sum() * ha
    out["deep"] = deep_called.sum() * ha
    out["deep_false"] = (deep_called & ~meadow0).sum() * ha
    if depths:
        sand = site & ~meadow0 & (classes == SAND_BOTTOM)
        for lo, hi in DEPTH_BANDS:
            m = meadow & (depth > lo) & (depth <= hi)
            s = sand & (depth > lo) & (depth <= hi)
            if m.sum() >= 20:
                print(f"  meadow {lo:2d}-{hi:2d} m: {m.sum():5d} px, not assessable "
                      f"{np.mean(~rule_ok[m]):.2f}, sand {np.mean(rule_ok[m] & (off[m] > t)):.2f}"
                      f", seagrass {np.mean(rule_ok[m] & (off[m] <= t)):.2f}; ungated offset "
                      f"median {np.nanmedian(off[m]):+.2f} (T {t:+.2f}); sand {s.sum()} px, "
                      f"offset {np.nanmedian(off[s]) if s.any() else np.nan:+.2f}, "
                      f"assessed {np.mean(rule_ok[s]) if s.any() else np.nan:.2f}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", type=int, nargs="+")
    parser.add_argument("--cache", type=Path, default=Path("/work/wt/sg22-cache"))
    parser.add_argument("--depths", action="store_true")
    args = parser.parse_args(argv)
    for seed in args.seeds:
        o = diagnose(seed, args.cache, depths=args.depths)
        print(" ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                       for k, v in o.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
