"""How much a bathymetry layer gives the seagrass test of sg25 (helper sg26; a prototype in
numpy on main's fitted water, the truth only for scoring).

    PYTHONPATH=<tree> python benchmarks/measured/sg26/layer.py DUMP_DIR SEEDS \\
        [--cell PX] [--err REL] [--cal truth|scene] [--out X.jsonl]

Inputs: sg25's dumps (``benchmarks/measured/sg25/dump.py``: main's deglinted bottom signals
above the fitted deep water, the honest noise, the truth's maps and depth).

**The layer** (what a partner would hold, simulated from the truth's depth, land = 0 m):
block-averaged on ``--cell`` px cells (12 px = 120 m ~ EMODnet Bathymetry's 1/16 arc-minute
DTM, ~115 m at 37 N; 46 px = 460 m ~ GEBCO's 15 arc-second grid), a vertical error added per
coarse cell (Gaussian, sigma = ``--err-abs`` m + ``--err`` x depth, seeded by seed, cell and
error), and bilinear back to the 10 m grid (the resampling a site raster would get). Neither
product states one vertical accuracy: EMODnet gives per cell the min / max / standard
deviation of the soundings and a quality index (EMODnet Bathymetry DTM exchange format,
Vossen 2011); GEBCO "does not include detailed bathymetry for shallow shelf waters"
(GEBCO disclaimer) and flags its cells' sources (TID grid). The survey standard a sounding
meets, IHO S-44 6th ed. (2020), Order 2: TVU (95 %) = sqrt(1.0**2 + (0.023 d)**2) m, is far
below the cells' own spread; the brief's stated range (1 m + 5 % / 10 % of the depth, 1 sigma,
per coarse cell) is used instead. ``--bias`` adds a constant (a datum: the layer's LAT
against the water at the image's tide).

**The expected sand at the layer's depth** (``--cal``):

* ``truth``: sg25's oracle (:func:`sandfield._oracle`) binned on the layer's depth: per 0.5 m
  bin of the layer, the median signal of the truth's sand bottom (the truth calibrates; only
  the depth is the layer's).
* ``dist`` (part B, no layer): as ``scene`` with the distance from the shore (the edge of
  the water mask, 10 m per 0.5-unit bin) in place of the depth: a shelf of constant slope
  (the Lyzenga line in distance). CAUTION: the generator's bathymetry is a function of that
  distance (``depth = z_max (1 - exp(-dist / scale))``, ``tests/scenarios/landscape.py``),
  so a distance model is favoured by construction; a real shelf is not.
* ``scene``: no truth. The rule's own sand (sg25 step 1: green and blue 3 sigma above the
  deep water and the threshold's line at the honest noise, 3 x 3 opened), per 0.5 m bin of
  the layer the median ``ln b``, ``ln g`` of that sand; bins with >= 20 px whose median is
  >= 10 sigma above the deep water (the detection cut does not bias them) carry a straight
  line in depth (Lyzenga 1978: the log of a bottom's signal above the deep water falls
  linearly with depth, slope -2K), fitted by least absolute deviations (iteratively
  reweighted), extrapolated to every depth of the layer. That is record ``scene`` (v1).
  v2 (``scene2``: ``--min-frac 0.1 --gap 2 --zcut``, chosen on the dev seeds,
  ``minfrac-dev.log``): a bin counts only where the sand seen is >= 10 % of its water, from
  the shallowest such bin down, stopping 2 m past the last one; nothing deeper than that
  depth is judged (the layer's answer to "where does the sand stop being seen"). In v1 the
  bright tail of the deep "sand" (plume residue, the brightest albedos) flattened the line
  and the test called deep water meadow (29-415 ha on 9 dev seeds at the truth's depth).

The sand's scatter about the expected sand (where it is >= 10 sigma above the deep water) is
carried as a relative error, as in sg25; it contains the layer's depth error, so a coarse or
wrong layer is judged with a wider error. The test is sg25's step 3 with ``--single-view``
(assessable where sand and vegetation at the rule's albedo ratios are 3 sigma apart at one
view's noise; seagrass where Fisher's discriminant says vegetation). Records as sg25's
(``v3`` main's rule, ``nc`` the layer's test), ``table.py`` of sg25 reads them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sg25"))
from sandfield import SAND_BOTTOM, _mad, _score, _seeds  # noqa: E402

from indices.seagrass_rule import SeagrassRule  # noqa: E402
from indices.water import PARAMETERS  # noqa: E402


def layer(depth: np.ndarray, cell: int, err: float, err_abs: float, seed: int,
          draw: int = 0) -> np.ndarray:
    """The truth's depth as a coarse layer: ``cell`` x ``cell`` block means (partial blocks at
    the edge), a Gaussian error per cell (sigma = ``err_abs`` + ``err`` x depth, m), bilinear
    back to the pixel grid; >= 0."""
    if cell <= 1 and err == 0 and err_abs == 0:
        return depth
    d = np.where(np.isfinite(depth), np.maximum(depth, 0.0), 0.0)
    h, w = d.shape
    ri, ci = np.arange(0, h, cell), np.arange(0, w, cell)
    s = np.add.reduceat(np.add.reduceat(d, ri, 0), ci, 1)
    n = np.add.reduceat(np.add.reduceat(np.ones_like(d), ri, 0), ci, 1)
    c = s / n
    if err or err_abs:
        key = [seed, cell, int(err * 1000), int(err_abs * 1000)] + ([draw] if draw else [])
        rng = np.random.default_rng(key)
        c = c + rng.standard_normal(c.shape) * (err_abs + err * c)
    yy = (np.arange(h) + 0.5) / cell - 0.5
    xx = (np.arange(w) + 0.5) / cell - 0.5
    y, x = np.meshgrid(yy, xx, indexing="ij")
    return np.maximum(ndimage.map_coordinates(c, [y, x], order=1, mode="nearest"), 0.0)


def cal_truth(z, d, b, g, wet, floor):
    """sg25's oracle on the layer's depth ``z``: per 0.5 m bin, the truth's sand's median."""
    sand = wet & (d["classes"] == SAND_BOTTOM) & (d["depth"] > 0)
    k = np.floor(z / 0.5).astype(int)
    fb, fg = np.full(b.shape, np.nan), np.full(b.shape, np.nan)
    for i in np.unique(k[wet & (z > 0)]):
        here = sand & (k == i)
        if here.sum() >= 10:
            fb[k == i] = np.log(max(np.median(b[here]), floor))
            fg[k == i] = np.log(max(np.median(g[here]), floor))
    return fb, fg, sand & (b > floor) & (g > floor)


def _lad_line(x, y, w, it=30):
    """Weighted least-absolute-deviation line ``y = a + c x`` (IRLS)."""
    ww = w.astype(float)
    for _ in range(it):
        a = np.vstack([np.ones_like(x), x]).T * np.sqrt(ww)[:, None]
        p = np.linalg.lstsq(a, y * np.sqrt(ww), rcond=None)[0]
        ww = w / np.maximum(np.abs(y - p[0] - p[1] * x), 1e-3)
    return p


def cal_scene(z, b, g, wet, sand, nb, ng, floor, min_px=20, above=10.0, min_frac=0.0,
              gap=None):
    """The rule's own sand's ``ln b``, ``ln g`` against the layer's depth: a Lyzenga line
    through the 0.5 m bins' medians where they are ``above`` sigma above the deep water and
    the sand seen is at least ``min_frac`` of the bin's water (a depth where the bottom is
    seen shows its sand wherever there is sand; a few bright pixels at a depth where the rest
    is dark are the noise's and the plume's tail, not the bottom: sg26 found turbid scenes'
    own "sand" at 15-18 m 4 times brighter than the truth's sand there, seed 201)."""
    k = np.floor(z / 0.5).astype(int)
    nwet = np.bincount(k[wet].ravel(), minlength=k.max() + 1)
    nsand = np.bincount(k[sand].ravel(), minlength=k.max() + 1)
    good = (nsand >= min_px) & (nsand >= min_frac * nwet)
    if gap is not None and good.any():  # the sand seen from the shore down, no further than
        # ``gap`` m past the last depth where it was seen (deeper detections: not the bottom)
        i0, last = int(np.argmax(good)), int(np.argmax(good))
        for i in range(i0, good.size):
            if good[i]:
                last = i
            elif (i - last) * 0.5 > gap:
                good[i:] = False
                break
    zmax = (np.flatnonzero(good).max() + 1) * 0.5 + (gap or 0.0) if good.any() else 0.0
    fields = []
    for v, nz in ((b, nb), (g, ng)):
        xs, ys, ws = [], [], []
        for i in np.unique(k[sand]):
            here = sand & (k == i)
            if not good[i]:
                continue
            m = np.median(v[here])
            if m >= above * np.median(nz[here]):
                xs.append(np.median(z[here]))
                ys.append(np.log(m))
                ws.append(here.sum())
        if len(xs) < 2:
            return None, None, zmax
        a, c = _lad_line(np.array(xs), np.array(ys), np.sqrt(np.array(ws)))
        c = min(c, 0.0)  # a bottom never brightens with depth
        fields.append(np.where(wet, a + c * z, np.nan))
    return fields[0], fields[1], zmax


