"""The depth a pixel does not carry, from the sand around it (helper sg25; a prototype in
numpy on main's fitted water, the truth only for scoring).

    PYTHONPATH=<tree> python benchmarks/measured/sg25/sandfield.py DUMP_DIR [--variant V] SEEDS

Inputs: ``dump.py``'s per-seed arrays (main's deglinted bottom signals ``b``, ``g`` above
the fitted deep water, the water parameters, the honest noise of sg23).

1. **Sand**: pixels the rule itself calls sand with confidence at the honest noise: green
   ``detect_sigmas`` above the deep water and blue ``detect_sigmas`` above the threshold's
   line ``exp(T) C g^r`` (the rule's gate, one-sided).
2. **The expected sand signal** at every pixel, in log space (``ln b``, ``ln g`` of a bottom
   fall linearly with depth, Lyzenga 1978): normalised convolution of the sand's log signals
   (Knutsson & Westin 1993, CVPR: the certainty ``c`` = 1 on sand, 0 elsewhere, a Gaussian
   applicability), of order 1 (a local plane: the depth's gradient carried past the last
   sand, so that beyond a shelf's edge the expected sand keeps falling instead of staying at
   the edge's level) or 0; at several scales, each pixel taking the finest whose sand weight
   amounts to ``min_sand`` pixels (a meadow's interior, far from sand, gets a coarser one).
   The sand's scatter about the field (its own albedo's variation, gullies) is measured on
   the sand (1.4826 MAD of the log residual) and carried as a relative error.
3. **The test**: sand ``s_i`` = the field, vegetation ``v_i = a_i**2 s_i`` (the rule's
   threshold bottom ``a_i s_i`` is the geometric mean of the two, :class:`SeagrassRule`),
   per band the discriminability ``w_i = (s_i - v_i) / sigma_i``, ``sigma_i**2`` the honest
   noise at the pixel's views plus the field's error; **assessable** where ``sqrt(sum w_i**2)
   >= detect_sigmas`` (sand and vegetation told apart at that depth: the truth's criterion
   with the composite's noise), **seagrass** where ``sum w_i (o_i - a_i s_i) / sigma_i < 0``
   (Fisher's discriminant between the two, cut at the rule's threshold bottom).

Options (the variants of ``README.md``): ``--hull H`` a scale is used at a pixel only where
the sand's weighted centroid lies within ``H`` sigma of it (sand on all sides: interpolation;
without it the field is carried far past the last sand); ``--open`` a 3 x 3 opening of the
sand mask and ``--min-patch N`` sand patches of at least N pixels (plume residue and noise
clumps in deep water are not a bottom); ``--order 1`` a local plane; ``--site-noise`` the
site's (understated) noise instead of the honest one; ``--no-field-err`` without the field's
error; ``--single-view`` assessable at one view's noise; ``--veg-floor K`` not assessable
where the pixel is K sigma darker than vegetation at the field's depth; ``--field-min F``
assessable only where the expected sand is F sigma above the deep water; ``--fallback``
main's rule where no field exists; ``--oracle-depth`` the truth's depth instead of the
field (an upper bound, :func:`_oracle`). The record ``p500``: ``--order 0 --hull 0.8 --open
--min-patch 500``.

Per seed: the truth (meadow of the baseline over the truth's assessable water, ha), main's
rule (``v3``, this script's numpy copy: its called / truth agrees with the pipeline's
baseline rows within 1.7 % on the 60 dev seeds, 4.3 % on 300-319) and the sand field
(``nc``): called / truth, ``_in`` the share of the truth's meadow found inside its
assessable water, ``_f`` false (called where the truth has no meadow, ha), ``_fdeep`` the
part of it beyond the truth's assessable water, ``_bey`` meadow called beyond it (ha),
``_a`` assessed / the truth's assessable water; ``sand_ha`` the sand that carries the field,
``err`` its relative scatter about the field (blue/green).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.signal import fftconvolve

from indices.seagrass_rule import SeagrassRule
from indices.water import PARAMETERS

SCALES = (4.0, 12.0, 36.0)


def _kernels(sigma: float):
    h = int(np.ceil(3 * sigma))
    u = np.arange(-h, h + 1, dtype=np.float64)
    y, x = np.meshgrid(u, u, indexing="ij")
    a = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    return {"1": a, "x": a * x, "y": a * y, "xx": a * x * x, "xy": a * x * y, "yy": a * y * y}


def _corr(v, k):  # correlation (neighbour minus centre coordinates): convolve the flipped kernel
    return fftconvolve(v, k[::-1, ::-1], mode="same")


def normalised_convolution(f: np.ndarray, cert: np.ndarray, sigma: float, order: int):
    """``(value, weight)``: the certainty-weighted local fit of ``f`` (order 0: mean, 1: plane)
    at every pixel, and the sand weight (sum of applicability x certainty, in pixels)."""
    k = _kernels(sigma)
    c = cert.astype(np.float64)
    cf = np.where(cert, f, 0.0)
    w = _corr(c, k["1"])
    if order == 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            return _corr(cf, k["1"]) / w, w
    g = {n: _corr(c, k[n]) for n in ("1", "x", "y", "xx", "xy", "yy")}
    h = {n: _corr(cf, k[n]) for n in ("1", "x", "y")}
    m = np.stack([np.stack([g["1"], g["x"], g["y"]], -1),
                  np.stack([g["x"], g["xx"], g["xy"]], -1),
                  np.stack([g["y"], g["xy"], g["yy"]], -1)], -2)
    rhs = np.stack([h["1"], h["x"], h["y"]], -1)
    m = m + np.eye(3) * 1e-9 * np.maximum(g["1"], 1e-12)[..., None, None]
    ok = w > 1e-6
    out = np.full(f.shape, np.nan)
    # the plane's conditioning: its smallest eigenvalue against the weight (spread of the sand)
    ev = np.linalg.eigvalsh(m[ok])
    sol = np.linalg.solve(m[ok], rhs[ok][..., None])[..., 0]
    spread = ev[:, 0] / np.maximum(w[ok], 1e-12)
    val = sol[:, 0]
    # too narrow a spread of sand (a line, a clump) to carry a gradient: the mean instead
    mean0 = h["1"][ok] / w[ok]
    val = np.where(spread >= 0.25 * sigma * sigma * 0.1, val, mean0)
    out[ok] = val
    return out, w


def centroid_offset(cert, sigma):
    """Distance of the sand's weighted centroid from the pixel, in units of ``sigma``: small
    where sand lies on all sides (interpolation), near 1-2 at the edge of the sand
    (extrapolation: beyond a shelf's last sand, or a meadow seen from one side only)."""
    k = _kernels(sigma)
    c = cert.astype(np.float64)
    w = _corr(c, k["1"])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.hypot(_corr(c, k["x"]), _corr(c, k["y"])) / w / sigma


def sand_field(f, cert, order, min_sand, hull=None, scales=None):
    """The finest scale of ``scales`` whose sand weight reaches ``min_sand`` (and, with
    ``hull``, whose sand centroid lies within ``hull`` sigma of the pixel); NaN where none
    does (or no sand at all)."""
    out = np.full(f.shape, np.nan)
    if not cert.any():
        return out
    for s in scales or SCALES:
        val, w = normalised_convolution(f, cert, s, order)
        take = np.isnan(out) & (w >= min_sand) & np.isfinite(val)
        if hull is not None:
            take &= centroid_offset(cert, s) <= hull
        out[take] = val[take]
    return out


def look(path: Path, rule: SeagrassRule, order: int = 1, min_sand: float = 8.0,
         honest: bool = True, field_err: bool = True, clamp: bool = True,
         hull: float | None = None, opening: bool = False, scales=None, maps: bool = False,
         min_patch: int = 0, single_view: bool = False,
         veg_floor: float | None = None, field_min: float | None = None,
         fallback: bool = False, oracle: bool = False):
    d = np.load(path)
    wp = dict(zip(PARAMETERS, d["water"].tolist(), strict=True))
    b, g, wet = d["b"], d["g"], d["wet"]
    site, meadow, assess = d["site"], d["meadow"], d["assessable"]
    views = np.clip(d["views"].astype(np.float64), 1, None)
    scale = np.sqrt(wp["n_views"] / views)
    r = wp["k_ratio"]
    t = np.log(rule.albedo_ratio_blue) - r * np.log(rule.albedo_ratio_green)
    sand_c = np.exp(wp["dii_sand"])
    floor = rule.min_bottom_signal
    k = rule.detect_sigmas
    truth = (site & meadow & assess).sum() * 0.01
    out = {"seed": int(path.stem), "kd490": round(float(d["kd490"]), 3),
           "truth": round(truth, 1), "zvis": round(float(d["zvis"]), 1)}
    with np.errstate(invalid="ignore", divide="ignore"):
        # main's rule (v3) in numpy, the site's noise
        nb0, ng0 = wp["noise_blue"] * scale, r * wp["noise_green"] * scale
        seen = wet & (g > floor)
        gs = np.where(seen, g, np.nan)
        off = np.log(np.maximum(b, floor)) - r * np.log(gs) - np.log(sand_c)
        line = np.exp(t) * sand_c * gs ** r
        v3 = (seen & (r * gs >= k * ng0)
              & (np.abs(b - line) >= k * np.sqrt(nb0 ** 2 + (line * ng0 / gs) ** 2)))
        _score(out, "v3", v3 & (off <= t), v3, site, meadow, assess, truth)
        # 1. sand at the honest noise
        sb, sg = (d["nb_h"], d["ng_h"]) if honest else (wp["noise_blue"], wp["noise_green"])
        nb, ng = sb * scale, sg * scale
        sand = (wet & (g >= k * ng) & (b - line >= k * np.sqrt(nb ** 2 + (line * r * ng / gs) ** 2)))
        if opening:  # isolated "sand" (noise, plume residue in deep water) is not a bottom
            sand = ndimage.binary_opening(sand, np.ones((3, 3), bool))
        if min_patch:  # nor is a clump of it in deep water: sand patches of min_patch px
            lab, n = ndimage.label(sand)
            size = np.bincount(lab.ravel(), minlength=n + 1)
            sand = sand & (size[lab] >= min_patch)
        out["sand_ha"] = round(sand.sum() * 0.01, 1)
        # 2. the expected sand signal
        fb = sand_field(np.log(np.maximum(b, floor)), sand, order, min_sand, hull, scales)
        fg = sand_field(np.log(np.maximum(g, floor)), sand, order, min_sand, hull, scales)
        if oracle:  # upper bound: the truth's depth, the median sand at it (0.5 m bins)
            fb, fg, sand = _oracle(d, b, g, wet, floor)
        if clamp and sand.any():  # never brighter than the brightest sand seen (a plane)
            fb = np.minimum(fb, np.log(np.quantile(b[sand], 0.99)))
            fg = np.minimum(fg, np.log(np.quantile(g[sand], 0.99)))
        # the sand's scatter about the field (with the oracle: where the field is 10 sigma
        # above the deep water, not the deep sand's noise)
        mb = sand & (np.exp(fb) >= 10 * nb) if oracle else sand
        mg = sand & (np.exp(fg) >= 10 * ng) if oracle else sand
        eb = _mad(np.log(np.maximum(b[mb], floor)) - fb[mb]) if field_err else 0.0
        eg = _mad(np.log(np.maximum(g[mg], floor)) - fg[mg]) if field_err else 0.0
        out["err"] = f"{eb:.2f}/{eg:.2f}"
        s_b, s_g = np.exp(fb), np.exp(fg)
        a_b, a_g = rule.albedo_ratio_blue, rule.albedo_ratio_green
        sig_b = np.sqrt(nb ** 2 + (s_b * eb) ** 2)
        sig_g = np.sqrt(ng ** 2 + (s_g * eg) ** 2)
        w_b, w_g = s_b * (1 - a_b ** 2) / sig_b, s_g * (1 - a_g ** 2) / sig_g
        sep = np.sqrt(w_b ** 2 + w_g ** 2)
        if single_view:  # assessable where one view tells them apart (a month of one view)
            v = np.sqrt(wp["n_views"])
            sep = np.hypot(s_b * (1 - a_b ** 2) / np.sqrt((sb * v) ** 2 + (s_b * eb) ** 2),
                           s_g * (1 - a_g ** 2) / np.sqrt((sg * v) ** 2 + (s_g * eg) ** 2))
        z = w_b * (b - a_b * s_b) / sig_b + w_g * (g - a_g * s_g) / sig_g
        ok = wet & np.isfinite(sep) & (sep >= k) & np.isfinite(z)
        if field_min is not None:  # the expected sand well above the cut that chose the
            # sand (3 sigma): near that cut the chosen sand is the part the noise drew up, and
            # its field too bright (deep water beyond it then reads as a dark bottom)
            ok &= (s_b >= field_min * nb) | (s_g >= field_min * ng)
        if veg_floor is not None:  # darker than vegetation at that depth: deeper than the
            # field says (deep water beyond the sand's edge), not a meadow there
            v_b, v_g = a_b ** 2 * s_b, a_g ** 2 * s_g
            vs_b, vs_g = np.hypot(nb, v_b * eb), np.hypot(ng, v_g * eg)
            zv = (w_b * (b - v_b) / vs_b + w_g * (g - v_g) / vs_g) / np.hypot(w_b, w_g)
            ok &= zv >= -veg_floor
        called = ok & (z < 0)
        if fallback:  # no sand field at the pixel: main's rule judges it
            none = wet & ~np.isfinite(fb)
            called = called | (none & v3 & (off <= t))
            ok = ok | (none & v3)
        _score(out, "nc", called, ok, site, meadow, assess, truth)
    if maps:
        return out, {"sand": sand, "fb": fb, "fg": fg, "ok": ok, "called": ok & (z < 0),
                     "sep": sep, "z": z}
    return out


SAND_BOTTOM = 20  # tests/scenarios/landscape.py


def _oracle(d, b, g, wet, floor):
    """The expected sand from the truth's depth (an upper bound of any depth estimate, not a
    rule): per 0.5 m bin, the median deglinted signal of the truth's sand bottom."""
    depth, sand = d["depth"], wet & (d["classes"] == SAND_BOTTOM) & (d["depth"] > 0)
    k = np.floor(depth / 0.5).astype(int)
    fb, fg = np.full(b.shape, np.nan), np.full(b.shape, np.nan)
    for i in np.unique(k[wet & (depth > 0)]):
        here = sand & (k == i)
        if here.sum() >= 10:
            fb[k == i] = np.log(max(np.median(b[here]), floor))
            fg[k == i] = np.log(max(np.median(g[here]), floor))
    return fb, fg, sand & (b > floor) & (g > floor)


def _mad(v):
    v = v[np.isfinite(v)]
    return float(1.4826 * np.median(np.abs(v - np.median(v)))) if v.size else 0.0


def _score(out, tag, called, assessed, site, meadow, assess, truth):
    got = called & site
    out[tag] = round(got.sum() * 0.01 / max(truth, 0.01), 2)
    out[tag + "_f"] = round((got & ~meadow).sum() * 0.01, 1)
    out[tag + "_in"] = round((got & meadow & assess).sum() * 0.01 / max(truth, 0.01), 2)
    out[tag + "_bey"] = round((got & meadow & ~assess).sum() * 0.01, 1)
    out[tag + "_fdeep"] = round((got & ~meadow & ~assess).sum() * 0.01, 1)
    out[tag + "_a"] = round((assessed & site).sum() / max((assess & site).sum(), 1), 2)


def _seeds(spec: str) -> list[int]:
    lo, _, hi = spec.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dump", type=Path)
    p.add_argument("seeds", nargs="+")
    p.add_argument("--order", type=int, default=1)
    p.add_argument("--min-sand", type=float, default=8.0)
    p.add_argument("--site-noise", action="store_true")
    p.add_argument("--no-field-err", action="store_true")
    p.add_argument("--no-clamp", action="store_true")
    p.add_argument("--hull", type=float)
    p.add_argument("--open", action="store_true")
    p.add_argument("--scales", type=lambda v: tuple(float(x) for x in v.split(",")))
    p.add_argument("--min-patch", type=int, default=0)
    p.add_argument("--single-view", action="store_true")
    p.add_argument("--veg-floor", type=float)
    p.add_argument("--field-min", type=float)
    p.add_argument("--fallback", action="store_true")
    p.add_argument("--oracle-depth", action="store_true")
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    rows = []
    for spec in a.seeds:
        for s in _seeds(spec):
            o = look(a.dump / f"{s}.npz", SeagrassRule(), a.order, a.min_sand,
                     not a.site_noise, not a.no_field_err, not a.no_clamp, a.hull, a.open,
                     a.scales, min_patch=a.min_patch,
                     single_view=a.single_view, veg_floor=a.veg_floor,
                     field_min=a.field_min, fallback=a.fallback,
                     oracle=a.oracle_depth)
            rows.append(o)
            print(" ".join(f"{k} {v}" for k, v in o.items()), flush=True)
    for tag in ("v3", "nc"):
        v = np.array([o[tag] for o in rows])
        f = np.array([o[tag + "_f"] for o in rows])
        print(f"{tag}: within 15% {int((np.abs(v - 1) <= 0.15).sum())}/{len(v)}, median "
              f"{np.median(v):.2f}, under {int((v < 0.85).sum())} over {int((v > 1.15).sum())},"
              f" false median {np.median(f):.1f} ha mean {f.mean():.1f}; found "
              f"{np.median([o[tag + '_in'] for o in rows]):.2f} of the truth, beyond its "
              f"assessable water {np.median([o[tag + '_bey'] for o in rows]):.1f} ha, false "
              f"there {np.median([o[tag + '_fdeep'] for o in rows]):.1f} ha (mean "
              f"{np.mean([o[tag + '_fdeep'] for o in rows]):.1f})")
    if a.out:
        a.out.write_text("".join(json.dumps(o) + "\n" for o in rows))


if __name__ == "__main__":
    main()
