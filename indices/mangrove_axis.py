"""A mangrove site's discriminant axis: the two samples of :mod:`indices.mangrove` (the shore
canopy and the vegetation the published rule left unconnected), in four bands at once.

MVI (Baloloy et al. 2020) reads green, NIR and SWIR1 through one ratio; where a site's stand
and the terrestrial vegetation its context reaches share MVI values, no MVI threshold
separates them (``benchmarks/measured/mang23``: 53-90 % of the stand missed, or +11 to +68 %
of land vegetation taken, on 9 of the independent scenarios). The same two samples that give
the site's MVI threshold, the shore canopy (the site's mangrove fringe) and the unconnected
vegetation (terrestrial), give Fisher's linear discriminant (Fisher 1936, Ann. Eugen.
7:179-188, "The use of multiple measurements in taxonomic problems": the axis
``w = Sw^-1 (mu_shore - mu_inland)`` with ``Sw`` the pooled within-class covariance) over
the log reflectances of B03 B04 B08 B11 (:data:`AXIS_BANDS`: the bands a mangrove month loads,
:data:`indices.summary.MONTH_BANDS`). Measured on those scenarios
(``benchmarks/measured/mang24``): along the samples' axis the truth's stand and the land
vegetation separate with AUC 0.986-1.0, where MVI gives 0.71-0.99.

The axis is scaled so that the unconnected vegetation's mean projects to 0 and the shore
canopy's to 1 (:func:`axis_coefficients`); a pixel's value ``z`` (:func:`axis_value`) is
then split like the MVI (:func:`axis_boundary`: the shore canopy a population of its own on
the axis, Bayes' boundary with the site's class frequencies and Otsu's split of the reached
vegetation, the lower that keeps three quarters of the shore canopy above it), and read only
where the shore canopy is a closed canopy (:func:`closed_counts`: at least
``rule.axis_closed_share`` of it with NDVI >= ``rule.axis_closed_ndvi``, rule v9).

**Closed canopy** (rule v9). On real temperate coasts (the Welsh and Irish scenes of
``tests/test_realdata_mangrove.py``, where no mangrove grows) the canopy along the water is a
population of its own on the axis too (Mahalanobis' D² 19-26): salt marsh and coastal
pasture, an open, low-NDVI canopy (20 % and 34 % of it with NDVI >= 0.7). A mangrove fringe is
a forest: Digital Earth Pacific's mangrove product (github.com/digitalearthpacific/dep-mangroves,
``src/run_task.py``) classes the annual median NDVI of the tiles of the Global Mangrove Watch
v3 grid at 0.4 and 0.7 (``xrspatial.classify.reclassify(ndvi, [0.4, 0.7, inf], [0, 1, 2])``:
bins closed on the right, so its upper class is NDVI > 0.7; here ``>=``, the same cut but for
the tie; the classes are unnamed there, read here as not mangrove, open and closed mangrove;
0.4 is the rule's ``ndvi_min``). The axis is read only where at least half the shore canopy
is of the upper class (a majority: the same decision as its median NDVI >= 0.7 for an odd
count of pixels); elsewhere the site keeps its MVI threshold (rule v7).
Measured (``benchmarks/measured/mang26``): 0.904-1.000 of the shore canopy closed on the 118
independent scenarios where rule v8 read the axis, 0.196 (Wales) and 0.335 (Ireland). An open
or dwarf mangrove fringe (arid *Avicennia*) falls back to the MVI too: the axis's gain is
lost there, no false mangrove is added.

**Trimmed terrestrial sample** (rule v14, :func:`axis_fit`): where the shore canopy is no
population of its own against the unconnected vegetation on the first axis, yet three
quarters of it lie above the axis's allocation midpoint (:data:`TRIM_Z`), the axis is fitted
again against that vegetation less what the first axis allocates to the shore canopy (the
stand the published threshold left unconnected: :mod:`indices.mangrove` module doc).

Sums are exact: each sample's count, feature sums and cross-products are int64 sums of
fixed-point values (:data:`FIXED`), so the axis, and every histogram on it, is the same
whatever the chunking (``tests/test_chunk_invariance.py``).
"""

from __future__ import annotations

import math

import dask.array as da
import numpy as np
import xarray as xr

from indices.histogram import BINS, histogram, quantile_bin
from indices.splits import bayes_split, otsu_split

