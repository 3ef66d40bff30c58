"""``indices.change.drop_small_patches`` (a one-pass kernel over runs of rows) against the
definition it replaces: scipy's 8-connected labelling, each label's pixel count, the labels of
at least ``min_pixels`` kept. Random maps of many densities and shapes (seeds printed)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from indices.change import EIGHT_CONNECTED, drop_small_patches


def _by_labels(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    labels, n = ndimage.label(mask, structure=EIGHT_CONNECTED)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= min_pixels
    keep[0] = False
    return keep[labels]


@pytest.mark.parametrize("seed", range(12))
def test_same_pixels_as_labelling(seed):
    rng = np.random.default_rng(seed)
    print("seed", seed)
    for _ in range(20):
        shape = tuple(int(v) for v in rng.integers(1, 90, 2))
        density = rng.uniform(0.02, 0.9)
        mask = rng.random(shape) < density
        if rng.random() < 0.5:  # patches rather than speckle
            mask = ndimage.uniform_filter(mask.astype(float), int(rng.integers(2, 6))) > 0.5
        for min_pixels in (2, 3, 10, 50, int(rng.integers(2, 200))):
            got = drop_small_patches(mask, min_pixels)
            assert got.dtype == bool and got.shape == mask.shape
            np.testing.assert_array_equal(got, _by_labels(mask, min_pixels))


def test_corners_join_and_edges():
    # two diagonal pixels are one patch of 2; runs touching only at a corner, either side
    mask = np.zeros((5, 7), bool)
    mask[0, 0] = mask[1, 1] = True  # corner
    mask[3, 2:4] = True
    mask[4, 4:6] = True  # touches [2, 4) at the corner (3, 3)-(4, 4)
    mask[0, 6] = mask[1, 5] = True  # the other diagonal
    np.testing.assert_array_equal(drop_small_patches(mask, 2), mask)
    np.testing.assert_array_equal(drop_small_patches(mask, 3), mask & (np.arange(5) >= 3)[:, None])
    np.testing.assert_array_equal(drop_small_patches(mask, 5), np.zeros_like(mask))


def test_unchanged_inputs_returned_and_not_contiguous():
    mask = np.zeros((4, 4), bool)
    assert drop_small_patches(mask, 10) is mask  # nothing to drop
    big = np.random.default_rng(3).random((60, 80)) < 0.4
    view = big[::2, ::3]
    np.testing.assert_array_equal(drop_small_patches(view, 4), _by_labels(view, 4))
