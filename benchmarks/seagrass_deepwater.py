"""What the baseline composite's optically deep water is made of (helper sg23): its spread
split into a smooth part and a residual, against the neighbour-difference noise.

    PYTHONPATH=<tree>:<tree>/tests python benchmarks/seagrass_deepwater.py <seed> [...] \\
        [--cache DIR]

A diagnosis (the truth's depth, bottom and water find the optically deep water: never a
rule). Per seed, over the site's water whose brightest bottom (the generator's sand) would
show less than ``0.3`` neighbour-noise sigma in B02 and B03 (optically deep in both bands;
none in very clear water), of the deglinted bottom signals ``b``, ``g``
(:func:`indices.seagrass_rule.bottom_signals`), in units of the site's neighbour noise:

* ``sd``: the spread (1.4826 MAD);
* ``res<s>``: the spread of the residual after a smooth part, the normalised Gaussian mean of
  the deep pixels (sigma ``s`` px; the pixel's own weight is negligible);
* ``z``: the spread of ``residual / pixel noise`` with the pixel noise ``noise sqrt(n_views /
  n_clear)`` (1 if what is left is the composite's own noise);
* ``raw``: ``sd`` of the signals before the deglint (does the deglint add or remove spread);
* ``nz``: the noise of the deglinted signals over the pairs of neighbours whose mean is among
  the darkest ``deep_fraction`` of the deglinted water (no truth used), ``nzraw`` the same of
  the raw bands (pairs by the raw bands' mean): the selection's bias and the deglint's share;
* ``main`` / ``sep`` / ``loc`` / ``locr``: seagrass called (ha; ``_f``: of it where the truth
  has none): the rule's gate; the class-separation gate (sand and vegetation ``detect_sigmas``
  apart in blue at the pixel's green, :mod:`benchmarks.seagrass_diagnosis`'s ``sep``); that
  gate (``loc``) and the rule's (``locr``) on the signals less a local deep water (the
  truth's deep pixels, Gaussian mean, sigma 8 px, carried over the shelf by a sigma-40 px
  one) with the residual's spread as the noise: an upper bound of a local reference;
* ``nc``: the correlation of ``g`` with ``1 / sqrt(n_clear)`` (a spread that follows the
  number of views: cloud edges and shadows the median kept).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scenario_sweep import MONTHS, SIZE
from scenarios.water import bottom_albedo, to_rho
from scipy import ndimage
from seagrass_diagnosis import _load

from indices.seagrass_rule import SeagrassRule, bottom_signals, seagrass_constants
from indices.water import PARAMETERS, water_mask, water_parameters

SAND_BOTTOM = 20


def _smooth(v, w, sigma):
    num = ndimage.gaussian_filter(np.where(w, v, 0.0), sigma, mode="constant")
    den = ndimage.gaussian_filter(w.astype(float), sigma, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def _mad(x):
    x = x[np.isfinite(x)]
    return 1.4826 * np.median(np.abs(x - np.median(x))) if x.size else np.nan


def diagnose(seed: int, cache: Path) -> dict:
    rule = SeagrassRule()
    sc, base = _load(seed, cache)
    water = water_parameters(base, rule).compute()
    wp = dict(zip(PARAMETERS, water.values.tolist(), strict=True))
    b, g, _ = bottom_signals(base, rule, water)
    b, g = b.values.astype(np.float64), g.values.astype(np.float64)
    c0 = int(round((float(base.x[0]) - 5 - sc.left) / 10))
    r0 = int(round((sc.top - (float(base.y[0]) + 5)) / 10))
    win = (slice(r0, r0 + b.shape[0]), slice(c0, c0 + b.shape[1]))
    site, depth = sc.site[win], sc.depth[win]
    kd = sc.params["kd"]
    alb = bottom_albedo("sand", 1.0)
    nb, ng = wp["noise_blue"], wp["noise_green"]
    with np.errstate(invalid="ignore"):
        sig_b = to_rho(alb["B02"]) * np.exp(-2 * kd["B02"] * depth)
        sig_g = to_rho(alb["B03"]) * np.exp(-2 * kd["B03"] * depth)
    ok = np.isfinite(b) & np.isfinite(g) & np.isfinite(base["B08"].values)
    deep = site & ok & (depth > 0) & (sig_b < 0.3 * nb) & (sig_g < 0.3 * ng)
    out = {"seed": seed, "kd490": sc.params["kd490"], "n": int(deep.sum())}
    if deep.sum() < 200:
        deep = site & ok & (depth > 30)
        out["n30"] = int(deep.sum())
        if deep.sum() < 200:
            return out
    n_clear = base["n_clear"].values.astype(float)
    pix = np.sqrt(wp["n_views"] / np.maximum(n_clear, 1))
    blue_raw = base["B02"].values - wp["deep_blue"]
    green_raw = base["B03"].values - wp["deep_green"]
    for name, v, nz in (("b", b, nb), ("g", g, ng)):
        out[f"{name}_med"] = float(np.median(v[deep]) / nz)
        out[f"{name}_sd"] = float(_mad(v[deep]) / nz)
        for s in (3, 8, 20):
            res = v - _smooth(v, deep, s)
            out[f"{name}_res{s}"] = float(_mad(res[deep]) / nz)
        res = v - _smooth(v, deep, 8)
        out[f"{name}_z8"] = float(_mad((res / (nz * pix))[deep]))
        pair = deep & np.roll(deep, 1, axis=1)
        pair[:, 0] = False
        d = (v - np.roll(v, 1, axis=1))[pair]
        out[f"{name}_nd"] = float(np.median(np.abs(d)) / (0.6745 * np.sqrt(2)) / nz)
    out["b_raw"] = float(_mad(blue_raw[deep]) / nb)
    out["g_raw"] = float(_mad(green_raw[deep]) / ng)
    out["nc"] = float(np.corrcoef(g[deep], 1 / np.sqrt(np.maximum(n_clear[deep], 1)))[0, 1])
    out["ncl"] = float(np.median(n_clear[deep]))
    out["nv"] = wp["n_views"]
    out["nir_sd"] = float(_mad(base["B08"].values[deep]) / ng)
    out["noise_b"], out["noise_g"] = nb, ng
    out.update(_pair_noise(base, rule, wp))
    out.update(_gates(sc, base, water, rule, b, g, deep, site, win))
    return out


def _pair_noise(base, rule, wp) -> dict:
    """The neighbour-difference noise of the deglinted signals over the pairs whose mean is
    among the darkest ``deep_fraction`` of the deglinted water (no truth used), in units of
    the site's ``noise_blue`` / ``noise_green`` (raw bands, pixels each among the darkest)."""
    b, g, n = (base[k].values.astype(np.float64) for k in ("B02", "B03", "B08"))
    wet = water_mask(base, rule).values & np.isfinite(b) & np.isfinite(n)
    excess = np.maximum(n - wp["nir_ref"], 0.0)
    bd, gd = b - wp["glint_blue"] * excess, g - wp["glint_green"] * excess
    avg = (bd + gd) / 2
    cut = np.quantile(avg[wet], rule.deep_fraction)
    pair = wet[:, 1:] & wet[:, :-1] & ((avg[:, 1:] + avg[:, :-1]) / 2 <= cut)

    def sigma(v):
        return np.median(np.abs(v[:, 1:] - v[:, :-1])[pair]) / (0.6745 * np.sqrt(2))

    raw = (b + g) / 2
    pair_raw = wet[:, 1:] & wet[:, :-1] & ((raw[:, 1:] + raw[:, :-1]) / 2
                                           <= np.quantile(raw[wet], rule.deep_fraction))

    def sigma_raw(v):
        return np.median(np.abs(v[:, 1:] - v[:, :-1])[pair_raw]) / (0.6745 * np.sqrt(2))

    return {"nz_b": float(sigma(bd) / wp["noise_blue"]),
            "nz_g": float(sigma(gd) / wp["noise_green"]),
            "nzraw_b": float(sigma_raw(b) / wp["noise_blue"]),
            "nzraw_g": float(sigma_raw(g) / wp["noise_green"])}