__all__ = ["AXIS_BANDS", "AXIS_COEFFICIENTS", "AXIS_PARAMETERS", "AXIS_RANGE", "FIXED",
           "LAND_TEST_Z", "TRIM_Z",
           "axis_boundary", "axis_coefficients", "axis_fit", "axis_split", "axis_value",
           "closed_counts", "closed_share", "coefficient_list", "land_excess", "mahalanobis_d2",
           "moments"]

AXIS_BANDS = ("B03", "B04", "B08", "B11")
"""The bands of the axis (log reflectance): green, red, NIR, SWIR1."""
AXIS_PARAMETERS = ("axis_b03", "axis_b04", "axis_b08", "axis_b11", "axis_offset",
                   "axis_boundary", "axis_used")
"""What the axis adds to :data:`indices.mangrove.MANGROVE_PARAMETERS`: the weights of the log
reflectances and the offset (``z = sum w log(band) + offset``), the boundary on ``z`` and
whether the site's score reads the axis (1) or the MVI (0)."""
AXIS_COEFFICIENTS = AXIS_PARAMETERS[:len(AXIS_BANDS) + 1]
"""The axis's weights and offset (the first of :data:`AXIS_PARAMETERS`; the boundary follows
them): what :func:`axis_value` reads."""
AXIS_RANGE = (float(np.exp(-4.0)), float(np.exp(5.0)))
"""Range of ``exp(z)`` histograms (256 log bins: ``z`` in [-4, 5] by 0.035)."""
FLOOR = 5e-4
"""Reflectance floor before the log (:data:`indices.mangrove.REFLECTANCE_RANGE`'s)."""
FIXED = 2.0 ** 12
"""Fixed-point scale of the log reflectances summed: |log| <= 7.6 -> |q| <= 31,000, a
cross-product <= 1e9, int64 sums exact up to 9e9 pixels."""
_N = len(AXIS_BANDS)
_PAIRS = [(i, j) for i in range(_N) for j in range(i, _N)]
MOMENTS = 1 + _N + len(_PAIRS)
"""Length of :func:`moments`: count, sums, cross-products (upper triangle)."""


def _logs(refl: xr.Dataset) -> list[xr.DataArray]:
    return [np.log(np.maximum(refl[b].astype(np.float64), FLOOR)) for b in AXIS_BANDS]


def axis_value(refl: xr.Dataset, coefficients) -> xr.DataArray:
    """``z`` of each pixel: ``sum_k w_k log(max(band_k, FLOOR)) + offset`` (float64, lazy when
    ``refl`` or ``coefficients`` are), ``coefficients`` the first five of
    :data:`AXIS_PARAMETERS` (a sequence or a ``(5,)`` array, dask or numpy)."""
    z = None
    for k, x in enumerate(_logs(refl)):
        term = x * coefficients[k]
        z = term if z is None else z + term
    return (z + coefficients[_N]).rename("mangrove_axis")


def _moment_block(mask, *logs):
    ok = mask & np.all([np.isfinite(v) for v in logs], axis=0)
    q = [np.round(v[ok] * FIXED).astype(np.int64) for v in logs]
    out = [np.int64(ok.sum())] + [v.sum() for v in q] + [(q[i] * q[j]).sum() for i, j in _PAIRS]
    return np.array(out, np.int64)[None, None, :]


def moments(mask: xr.DataArray, refl: xr.Dataset):
    """Exact int64 moments of the log reflectances where ``mask``: count, fixed-point sums
    and cross-products (:data:`MOMENTS` values), dask when the inputs are."""
    arrays = [a.transpose("y", "x").data for a in (mask, *_logs(refl))]
    if not any(isinstance(a, da.Array) for a in arrays):
        return _moment_block(*(np.asarray(a) for a in arrays))[0, 0]
    arrays = [da.asarray(a) for a in arrays]
    arrays = [a.rechunk(arrays[0].chunks) for a in arrays]
    ny, nx = arrays[0].numblocks
    parts = da.map_blocks(_moment_block, *arrays, new_axis=2,
                          chunks=((1,) * ny, (1,) * nx, (MOMENTS,)), dtype=np.int64)
    return parts.sum(axis=(0, 1))


