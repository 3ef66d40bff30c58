"""Water parameters of a site from its own image: glint, deep water, attenuation ratio.

The depth-invariant index needs, per site and water type, the reflectance of optically deep
water and the ratio of the diffuse attenuation coefficients of blue and green; constants for
one water type misjudge every other (issue 17: 80 % of a meadow found at 2.5-5 m, 25 % at
10-13 m). Here they come from the site's composite (its baseline), in three steps:

1. **Glint** (Hedley et al. 2005, Int. J. Remote Sens. 26:2107-2112,
   doi:10.1080/01431160500034086): over the darkest water (the lowest ``deep_fraction`` of
   blue + green), regress each visible band on NIR; ``R'_i = R_i - b_i (NIR - NIR_ref)`` with
   ``NIR_ref`` a low percentile of that water's NIR (Hedley's minimum, robust to noise).
2. **Sand line** (Lyzenga 1981, Int. J. Remote Sens. 2:71-82, doi:10.1080/01431168108948342):
   a bright bottom over a range of depths follows ``X_B = r X_G + c`` with
   ``X_i = ln(R'_i - R_deep_i)`` and ``r = k_B / k_G = a + sqrt(a^2 + 1)``,
   ``a = (var X_B - var X_G) / (2 cov(X_B, X_G))``. The bright bottom is chosen objectively:
   per green bin of the deglinted water, the upper ``sand_quantile`` of blue (the brightest
   bottom at that depth).
3. **Deep water** jointly with the sand line: the ``(R_deep_B, R_deep_G)`` below the darkest
   water that make the sand points most nearly a straight line in log space (smallest
   orthogonal residual of Lyzenga's fit), found on a grid. Optically deep water in the site
   pins it; where the site holds none (clear water, a shallow site) the line's curvature still
   extrapolates it, where a low percentile of the water would take deep meadow for deep water.

Everything is reduced through exact integer histograms and fixed-point sums, so the numbers
do not depend on the chunking (the walks of :mod:`indices.summary` must agree bit for bit);
lazy when the input is. Where the fit has too little to go on, the rule's defaults are used
and ``estimated`` is 0.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr

__all__ = ["PARAMETERS", "fit_water", "lyzenga_ratio", "water_parameters"]

PARAMETERS = ("deep_blue", "deep_green", "glint_blue", "glint_green", "nir_ref", "k_ratio",
              "dii_sand", "estimated")
"""The parameters :func:`water_parameters` returns, in order."""

BINS = 250
RANGE = (0.0, 0.25)
"""Reflectance histogram: 0.001 bins (the L2A quantum is 0.0001; composite noise ~0.001)."""
_FIXED = 2.0 ** 16
"""Fixed-point scale of the exact sums (reflectance < 1: squares < 2**32 each)."""


def lyzenga_ratio(var_i: float, var_j: float, cov_ij: float) -> float:
    """``k_i / k_j = a + sqrt(a^2 + 1)``, ``a = (var_i - var_j) / (2 cov_ij)`` (Lyzenga 1981)."""
    a = (var_i - var_j) / (2.0 * cov_ij)
    return float(a + np.sqrt(a * a + 1.0))


def _bins(x):
    lo, hi = RANGE
    return np.clip(np.floor((x - lo) / (hi - lo) * BINS), 0, BINS - 1).astype(np.int64)


def _hist_block(*arrays):
    """``(mask, a[, b])`` blocks -> (1, 1, BINS[**2]) counts of the masked values."""
    mask, *values = arrays
    ok = mask & np.all([np.isfinite(v) for v in values], axis=0)
    if len(values) == 1:
        h = np.bincount(_bins(values[0][ok]), minlength=BINS)
    else:
        h = np.bincount(_bins(values[0][ok]) * BINS + _bins(values[1][ok]),
                        minlength=BINS * BINS)
    return h[None, None, :]


def _histogram(mask: xr.DataArray, *values: xr.DataArray):
    """Exact counts of ``values`` (one or two maps) where ``mask``: a 1-D (BINS or BINS**2)
    int64 array, dask when the inputs are."""
    arrays = [a.transpose("y", "x").data for a in (mask, *values)]
    width = BINS ** len(values)
    if not any(isinstance(a, da.Array) for a in arrays):
        return _hist_block(*(np.asarray(a) for a in arrays))[0, 0]
    arrays = [da.asarray(a) for a in arrays]
    arrays = [a.rechunk(arrays[0].chunks) for a in arrays]
    ny, nx = arrays[0].numblocks
    parts = da.map_blocks(_hist_block, *arrays, new_axis=2,
                          chunks=((1,) * ny, (1,) * nx, (width,)), dtype=np.int64)
    return parts.sum(axis=(0, 1))


def _quantile(counts, q: float):
    """The ``q`` quantile of histogram ``counts`` (bin centre), NaN when empty; lazy."""
    lib = da if isinstance(counts, da.Array) else np
    cum = lib.cumsum(counts)
    total = cum[-1]
    idx = lib.argmax(cum >= q * total)
    width = (RANGE[1] - RANGE[0]) / BINS
    return lib.where(total > 0, RANGE[0] + (idx + 0.5) * width, np.nan)


def _sum(x: xr.DataArray):
    """Exact sum of fixed-point values (int64), order-free."""
    data = x.data
    lib = da if isinstance(data, da.Array) else np
    return lib.round(lib.nan_to_num(data) * _FIXED).astype(np.int64).sum()


def water_parameters(refl: xr.Dataset, rule) -> xr.DataArray:
    """The site's water parameters (module doc) from a composite ``refl`` (B02 B03 B08):
    a ``(parameter,)`` float64 DataArray over :data:`PARAMETERS`, lazy when ``refl`` is.
    ``rule``: a :class:`indices.habitat.SeagrassRule` (water test, fractions, defaults)."""
    blue, green, nir = refl["B02"], refl["B03"], refl["B08"]
    water = ((green - nir) / (green + nir) > rule.water_ndwi_min) & blue.notnull() \
        & nir.notnull()
    # 1. glint over the darkest water (Hedley et al. 2005), from exact sums
    dark_cut = _quantile(_histogram(water, (blue + green) / 2), rule.deep_fraction)
    deep = water & ((blue + green) / 2 <= dark_cut)
    n = deep.sum().data
    sums = {k: _sum(v.where(deep)) for k, v in
            {"n": nir, "b": blue, "g": green}.items()}
    # products of fixed-point values: scale**2, exact in int64 below 2**63
    prods = {k: (xr.DataArray(v).where(deep)).data for k, v in
             {"nn": nir * nir, "bn": blue * nir, "gn": green * nir}.items()}
    lib = da if isinstance(n, da.Array) else np
    psum = {k: lib.round(lib.nan_to_num(v) * _FIXED * _FIXED).astype(np.int64).sum()
            for k, v in prods.items()}
    nir_ref = _quantile(_histogram(deep, nir), 0.05)
    # 2-3. the sand line and deep water from the deglinted water's 2-D histogram
    def slope(p, s):
        num = n * (psum[p] / _FIXED**2) - (sums[s] / _FIXED) * (sums["n"] / _FIXED)
        den = n * (psum["nn"] / _FIXED**2) - (sums["n"] / _FIXED) ** 2
        return lib.where(den > 0, lib.clip(num / lib.where(den > 0, den, 1.0), 0.0, 2.0), 0.0)

    glint_b, glint_g = slope("bn", "b"), slope("gn", "g")
    excess = np.maximum(nir - xr.DataArray(nir_ref), 0)
    b_dg = blue - xr.DataArray(glint_b) * excess
    g_dg = green - xr.DataArray(glint_g) * excess
    hist2d = _histogram(water, g_dg, b_dg)
    parts = [glint_b, glint_g, nir_ref, hist2d]
    if any(isinstance(p, da.Array) for p in parts):
        flat = da.concatenate([da.asarray(p, dtype=np.float64).reshape(-1) for p in parts])
        out = da.map_blocks(_finish, flat.rechunk(-1), rule=rule, dtype=np.float64,
                            chunks=((len(PARAMETERS),),), meta=np.empty(0, np.float64))
    else:
        out = _finish(np.concatenate([np.asarray(p, np.float64).reshape(-1) for p in parts]),
                      rule=rule)
    return xr.DataArray(out, dims="parameter", coords={"parameter": list(PARAMETERS)},
                        name="water_parameters")


def _finish(flat: np.ndarray, *, rule) -> np.ndarray:
    """numpy: ``[glint_b, glint_g, nir_ref, *hist2d]`` -> :data:`PARAMETERS`."""
    glint_b, glint_g, nir = (float(v) for v in flat[:3])
    fit = fit_water(flat[3:].reshape(BINS, BINS), rule)
    return np.array([fit[0], fit[1], glint_b, glint_g,
                     nir if np.isfinite(nir) else rule.deep_water[2], *fit[2:]], np.float64)


def fit_water(hist: np.ndarray, rule) -> tuple[float, float, float, float, float]:
    """``(deep_blue, deep_green, k_ratio, dii_sand, estimated)`` from a (green, blue) 2-D
    histogram of deglinted water (module doc, steps 2-3); the rule's defaults, estimated 0,
    when fewer than ``rule.min_sand_points`` green bins hold ``rule.min_bin_pixels``."""
    width = (RANGE[1] - RANGE[0]) / BINS
    centres = RANGE[0] + (np.arange(BINS) + 0.5) * width
    counts = hist.sum(axis=1)
    g_pts, b_pts, w_pts = [], [], []
    for i in np.flatnonzero(counts >= rule.min_bin_pixels):
        cum = np.cumsum(hist[i])
        j = int(np.argmax(cum >= rule.sand_quantile * cum[-1]))
        g_pts.append(centres[i])
        b_pts.append(centres[j])
        w_pts.append(np.sqrt(counts[i]))
    default = (rule.deep_water[0], rule.deep_water[1], rule.k_ratio, np.nan, 0.0)
    if len(g_pts) < rule.min_sand_points:
        return default
    g, b, w = np.array(g_pts), np.array(b_pts), np.array(w_pts)
    floor = rule.min_bottom_signal
    best = None
    for gd in np.linspace(0.0, g.min() - floor / 4, 40):
        for bd in np.linspace(0.0, b.min() - floor / 4, 40):
            ok = (g - gd > floor / 4) & (b - bd > floor / 4)
            if ok.sum() < rule.min_sand_points:
                continue
            xg, xb, ww = np.log(g[ok] - gd), np.log(b[ok] - bd), w[ok]
            cov = np.cov(np.vstack([xg, xb]), aweights=ww)
            if cov[0, 1] <= 0:
                continue
            resid = np.linalg.eigvalsh(cov)[0] / max(np.trace(cov), 1e-12)
            if best is None or resid < best[0]:
                r = lyzenga_ratio(cov[1, 1], cov[0, 0], cov[0, 1])
                dii = xb - r * xg
                best = (resid, bd, gd, r, float(np.average(dii, weights=ww)))
    if best is None:
        return default
    _, bd, gd, r, dii = best
    return float(bd), float(gd), float(r), dii, 1.0
