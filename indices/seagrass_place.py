"""The seagrass rule's place map (rule v6): where blue still tells a meadow from sand past the
green gate, and the level it is told by (issue 17; prototype ``benchmarks/measured/sg37``).

The rule's gate (:func:`indices.seagrass_rule.seagrass_offset`) places a pixel on the site's
sand line by its green; past the depth where green is lost in the noise the pixel is not
assessable. In clear water blue is attenuated less than green (``r = k_B / k_G < 1``: Jerlov's
water types; Lyzenga 1981), so blue still shows the bottom there. The map asks, once per site
from the baseline composite and its water, at each place the gate leaves: would sand and a
bottom at the rule's threshold differ in blue beyond the noise, and what is the threshold's
blue there? Nothing in it is fitted to a truth; its sizes are the rule's
(:class:`indices.seagrass_rule.SeagrassRule` ``place_*``).

1. **Sand's blue field.** The rule's sand is every pixel it assessed with ``score < 0`` and
   ``g > 0``. Per block of ``place_block`` px holding ``place_min_sand`` sand pixels, the
   median of the sand's blue bottom signal ``b`` and of its ``ln g``; over the
   ``2 place_window + 1`` blocks square around, a local plane (Cleveland 1979, degree 1) on
   the blocks' ``ln(b - beta)`` gives the field's decay ``gamma_B = |grad ln b_true|`` per
   metre (robust block medians: Tukey 1977).
2. **Deep-blue bias** ``beta``: on sand, ``b_true = C g^r`` (Lyzenga 1981); the fitted deep
   blue is biased low on clear sites, ``b = b_true + beta``; ``beta`` is the intercept of the
   least-squares line of the sand blocks' ``b`` on ``g^r`` (at least ``min_sand_points``
   blocks, else 0). Not validated as a bias (sg37 README, verdict).
3. **Is blue worth asking at this site** (``q``): at the gate (``g = detect sigma_G``) the
   sand line's true blue is ``C (detect sigma_G)^r - beta``; its contrast to the threshold
   bottom (``albedo_ratio_blue`` times sand's) in blue margins is
   ``q = (1 - a_B) b_true / (detect sigma_B)``. ``q < 1``: blue tells nothing past green's
   limit; the map is empty.
4. **Reach.** From the nearest block holding sand itself, its own medians, sand's blue is
   carried outward with the decay of Maritorena, Morel & Gentili (1994, Limnol. Oceanogr.
   39:1689-1703), ``R - R_inf ~ exp(-2 K z)``: ``b_true(d) = b_true_e exp(-gamma_B d)``. A
   place is supported where ``(1 - a_B) b_true(d) >= detect sigma_B`` and
   ``d <= min(ln q / gamma_B, R)``, ``R`` the plane's window radius (no extrapolation
   beyond the distance over which the decay was measured).

The map is ``(layer, y, x)`` float32: ``sand_blue`` = ``b_true(d)`` and ``threshold_blue`` =
``a_B b_true(d) + beta`` (the threshold bottom's blue in the composite's units), NaN where not
supported. It is built once per site (computed, numpy, like the water), so every walk slices
the same map and agrees bit for bit; built in row strips of bounded size (:func:`place_map`:
the site's scalars first, then each strip with a halo, as the reach is capped), from a
computed or a lazy composite, never whole-site temporaries; the result, 8 B a pixel, is held
(:data:`PLACE_BYTES_PER_PIXEL`), none where the site's ``q < 1``.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import xarray as xr
from scipy import ndimage

from indices.seagrass_rule import bottom_signals, seagrass_constants, seagrass_offset

__all__ = ["PLACE_BANDS", "PLACE_BYTES_PER_PIXEL", "PLACE_LAYERS", "place_inputs", "place_map"]

PLACE_LAYERS = ("sand_blue", "threshold_blue")
"""The place map's layers, in order (module doc)."""
PLACE_BANDS = ("B02", "B03", "B04", "B08", "n_clear")
"""The composite's variables the map reads: the bands of the rule's bottom signals, water
and gate, and the views (:func:`place_inputs`)."""