def closed_counts(mask: xr.DataArray, ndvi: xr.DataArray, cut: float):
    """Exact int64 ``[pixels, closed]``: the pixels of ``mask`` and those of them with NDVI
    >= ``cut`` (closed canopy, module doc; NaN NDVI is not closed), dask when the inputs are;
    an integer count of booleans, the same whatever the chunking."""
    mask = mask.astype(bool)
    counts = [m.data.sum(dtype=np.int64) for m in (mask, mask & (ndvi >= cut))]
    if any(isinstance(c, da.Array) for c in counts):
        return da.stack([da.asarray(c) for c in counts])
    return np.array(counts, np.int64)


def closed_share(counts) -> float:
    """The share of closed canopy of :func:`closed_counts`' ``[pixels, closed]``; NaN where
    no pixel."""
    n, closed = (int(c) for c in np.asarray(counts, np.int64))
    return closed / n if n else np.nan


def _mean_cov(m: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    n = float(m[0])
    mean = m[1:1 + _N] / FIXED / n
    second = np.zeros((_N, _N))
    for (i, j), s in zip(_PAIRS, m[1 + _N:], strict=True):
        second[i, j] = second[j, i] = s / FIXED ** 2
    return n, mean, second - n * np.outer(mean, mean)  # the scatter matrix


def mahalanobis_d2(shore: np.ndarray, inland: np.ndarray) -> float:
    """numpy, for the record: Mahalanobis' D² between the two samples' :func:`moments`
    (pooled covariance, as :func:`axis_coefficients`); NaN where it is singular."""
    n1, mu1, s1 = _mean_cov(np.asarray(shore, np.int64))
    n0, mu0, s0 = _mean_cov(np.asarray(inland, np.int64))
    d = mu1 - mu0
    try:
        return float(d @ np.linalg.solve((s1 + s0) / (n1 + n0 - 2), d))
    except np.linalg.LinAlgError:
        return np.nan


def axis_coefficients(shore: np.ndarray, inland: np.ndarray, min_px: int) -> np.ndarray:
    """numpy: the ``(5,)`` weights and offset of Fisher's axis (module doc) from the two
    samples' :func:`moments`, scaled so the inland mean projects to 0 and the shore
    canopy's to 1; NaN where a sample has fewer than ``min_px`` pixels or the pooled
    covariance is singular."""
    shore, inland = np.asarray(shore, np.int64), np.asarray(inland, np.int64)
    if min(shore[0], inland[0]) < max(min_px, _N + 1):
        return np.full(_N + 1, np.nan)
    n1, mu1, s1 = _mean_cov(shore)
    n0, mu0, s0 = _mean_cov(inland)
    pooled = (s1 + s0) / (n1 + n0 - 2)
    d = mu1 - mu0
    try:
        w = np.linalg.solve(pooled, d)
    except np.linalg.LinAlgError:
        return np.full(_N + 1, np.nan)
    gap = float(w @ d)  # Mahalanobis' D² > 0 for a positive definite covariance
    if not np.isfinite(gap) or gap <= 0:
        return np.full(_N + 1, np.nan)
    w = w / gap
    return np.append(w, -float(w @ mu0))


def axis_boundary(shore: np.ndarray, vegetation: np.ndarray, inland: np.ndarray, rule,
                  closed: float) -> float:
    """The boundary on ``z`` from the ``exp(z)`` histograms (:data:`AXIS_RANGE`) of the shore
    canopy, the reached vegetation and the unconnected vegetation, as
    :func:`indices.mangrove.scene_threshold` splits MVI: NaN where the shore canopy is no
    population of its own on the axis (its median not above the unconnected vegetation's
    90th percentile) or straddles the boundary (less than three quarters of it above), or
    is no closed canopy (``closed``, the share of it with NDVI >= ``rule.axis_closed_ndvi``,
    :func:`closed_share`, under ``rule.axis_closed_share``: module doc), or a sample is
    smaller than ``rule.min_sample_px``; the splits are :mod:`indices.splits`'. The steps:
    :func:`axis_split`."""
    return axis_split(shore, vegetation, inland, rule, closed)["boundary"]


def axis_split(shore: np.ndarray, vegetation: np.ndarray, inland: np.ndarray, rule,
               closed: float) -> dict[str, float]:
    """The steps of :func:`axis_boundary` (same arguments), for the record: the shore
    canopy's median and the unconnected vegetation's 90th percentile on ``z`` (``own`` 1
    where the first is above: a population of its own), Bayes' and Otsu's boundaries and
    the share of the shore canopy above each (``above_bayes``, ``above_otsu``: a boundary
    is kept where it is >= 0.75), the share of closed canopy ``closed`` (the axis is read
    where it is >= ``rule.axis_closed_share``), and the ``boundary``; NaN where not
    reached."""
    out = dict.fromkeys(("median", "inland_p90", "own", "bayes", "above_bayes", "otsu",
                         "above_otsu", "boundary"), np.nan)
    out["closed"] = float(closed)
    if min(shore.sum(), inland.sum(), vegetation.sum()) < rule.min_sample_px:
        return out
    lo, hi = np.log(AXIS_RANGE[0]), np.log(AXIS_RANGE[1])
    edges = np.linspace(lo, hi, shore.size + 1)
    median, p90 = int(quantile_bin(shore, 0.5)), int(quantile_bin(inland, 0.9))
    out.update(median=float(edges[median]), inland_p90=float(edges[p90]),
               own=float(median > p90))
    if not median > p90:
        return out
    bayes, shape = bayes_split(shore, vegetation, median)
    split = otsu_split(vegetation)
    out.update(bayes=float(edges[bayes]), above_bayes=float(shape[bayes:].sum()))
    if split is not None:
        out.update(otsu=float(edges[split]), above_otsu=float(shape[split:].sum()))
    kept = [i for i in (bayes, split) if i is not None and shape[i:].sum() >= 0.75]
    # beside the three-quarters rule, and independent of it: a closed canopy (module doc)
    if kept and float(closed) >= rule.axis_closed_share:
        out["boundary"] = float(edges[min(kept)])
    return out


def axis_fit(comp: xr.Dataset, samples: list, rule) -> tuple:
    """``(coefficients, terrestrial sample, trimmed, excess)``: Fisher's axis from the shore
    canopy's and the terrestrial sample's exact moments (:mod:`indices.mangrove` module doc,
    rule v14). The terrestrial sample is the unconnected vegetation, or, where the shore
    canopy is no population of its own against it on that first axis
    (:func:`_own_population`), three quarters of the shore canopy lie above the allocation
    midpoint :data:`TRIM_Z`, and the sample holds more above that midpoint than its own land
    part predicts (:func:`land_excess`, the land guard), the unconnected vegetation less what the
    first axis allocates to the shore canopy (``z >=`` :data:`TRIM_Z`) and the axis fitted
    again against it (``trimmed`` True) if that second axis exists: one concentration step
    (Rousseeuw & Van Driessen 1999, Technometrics 41:212-223, the C-step of FAST-MCD: refit
    on the observations the current fit holds closest). ``excess`` is
    :func:`land_excess`'s ``[excess, margin]`` on the first axis, for the record. Lazy when
    ``comp`` is (the first axis is one more pass over the composite, the second another);
    on numpy the second axis is fitted only where the first's verdict asks for it (the
    trim fires on few sites: the second pass is then not made, the same answer)."""
    shore_m = moments(samples[0], comp)
    first = _coefficients(shore_m, moments(samples[2], comp), rule)
    z1 = axis_value(comp, coefficient_list(first))
    ez1 = np.exp(z1)
    h_shore, h_inland = (histogram(m, ez1, lo_hi=AXIS_RANGE) for m in (samples[0], samples[2]))
    trimmed = samples[2] & (z1 < TRIM_Z)
    lazy = isinstance(first, da.Array)
    lib = da if lazy else np
    # the shore canopy a population the first axis allocates to itself: three quarters of
    # it above the allocation boundary (the rule's three-quarters test, rule v2)
    above = h_shore[_TRIM_BIN:].sum() >= 0.75 * h_shore.sum()
    # and a stand inside the terrestrial sample, not a wide land sample (the land guard)
    if isinstance(h_inland, da.Array):
        excess = da.map_blocks(land_excess, h_inland.rechunk(-1), dtype=np.float64,
                               chunks=((2,),))
    else:
        excess = land_excess(h_inland)
    verdict = (~_own_population(h_shore, h_inland) & above & (excess[0] > excess[1])
               & lib.isfinite(first).all())
    if not lazy and not verdict:  # numpy: no second pass where its axis cannot be taken
        second = np.full_like(first, np.nan)
    else:
        second = _coefficients(shore_m, moments(trimmed, comp), rule)
    redo = verdict & lib.isfinite(second).all()
    return (lib.where(redo, second, first), xr.where(xr.DataArray(redo), trimmed, samples[2]),
            redo, excess)


LAND_TEST_Z = 2.3263478740408408
"""One-sided 1 % point of the standard normal (``Phi^-1(0.99)``): the margin of
:func:`land_excess`'s test on the sample size."""


def land_excess(h_inland: np.ndarray) -> np.ndarray:
    """numpy: ``[excess, margin]`` of the terrestrial sample's ``exp(z)`` histogram
    (:data:`AXIS_RANGE`) on the first axis (rule v14's land guard). The land's own distribution on ``z``
    is estimated from the sample's lower half, which a stand located above it does not reach
    while it is under half the sample (Huber 1964, Ann. Math. Stat. 35:73-101, the
    contamination model ``(1 - e) G + e H``): the median ``m`` and the lower-half scale
    ``s = (m - q25) / 0.6745`` (the MAD of the values below the median, scaled to a normal's
    standard deviation: Rousseeuw & Croux 1993, JASA 88:1273-1283, the half-normal
    consistency factor ``Phi^-1(0.75)``). ``excess`` is the share of the sample at or above
    :data:`TRIM_Z` less the share that normal land predicts, ``1 - Phi((TRIM_Z - m) / s)``;
    ``margin`` is the one-sided binomial test at 1 % on the sample size,
    :data:`LAND_TEST_Z` ``* sqrt(p0 (1 - p0) / n)``. Quantiles are interpolated within the
    bins. NaN where the sample is empty (the test then fails)."""
    counts = np.asarray(h_inland, np.float64)
    n = counts.sum()
    if not n > 0:
        return np.full(2, np.nan)
    lo, hi = np.log(AXIS_RANGE[0]), np.log(AXIS_RANGE[1])
    edges = np.linspace(lo, hi, counts.size + 1)
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    median, q25 = np.interp([0.5 * n, 0.25 * n], cum, edges)
    scale = (median - q25) / 0.6744897501960817
    share = counts[_TRIM_BIN:].sum() / n
    if scale > 0:
        p0 = 0.5 * math.erfc((TRIM_Z - median) / scale / math.sqrt(2.0))
    else:
        p0 = float(median >= TRIM_Z)
    return np.array([share - p0, LAND_TEST_Z * math.sqrt(p0 * (1.0 - p0) / n)])


TRIM_Z = 0.5
"""Fisher's allocation boundary on the axis (:func:`axis_coefficients`
scales it so that the unconnected vegetation's mean projects to 0 and the shore canopy's to
1: with equal priors a pixel is allocated to the nearer mean, the shore canopy's above the
midpoint 0.5; Fisher 1936)."""
_TRIM_BIN = int(round((TRIM_Z - np.log(AXIS_RANGE[0]))
                      / (np.log(AXIS_RANGE[1]) - np.log(AXIS_RANGE[0])) * BINS))
"""The first bin of the ``exp(z)`` histograms (:data:`AXIS_RANGE`) at or above
:data:`TRIM_Z` (an edge: 128 of 256)."""


def _coefficients(shore_m, inland_m, rule):
    """:func:`axis_coefficients` of two samples' moments, lazy when they are."""
    if isinstance(shore_m, da.Array) or isinstance(inland_m, da.Array):
        return da.map_blocks(axis_coefficients, da.asarray(shore_m).rechunk(-1),
                             da.asarray(inland_m).rechunk(-1), min_px=rule.min_sample_px,
                             dtype=np.float64, chunks=((len(AXIS_COEFFICIENTS),),))
    return axis_coefficients(shore_m, inland_m, rule.min_sample_px)


def coefficient_list(coef) -> list:
    """The axis's weights and offset (:data:`AXIS_COEFFICIENTS`) of a ``(5,)`` array, as
    :func:`axis_value` reads them."""
    return [coef[k] for k in range(len(AXIS_COEFFICIENTS))]


def _own_population(shore, inland):
    """Whether the shore canopy's median bin lies above the terrestrial sample's 90th
    percentile bin (:func:`axis_split`'s first test), lazy when the histograms are; False
    where either is empty."""
    return ((quantile_bin(shore, 0.5) > quantile_bin(inland, 0.9))
            & (shore.sum() > 0) & (inland.sum() > 0))
