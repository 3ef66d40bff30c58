"""indices.sobol: the direction numbers' recurrence, the published first points, the net
properties that make the design a quasi-Monte Carlo one (kept by the scramble), seeded
reproducibility, and a clear refusal of what the table cannot give."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from indices.sobol import MAX_DIMS, direction_integers, sobol_points


def test_direction_numbers_follow_the_recurrence() -> None:
    # Joe & Kuo's dimension 2 (x + 1, m_1 = 1): m_k = m_(k-1) XOR 2 m_(k-1)
    assert direction_integers(2, 6) == [1, 3, 5, 15, 17, 51]
    # dimension 4 (x^3 + x + 1, a = 1, m = 1 3 1): worked by hand from the recurrence
    # m_4 = 4 m_2 ^ 8 m_1 ^ m_1 = 12 ^ 8 ^ 1 = 5; m_5 = 4 m_3 ^ 8 m_2 ^ m_2 = 4 ^ 24 ^ 3 = 31
    assert direction_integers(4, 5) == [1, 3, 1, 5, 31]
    assert direction_integers(1, 4) == [1, 1, 1, 1]                    # van der Corput
    # every m_k odd and below 2^k, in every tabulated dimension
    for d in range(1, MAX_DIMS + 1):
        m = direction_integers(d, 32)
        assert all(x % 2 == 1 and x < 2 ** (k + 1) for k, x in enumerate(m)), d


def test_unscrambled_points_are_the_published_first_points() -> None:
    """The first 8 points of dimensions 1-3 in Gray-code order, from the new-joe-kuo-6.21201
    direction numbers (v = 1/2, 1/4, 1/8; 1/2, 3/4, 5/8; 1/2, 3/4, 3/8), as Joe & Kuo's
    generator gives them."""
    expected = np.array([[0, 0, 0], [4, 4, 4], [6, 2, 2], [2, 6, 6],
                         [3, 3, 5], [7, 7, 1], [5, 1, 7], [1, 5, 3]]) / 8
    np.testing.assert_array_equal(sobol_points(8, 3), expected)
    # a prefix of a longer design is the shorter design (the sequence is extensible)
    np.testing.assert_array_equal(sobol_points(1000, MAX_DIMS)[:8, :3], expected)
    np.testing.assert_array_equal(sobol_points(1000, 5)[:600], sobol_points(600, 5))


def test_unscrambled_points_equal_scipys() -> None:
    """scipy's Sobol (the design the ledger used before) is an independent implementation of
    the same published table: the unscrambled points are the same numbers."""
    qmc = pytest.importorskip("scipy.stats.qmc")
    with warnings.catch_warnings():   # scipy warns that 3000 is not a power of two
        warnings.simplefilter("ignore", UserWarning)
        theirs = qmc.Sobol(MAX_DIMS, scramble=False).random(3000)
    np.testing.assert_array_equal(sobol_points(3000, MAX_DIMS), theirs)


@pytest.mark.parametrize("seed", [None, 7])
def test_each_dimension_is_stratified(seed) -> None:
    """The first 2^m points put one point in each interval [k / 2^m, (k + 1) / 2^m) of every
    dimension (each generator matrix is nonsingular), scrambled or not."""
    x = sobol_points(2**12, MAX_DIMS, seed)
    for m in range(1, 13):
        cells = np.floor(x[: 2**m] * 2**m).astype(int)
        for d in range(MAX_DIMS):
            assert np.array_equal(np.sort(cells[:, d]), np.arange(2**m)), (m, d)


def _net_t(points: np.ndarray, m: int, t: int) -> bool:
    """True when every elementary interval of volume 2^(t - m) holds 2^t of the 2^m points."""
    s = points.shape[1]
    for ks in itertools.product(range(m - t + 1), repeat=s):
        if sum(ks) != m - t:
            continue
        cell = np.zeros(len(points), dtype=np.int64)
        for d, k in enumerate(ks):
            cell = (cell << k) | np.floor(points[:, d] * 2**k).astype(np.int64)
        if not np.all(np.bincount(cell, minlength=2 ** (m - t)) == 2**t):
            return False
    return True


@pytest.mark.parametrize("seed", [None, 3])
def test_first_dimensions_are_nets(seed) -> None:
    """Sobol's t-value of dimensions 1..s is the sum of (degree - 1) of their polynomials
    (dimension 1: x, degree 1; Joe & Kuo's 2-4: degrees 1, 2, 3): t = 0, 1, 3 for s = 2, 3,
    4. The random linear scramble and shift keep it (Matousek 1998)."""
    x = sobol_points(2**10, 4, seed)
    for s, t in ((2, 0), (3, 1), (4, 3)):
        for m in range(t, 11):
            assert _net_t(x[: 2**m, :s], m, t), (s, m, t)
    # and the scrambled set is not a net with a smaller t (the test can fail)
    assert not _net_t(x[: 2**8, :3], 8, 0)


def test_seeded_reproducible_and_uniform() -> None:
    a, b, c = (sobol_points(2**14, 11, seed) for seed in (5, 5, 6))
    np.testing.assert_array_equal(a, b)
    assert not np.any(a == c)
    assert 0 < a.min() and a.max() < 1                               # normal scores finite
    assert not np.array_equal(a, sobol_points(2**14, 11))           # scrambled
    # a point of a random-shifted net is uniform: the means over 2^14 points sit at 1/2
    np.testing.assert_allclose(a.mean(axis=0), 0.5, atol=2e-3)
    # a prefix of a seeded design is the shorter seeded design
    np.testing.assert_array_equal(sobol_points(1000, 11, 5), a[:1000])


@pytest.mark.parametrize("n, dims", [(10, 0), (10, MAX_DIMS + 1), (10, 2.0), (0, 3),
                                     (-4, 3), (2**32 + 1, 3), (10.5, 3), (True, 3)])
def test_a_wrong_shape_is_refused_in_one_line(n, dims) -> None:
    with pytest.raises(ValueError, match=r"Sobol (dims|n) must be an integer from 1 to"):
        sobol_points(n, dims, 1)
