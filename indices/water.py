"""Water parameters of a site from its own image: glint, deep water, attenuation ratio, noise.

The depth-invariant index needs, per site and water type, the reflectance of optically deep
water and the ratio of the diffuse attenuation coefficients of blue and green; constants for
one water type misjudge every other (issue 17: 80 % of a meadow found at 2.5-5 m, 25 % at
10-13 m). Here they come from the site's composite (its baseline), in four steps:

1. **Glint** (Hedley et al. 2005, Int. J. Remote Sens. 26:2107-2112,
   doi:10.1080/01431160500034086): over the darkest water (the lowest ``deep_fraction`` of
   blue + green), regress each visible band on NIR; ``R'_i = R_i - b_i (NIR - NIR_ref)`` with
   ``NIR_ref`` a low percentile of that water's NIR (Hedley's minimum, robust to noise). A
   median composite holds little glint, and a regression on noise alone gives any slope: the
   slope is used only where NIR explains the visible band (correlation >= ``glint_min_r``),
   else the flat glint spectrum (slope 1) that Hedley's method rests on.
2. **Sand line** (Lyzenga 1981, Int. J. Remote Sens. 2:71-82, doi:10.1080/01431168108948342):
   a bright bottom over a range of depths follows ``B' - B_deep = C (G' - G_deep)^r`` with
   ``r = k_B / k_G`` (the exponential decay of both bottom signals with depth, Lyzenga 1978,
   Appl. Opt. 17:379, eliminated between the two bands). The bright bottom is chosen
   objectively: per green bin of the deglinted water, the upper ``sand_quantile`` of blue
   (the brightest bottom at that depth: a darker bottom at the same green is shallower, and
   blue, attenuated less, shows it darker).
3. **Deep water and r jointly**, by least squares of that curve **in reflectance** (where the
   noise is additive and alike at every depth) over the sand points: ``(G_deep, r)`` on a
   grid, ``(B_deep, C)`` linear for each. In log space (Lyzenga's own regression, which needs
   the deep water first) the deepest points, a few noise units above deep water, dominate
   through the logarithm; a low percentile of the water as deep water is right only where
   the site holds optically deep water (:func:`deep_plateau` then gives it, and only the
   ratio is fitted), and in clear water it takes a deep sand bottom for deep water, which
   then makes deep sand look dark (measured on the demo: sand at 30-45 m called seagrass).
   The fitted pair is
   the one that makes the site's sand line straight in Lyzenga's coordinates over the depths
   the site has, which is what the index needs; it is not a measurement of the water at
   infinite depth (in clear water no site within 60 m shows that in blue).
   **Optically deep in blue too**: blue penetrates deeper than green (each band has its own
   maximum depth of penetration over which deep water's value is reached: Jupp's DOP zones,
   as in the Remote Sensing Handbook for Tropical Coastal Management, ch. 15, and its Bilko
   module 7 lesson 4 (Caicos Bank, Landsat TM); "Jupp 1988" and the handbook's authors,
   Green, Mumby, Edwards & Clark 2000, are cited from memory), so in clear water the
   darkest water can be a shelf of deep sand that green has lost and blue still sees: a
   plateau in green and in blue + green, but its blue is the sand's, not the deep water's
   (measured on the independent generator: 0.002-0.005 too bright, so deep sand read dark
   in blue: seagrass, and losses overstated x2-20). The plateau is taken as deep in blue
   only where the sand line through it, ``b = C g^r``, puts the blue bottom signal below
   detection (``detect_sigmas`` blue noise) where the green one has fallen to its noise
   (:func:`_deep_in_blue`); else its green stays the deep green, the blue's deep water is
   extrapolated (below) and ``r``, ``C`` refitted through the pair (the plateau as before
   where the extrapolation hits its bound, ``B_deep = 0``).
   Without optically deep water the curve is fitted twice: along green as above, and
   **along blue** (:func:`sand_points_by_blue`: per blue bin the lower ``1 - sand_quantile``
   of green, ``G' - G_deep = C (B' - B_deep)^(1/r)``). In clear water green is lost to the
   deep water at about half the depth blue is (``k_G ~ 2 k_B``), so per green bin near
   ``G_deep`` the blue of sand pixels from many depths mixes, the bin's upper quantile
   reads brighter than the sand at that depth, and the extrapolated ``B_deep`` comes out
   too bright (measured on the independent generator of ``tests/scenarios``: +0.002 to
   +0.009 in clear water, so that deep sand read as a dark bottom); per blue bin the depth
   is still resolved. The fit along blue is kept when its deep water is at least as blue as
   ``G_deep / r`` (within the pixel noise of blue): deep water's irradiance reflectance is
   proportional to backscattering over absorption (``R ~ 0.33 b_b / a``, Morel & Prieur
   1977, Limnol. Oceanogr. 22:709-722, which computed R(lambda) from the two) and
   ``K_d ~ (a + b_b) / mu_d``, so ``R_B / R_G ~ (b_bB / b_bG) (K_G / K_B) >= 1 / r``
   wherever backscattering does not rise with wavelength (water molecules and small
   particles scatter more in blue); only the proportionality is used (the 0.33 was not
   checked against the paper here). Else the fit along green, as before, else the
   defaults.
4. **Noise** of the composite, from the image: the median absolute difference of horizontal
   neighbours over the darkest water (``1.4826 MAD / sqrt 2`` for a Gaussian), with the median
   number of clear views there; a composite of ``n`` views has the noise of
   ``noise * sqrt(n_views / n)`` (the median of ``n`` draws, ~``1.25 sigma / sqrt n``).
   **Understated** (measured on the independent generator, 60 seeds,
   ``benchmarks/measured/sg23``): the signals the rule judges are deglinted, and the
   correction adds the NIR's noise (``var_i + b_i**2 var_NIR``); and pixels chosen each
   among the darkest are neighbours whose noise drew both low. The deglinted signals'
   neighbour noise over pairs chosen by their mean (sum and difference of two neighbours are
   independent) is 1.52 / 1.39 times this in blue / green in the median, so the rule's
   ``detect_sigmas`` gates stand at ~2 sigma of the real noise. Kept as it is until a gate
   that holds the extent at the real noise exists (the measured README).

Everything is reduced through exact integer histograms and fixed-point sums, so the numbers
do not depend on the chunking (the walks of :mod:`indices.summary` must agree bit for bit);
lazy when the input is. Where the fit has too little to go on, the rule's defaults are used
and ``estimated`` is 0.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr

from indices.histogram import BINS, centres, histogram, quantile

__all__ = ["PARAMETERS", "deep_plateau", "fit_sand_line", "fit_water", "water_mask",
           "water_parameters"]

PARAMETERS = ("deep_blue", "deep_green", "glint_blue", "glint_green", "nir_ref", "k_ratio",
              "dii_sand", "noise_blue", "noise_green", "n_views", "estimated")
"""The parameters :func:`water_parameters` returns, in order."""

NOISE_RANGE = (1e-5, 0.1)
"""Range of the neighbour-difference histogram (the L2A quantum is 0.0001)."""
_FIXED = 2.0 ** 16
"""Fixed-point scale of the exact sums (reflectance < 1: squares < 2**32 each)."""
_R_GRID = np.round(np.arange(0.05, 1.5001, 0.01), 2)
"""Attenuation ratios k_B / k_G tried: clear ocean water ~0.3-0.6, turbid coastal water
towards and above 1 (blue absorbed by dissolved and particulate matter)."""
_DEEP_STEPS = 200


def _sum(data):
    """Exact sum of fixed-point values (int64), order-free."""
    lib = da if isinstance(data, da.Array) else np
    return lib.round(lib.nan_to_num(data) * _FIXED).astype(np.int64).sum()


def water_mask(refl: xr.Dataset, rule) -> xr.DataArray:
    """Water a seagrass bottom may lie under: NDWI above ``rule.water_ndwi_min`` (McFeeters
    1996), and not vegetation bright in NIR (:class:`indices.habitat.SeagrassRule`)."""
    green, red, nir = refl["B03"], refl["B04"], refl["B08"]
    return ((_normalised_difference(green, nir) > rule.water_ndwi_min)
            & ~((_normalised_difference(nir, red) >= rule.water_ndvi_max)
                & (nir >= rule.water_veg_nir)))


def _normalised_difference(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    """``(a - b) / (a + b)``, the same float values as the xarray expression (0 / 0 NaN, x / 0
    infinite), block by block without numpy's warnings: both bands 0 (black water at the L2A
    offset) would print "invalid value encountered in divide" from every such block of a run."""
    def divide(a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (a - b) / (a + b)

    return xr.apply_ufunc(divide, a, b, dask="parallelized",
                          output_dtypes=[np.result_type(a.dtype, b.dtype)])


def water_parameters(refl: xr.Dataset, rule) -> xr.DataArray:
    """The site's water parameters (module doc) from a composite ``refl`` (B02 B03 B08, and
    ``n_clear`` when it has one): a ``(parameter,)`` float64 DataArray over
    :data:`PARAMETERS`, lazy when ``refl`` is. ``rule``: a
    :class:`indices.habitat.SeagrassRule` (water test, fractions, defaults)."""
    blue, green, nir = refl["B02"], refl["B03"], refl["B08"]
    water = water_mask(refl, rule) & blue.notnull() & nir.notnull()
    # 1. glint over the darkest water (Hedley et al. 2005), from exact sums
    dark_cut = quantile(histogram(water, (blue + green) / 2), rule.deep_fraction)
    deep = water & ((blue + green) / 2 <= dark_cut)
    n = deep.sum().data
    lib = da if isinstance(n, da.Array) else np
    sums = {k: _sum(v.where(deep).data) for k, v in {"n": nir, "b": blue, "g": green}.items()}
    # products of fixed-point values: scale**2, exact in int64 below 2**63
    psum = {k: lib.round(lib.nan_to_num(v.where(deep).data) * _FIXED * _FIXED)
            .astype(np.int64).sum()
            for k, v in {"nn": nir * nir, "bn": blue * nir, "gn": green * nir,
                         "bb": blue * blue, "gg": green * green}.items()}
    nir_ref = quantile(histogram(deep, nir), 0.05)

    def moments(p, s):  # n * sum(xy) - sum(x) sum(y), in float64 from the exact sums
        return n * (psum[p] / _FIXED**2) - (sums[s[0]] / _FIXED) * (sums[s[1]] / _FIXED)

    def slope(band):
        cov, var_n, var_v = moments(band + "n", band + "n"), moments("nn", "nn"), \
            moments(band * 2, band * 2)
        ok = (var_n > 0) & (var_v > 0)
        corr = cov / lib.sqrt(lib.where(ok, var_n * var_v, 1.0))
        fitted = lib.clip(cov / lib.where(ok, var_n, 1.0), 0.0, 2.0)
        return lib.where(ok & (corr >= rule.glint_min_r), fitted, 1.0)

    glint_b, glint_g = slope("b"), slope("g")
    excess = nir - xr.DataArray(nir_ref)
    excess = excess.where(excess > rule.glint_min, 0.0)
    b_dg = blue - xr.DataArray(glint_b) * excess
    g_dg = green - xr.DataArray(glint_g) * excess
    hist2d = histogram(water, g_dg, b_dg)
    # 4. noise: neighbour differences along x over the darkest water (shift: chunk-free)
    pair = deep & deep.shift(x=1, fill_value=False)
    noise = [histogram(pair, abs(v - v.shift(x=1)), lo_hi=NOISE_RANGE) for v in (blue, green)]
    if "n_clear" in refl:
        views = refl["n_clear"].astype(np.float64).clip(1, BINS)
        n_views = quantile(histogram(deep, views, lo_hi=(1.0, float(BINS))), 0.5,
                            lo_hi=(1.0, float(BINS)))
    else:
        n_views = lib.asarray(1.0)
    parts = [glint_b, glint_g, nir_ref, *noise, n_views, hist2d]
    if any(isinstance(p, da.Array) for p in parts):
        flat = da.concatenate([da.asarray(p, dtype=np.float64).reshape(-1) for p in parts])
        out = da.map_blocks(_finish, flat.rechunk(-1), rule=rule, dtype=np.float64,
                            chunks=((len(PARAMETERS),),), meta=np.empty(0, np.float64))
    else:
        out = _finish(np.concatenate([np.asarray(p, np.float64).reshape(-1) for p in parts]),
                      rule=rule)
    return xr.DataArray(out, dims="parameter", coords={"parameter": list(PARAMETERS)},
                        name="water_parameters")


def _noise(counts: np.ndarray) -> float:
    """Gaussian sigma from a histogram of |x_i - x_j| of neighbours: median / (0.6745 sqrt 2)."""
    return quantile(counts, 0.5, NOISE_RANGE) / (0.6745 * np.sqrt(2.0))


def _finish(flat: np.ndarray, *, rule) -> np.ndarray:
    """numpy: ``[glint_b, glint_g, nir_ref, noise_b (BINS), noise_g (BINS), n_views,
    *hist2d]`` -> :data:`PARAMETERS`."""
    glint_b, glint_g, nir = (float(v) for v in flat[:3])
    noise_b, noise_g = _noise(flat[3:3 + BINS]), _noise(flat[3 + BINS:3 + 2 * BINS])
    n_views = float(flat[3 + 2 * BINS])
    noise_b = noise_b if np.isfinite(noise_b) else rule.noise
    noise_g = noise_g if np.isfinite(noise_g) else rule.noise
    fit = fit_water(flat[4 + 2 * BINS:].reshape(BINS, BINS), rule, noise=(noise_b, noise_g))
    return np.array([fit[0], fit[1], glint_b, glint_g,
                     nir if np.isfinite(nir) else rule.deep_water[2], fit[2], fit[3],
                     noise_b, noise_g, n_views if np.isfinite(n_views) else 1.0, fit[4]],
                    np.float64)


def sand_points(hist: np.ndarray, rule) -> tuple[np.ndarray, np.ndarray]:
    """``(green, blue)`` of the bright bottom (module doc, step 2) from a (green, blue) 2-D
    histogram: per green bin holding ``rule.min_bin_pixels``, the ``rule.sand_quantile`` of
    blue (bin centres)."""
    mid = centres()
    counts = hist.sum(axis=1)
    rows = np.flatnonzero(counts >= rule.min_bin_pixels)
    cum = np.cumsum(hist[rows], axis=1)
    cols = np.argmax(cum >= rule.sand_quantile * cum[:, -1:], axis=1)
    return mid[rows], mid[cols]


def sand_points_by_blue(hist: np.ndarray, rule) -> tuple[np.ndarray, np.ndarray]:
    """``(blue, green)`` of the bright bottom from a (green, blue) 2-D histogram, the other
    way round from :func:`sand_points`: per blue bin holding ``rule.min_bin_pixels``, the
    ``1 - rule.sand_quantile`` quantile of green (at a given blue, a darker bottom lies
    shallower and shows more green than sand; blue, attenuated less, is the depth axis)."""
    mid = centres()
    h = hist.T
    counts = h.sum(axis=1)
    rows = np.flatnonzero(counts >= rule.min_bin_pixels)
    cum = np.cumsum(h[rows], axis=1)
    cols = np.argmax(cum >= (1.0 - rule.sand_quantile) * cum[:, -1:], axis=1)
    return mid[rows], mid[cols]


def fit_sand_line(g: np.ndarray, b: np.ndarray, deep: tuple[float, float] | None = None,
                  exponents: np.ndarray = _R_GRID
                  ) -> tuple[float, float, float, float] | None:
    """Least squares of ``b = B_deep + C (g - G_deep)^r`` in reflectance (module doc, step
    3): ``(B_deep, G_deep, r, rss)``, ``0 <= B_deep < min b``, ``0 <= G_deep < min g``,
    ``C > 0``; with ``deep`` (the site's optically deep water, :func:`deep_plateau`) only
    ``r`` and ``C``, with ``deep = (None, G_deep)`` (deep in green only) ``r``, ``C`` and
    ``B_deep``. None when no grid point gives such a fit."""
    g, b = np.asarray(g, np.float64), np.asarray(b, np.float64)
    fixed_b, fixed_g = (deep is not None and deep[i] is not None for i in (0, 1))
    if fixed_b or fixed_g:
        keep = ((g > deep[1]) if fixed_g else True) & ((b > deep[0]) if fixed_b else True)
        g, b = g[keep], b[keep]
        if g.size < 3:
            return None
    if fixed_g:
        deep_g = np.array([deep[1]])
    else:
        deep_g = np.linspace(0.0, g.min(), _DEEP_STEPS, endpoint=False)
    best = None
    for r in exponents:
        x = (g[None, :] - deep_g[:, None]) ** r  # (grid, points)
        if fixed_b:  # B_deep given: C alone, by least squares through it
            c = (x * (b - deep[0])).sum(axis=1) / (x * x).sum(axis=1)
            bd = np.full_like(c, deep[0])
        else:
            xm, bm = x.mean(axis=1), b.mean()
            sxx = ((x - xm[:, None]) ** 2).sum(axis=1)
            c = ((x - xm[:, None]) * (b - bm)[None, :]).sum(axis=1) / np.where(sxx > 0, sxx, 1)
            bd = bm - c * xm
            # B_deep outside [0, min b): the boundary's own least squares
            low = bd < 0
            c = np.where(low, (x * b).sum(axis=1) / (x * x).sum(axis=1), c)
            bd = np.where(low, 0.0, bd)
        ok = (c > 0) & (bd < b.min())
        rss = (((bd[:, None] + c[:, None] * x) - b[None, :]) ** 2).sum(axis=1)
        rss = np.where(ok, rss, np.inf)
        i = int(np.argmin(rss))
        if np.isfinite(rss[i]) and (best is None or rss[i] < best[3]):
            best = (float(bd[i]), float(deep_g[i]), float(r), float(rss[i]))
    return best


def deep_plateau(hist: np.ndarray, noise: tuple[float, float], rule
                 ) -> tuple[float, float] | None:
    """The site's optically deep water, where it holds some: ``(B_deep, G_deep)``, else None.

    Where the bottom is no longer seen, the water's reflectance stops falling with depth:
    the darkest ``deep_fraction`` of the water (by blue + green) then lies on a plateau,
    within noise of the darkest pixels; the median of the plateau (every pixel within
    ``3 sigma`` of its dark end) is the deep water (Lyzenga 1978: the mean over optically
    deep water). A plateau: the ``deep_fraction`` quantile of ``(B + G) / 2`` within
    ``3 sigma`` (the composite's noise, measured) of the ``deep_fraction / 10`` quantile. Where the darkest water still falls (clear water, the
    bottom seen to the site's deepest), no plateau: the deep water is extrapolated from the
    sand line (module doc, step 3)."""
    mid = centres()
    total = hist.sum()
    if total == 0:
        return None
    avg = (mid[:, None] + mid[None, :]) / 2  # (green, blue) cells
    order = np.argsort(avg, axis=None)
    cum = np.cumsum(hist.ravel()[order])
    low = avg.ravel()[order][np.searchsorted(cum, rule.deep_fraction / 10 * total)]
    cut = avg.ravel()[order][np.searchsorted(cum, rule.deep_fraction * total)]
    sigma = 0.5 * float(np.hypot(*noise))
    if cut - low > 3 * sigma:
        return None
    cells = avg <= low + 3 * sigma  # the whole plateau, not only its darkest part
    weights = np.where(cells, hist, 0)

    def median(axis_values, counts):
        c = np.cumsum(counts)
        return float(axis_values[np.searchsorted(c, 0.5 * c[-1])])

    return median(mid, weights.sum(axis=0)), median(mid, weights.sum(axis=1))


def _deep_in_blue(g: np.ndarray, b: np.ndarray, fit: tuple, noise: tuple[float, float],
                  rule) -> bool:
    """Whether a dark plateau is optically deep in blue too (module doc, step 3): the
    site's sand line through it, ``b = C g^r``, puts the blue bottom signal below detection
    (``detect_sigmas`` noise) where the green one has fallen to its noise. In clear water
    green is lost to depth at about half the depth blue is (``k_G ~ 2 k_B``), so the darkest
    water by blue + green can be a plateau of deep sand in green while blue still falls
    (measured on the independent generator: ``C sigma_G^r`` 5-13 blue noise units on clear
    sites, ``r`` ~0.5, and 1.6 on a turbid one, ``r`` 0.87)."""
    bd, gd, r, _ = fit
    keep = (g > gd) & (b > bd)
    x = (g[keep] - gd) ** r
    c = float((x * (b[keep] - bd)).sum() / (x * x).sum())
    return c * noise[1] ** r <= rule.detect_sigmas * noise[0]


def fit_water(hist: np.ndarray, rule, noise: tuple[float, float] = (np.nan, np.nan)
              ) -> tuple[float, float, float, float, float]:
    """``(deep_blue, deep_green, k_ratio, dii_sand, estimated)`` from a (green, blue) 2-D
    histogram of deglinted water (module doc, steps 2-3, with the optically deep water of
    :func:`deep_plateau` where the site holds some); the rule's defaults, estimated 0,
    when fewer than ``rule.min_sand_points`` green bins hold ``rule.min_bin_pixels``."""
    default = (rule.deep_water[0], rule.deep_water[1], rule.k_ratio, np.nan, 0.0)
    g, b = sand_points(hist, rule)
    if len(g) < rule.min_sand_points:
        return default
    deep = deep_plateau(hist, noise, rule) if all(np.isfinite(noise)) else None
    fit = fit_sand_line(g, b, deep) if deep is not None else None
    plateau = None
    if fit is not None and not _deep_in_blue(g, b, fit, noise, rule):
        fit, plateau = None, fit  # deep in green only: the blue still sees the bottom there
    if fit is None:  # no optically deep water: extrapolated along blue, else along green
        candidates = []
        blue, green = sand_points_by_blue(hist, rule)
        swapped = (fit_sand_line(blue, green, exponents=1.0 / _R_GRID)
                   if len(blue) >= rule.min_sand_points else None)
        if swapped is not None:
            gd, bd, inverse, rss = swapped
            candidates.append(((bd, gd, float(np.round(1.0 / inverse, 2)), rss), green, blue))
        along_green = fit_sand_line(g, b)
        if along_green is not None:
            candidates.append((along_green, g, b))
        slack = noise[0] if np.isfinite(noise[0]) else rule.noise
        bluer = [c for c in candidates if c[0][0] >= c[0][1] / c[0][2] - slack]
        if bluer or candidates:
            fit, g, b = (bluer or candidates[::-1])[0]
        if plateau is not None:  # the plateau's green, the extrapolated blue, r refitted
            bd = fit[0] if fit is not None and fit[0] > 0 else None
            g, b = sand_points(hist, rule)
            fit = (fit_sand_line(g, b, (bd, plateau[1])) if bd is not None else None) or plateau
    if fit is None:
        return default
    bd, gd, r, _ = fit
    ok = (b > bd) & (g > gd)
    dii = np.log(b[ok] - bd) - r * np.log(g[ok] - gd)
    return bd, gd, r, float(np.median(dii)), 1.0

