"""Patches of a class map: the minimum mapping unit, and the doubt on patch edges.

Gain and loss are cleaned with a minimum mapping unit (connected patches of 8-neighbours
smaller than ``mmu_ha`` are dropped, so sensor noise does not add up to hectares:
:func:`drop_small_patches`); the intervals of :mod:`indices.change` count the mixed pixels
on patch edges, the ring just outside them and the patches only a few mapping units large as
doubtful (:func:`patch_doubt`, :func:`fringe`). Both are one-pass numba kernels checked
against scipy's labelling and morphology (``tests/test_patches.py``, ``tests/test_strips.py``).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["EIGHT_CONNECTED", "MMU_HA", "SMALL_PATCH_MMUS", "drop_small_patches", "fringe",
           "mmu_pixels", "patch_doubt"]

MMU_HA = 0.1
"""Default minimum mapping unit of gain and loss patches, hectares: ten 10 m pixels, so a
speckle of a few noisy pixels never adds up to change. Every function here and the run's
setting (``flows.config.RunConfig.mmu_ha``) take it from this one place."""
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
"""The structure of a patch: pixels touching at a side or a corner are one patch."""


def mmu_pixels(mmu_ha: float, pixel_area_ha: float) -> int:
    """Pixels in the minimum mapping unit (at least one)."""
    return max(1, int(np.ceil(mmu_ha / pixel_area_ha - 1e-9)))


SMALL_PATCH_MMUS = 5
"""Gain/loss patches smaller than this many mapping units count as doubtful in the intervals."""


def drop_small_patches(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """Remove 8-connected patches of fewer than ``min_pixels`` pixels from a boolean (y, x)
    map: the pixels of ``scipy.ndimage.label(mask, EIGHT_CONNECTED)``'s patches of at least
    ``min_pixels`` pixels, found by :func:`_large_patches` (runs of rows joined in one pass:
    ~10x faster than labelling, counting and gathering; it is called four times a month of
    the walk, issue 22). ``tests/test_patches.py`` checks it against that labelling."""
    if min_pixels <= 1 or not mask.any():
        return mask
    if mask.ndim != 2:
        raise ValueError(f"drop_small_patches needs a (y, x) map, got shape {mask.shape}")
    out = np.zeros(mask.shape, bool)
    _large_patches(np.ascontiguousarray(mask, dtype=bool).view(np.uint8), int(min_pixels),
                   out.view(np.uint8))
    return out


@numba.njit(nogil=True, cache=True)
def _root(parent, r):  # pragma: no cover (numba)
    while parent[r] != r:
        parent[r] = parent[parent[r]]  # path halving
        r = parent[r]
    return r


@numba.njit(nogil=True, cache=True)
def _large_patches(mask, min_pixels, out):  # pragma: no cover (numba)
    """``out`` (zeros) set to 1 on the 8-connected patches of ``mask`` (0/1 uint8) of at
    least ``min_pixels`` pixels. Each row's runs of ones are joined (union-find) with the
    runs of the row above that they touch, corners included; a patch's size is the sum of
    its runs' lengths."""
    height, width = mask.shape
    n = 0
    for i in range(height):
        before = 0
        for x in range(width):
            n += mask[i, x] & (before ^ 1)
            before = mask[i, x]
    start = np.empty(n, np.int64)
    stop = np.empty(n, np.int64)  # exclusive
    row = np.empty(n, np.int64)
    parent = np.arange(n)
    r = above = 0  # the first run of this row, of the row above
    for i in range(height):
        first = r
        x = 0
        while x < width:
            if mask[i, x]:
                start[r] = x
                while x < width and mask[i, x]:
                    x += 1
                stop[r], row[r] = x, i
                r += 1
            else:
                x += 1
        j = above
        for q in range(first, r):  # runs above touching [start - 1, stop]: one patch
            while j < first and stop[j] < start[q]:
                j += 1
            k = j
            while k < first and start[k] <= stop[q]:
                a, b = _root(parent, q), _root(parent, k)
                if a != b:
                    parent[max(a, b)] = min(a, b)
                k += 1
        above = first
    size = np.zeros(n, np.int64)
    for q in range(n):
        size[_root(parent, q)] += stop[q] - start[q]
    for q in range(n):
        if size[_root(parent, q)] >= min_pixels:
            out[row[q], start[q]:stop[q]] = 1


