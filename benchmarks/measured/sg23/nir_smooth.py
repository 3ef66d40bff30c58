"""Would a smoother NIR in the deglint help? (helper sg23; a look, in numpy, on main's tree)

    PYTHONPATH=<tree>:<tree>/tests:<tree>/benchmarks python benchmarks/measured/sg23/nir_smooth.py 11 15

Hedley's correction subtracts ``b_i (NIR - NIR_ref)``, and with it the NIR's noise. Per seed,
with the site's fitted water (main's) and the honest noise (the deglinted signals' neighbour
noise over pairs chosen by their mean: ``benchmarks/seagrass_deepwater.py``'s ``nz``), the
rule's gate (``v3``: the pixel's blue 3 sigma off the threshold's line) and the
class-separation gate (``sep``), each with the NIR as it is and with the NIR's 3 x 3 mean
(``_s``): seagrass called over the site (ha) and, of it, where the truth has none (``_f``);
``nz`` the honest noise in units of the site's, blue / green.
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


def _honest(bd, gd, wet, rule):
    avg = (bd + gd) / 2
    cut = np.quantile(avg[wet], rule.deep_fraction)
    pair = wet[:, 1:] & wet[:, :-1] & ((avg[:, 1:] + avg[:, :-1]) / 2 <= cut)

    def sigma(v):
        return np.median(np.abs(v[:, 1:] - v[:, :-1])[pair]) / (0.6745 * np.sqrt(2))

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
    for tag, n in (("", nir), ("_s", _mean3(nir))):
        excess = np.maximum(n - wp["nir_ref"], 0.0)
        bd, gd = blue - wp["glint_blue"] * excess, green - wp["glint_green"] * excess
        sb, sg = _honest(bd, gd, wet, rule)
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
