"""``indices.morphology``'s square erosion, dilation, opening and closing (separable minimum
and maximum filters) against scipy's binary morphology with the same square structure, on
random maps of many shapes and densities (seeds printed)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from indices.morphology import square_closing, square_dilation, square_erosion, square_opening


@pytest.mark.parametrize("seed", range(8))
def test_same_pixels_as_scipy(seed):
    rng = np.random.default_rng(seed)
    print("seed", seed)
    for _ in range(12):
        shape = tuple(int(v) for v in rng.integers(1, 70, 2))
        mask = rng.random(shape) < rng.uniform(0.05, 0.95)
        if rng.random() < 0.5:
            mask = ndimage.uniform_filter(mask.astype(float), int(rng.integers(2, 8))) > 0.4
        for size in (1, 3, 5, int(rng.integers(0, 12)) * 2 + 1, 21):
            s = np.ones((size, size), bool)
            for border in (0, 1):
                np.testing.assert_array_equal(square_erosion(mask, size, border_value=border),
                                              ndimage.binary_erosion(mask, s, border_value=border))
            np.testing.assert_array_equal(square_dilation(mask, size),
                                          ndimage.binary_dilation(mask, s))
            np.testing.assert_array_equal(square_opening(mask, size),
                                          ndimage.binary_opening(mask, s, border_value=0))
            np.testing.assert_array_equal(square_closing(mask, size),
                                          ndimage.binary_closing(mask, s))


def test_even_or_bad_sizes_refused():
    for size in (0, 2, -3, 2.5):
        with pytest.raises(ValueError):
            square_opening(np.ones((4, 4), bool), size)