def _gates(sc, base, water, rule, b, g, deep, site, win):
    """Extent (ha) called by the rule and by the class-separation gate with a local deep
    water (the truth's deep pixels smoothed, sigma 8 px, carried over the shelf by a
    sigma-40 px normalised mean) and the residual's spread as the noise: an upper bound."""
    c = seagrass_constants(water, rule, base["n_clear"].clip(min=1).astype(np.float32))
    r, t = float(c["k_ratio"]), float(c["threshold"])
    sand_c = np.exp(float(c["dii_sand"]))
    nb, ng = c["noise_b"].values, c["noise_g"].values
    wet = water_mask(base, rule).values
    meadow0 = sc.habitat[0][win]
    meadow = site & meadow0 & sc.assessable[win]
    floor = rule.min_bottom_signal
    out = {"truth": meadow.sum() * 0.01}

    def called(b, g, nb, ng, sep):
        seen = wet & (g > floor)
        gs = np.where(seen, g, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            off = np.log(np.maximum(b, floor)) - r * np.log(gs) - np.log(sand_c)
            sand_b = sand_c * gs ** r
            line = np.exp(t) * sand_b
            ok = seen & (r * gs >= rule.detect_sigmas * ng)
            if sep:
                ok &= sand_b * (1 - np.exp(2 * t)) >= rule.detect_sigmas * np.sqrt(
                    nb ** 2 + (sand_b * ng / gs) ** 2)
            else:
                ok &= np.abs(b - line) >= rule.detect_sigmas * np.sqrt(
                    nb ** 2 + (line * ng / gs) ** 2)
        got = ok & (off <= t) & site
        return got.sum() * 0.01, (got & ~meadow0).sum() * 0.01

    out["main"], out["main_f"] = called(b, g, nb, ng, False)
    out["sep"], out["sep_f"] = called(b, g, nb, ng, True)
    loc = {}
    for name, v in (("b", b), ("g", g)):
        near = _smooth(v, deep, 8)
        far = _smooth(v, deep, 40)
        w = ndimage.gaussian_filter(deep.astype(float), 8, mode="constant")
        ref = np.where(w > 0.05, near, far)
        ref = np.where(np.isfinite(ref), ref, np.nanmedian(v[deep]))
        loc[name] = (v - ref, _mad((v - ref)[deep]))
    scale = nb / float(water.sel(parameter="noise_blue"))
    lb, lg = loc["b"][0], loc["g"][0]
    out["loc"], out["loc_f"] = called(lb, lg, loc["b"][1] * scale, r * loc["g"][1] * scale, True)
    out["locr"], out["locr_f"] = called(lb, lg, loc["b"][1] * scale, r * loc["g"][1] * scale,
                                        False)
    return out


def summarise(path: Path) -> None:
    """Medians (10th-90th percentiles) of a log of this script, by water type."""
    rows = []
    for line in path.read_text().splitlines():
        t = line.split()
        rows.append({t[i]: float(t[i + 1]) for i in range(0, len(t) - 1, 2)})
    groups = (("all", lambda r: True), ("turbid (Kd490 >= 0.05)", lambda r: r["kd490"] >= 0.05),
              ("clear", lambda r: r["kd490"] < 0.05),
              ("optically deep water held", lambda r: r["n"] >= 200))
    for name, sel in groups:
        s = [r for r in rows if sel(r) and "b_sd" in r]
        print(f"{name}: {len(s)} seeds")
        for keys in (("nz_b", "nz_g", "nzraw_b", "nzraw_g", "b_nd", "g_nd"),
                     ("b_med", "b_sd", "b_res3", "b_res8", "b_res20", "b_raw"),
                     ("g_med", "g_sd", "g_res3", "g_res8", "g_res20", "g_raw"),
                     ("b_z8", "g_z8", "nc")):
            keys = [k for k in keys if all(k in r for r in s)]
            print("  " + ", ".join(
                f"{k} {np.median([r[k] for r in s]):.2f} ({np.percentile([r[k] for r in s], 10):.2f}"
                f"-{np.percentile([r[k] for r in s], 90):.2f})" for k in keys))
        truth = np.array([r["truth"] for r in s])
        for k in ("main", "sep", "loc", "locr"):
            v, f = np.array([r[k] for r in s]), np.array([r[k + "_f"] for r in s])
            print(f"  {k}: called / truth {np.median(v / truth):.2f}, within 15 % "
                  f"{np.mean(np.abs(v / truth - 1) <= 0.15):.0%}, false {np.median(f):.1f} ha")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", type=int, nargs="*")
    parser.add_argument("--cache", type=Path, default=Path("/work/wt/sg23-cache"))
    parser.add_argument("--summary", type=Path, help="summarise a log of this script instead")
    args = parser.parse_args(argv)
    if args.summary:
        summarise(args.summary)
        return 0
    assert (SIZE, MONTHS) == (300, 18)
    for seed in args.seeds:
        o = diagnose(seed, args.cache)
        print(" ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                       for k, v in o.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
