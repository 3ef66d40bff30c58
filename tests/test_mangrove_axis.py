"""The site's discriminant axis (:mod:`indices.mangrove_axis`): exact moments whatever the
chunking, Fisher's axis against a float computation, and no boundary where the shore canopy
is no population of its own on it."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from indices.habitat import MangroveRule
from indices.mangrove_axis import (
    AXIS_BANDS,
    AXIS_RANGE,
    axis_boundary,
    axis_coefficients,
    axis_value,
    moments,
)
from indices.water import BINS, _histogram

RULE = MangroveRule()


def _scene(rng, n, shift):
    """Two populations of log reflectance, ``shift`` apart along a direction MVI's bands
    alone (green, NIR, SWIR1) would not give: the red band carries half of it."""
    cov = np.array([[1.0, 0.6, 0.3, 0.2], [0.6, 1.0, 0.2, 0.1], [0.3, 0.2, 1.0, 0.5],
                    [0.2, 0.1, 0.5, 1.0]]) * 0.01
    mean = np.log([0.05, 0.03, 0.3, 0.12])
    a = rng.multivariate_normal(mean, cov, n)
    b = rng.multivariate_normal(mean + shift * np.array([0.0, -0.15, 0.05, -0.1]), cov, n)
    logs = np.concatenate([a, b]).reshape(2 * n // 100, 100, 4)
    refl = xr.Dataset({band: (("y", "x"), np.exp(logs[..., k])) for k, band in
                       enumerate(AXIS_BANDS)})
    shore = xr.DataArray(np.arange(2 * n).reshape(logs.shape[:2]) >= n, dims=("y", "x"))
    return refl, shore


def test_moments_are_exact_whatever_the_chunking():
    refl, shore = _scene(np.random.default_rng(1), 20_000, 1.0)
    whole = moments(shore, refl)
    for chunks in ({"y": 37, "x": 41}, {"y": 400, "x": 7}):
        lazy = moments(shore.chunk(chunks), refl.chunk(chunks)).compute()
        np.testing.assert_array_equal(lazy, whole)
    assert whole[0] == 20_000 and whole.dtype == np.int64


def test_fisher_axis_is_the_float_computation_and_maps_the_means_to_0_and_1():
    refl, shore = _scene(np.random.default_rng(2), 20_000, 1.0)
    coef = axis_coefficients(moments(shore, refl), moments(~shore, refl), RULE.min_sample_px)
    x = np.stack([np.log(refl[b].values) for b in AXIS_BANDS], -1).reshape(-1, 4)
    s = shore.values.ravel()
    d = x[s].mean(0) - x[~s].mean(0)
    pooled = (np.cov(x[s], rowvar=False) + np.cov(x[~s], rowvar=False)) / 2
    w = np.linalg.solve(pooled, d)
    # the same direction, to the fixed point's rounding (1/4096 of a log unit)
    assert np.dot(w, coef[:4]) / np.linalg.norm(w) / np.linalg.norm(coef[:4]) > 1 - 1e-6
    z = axis_value(refl, coef).values.ravel()
    assert abs(z[~s].mean()) < 1e-3 and abs(z[s].mean() - 1) < 1e-3


def test_a_separated_shore_canopy_gets_a_boundary_between_the_samples():
    refl, shore = _scene(np.random.default_rng(3), 20_000, 1.0)
    coef = axis_coefficients(moments(shore, refl), moments(~shore, refl), RULE.min_sample_px)
    ez = np.exp(axis_value(refl, coef))
    every = xr.ones_like(shore)
    h = [_histogram(m, ez, lo_hi=AXIS_RANGE) for m in (shore, every, ~shore)]
    boundary = axis_boundary(h[0], h[1], h[2], RULE)
    assert 0.2 < boundary < 0.8


@pytest.mark.parametrize("shift", [0.0, 0.15])
def test_no_boundary_where_the_shore_canopy_is_no_population_of_its_own(shift):
    """The same population on both sides (or nearly): Fisher's axis still exists (it is fitted
    to noise), but the shore canopy's median is not above the inland 90th percentile on it."""
    refl, shore = _scene(np.random.default_rng(4), 20_000, shift)
    coef = axis_coefficients(moments(shore, refl), moments(~shore, refl), RULE.min_sample_px)
    ez = np.exp(axis_value(refl, coef))
    h = [_histogram(m, ez, lo_hi=AXIS_RANGE) for m in (shore, xr.ones_like(shore), ~shore)]
    assert np.isnan(axis_boundary(h[0], h[1], h[2], RULE))
    assert h[0].sum() == 20_000 and BINS == h[0].size


def test_too_few_pixels_give_no_axis():
    refl, shore = _scene(np.random.default_rng(5), 100, 1.0)
    few = shore & (xr.DataArray(np.arange(shore.size).reshape(shore.shape), dims=("y", "x"))
                   < 150)
    assert np.isnan(axis_coefficients(moments(few, refl), moments(~shore, refl),
                                      RULE.min_sample_px)).all()
