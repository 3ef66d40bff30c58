"""``indices.morphology``'s square erosion, dilation, opening and closing (separable minimum
and maximum filters) against scipy's binary morphology with the same square structure, on
random maps of many shapes and densities (seeds printed)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from strategies import random_mask, seeded_rng

from indices.morphology import square_closing, square_dilation, square_erosion, square_opening


@pytest.mark.parametrize("seed", range(8))
def test_same_pixels_as_scipy(seed):
    rng = seeded_rng(seed)
    for _ in range(12):
        mask = random_mask(rng, 70, density=(0.05, 0.95), smooth=(2, 8), level=0.4)
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
