"""For the record (helper mang36): the terrestrial sample's share above z1 0.5 against what
its lower half predicts (median, lower-half MAD), and the guard of ``axis_fit``, on the
reviewer's wide-land scenes and mang34's contaminated ones.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/mang36/guard_explore.py
"""
import json

import numpy as np
import xarray as xr
from scipy.special import ndtr

from indices.habitat import MangroveRule
from indices.mangrove_axis import AXIS_BANDS, axis_coefficients, axis_fit, axis_value, moments

RULE = MangroveRule()
COV = np.array([[1.0, 0.6, 0.3, 0.2], [0.6, 1.0, 0.2, 0.1], [0.3, 0.2, 1.0, 0.5],
                [0.2, 0.1, 0.5, 1.0]]) * 0.01


def scene(seed, n, shift, spread=1.0, frac=0.0):
    rng = np.random.default_rng(seed)
    mean = np.log([0.05, 0.03, 0.3, 0.12])
    a = mean + spread * rng.multivariate_normal(np.zeros(4), COV, n)
    b = rng.multivariate_normal(mean + shift * np.array([0.0, -0.15, 0.05, -0.1]), COV, n)
    logs = np.concatenate([a, b]).reshape(2 * n // 100, 100, 4)
    refl = xr.Dataset({k: (("y", "x"), np.exp(logs[..., i])) for i, k in enumerate(AXIS_BANDS)})
    stand = xr.DataArray(np.arange(2 * n).reshape(logs.shape[:2]) >= n, dims=("y", "x"))
    row = xr.DataArray(np.arange(stand.shape[0])[:, None] * np.ones(stand.shape[1]), dims=("y", "x"))
    half = stand.shape[0] / 2
    shore = stand & (row < half + half * (1 - frac))
    return refl, stand, [shore, xr.ones_like(stand), (~stand) | (stand & ~shore)]


def row(name, refl, stand, samples):
    first = axis_coefficients(moments(samples[0], refl), moments(samples[2], refl), RULE.min_sample_px)
    z = axis_value(refl, first).values
    zi = z[samples[2].values]
    zs = z[samples[0].values]
    m = np.median(zi)
    s = (m - np.quantile(zi, 0.25)) / 0.6745
    p_obs = (zi >= 0.5).mean()
    p0 = 1 - ndtr((0.5 - m) / s)
    own = np.median(zs) > np.quantile(zi, 0.9)
    above = (zs >= 0.5).mean()
    fit = axis_fit(refl, samples, RULE)
    trimmed = bool(fit[2])
    ex = [round(float(v), 4) for v in fit[3]]
    return dict(case=name, own=bool(own), above=round(above, 3), own_test_v14_trims=bool((not own) and above >= 0.75),
                median=round(m, 3), scale=round(s, 3), p_obs=round(p_obs, 4), p0=round(p0, 4),
                excess=round(p_obs - p0, 4), n=int(zi.size), trimmed=trimmed, guard=ex)


out = []
for spread in (1.5, 2.0, 2.5):
    for shift in (0.6, 0.8, 1.0, 1.2):
        out.append(row(f"wide x{spread} shift {shift}", *scene(3, 20_000, shift, spread)))
for frac in (0.2, 0.35, 0.5):
    for seed in (5, 6):
        out.append(row(f"stand {frac} seed {seed}", *scene(seed, 20_000, 1.0, 1.0, frac)))
for shift in (0.0, 0.15, 0.3):
    out.append(row(f"one population shift {shift}", *scene(4, 20_000, shift)))
for r in out:
    print(json.dumps(r))