def patch_doubt(patches: np.ndarray, min_pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels whose change is in doubt: patch edges and small patches (``doubtful``), and the
    ring just outside the patches (``ring``). Mixed pixels sit on patch boundaries, and a patch
    only a few times the mapping unit may be noise that happened to persist."""
    if not patches.any():
        return patches, patches
    small = patches & ~drop_small_patches(patches, SMALL_PATCH_MMUS * min_pixels)
    return fringe(patches, small)


def fringe(patches: np.ndarray, small: np.ndarray, *, above: np.ndarray | None = None,
           below: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(edges | small, ring)`` of :func:`patch_doubt` for rows of a map, given its ``small``
    patches: ``above`` and ``below`` are the map's rows just outside these (None at the map's
    edge), so that a map walked in row strips (:mod:`indices.strips`) gets the whole map's
    erosion and dilation.

    ``edges`` are the patch pixels that an 8-connected erosion removes (outside the map counts
    as no patch, scipy's ``border_value=0``), ``ring`` the pixels that an 8-connected dilation
    adds: :func:`_fringe_kernel`, one pass, the same booleans as
    ``ndimage.binary_erosion``/``binary_dilation`` with a 3 x 3 structure, ~0.4 ms for a
    strip of 2M pixels against their 15-60 ms (they were ~10 % of a tile's month walk)."""
    patches = np.ascontiguousarray(patches, dtype=bool)
    small = np.ascontiguousarray(small, dtype=bool)
    if patches.ndim != 2 or small.shape != patches.shape:
        raise ValueError(f"fringe needs (y, x) patches and small of one shape, got "
                         f"{patches.shape} and {small.shape}")
    width = patches.shape[1]
    none = np.zeros(width, np.uint8)
    edge_rows = [none if r is None else np.ascontiguousarray(r, dtype=bool).reshape(-1)
                 .view(np.uint8) for r in (above, below)]
    if any(r.shape != (width,) for r in edge_rows):
        raise ValueError(f"above/below must be rows of {width} pixels, got "
                         f"{[np.shape(r) for r in (above, below)]}")
    doubt = np.empty(patches.shape, bool)
    ring = np.empty(patches.shape, bool)
    _fringe_kernel(patches.view(np.uint8), small.view(np.uint8),
                   *edge_rows, doubt.view(np.uint8), ring.view(np.uint8))
    return doubt, ring


@numba.njit(nogil=True, cache=True)
def _fringe_kernel(patches, small, above, below, doubt, ring):  # pragma: no cover (numba)
    """Rows of ``patches`` (0/1 uint8) with ``above``/``below`` the rows outside them (zeros
    at the map's edge): ``doubt = patches & ~erode(patches) | small`` and
    ``ring = dilate(patches) & ~patches`` with 8-connected 3 x 3 erosion and dilation, the
    map padded with zeros. Per row, the 3-row AND and OR first, then across columns."""
    height, width = patches.shape
    v_and = np.empty(width, np.uint8)
    v_or = np.empty(width, np.uint8)
    for i in range(height):
        up = above if i == 0 else patches[i - 1]
        down = below if i == height - 1 else patches[i + 1]
        mid = patches[i]
        for x in range(width):
            v_and[x] = up[x] & mid[x] & down[x]
            v_or[x] = up[x] | mid[x] | down[x]
        for x in range(1, width - 1):  # eroded: 0 at the first and last column (padding)
            p = mid[x]
            eroded = v_and[x - 1] & v_and[x] & v_and[x + 1]
            dilated = v_or[x - 1] | v_or[x] | v_or[x + 1]
            doubt[i, x] = (p & (eroded ^ 1)) | small[i, x]
            ring[i, x] = dilated & (p ^ 1)
        for x in range(0, width, max(width - 1, 1)):  # the first and the last column
            dilated = v_or[x]
            if x > 0:
                dilated |= v_or[x - 1]
            if x < width - 1:
                dilated |= v_or[x + 1]
            doubt[i, x] = mid[x] | small[i, x]
            ring[i, x] = dilated & (mid[x] ^ 1)
