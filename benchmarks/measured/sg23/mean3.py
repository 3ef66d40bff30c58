"""Would judging the 3 x 3 mean of the bottom signals help? (helper sg23; a look, in numpy,
on main's tree)

    PYTHONPATH=<tree>:<tree>/tests:<tree>/benchmarks python benchmarks/measured/sg23/mean3.py 11 15

The white part of the composite's noise falls 3 times in a 3 x 3 mean; the smooth part does
not. Per seed, with the site's fitted water (main's): the rule's gate (``v3``) and the
class-separation gate (``sep``) on the deglinted signals with the honest noise (as in
``nir_smooth.py``), and on their 3 x 3 mean (``_m``) with the noise of that mean measured the
same way over windows 3 px apart (no shared pixels: the smooth part's 3 px variation is in
it); called / truth and false seagrass (ha); ``nz`` the noises in units of the site's.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage
from seagrass_diagnosis import _load

from indices.seagrass_rule import SeagrassRule, seagrass_constants
from indices.water import PARAMETERS, water_mask, water_parameters


def _mean3(v):
    ok = np.isfinite(v)
    num = ndimage.uniform_filter(np.where(ok, v, 0.0), 3, mode="nearest")
    den = ndimage.uniform_filter(ok.astype(float), 3, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, num / den, np.nan)


def _honest(bd, gd, wet, rule, step=1):
    avg = (bd + gd) / 2
    ok = wet & np.isfinite(avg)
    cut = np.quantile(avg[ok], rule.deep_fraction)
    pair = ok[:, step:] & ok[:, :-step] & ((avg[:, step:] + avg[:, :-step]) / 2 <= cut)

    def sigma(v):
        return np.median(np.abs(v[:, step:] - v[:, :-step])[pair]) / (0.6745 * np.sqrt(2))

    return sigma(bd), sigma(gd)


def look(seed: int, cache: Path) -> dict:
    rule = SeagrassRule()
    sc, base = _load(seed, cache)
    water = water_parameters(base, rule).compute()
    wp = dict(zip(PARAMETERS, water.values.tolist(), strict=True))
    c = seagrass_constants(water, rule, base["n_clear"].clip(min=1).astype(np.float32))
    scale = c["noise_b"].values / wp["noise_blue"]  # sqrt(n_views / n) per pixel
    r, t, sand_c = float(c["k_ratio"]), float(c["threshold"]), np.exp(float(c["dii_sand"]))
    blue, green, nir = (base[k].values.astype(np.float64) for k in ("B02", "B03", "B08"))
    wet = water_mask(base, rule).values & np.isfinite(blue) & np.isfinite(nir)
    c0 = int(round((float(base.x[0]) - 5 - sc.left) / 10))
    r0 = int(round((sc.top - (float(base.y[0]) + 5)) / 10))
    win = (slice(r0, r0 + blue.shape[0]), slice(c0, c0 + blue.shape[1]))
    site, meadow0 = sc.site[win], sc.habitat[0][win]
    truth = (site & meadow0 & sc.assessable[win]).sum() * 0.01
    out = {"seed": seed, "kd490": sc.params["kd490"], "truth": truth}
    floor = rule.min_bottom_signal
    excess = np.maximum(nir - wp["nir_ref"], 0.0)
    bd0, gd0 = blue - wp["glint_blue"] * excess, green - wp["glint_green"] * excess
    for tag, step in (("", 1), ("_m", 3)):
        if step == 1:
            bd, gd = bd0, gd0
        else:
            bd, gd = (_mean3(np.where(wet, v, np.nan)) for v in (bd0, gd0))
        sb, sg = _honest(bd, gd, wet, rule, step)
        out["nz" + tag] = f"{sb / wp['noise_blue']:.2f}/{sg / wp['noise_green']:.2f}"
        b, g = bd - wp["deep_blue"], gd - wp["deep_green"]
        nb, ng = sb * scale, r * sg * scale
        seen = wet & (g > floor)
        gs = np.where(seen, g, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            off = np.log(np.maximum(b, floor)) - r * np.log(gs) - np.log(sand_c)
            sand_b = sand_c * gs ** r
            line = np.exp(t) * sand_b
            green_ok = seen & (r * gs >= rule.detect_sigmas * ng)
            gates = {"v3": np.abs(b - line) >= rule.detect_sigmas * np.sqrt(
                         nb ** 2 + (line * ng / gs) ** 2),
                     "sep": sand_b * (1 - np.exp(2 * t)) >= rule.detect_sigmas * np.sqrt(
                         nb ** 2 + (sand_b * ng / gs) ** 2)}
        for name, ok in gates.items():
            got = green_ok & ok & (off <= t) & site
            out[name + tag] = round(got.sum() * 0.01 / truth, 2)
            out[name + tag + "_f"] = round((got & ~meadow0).sum() * 0.01, 1)
    return out


if __name__ == "__main__":
    for s in sys.argv[1:]:
        o = look(int(s), Path("/work/wt/sg23-cache"))
        print(" ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                       for k, v in o.items()), flush=True)
