"""``indices.canopy.canopy_step`` (one numba pass per month) against its array expressions
(``_canopy_step_arrays``, what it replaced): the same cover and last NDVI bit for bit and the
same sums, over random maps with NaN, infinities, endmember pairs that divide by zero, views
that are not contiguous, mangrove and seagrass (seeds printed)."""

from __future__ import annotations

import numpy as np
import pytest
from strategies import random_shape, seeded_rng

from indices.canopy import _canopy_step_arrays, canopy_step
from indices.change import MonthState


def _case(rng, shape):
    ndvi = rng.uniform(-1, 1, shape).astype(np.float32)
    ndvi[rng.random(shape) < 0.2] = np.nan
    ndvi[rng.random(shape) < 0.01] = np.inf
    cover = rng.uniform(-0.2, 1.3, shape).astype(np.float32)
    cover_base = rng.uniform(-0.2, 1.3, shape).astype(np.float32)
    cover_base[rng.random(shape) < 0.1] = np.nan
    cover[rng.random(shape) < 0.02] = np.inf
    last = rng.uniform(-1, 1, shape).astype(np.float32)
    last[rng.random(shape) < 0.3] = np.nan
    masks = [rng.random(shape) < p for p in (0.7, 0.4, 0.5, 0.9)]
    m = MonthState(seen=masks[0], habitat=masks[1], baseline=masks[2], gain=masks[1],
                   loss=masks[2], uncertain=masks[0], baseline_uncertain=masks[2])
    n_clear = rng.integers(0, 6, shape).astype(np.int16)
    return cover, last, cover_base, m, ndvi, n_clear, masks[3]


@pytest.mark.parametrize("seed", range(8))
def test_same_as_array_expressions(seed):
    rng = seeded_rng(300 + seed)
    for _ in range(6):
        shape = random_shape(rng, 80)
        cover, last, cover_base, m, ndvi, n_clear, site = _case(rng, shape)
        if rng.random() < 0.2:  # endmembers whose mixture divides by zero somewhere
            bare, canopy = (0.1, 0.1), (0.1, 0.1)
        else:
            bare = tuple(float(v) for v in rng.uniform(0.02, 0.2, 2))
            canopy = tuple(float(v) for v in rng.uniform(0.01, 0.5, 2))
        habitat = "mangrove" if rng.random() < 0.8 else "seagrass"
        kw = {"bare": bare, "canopy": canopy, "habitat": habitat}
        c1, l1, c2, l2 = cover.copy(), last.copy(), cover.copy(), last.copy()
        got = canopy_step(c1, l1, cover_base, m, ndvi, n_clear, site, **kw)
        want = _canopy_step_arrays(c2, l2, cover_base, m, ndvi, n_clear, site, **kw)
        np.testing.assert_array_equal(got, want)
        for a, b in ((c1, c2), (l1, l2)):
            np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


def test_views_not_contiguous_updated_in_place():
    rng = np.random.default_rng(7)
    cover, last, cover_base, m, ndvi, n_clear, site = _case(rng, (30, 40))
    big_cover = np.zeros((30, 80), np.float32)
    big_cover[:, ::2] = cover
    view = big_cover[:, ::2]
    kw = {"bare": (0.075, 0.09), "canopy": (0.028, 0.32), "habitat": "mangrove"}
    ref_cover, ref_last = cover.copy(), last.copy()
    want = _canopy_step_arrays(ref_cover, ref_last, cover_base, m, ndvi, n_clear, site, **kw)
    got = canopy_step(view, last, cover_base, m, ndvi, n_clear, site, **kw)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(big_cover[:, ::2].view(np.uint32), ref_cover.view(np.uint32))
    assert not big_cover[:, 1::2].any()
