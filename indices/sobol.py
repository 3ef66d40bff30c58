"""A randomised Sobol sequence: the carbon ledger's Monte Carlo design
(:func:`indices.carbon.normal_scores`), without importing ``scipy.stats`` (0.37 CPU s and
36 MiB a run, issue 22: ``benchmarks/measured/perf38``).

* **Sobol (1967)**, Zh. Vych. Mat. Mat. Fiz. 7:784-802: dimension ``j`` is a digital sequence
  in base 2 whose generator matrix has as columns the direction numbers ``v_k = m_k / 2^k``,
  the odd integers ``m_k < 2^k`` following, after the first ``s``, the recurrence of the
  primitive polynomial ``x^s + a_1 x^(s-1) + ... + a_(s-1) x + 1``:
  ``m_k = 2 a_1 m_(k-1) ^ 4 a_2 m_(k-2) ^ ... ^ 2^(s-1) a_(s-1) m_(k-s+1) ^ 2^s m_(k-s) ^
  m_(k-s)`` (as in Bratley & Fox 1988, ACM TOMS 14:88-100). The first dimension is van der
  Corput's (all ``m_k = 1``).
* **Direction numbers**: Joe & Kuo (2008), SIAM J. Sci. Comput. 30:2635-2654, their file
  ``new-joe-kuo-6.21201`` (criterion D^(6), recommended), dimensions 2-21 (:data:`_JOE_KUO`).
  The ledger uses 11 (8 factors and 3 areas); :data:`MAX_DIMS` is the table's end.
* **Order**: point ``i`` is ``XOR of v_k over the set bits k of gray(i) = i ^ (i >> 1)``
  (Antonov & Saleev 1979, USSR Comput. Math. Math. Phys. 19:252-256), the order of Joe &
  Kuo's own generator: the first ``2^m`` points are the same set as in Sobol's order, and
  consecutive points differ by one direction number.
* **Scrambling** (``seed`` given): Matousek's random linear scramble with a digital shift
  (J. Complexity 14 (1998) 527-556): each dimension's generator matrix ``C`` becomes
  ``L C`` with ``L`` a random lower-triangular binary matrix with a unit diagonal (64 output
  digits), and every point is XORed with a random 64-digit shift. Each point is uniform on
  the cube, and the scrambled set keeps the sequence's (t, m, s)-net structure (``L`` is
  nonsingular and lower triangular, so every elementary interval is mapped onto one of the
  same shape), which is what makes its averages and percentiles settle faster than plain
  random draws'. Owen's (1998) nested uniform scrambling is not implemented.

Values: floats in [0, 1). Unscrambled points are the exact dyadic fractions (the first is
0); scrambled ones are the top 52 digits plus half a unit of the 52nd (exact in float64), so
strictly inside (0, 1): their normal scores are finite.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_DIMS", "MAX_POINTS", "direction_integers", "sobol_points"]

_JOE_KUO = (
    # (s, a, m_1 .. m_s) for dimensions 2-21 of new-joe-kuo-6.21201 (Joe & Kuo 2008): s the
    # degree of the primitive polynomial, a its inner coefficients a_1..a_(s-1) as bits
    # (a_1 the most significant), m the initial direction numbers.
    (1, 0, (1,)),
    (2, 1, (1, 3)),
    (3, 1, (1, 3, 1)),
    (3, 2, (1, 1, 1)),
    (4, 1, (1, 1, 3, 3)),
    (4, 4, (1, 3, 5, 13)),
    (5, 2, (1, 1, 5, 5, 17)),
    (5, 4, (1, 1, 5, 5, 5)),
    (5, 7, (1, 1, 7, 11, 19)),
    (5, 11, (1, 1, 5, 1, 1)),
    (5, 13, (1, 1, 1, 3, 11)),
    (5, 14, (1, 3, 5, 5, 31)),
    (6, 1, (1, 3, 3, 9, 7, 49)),
    (6, 13, (1, 1, 1, 15, 21, 21)),
    (6, 16, (1, 3, 1, 13, 27, 49)),
    (6, 19, (1, 1, 1, 15, 7, 5)),
    (6, 22, (1, 3, 1, 15, 13, 25)),
    (6, 25, (1, 1, 5, 5, 19, 61)),
    (7, 1, (1, 3, 7, 11, 23, 15, 103)),
    (7, 4, (1, 3, 7, 13, 13, 15, 69)),
)

MAX_DIMS = 1 + len(_JOE_KUO)
"""21: van der Corput's dimension and Joe & Kuo's dimensions 2-21 (more need more of their
table)."""

_BITS = 64
"""Digits of a point (uint64 words; the generator matrices have at most 32 columns)."""
MAX_POINTS = 2**32
"""Points of one design: 32 index digits."""


def direction_integers(dim: int, count: int) -> list[int]:
    """``m_1 .. m_count`` of dimension ``dim`` (1-based; 1 is van der Corput's)."""
    if dim == 1:
        return [1] * count
    s, a, m0 = _JOE_KUO[dim - 2]
    m = list(m0)
    for k in range(s, count):
        new = m[k - s] ^ (m[k - s] << s)
        for i in range(1, s):               # a_i, i = 1 .. s-1, from the top bit of ``a``
            if (a >> (s - 1 - i)) & 1:
                new ^= m[k - i] << i
        m.append(new)
    return m[:count]


def _matrices(dims: int, cols: int) -> np.ndarray:
    """``(dims, cols)`` uint64: column ``k`` (0-based) of each generator matrix, its digit
    ``r`` (1 = most significant) at bit ``64 - r``: ``v_(k+1) = m_(k+1) / 2^(k+1)``."""
    out = np.zeros((dims, cols), dtype=np.uint64)
    for d in range(dims):
        for k, m in enumerate(direction_integers(d + 1, cols)):
            out[d, k] = m << (_BITS - (k + 1))
    return out


def _scrambled(v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``L v`` for each dimension's columns ``v`` (Matousek 1998): output digit at bit ``p``
    is the parity of ``v`` AND row ``p`` of ``L`` (bit ``p`` set, random bits above it)."""
    dims = v.shape[0]
    bits = np.arange(_BITS, dtype=np.uint64)
    above = ~((np.uint64(2) << bits) - np.uint64(1))        # bits > p (0 for p = 63)
    above[-1] = np.uint64(0)
    rows = (rng.integers(0, 2**64, size=(dims, _BITS), dtype=np.uint64, endpoint=False)
            & above) | (np.uint64(1) << bits)               # (dims, 64): row of output bit p
    parity = np.bitwise_count(rows[:, :, None] & v[:, None, :]) & np.uint8(1)  # (dims, 64, k)
    return np.bitwise_or.reduce(parity.astype(np.uint64) << bits[None, :, None], axis=1)


def sobol_points(n: int, dims: int, seed: int | None = None) -> np.ndarray:
    """``(n, dims)`` float64: the first ``n`` points of the Sobol sequence in Gray-code order,
    scrambled (random linear scramble and digital shift) when ``seed`` is given, the same
    points for the same ``(n, dims, seed)``. Any ``n`` from 1 to :data:`MAX_POINTS`; powers
    of two are the nets (every elementary interval of the cube holds its share). Raises
    ValueError for ``dims`` outside 1-:data:`MAX_DIMS` or ``n`` outside 1-:data:`MAX_POINTS`.
    """
    if isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) \
            or not 1 <= dims <= MAX_DIMS:
        raise ValueError(f"Sobol dims must be an integer from 1 to {MAX_DIMS} (the Joe & Kuo "
                         f"2008 direction numbers tabulated in indices/sobol.py), got {dims!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_POINTS:
        raise ValueError(f"Sobol n must be an integer from 1 to 2^32, got {n!r}")
    n, dims = int(n), int(dims)
    cols = max(1, (n - 1).bit_length())
    v = _matrices(dims, cols)
    shift = np.zeros(dims, dtype=np.uint64)
    if seed is not None:
        rng = np.random.default_rng(seed)
        v = _scrambled(v, rng)
        shift = rng.integers(0, 2**64, size=dims, dtype=np.uint64, endpoint=False)
    # point i = point i-1 XOR v_c, c the lowest set bit of i (gray(i) ^ gray(i-1))
    x = np.empty((n, dims), dtype=np.uint64)
    x[0] = shift
    if n > 1:
        i = np.arange(1, n, dtype=np.int64)
        lowest = np.log2(i & -i).astype(np.intp)            # exact: powers of two
        x[1:] = v[:, lowest].T
        np.bitwise_xor.accumulate(x, axis=0, out=x)
    if seed is None:
        return (x >> np.uint64(_BITS - 53)).astype(np.float64) * 2.0**-53
    # the top 52 digits and half a unit of the 52nd: exact in float64, within [2^-53, 1 - 2^-53]
    return ((x >> np.uint64(_BITS - 52)).astype(np.float64) + 0.5) * 2.0**-52