def place_inputs(base: xr.Dataset) -> xr.Dataset:
    """``base`` (a composite, lazy or not) cut to :data:`PLACE_BANDS`: what :func:`place_map`
    reads, so that a caller computes no more of the composite than the map needs."""
    return base[[v for v in PLACE_BANDS if v in base]]


PLACE_BYTES_PER_PIXEL = 4 * len(PLACE_LAYERS)
"""The map's bytes a site pixel (float32 layers), held whole from the site's evidence through
its walk (every walk and month reads it; :mod:`flows.site.budget` counts it). Its build holds
3 B a pixel more (the first walk's mask of the places the gate leaves, and the views) and one
strip's temporaries (:data:`STRIP_PIXELS`), before the walk starts."""
STRIP_PIXELS = 2**20
"""Pixels of a row strip the map is built in (rows rounded down to whole ``place_block``
blocks, at least one block): its temporaries (the rule's fields, the distance transform;
~150 B a strip pixel, float64 where the map's values are computed) are held for one strip
at a time, ~150 MiB, whatever the site."""


def place_map(base: xr.Dataset, rule, water: xr.DataArray, *,
              strip_pixels: int = STRIP_PIXELS) -> xr.DataArray:
    """The place map (module doc) of a site's baseline composite ``base`` and its computed
    water parameters ``water`` (:func:`indices.water.water_parameters`); all NaN where the
    site's ``q < 1``, the rule's ``r`` above ``max_k_ratio`` or no sand. Computed (numpy)
    whether ``base`` is or not.

    Built in row strips of ``strip_pixels`` (whole ``place_block`` blocks): a first walk over
    the strips takes the sand's block medians, the places the gate leaves and the water's
    noise values (their exact site medians from the values' counts), which give the site's
    ``beta``, ``q`` and each block's decay; nothing per pixel is built when ``q < 1`` (the
    map is then a read-only NaN view, no bytes). A lazy ``base`` is read once, strip by strip
    in one ``dask.compute``, never whole. A second walk builds each strip's map from the
    strip and a halo of ``place_window + 1`` blocks around it: the reach is capped at
    ``place_window`` blocks, so every place within the cap finds its nearest sand block
    inside the halo. Beyond the output (8 B a site pixel; :data:`PLACE_BYTES_PER_PIXEL`) and
    the first walk's mask and views (3 B a pixel), memory is one strip's. The same values bit
    for bit as sg38's whole-site build (``tests/test_seagrass_place_blocks.py``)."""

    ny, nx = base.sizes["y"], base.sizes["x"]
    shape = (len(PLACE_LAYERS), ny, nx)
    coords = {"layer": list(PLACE_LAYERS), "y": base["y"], "x": base["x"]}

    def result(out=None, **attrs):
        if out is None:  # nothing supported: a NaN view of no bytes
            out = np.broadcast_to(np.float32(np.nan), shape)
        return xr.DataArray(out, dims=("layer", "y", "x"), coords=coords,
                            name="seagrass_place", attrs=attrs)

    c = seagrass_constants(water, rule)
    r, dii_sand = float(c["k_ratio"]), float(c["dii_sand"])
    if not (np.isfinite(r) and np.isfinite(dii_sand) and r <= rule.max_k_ratio):
        return result()
    block = rule.place_block
    step = max(block, strip_pixels // max(nx, 1) // block * block)
    strips = [(r0, min(ny, r0 + step)) for r0 in range(0, ny, step)]
    base = place_inputs(base).transpose(..., "y", "x")
    # 1. per strip: the sand's block medians, the places the gate leaves, the noise values
    parts = [(base.isel(y=slice(r0, r1)), rule, water, r) for r0, r1 in strips]
    if any(isinstance(v.data, da.Array) for v in base.data_vars.values()):
        parts = dask.compute(*[dask.delayed(_strip_summary)(*p) for p in parts])
    else:
        parts = [_strip_summary(*p) for p in parts]
    mb = np.concatenate([p["mb"] for p in parts])
    mlg = np.concatenate([p["mlg"] for p in parts])
    noise_b, noise_g = _Counts(p["noise_b"] for p in parts), _Counts(p["noise_g"] for p in parts)
    opens, views = [p["open"] for p in parts], [p["views"] for p in parts]
    del parts
    own = np.isfinite(mb) & np.isfinite(mlg)
    beta = 0.0
    if own.sum() >= rule.min_sand_points:
        x = np.exp(r * mlg[own])
        (_, beta), *_ = np.linalg.lstsq(np.c_[x, np.ones_like(x)], mb[own], rcond=None)
        beta = float(beta)
    if noise_b.size == 0:
        return result()
    # 2. the site's scalars: is blue worth asking here (q), each sand block's decay
    res = float(abs(base["x"].values[1] - base["x"].values[0])) if nx > 1 else 10.0
    detect = rule.detect_sigmas
    sigma_b, sigma_g = noise_b.median(), noise_g.median()
    a_b = rule.albedo_ratio_blue
    q = (1 - a_b) * (np.exp(dii_sand) * (detect * sigma_g) ** r - beta) / (detect * sigma_b)
    attrs = {"beta": beta, "q": float(q)}
    if not q >= 1 or not any(o.any() for o in opens):
        return result(**attrs)
    log_true = np.where(own & (mb - beta > 0), np.log(np.maximum(mb - beta, 1e-12)), np.nan)
    gamma = _plane_gradient(log_true, rule.place_window, only=own) / (block * res)
    have = own & np.isfinite(gamma) & (gamma > 0)
    if not have.any():
        return result(**attrs)
    b_have, g_have = np.where(have, mb, np.nan), np.where(have, gamma, np.nan)
    # 3. per strip and its halo: the nearest sand block's level carried with its decay
    halo = (rule.place_window + 1) * block
    cap = rule.place_window * block * res
    out = np.full(shape, np.nan, np.float32)
    for (r0, r1), open_, n_clear in zip(strips, opens, views, strict=True):
        if not open_.any():
            continue
        c0, c1 = max(0, r0 - halo), min(ny, r1 + halo)
        near = np.repeat(np.repeat(have[c0 // block:-(-c1 // block)], block, 0), block, 1)
        near = near[:c1 - c0, :nx]
        if not near.any():
            continue
        dist, (iy, ix) = ndimage.distance_transform_edt(~near, return_indices=True)
        rows = slice(r0 - c0, r1 - c0)
        dist, iy, ix = dist[rows] * res, iy[rows] + c0, ix[rows]
        by, bx = iy // block, ix // block
        del iy, ix
        b_edge, g_edge = b_have[by, bx], g_have[by, bx]
        del by, bx
        sand_true = (b_edge - beta) * np.exp(-g_edge * dist)
        reach = np.minimum(np.log(q) / g_edge, cap)
        # the pixel's blue noise at its views, as the rule's (seagrass_offset)
        views_f = (xr.DataArray(n_clear, dims=("y", "x")).clip(min=1).astype(np.float32)
                   if n_clear is not None else 1)
        views_b = np.asarray(np.broadcast_to(
            seagrass_constants(water, rule, views_f)["noise_b"], (r1 - r0, nx)), np.float64)
        supported = (np.isfinite(sand_true) & ((1 - a_b) * sand_true >= detect * views_b)
                     & (dist <= reach) & open_)
        out[0, r0:r1] = np.where(supported, sand_true, np.nan)
        out[1, r0:r1] = np.where(supported, a_b * sand_true + beta, np.nan)
    return result(out, **attrs)


def _strip_summary(base: xr.Dataset, rule, water: xr.DataArray, r: float) -> dict:
    """What the first walk keeps of a strip (:func:`place_map`): its rows of sand block
    medians (``mb`` of ``b``, ``mlg`` of ``ln g``), the places the gate leaves (``open``,
    bool), the views (``n_clear`` or None), and the distinct noise values with their
    counts."""
    f = _fields(base, rule, water, r)
    return {
        "mb": _block_median(f["b"], f["sand"], rule.place_block, rule.place_min_sand),
        "mlg": _block_median(f["log_g"], f["sand"], rule.place_block, rule.place_min_sand),
        "open": f["open"],
        "views": np.asarray(base["n_clear"]) if "n_clear" in base else None,
        "noise_b": np.unique(f["noise_b"], return_counts=True),
        "noise_g": np.unique(f["noise_g"], return_counts=True),
    }


def _fields(base: xr.Dataset, rule, water: xr.DataArray, r: float) -> dict:
    """A strip's per-pixel fields (float64 as sg38's whole-site build): the bottom's blue
    ``b`` and ``ln g`` (floored at ``min_bottom_signal``), the rule's sand (assessed with
    ``score < 0`` and ``g > 0``), the water pixels the gate leaves (``open``), and the water
    pixels' blue noise and green noise over ``r``."""

    c, offset = seagrass_offset(base, rule, water)
    b, g, _ = bottom_signals(base, rule, water)
    b, g, offset = (np.asarray(a, np.float64) for a in (b, g, offset))
    score = (float(c["threshold"]) - offset) / float(c["tolerance"])
    water_pix = np.asarray(_water(base, rule)) & np.isfinite(b)
    return {
        "b": b, "log_g": np.log(np.maximum(g, rule.min_bottom_signal)),
        "sand": np.isfinite(score) & (score < 0) & (g > 0),
        "open": water_pix & ~np.isfinite(offset),
        "noise_b": np.asarray(np.broadcast_to(c["noise_b"], b.shape), np.float64)[water_pix],
        "noise_g": np.asarray(np.broadcast_to(c["noise_g"], b.shape),
                              np.float64)[water_pix] / r,
    }


class _Counts:
    """A set's distinct values and their counts, merged from its strips'
    (:func:`numpy.unique` ``return_counts``), and its median exactly as :func:`numpy.median`
    of all its values (the noise takes few values: one per count of clear views)."""

    def __init__(self, parts):
        values, counts = zip(*parts, strict=True)
        self.values, inverse = np.unique(np.concatenate(values), return_inverse=True)
        self.counts = np.bincount(inverse, np.concatenate(counts).astype(np.float64),
                                  len(self.values)).astype(np.int64)
        self.size = int(self.counts.sum())

    def median(self) -> float:
        if np.isnan(self.values).any():
            return float("nan")
        ends = np.cumsum(self.counts)
        middle = [self.size // 2] if self.size % 2 else [self.size // 2 - 1, self.size // 2]
        return float(np.median(self.values[np.searchsorted(ends, middle, side="right")]))


def _water(base: xr.Dataset, rule) -> xr.DataArray:
    from indices.water import water_mask
    return water_mask(base, rule)


def _block_median(v: np.ndarray, m: np.ndarray, block: int, least: int) -> np.ndarray:
    """Median of ``v`` over ``m`` per ``block`` x ``block`` px block; NaN with fewer than
    ``least`` pixels."""
    ny, nx = v.shape
    by, bx = -(-ny // block), -(-nx // block)
    padded = np.full((by * block, bx * block), np.nan)
    padded[:ny, :nx] = np.where(m, v, np.nan)
    cells = padded.reshape(by, block, bx, block).transpose(0, 2, 1, 3).reshape(by, bx, -1)
    count = np.isfinite(cells).sum(-1)
    out = np.full((by, bx), np.nan)
    ok = count >= least
    if ok.any():
        out[ok] = np.nanmedian(cells[ok], axis=-1)
    return out


def _plane_gradient(med: np.ndarray, radius: int, only: np.ndarray | None = None
                    ) -> np.ndarray:
    """Per block (of ``only``, else every block), the gradient magnitude (per block) of the
    least-squares plane through the finite blocks of the ``2 radius + 1`` square around it
    (at least 4, spread in both directions); NaN elsewhere."""
    grad = np.full(med.shape, np.nan)
    where = np.ones(med.shape, bool) if only is None else only
    for i, j in zip(*np.nonzero(where), strict=True):
        win = med[max(0, i - radius):i + radius + 1, max(0, j - radius):j + radius + 1]
        ok = np.isfinite(win)
        if ok.sum() < 4:
            continue
        ii, jj = np.nonzero(ok)
        if np.ptp(ii) > 0 and np.ptp(jj) > 0:
            design = np.c_[np.ones(ii.size), ii, jj]
            coef, *_ = np.linalg.lstsq(design, win[ok], rcond=None)
            grad[i, j] = np.hypot(coef[1], coef[2])
    return grad

