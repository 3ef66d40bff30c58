"""indices.mangrove.water_footprint as a square dilation: the booleans of the centred rolling
maximum it replaced, on random coasts, whatever the chunking (chunks thinner than the window's
reach included)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from indices.context import COAST, SHORE
from indices.mangrove import water_footprint


def _rolling(shore: xr.DataArray, k: int) -> np.ndarray:
    """The expression water_footprint computed before (a centred rolling maximum)."""
    water = (shore == COAST).astype(np.uint8)
    return (water.rolling(y=2 * k + 1, x=2 * k + 1, center=True, min_periods=1).max()
            > 0).values


@pytest.mark.parametrize("seed", [7, 2026])
@pytest.mark.parametrize("res", [10.0, 5.0])  # 20 m: k = 2 and 4 pixels
def test_water_footprint_is_the_rolling_maximum(seed, res):
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    levels = rng.choice([0, SHORE, COAST], size=(53, 71), p=[0.6, 0.39, 0.01]).astype(np.uint8)
    levels[5:20, :9] = COAST  # a creek reaching the edge
    shore = xr.DataArray(levels, dims=("y", "x"),
                         coords={"y": -res * np.arange(53), "x": res * np.arange(71)})
    k = int(round(20.0 / res))
    expected = _rolling(shore, k)
    assert expected.any() and not expected.all()
    assert np.array_equal(water_footprint(shore).values, expected)
    for chunks in ({"y": 16, "x": 32}, {"y": (50, 3), "x": (1, 69, 1)}, {"y": 53, "x": 71}):
        lazy = water_footprint(shore.chunk(chunks))
        assert lazy.chunks is not None
        assert np.array_equal(lazy.values, expected), chunks
