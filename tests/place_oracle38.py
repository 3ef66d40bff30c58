"""sg38's eager whole-site place map (``indices/seagrass_place.py`` at f8618aa), kept verbatim
as the oracle the block-wise build (sg40) must equal bit for bit
(``tests/test_seagrass_place_blocks.py``). Not used by the pipeline."""
# ruff: noqa
from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import ndimage

__all__ = ["PLACE_LAYERS", "place_map", "place_terms"]

PLACE_LAYERS = ("sand_blue", "threshold_blue")
"""The place map's layers, in order (module doc)."""


def place_map(base: xr.Dataset, rule, water: xr.DataArray) -> xr.DataArray:
    """The place map (module doc) of a site's computed baseline composite ``base`` and its
    computed water parameters ``water`` (:func:`indices.water.water_parameters`); all NaN
    where the site's ``q < 1``, the rule's ``r`` above ``max_k_ratio`` or no sand."""
    from indices.seagrass_rule import bottom_signals, seagrass_offset

    c, offset = seagrass_offset(base, rule, water)
    b, g, _ = bottom_signals(base, rule, water)
    b, g, offset = (np.asarray(a, np.float64) for a in (b, g, offset))
    out = np.full((len(PLACE_LAYERS), *b.shape), np.nan, np.float32)
    coords = {"layer": list(PLACE_LAYERS), "y": base["y"], "x": base["x"]}
    result = xr.DataArray(out, dims=("layer", "y", "x"), coords=coords, name="seagrass_place")
    r, dii_sand = float(c["k_ratio"]), float(c["dii_sand"])
    if not (np.isfinite(r) and np.isfinite(dii_sand) and r <= rule.max_k_ratio):
        return result
    score = (float(c["threshold"]) - offset) / float(c["tolerance"])
    sand = np.isfinite(score) & (score < 0) & (g > 0)
    block = rule.place_block
    mb = _block_median(b, sand, block, rule.place_min_sand)
    mlg = _block_median(np.log(np.maximum(g, rule.min_bottom_signal)), sand, block,
                        rule.place_min_sand)
    own = np.isfinite(mb) & np.isfinite(mlg)
    beta = 0.0
    if own.sum() >= rule.min_sand_points:
        x = np.exp(r * mlg[own])
        (_, beta), *_ = np.linalg.lstsq(np.c_[x, np.ones_like(x)], mb[own], rcond=None)
        beta = float(beta)
    res = float(abs(base["x"].values[1] - base["x"].values[0])) if base.sizes["x"] > 1 else 10.0
    log_true = np.where(own & (mb - beta > 0), np.log(np.maximum(mb - beta, 1e-12)), np.nan)
    gamma = _plane_gradient(log_true, rule.place_window) / (block * res)
    water_pix = np.asarray(_water(base, rule)) & np.isfinite(b)
    noise_b = np.asarray(np.broadcast_to(c["noise_b"], b.shape), np.float64)[water_pix]
    noise_g = np.asarray(np.broadcast_to(c["noise_g"], b.shape), np.float64)[water_pix] / r
    if noise_b.size == 0:
        return result
    detect = rule.detect_sigmas
    sigma_b, sigma_g = float(np.median(noise_b)), float(np.median(noise_g))
    a_b = rule.albedo_ratio_blue
    q = (1 - a_b) * (np.exp(dii_sand) * (detect * sigma_g) ** r - beta) / (detect * sigma_b)
    result.attrs.update(beta=beta, q=float(q))
    have = own & np.isfinite(gamma) & (gamma > 0)
    if not (q >= 1 and have.any()):
        return result
    shape = b.shape
    near = _upsample(have.astype(np.float64), block, shape) > 0
    dist, (iy, ix) = ndimage.distance_transform_edt(~near, return_indices=True)
    dist = dist * res
    b_edge = _upsample(np.where(have, mb, np.nan), block, shape)[iy, ix]
    g_edge = _upsample(np.where(have, gamma, np.nan), block, shape)[iy, ix]
    sand_true = (b_edge - beta) * np.exp(-g_edge * dist)
    reach = np.minimum(np.log(q) / g_edge, rule.place_window * block * res)
    views_b = np.asarray(np.broadcast_to(c["noise_b"], shape), np.float64)
    supported = (np.isfinite(sand_true) & ((1 - a_b) * sand_true >= detect * views_b)
                 & (dist <= reach) & water_pix & ~np.isfinite(offset))
    out[0] = np.where(supported, sand_true, np.nan)
    out[1] = np.where(supported, a_b * sand_true + beta, np.nan)
    return result.copy(data=out)


def place_terms(place: xr.DataArray, rule) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """``(threshold_blue, contrast, tolerance)`` float32 of a place map: the threshold
    bottom's blue, sand's blue contrast to it ``(1 - a_B) b_true(d)`` (what the pixel's noise
    is held against) and the score's band of doubt, ``tolerance_share`` of that contrast
    (the rule's share, as of ``|T|`` in its log units)."""
    sand = place.sel(layer="sand_blue", drop=True).astype(np.float32)
    contrast = sand * np.float32(1 - rule.albedo_ratio_blue)
    return (place.sel(layer="threshold_blue", drop=True).astype(np.float32), contrast,
            contrast * np.float32(rule.tolerance_share))


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


def _plane_gradient(med: np.ndarray, radius: int) -> np.ndarray:
    """Per block, the gradient magnitude (per block) of the least-squares plane through the
    finite blocks of the ``2 radius + 1`` square around it (at least 4, spread in both
    directions); NaN elsewhere."""
    by, bx = med.shape
    grad = np.full(med.shape, np.nan)
    for i in range(by):
        for j in range(bx):
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


def _upsample(a: np.ndarray, block: int, shape: tuple[int, int]) -> np.ndarray:
    return np.kron(a, np.ones((block, block), a.dtype))[:shape[0], :shape[1]]