def look(path: Path, rule: SeagrassRule, cell: int, err: float, err_abs: float, cal: str,
         min_frac: float = 0.0, gap: float | None = None, zcut: bool = False,
         bias: float = 0.0, draw: int = 0):
    d = np.load(path)
    seed = int(path.stem)
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
    z = np.maximum(layer(d["depth"], cell, err, err_abs, seed, draw) + bias, 0.0)
    if cal == "dist":  # no layer: the distance from the shore (10 m per 0.5 unit bin), the
        # land being the largest region outside the water mask (not the mask's holes at sea:
        # 5 000-15 000 px a scene)
        lab, _ = ndimage.label(~wet)
        size = np.bincount(lab.ravel())
        size[0] = 0
        z = np.where(wet, ndimage.distance_transform_edt(lab != np.argmax(size)) / 2.0, 0.0)
    sea = wet & (d["depth"] > 0)
    zw = (z[sea] if cal != "dist" else d["depth"][sea]) - d["depth"][sea]  # the layer's error
    out = {"seed": seed, "kd490": round(float(d["kd490"]), 3), "truth": round(truth, 1),
           "zvis": round(float(d["zvis"]), 1),
           "zerr": f"{np.median(zw):.2f}/{1.4826 * np.median(np.abs(zw - np.median(zw))):.2f}"}
    with np.errstate(invalid="ignore", divide="ignore"):
        nb0, ng0 = wp["noise_blue"] * scale, r * wp["noise_green"] * scale
        seen = wet & (g > floor)
        gs = np.where(seen, g, np.nan)
        off = np.log(np.maximum(b, floor)) - r * np.log(gs) - np.log(sand_c)
        line = np.exp(t) * sand_c * gs ** r
        v3 = (seen & (r * gs >= k * ng0)
              & (np.abs(b - line) >= k * np.sqrt(nb0 ** 2 + (line * ng0 / gs) ** 2)))
        _score(out, "v3", v3 & (off <= t), v3, site, meadow, assess, truth)
        sb, sg = d["nb_h"], d["ng_h"]
        nb, ng = sb * scale, sg * scale
        own = (wet & (g >= k * ng)
               & (b - line >= k * np.sqrt(nb ** 2 + (line * r * ng / gs) ** 2)))
        own = ndimage.binary_opening(own, np.ones((3, 3), bool))
        if cal == "truth":
            fb, fg, sand = cal_truth(z, d, b, g, wet, floor)
        else:
            sand = own
            fb, fg, zmax = cal_scene(z, b, g, wet, own, nb, ng, floor, min_frac=min_frac,
                               gap=gap)
            if fb is None:
                fb = fg = np.full(b.shape, np.nan)
            out["zmax"] = round(float(zmax), 1)
            if zcut:  # nothing judged deeper than the sand is seen (with ``gap``)
                fb, fg = np.where(z <= zmax, fb, np.nan), np.where(z <= zmax, fg, np.nan)
        out["sand_ha"] = round(sand.sum() * 0.01, 1)
        if sand.any():  # never brighter than the brightest sand seen (sg25's clamp)
            fb = np.minimum(fb, np.log(np.quantile(b[sand], 0.99)))
            fg = np.minimum(fg, np.log(np.quantile(g[sand], 0.99)))
        mb, mg = sand & (np.exp(fb) >= 10 * nb), sand & (np.exp(fg) >= 10 * ng)
        eb = _mad(np.log(np.maximum(b[mb], floor)) - fb[mb])
        eg = _mad(np.log(np.maximum(g[mg], floor)) - fg[mg])
        out["err"] = f"{eb:.2f}/{eg:.2f}"
        s_b, s_g = np.exp(fb), np.exp(fg)
        a_b, a_g = rule.albedo_ratio_blue, rule.albedo_ratio_green
        sig_b = np.sqrt(nb ** 2 + (s_b * eb) ** 2)
        sig_g = np.sqrt(ng ** 2 + (s_g * eg) ** 2)
        w_b, w_g = s_b * (1 - a_b ** 2) / sig_b, s_g * (1 - a_g ** 2) / sig_g
        v = np.sqrt(wp["n_views"])  # one view's noise (sg25 --single-view)
        sep = np.hypot(s_b * (1 - a_b ** 2) / np.sqrt((sb * v) ** 2 + (s_b * eb) ** 2),
                       s_g * (1 - a_g ** 2) / np.sqrt((sg * v) ** 2 + (s_g * eg) ** 2))
        zz = w_b * (b - a_b * s_b) / sig_b + w_g * (g - a_g * s_g) / sig_g
        ok = wet & np.isfinite(sep) & (sep >= k) & np.isfinite(zz)
        _score(out, "nc", ok & (zz < 0), ok, site, meadow, assess, truth)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dump", type=Path)
    p.add_argument("seeds", nargs="+")
    p.add_argument("--cell", type=int, default=1)
    p.add_argument("--err", type=float, default=0.0)
    p.add_argument("--err-abs", type=float, default=0.0)
    p.add_argument("--cal", choices=("truth", "scene", "dist"), default="truth")
    p.add_argument("--min-frac", type=float, default=0.0)
    p.add_argument("--gap", type=float)
    p.add_argument("--zcut", action="store_true")
    p.add_argument("--bias", type=float, default=0.0, help="m added to the layer (a datum)")
    p.add_argument("--draw", type=int, default=0, help="another draw of the layer's error")
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    rows = []
    for spec in a.seeds:
        for s in _seeds(spec):
            o = look(a.dump / f"{s}.npz", SeagrassRule(), a.cell, a.err, a.err_abs, a.cal,
                     a.min_frac, a.gap, a.zcut, a.bias, a.draw)
            rows.append(o)
            print(" ".join(f"{k} {v}" for k, v in o.items()), flush=True)
    v = np.array([o["nc"] for o in rows])
    f = np.array([o["nc_f"] for o in rows])
    print(f"nc: within 15% {int((np.abs(v - 1) <= 0.15).sum())}/{len(v)}, median "
          f"{np.median(v):.2f}, found {np.median([o['nc_in'] for o in rows]):.2f}, false "
          f"median {np.median(f):.1f} mean {f.mean():.1f} ha")
    if a.out:
        a.out.write_text("".join(json.dumps(o) + "\n" for o in rows))


if __name__ == "__main__":
    main()
