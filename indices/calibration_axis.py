"""A mangrove site's calibration on its discriminant axis (rule v8): the pieces
:func:`indices.calibration.calibrate` puts together when it is given the site's own
parameters.

Rule v8 reads, where the site shows one, Fisher's axis of its shore canopy against its
unconnected vegetation (:mod:`indices.mangrove_axis`); a fit of the NDVI and MVI thresholds
alone drops it (a calibrated rule estimates nothing from the scene), and on the independent
scenarios whose defaults were already right it made them worse (seeds 27, 41, 48, 49 at
180 px: 0.3-0.7 ha off by default, 4.6-41 ha after a 2 % survey; ``benchmarks/measured/
cal29``). Here the labels teach the same rule family instead:

* the site's own axis with its boundary fitted on the labels (:func:`fit_boundary`);
* the labels' own Fisher axis (Fisher 1936, Ann. Eugen. 7:179-188: ``w = Sw^-1 (mu_1 -
  mu_0)``, pooled within-class covariance) of the labelled mangrove against the labelled
  *vegetation* that is not mangrove, the look-alikes the MVI and the axis are for (Baloloy et
  al. 2020), scaled as the site's (the look-alikes' mean at 0, the mangrove's at 1), its
  boundary fitted on the labels (:func:`fisher_axis`);
* and the site's default itself, which a fit must beat on the labels to replace.

**Weights.** A survey is a sample, often stratified, whose class shares are not the site's
(a partner labels as much mangrove as not; a stratified design over-samples the rare
strata). Each labelled pixel is weighted by the area its stratum holds on the site over the
labels drawn in it, ``W_h / n_h``, the strata being the site's default map (not vegetation;
vegetation the default does not call mangrove; what it calls): weighted by the strata's
areas, Olofsson et al. 2014's weights (RSE 148:42-57: the error matrix in area proportions
``p_ij = W_i n_ij / n_i.``, with the map's classes as strata; here post-strata, the survey's
own design not being known). The weighted share of labels a rule gets right is an estimate
of the share of the site's *area* it gets right only where the labels are a probability
sample of each stratum; a partner's polygons, or the tests' pure 8-px blocks, are not one
(chosen, and clustered), so here it is a score that gives each stratum the say of its area,
not an area accuracy. The boundary that maximises it is Bayes' boundary with the strata's
area shares in place of the survey's class shares: the boundary a baseline extent needs,
its commission and omission counted by area.

**The default's guard.** A fit replaces the default only where its gain on the labels is
beyond their sampling noise (:func:`gain_evidence`, :func:`gain_is_shown`): two rules scored on
the same labels are compared by their difference on them (Foody 2004, Photogramm. Eng.
Remote Sens. 70:627-633: McNemar's test for two classifications of one sample), here the
difference of their weighted accuracies, and its standard error is counted by *sampling
unit*, a labelled polygon, not by pixel: a polygon's pixels are drawn together, at one place,
and are not independent (the sampling unit as the unit of the estimator and of its variance:
Stehman & Czaplewski 1998, RSE 64:331-344, recalled), so a fit that moves a boundary past two
edge pixels of one polygon has one polygon for it, whatever its pixels. The gain must exceed
Student's one-sided 5 % quantile (:data:`ALPHA`) times its standard error between the
polygons of each class (a survey draws habitat and not-habitat polygons apart: the separate
ratio estimator of a stratified cluster sample, Cochran 1977; counted between all polygons
at once, a default that misses all four mangrove polygons of a 2 % survey and none of the
others showed no gain, seed 2401 of the calibration held-out range). On seed 2114 of the
independent scenarios (a 2 % survey: 8 blocks of 64 px) the site's axis moved its boundary
from 0.570 to 0.259 because one labelled mangrove polygon had two pixels at 0.52-0.54 (a
weighted gain of 0.0033, standard error 0.0038, 5 degrees of freedom); the look-alikes
between, which no label sampled, came in: 1.70 -> 14.52 ha off. A survey of few polygons
can then show only a gain several of them share (seed 24's labels' axis: six of eight;
``benchmarks/measured/cal31``).

Numpy (and Student's t of ``scipy.stats``, imported when first needed), at the labelled
pixels; the site's parameters are those of :func:`indices.mangrove.mangrove_parameters`
(by name, :data:`indices.mangrove.
MANGROVE_PARAMETERS`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from indices.calibration_base import MIN_ACCURACY, MIN_PIXELS, Calibration
from indices.mangrove_axis import AXIS_BANDS, AXIS_COEFFICIENTS, FLOOR
from indices.rules import rule_id

__all__ = ["ALPHA", "AXIS_KEYS", "ORDER", "STRATA", "axis_z", "calibrate_on_axis",
           "fisher_axis", "fit_boundary", "gain_evidence", "gain_is_shown", "map_strata",
           "site_axis", "spectral_test", "stratum_weights", "weighted_accuracy"]

AXIS_KEYS = (*AXIS_COEFFICIENTS, "axis_boundary")
"""The axis's weights, offset and boundary (what a fit on the axis overrides of the site's
parameters, with ``axis_used`` 1)."""
_BOUNDARY = len(AXIS_COEFFICIENTS)
"""The boundary's place in an axis of :data:`AXIS_KEYS`."""
ORDER = ("default", "site_axis", "site_mvi", "label_axis")
"""The rules :func:`calibrate_on_axis` compares, in the order preferred among equals (of
:data:`indices.calibration_base.CALIBRATION_METHODS`)."""
ALPHA = 0.05
"""The one-sided level of the default's guard (:func:`gain_is_shown`): the conventional 5 %
of a test of a difference in accuracy (Foody 2004), one-sided because only a gain replaces
the default."""
STRATA = ("not_vegetation", "vegetation", "called")
"""The post-strata of the labels (module doc): NDVI not above the rule's ``ndvi_min``;
vegetation the site's default does not call mangrove; what it calls."""


def axis_z(bands: Mapping[str, np.ndarray], coefficients) -> np.ndarray:
    """``z`` at pixels: :func:`indices.mangrove_axis.axis_value`'s sum, in the same order
    and float64 (``sum_k w_k log(max(band_k, FLOOR)) + offset``), of the reflectances
    ``bands`` (:data:`indices.mangrove_axis.AXIS_BANDS`)."""
    z = None
    for k, b in enumerate(AXIS_BANDS):
        term = np.log(np.maximum(np.asarray(bands[b], np.float64), FLOOR)) * coefficients[k]
        z = term if z is None else z + term
    return z + coefficients[len(AXIS_BANDS)]


def site_axis(site: Mapping[str, float]) -> np.ndarray | None:
    """The site's ``(6,)`` weights, offset and boundary where it reads its axis
    (``axis_used`` 1), else None."""
    if site.get("axis_used", 0) != 1:
        return None
    return np.array([site[k] for k in AXIS_KEYS], np.float64)


def spectral_test(features: Mapping[str, np.ndarray], rule, site: Mapping[str, float],
                  axis: np.ndarray | None = None, mvi_min: float | None = None) -> np.ndarray:
    """Where the spectral score of :func:`indices.mangrove_rule.mangrove_spectral_score` is
    above 0 (its signs; the tolerances do not move them), with the site's parameters
    ``site``: NDVI above ``rule.ndvi_min``, and where MVI is above ``rule.mvi_max`` NDVI above
    the site's ``ndvi_half``, elsewhere ``z`` above the boundary of ``axis`` (the ``(6,)`` of
    :data:`AXIS_KEYS`) with MVI above ``rule.mvi_floor``, or without ``axis`` MVI above
    ``mvi_min`` (default: the site's). False where a feature is NaN."""
    ndvi, mvi = (np.asarray(features[k], np.float64) for k in ("ndvi", "mvi"))
    if axis is not None:
        test = (axis_z(features, axis) > axis[_BOUNDARY]) & (mvi > rule.mvi_floor)
    else:
        test = mvi > (site["mvi_min"] if mvi_min is None else mvi_min)
    test = np.where(mvi > rule.mvi_max, ndvi > site["ndvi_half"], test)
    return (ndvi > rule.ndvi_min) & test


def map_strata(features: Mapping[str, np.ndarray], rule, site: Mapping[str, float]
               ) -> np.ndarray:
    """int8 stratum (:data:`STRATA`) of each pixel under the site's default
    (:func:`spectral_test` with its axis where it reads one)."""
    vegetation = np.asarray(features["ndvi"], np.float64) > rule.ndvi_min
    called = spectral_test(features, rule, site, site_axis(site))
    return np.where(called, 2, np.where(vegetation, 1, 0)).astype(np.int8)


def stratum_weights(strata: np.ndarray, pixels) -> np.ndarray:
    """Each labelled pixel's weight ``W_h / n_h`` (module doc): ``pixels`` the site's pixels
    in each stratum (:data:`STRATA` order), ``strata`` the labels'; ones without
    ``pixels``."""
    strata = np.asarray(strata)
    if pixels is None:
        return np.ones(strata.size)
    n = np.bincount(strata, minlength=len(STRATA)).astype(np.float64)
    area = np.asarray(pixels, np.float64)
    return (area / np.maximum(n, 1.0))[strata]


def weighted_accuracy(predicted: np.ndarray, truth: np.ndarray, weights: np.ndarray
                      ) -> tuple[float, float]:
    """``(accuracy, balanced)``: the weighted share of labels ``predicted`` right (with
    :func:`stratum_weights`: weighted by the strata's areas, an area-accuracy estimate only
    where the labels are a probability sample of each stratum, module doc), and the mean of
    the two classes' weighted recalls."""
    predicted, truth = np.asarray(predicted, bool), np.asarray(truth, bool)
    right = predicted == truth
    acc = float((weights * right).sum() / weights.sum())
    recalls = [(weights[c] * right[c]).sum() / weights[c].sum() for c in (truth, ~truth)]
    return acc, float(np.mean(recalls))


def gain_evidence(candidate: np.ndarray, default: np.ndarray, truth: np.ndarray,
                  weights: np.ndarray, units: np.ndarray | None = None
                  ) -> tuple[float, float, int]:
    """``(gain, se, df)``: the weighted accuracy of ``candidate`` on the labels ``truth``
    less that of ``default`` (:func:`weighted_accuracy`, ``weights`` of
    :func:`stratum_weights`), its standard error from the spread of the gains between the
    sampling units (``units``, an id a labelled pixel: its polygon; None: each pixel its
    own) of each class, and the degrees of freedom of that spread (the units less the
    classes). A survey draws its polygons class by class (habitat and not habitat: a
    stratified sample, the classes its strata), so the gain is a sum over the classes
    ``c`` of ratios of sums over their units, ``sum_c sum_(u in c) g_u / sum_u w_u`` (``g_u``
    the unit's weighted labels the candidate gets right less the default's, ``w_u`` its
    weight), whose variance, the separate ratio estimator of a stratified cluster sample,
    is ``sum_c n_c / (n_c - 1) sum_(u in c) (g_u - r_c w_u)^2 / (sum_u w_u)^2`` with ``r_c``
    the class's own ratio and ``n_c`` its units (Cochran 1977, Sampling Techniques, 3rd ed.,
    chs. 6 and 9: the ratio estimator in stratified sampling, cluster units of unequal
    size; recalled, its section numbers not checked against a stored copy here): the
    difference between the classes' gains is the design's, not noise. Infinite where a
    class with a gain or a loss has one unit (its spread unknown). With ``units``, never
    below the same error counted by pixel (each pixel its own unit): a polygon's pixels are
    alike, so the design effect of a cluster sample is at least 1 (Kish 1965, Survey
    Sampling, ch. 5; recalled), and few polygons whose gains happen to be proportional to
    their weights (one pixel in each of four blocks) would otherwise show no spread at all,
    an error of 0 (review 33)."""
    right = (np.asarray(candidate, bool) == truth).astype(np.float64)
    w = np.asarray(weights, np.float64)
    delta = w * (right - (np.asarray(default, bool) == truth))
    truth = np.asarray(truth, bool)
    if units is None:
        g, wu, cls = delta, w, truth
    else:
        pairs, ids = np.unique(2 * np.asarray(units, np.int64).ravel() + truth,
                               return_inverse=True)  # a unit of one class
        ids = ids.ravel()
        g, wu = np.bincount(ids, weights=delta), np.bincount(ids, weights=w)
        cls = (pairs % 2).astype(bool)
    total = float(wu.sum())
    gain, var, df = float(g.sum()) / total, 0.0, 0
    for c in (True, False):
        gc, wc = g[cls == c], wu[cls == c]
        n = gc.size
        if n == 0:
            continue
        if n == 1:
            if abs(gc[0]) > 1e-9 * max(wc[0], 1.0):
                return gain, float("inf"), df
            continue
        residual = gc - gc.sum() / wc.sum() * wc
        var += n / (n - 1) * float((residual ** 2).sum())
        df += n - 1
    se = math.sqrt(var) / total
    if units is not None:  # the design effect at least 1: the error by pixel as a floor
        se = max(se, gain_evidence(candidate, default, truth, weights)[1])
    return gain, se, df


def gain_is_shown(gain: float, se: float, df: int, alpha: float = ALPHA) -> bool:
    """Whether a gain of :func:`gain_evidence` is beyond the labels' sampling noise: above
    ``t se``, ``t`` Student's one-sided ``1 - alpha`` quantile with ``df`` degrees of
    freedom (the paired comparison of two classifications on the same sample, Foody 2004,
    here by sampling unit); never without a degree of freedom."""
    if df < 1 or not gain > 0:
        return False
    from scipy import stats  # here: scipy.stats costs ~0.4 s and ~30 MB at every run's start

    return gain > float(stats.t.ppf(1.0 - alpha, df)) * se


def fisher_axis(logs: np.ndarray, habitat: np.ndarray, weights: np.ndarray,
                min_px: int) -> np.ndarray | None:
    """``(5,)`` weights and offset of Fisher's axis (module doc) of the pixels ``habitat``
    against the others, from their log reflectances ``logs`` ``(n, 4)``, each pixel weighted
    (:func:`stratum_weights`: the means, the class covariances and their pool by area),
    scaled so that the others' mean projects to 0 and the habitat's to 1; None where a
    class has fewer than ``min_px`` pixels or the pooled covariance is singular."""
    habitat = np.asarray(habitat, bool)
    if min(habitat.sum(), (~habitat).sum()) < max(min_px, logs.shape[1] + 1):
        return None
    means, pooled = [], np.zeros((logs.shape[1],) * 2)
    for cls in (habitat, ~habitat):
        x, w = logs[cls], weights[cls]
        mu = (w[:, None] * x).sum(0) / w.sum()
        d = x - mu
        pooled += (w[:, None] * d).T @ d
        means.append(mu)
    pooled /= weights.sum()
    gap = means[0] - means[1]
    try:
        w = np.linalg.solve(pooled, gap)
    except np.linalg.LinAlgError:
        return None
    scale = float(w @ gap)
    if not np.isfinite(scale) or scale <= 0:
        return None
    w = w / scale
    return np.append(w, -float(w @ means[1]))


def fit_boundary(z: np.ndarray, truth: np.ndarray, weights: np.ndarray, passed: np.ndarray,
                 start: float | None = None) -> float | None:
    """The boundary on ``z`` of largest weighted accuracy (:func:`weighted_accuracy`) of
    ``passed & (z > boundary)`` on the labels ``truth``: one between two consecutive labelled
    values of ``z`` among ``passed`` (the rule's other tests), below all or above all; of
    equal ones, the middle one of them (the widest margin the labels allow, not an
    edge), or with ``start`` (the site's own boundary) the one nearest it: ``start`` itself
    where it is as good, else the middle of the nearest gap as good (labels that show one
    class only on a side say how far a boundary must move, not that it may go anywhere
    beyond). None where no labelled pixel passes."""
    keep = np.asarray(passed, bool) & np.isfinite(z)
    if not keep.any():
        return None
    order = np.argsort(z[keep], kind="stable")
    values, right = z[keep][order], np.asarray(truth, bool)[keep][order]
    w = np.asarray(weights, np.float64)[keep][order]
    # a boundary below values[k] (k = 0..n) calls values[k:] mangrove: right are the
    # habitat above it and the others below it
    hab_above = np.append(np.cumsum((w * right)[::-1])[::-1], 0.0)
    other_below = np.concatenate([[0.0], np.cumsum(w * ~right)])
    score = hab_above + other_below
    distinct = np.append(values[1:] > values[:-1], True)  # a cut between distinct values
    distinct = np.concatenate([[True], distinct])
    score = np.where(distinct, score, -np.inf)
    tied = np.flatnonzero(score >= score.max() - 1e-9 * max(abs(score.max()), 1.0))
    k = int(tied[(tied.size - 1) // 2])
    if start is not None and np.isfinite(start):
        lo = np.where(tied > 0, values[np.maximum(tied - 1, 0)], -np.inf)  # the cut's gap
        hi = np.where(tied < values.size, values[np.minimum(tied, values.size - 1)], np.inf)
        if ((lo <= start) & (start < hi)).any():
            return float(start)
        k = int(tied[np.argmin(np.minimum(np.abs(lo - start), np.abs(hi - start)))])
    if k == 0:
        return float(values[0] - 1e-6 * max(abs(values[0]), 1.0))
    if k == values.size:
        return float(values[-1])
    return float(0.5 * (values[k - 1] + values[k]))


def calibrate_on_axis(labels: np.ndarray, cols: Mapping[str, np.ndarray], rule,
                      site: Mapping[str, float], strata_pixels=None, *,
                      provenance: str = "calibrated on labelled pixels",
                      methods: tuple[str, ...] = ORDER, units: np.ndarray | None = None
                      ) -> Calibration:
    """A mangrove site's calibration that keeps rule v8's discriminant axis (module doc):
    of the site's default, its own axis with a boundary fitted on the labels
    (``site_axis``) and the labels' own axis and boundary (``label_axis``), the one whose
    labels, weighted by their strata's areas on the site, are the most right; of equal ones
    the earlier in :data:`ORDER`, the default first, and of the fits only those whose gain
    on the labels is beyond their sampling noise (:func:`gain_evidence` at :data:`ALPHA`,
    the default's guard, module doc): a fit replaces the default only where it does better
    on the labels' own evidence, and the provenance says where the guard kept it. Where the 'not mangrove' labels hold fewer
    than :data:`indices.calibration_base.MIN_PIXELS` pixels of vegetation (the look-alikes the
    axis separates mangrove from), no axis is fitted and no boundary raised: the site's own
    test (its axis, or its MVI threshold: ``site_mvi``, not below ``rule.mvi_floor``) is at
    most lowered, only as far as the labelled mangrove asks (:func:`fit_boundary` from the
    site's boundary), and that is said. A fitted axis is read even where the site reads none
    because rule v9's closed-canopy guard held it back (the shore canopy less than
    ``rule.axis_closed_share`` closed, :mod:`indices.mangrove_axis`): the labels may
    override the guard (the partner knows the site), and that is said too, with the guard's
    share and cut.

    ``labels``: bool, habitat; ``cols``: the finite features at the labels (``ndvi``,
    ``mvi`` and :data:`indices.mangrove_axis.AXIS_BANDS`); ``rule``: the site's default
    rule; ``site``: its parameters under it (by name); ``strata_pixels``: the site's pixels
    in each of :data:`STRATA` (None: the labels unweighted); ``provenance``: the start of
    the fitted rule's ``source``; ``methods``: those of :data:`ORDER` that may be chosen
    (for measurement, ``benchmarks/calibration_scenes.py``; the default where none is);
    ``units``: the sampling unit of each label (an id: its polygon), None: each pixel its
    own."""
    strata = map_strata(cols, rule, site)
    weights = stratum_weights(strata, strata_pixels)
    vegetation = (cols["ndvi"] > rule.ndvi_min) & (cols["mvi"] <= rule.mvi_max)
    n_alike = int((vegetation & ~labels).sum())
    own = site_axis(site)
    preds = {"default": spectral_test(cols, rule, site, own)}
    axes: dict[str, np.ndarray] = {}
    lowered = None
    if n_alike < MIN_PIXELS:  # the site's own boundary, lowered only as far as the labels ask
        feature, start = (axis_z(cols, own), own[_BOUNDARY]) if own is not None else (
            cols["mvi"], float(site["mvi_min"]))
        passed = vegetation & (cols["mvi"] > rule.mvi_floor) if own is not None else vegetation
        boundary = fit_boundary(feature, labels, weights, passed, start=start)
        if boundary is not None and own is None:  # a site's MVI threshold: not below the floor
            boundary = max(boundary, float(rule.mvi_floor))
        if boundary is not None and boundary < start:
            lowered = boundary
            if own is not None:
                axes["site_axis"] = np.append(own[:_BOUNDARY], boundary)
                preds["site_axis"] = spectral_test(cols, rule, site, axes["site_axis"])
            else:
                preds["site_mvi"] = spectral_test(cols, rule, site, mvi_min=boundary)
    else:
        coef = np.array([site.get(k, np.nan) for k in AXIS_COEFFICIENTS], np.float64)
        if np.isfinite(coef).all():
            axes["site_axis"] = coef
        logs = np.log(np.maximum(np.stack([cols[b] for b in AXIS_BANDS], -1), FLOOR))
        fitted = fisher_axis(logs[vegetation], labels[vegetation], weights[vegetation],
                             MIN_PIXELS)
        if fitted is not None:
            axes["label_axis"] = fitted
        passed = vegetation & (cols["mvi"] > rule.mvi_floor)  # the axis's other tests
        for name, coef in list(axes.items()):
            boundary = fit_boundary(axis_z(cols, coef), labels, weights, passed)
            if boundary is None:
                del axes[name]
                continue
            axes[name] = np.append(coef, boundary)
            preds[name] = spectral_test(cols, rule, site, axes[name])
    scores = {name: weighted_accuracy(p, labels, weights) for name, p in preds.items()}
    gains = {m: gain_evidence(preds[m], preds["default"], labels, weights, units)
             for m in preds if m != "default"}
    best = max([m for m in scores if m in methods] or ["default"],
               key=lambda m: (round(scores[m][0], 12), -ORDER.index(m)))
    shown = [m for m in scores if m in methods and (m == "default" or gain_is_shown(*gains[m]))]
    method = max(shown or ["default"],
                 key=lambda m: (round(scores[m][0], 12), -ORDER.index(m)))
    accuracy, balanced = scores[method]
    warnings: tuple[str, ...] = ()
    if n_alike < MIN_PIXELS:
        test = "axis boundary" if own is not None else "MVI threshold"
        done = (f"the site's {test} was lowered only as far as the labelled mangrove asks "
                f"({lowered:.4f})" if method != "default" else f"the site's {test} is kept")
        warnings += (f"the 'not mangrove' labels hold {n_alike} pixels of vegetation "
                     f"(NDVI > {rule.ndvi_min:.2f}), fewer than {MIN_PIXELS}: no MVI "
                     f"threshold or axis can be fitted against the look-alikes they separate "
                     f"mangrove from; {done}; label some vegetation as not mangrove",)
    elif balanced < MIN_ACCURACY:
        warnings += (f"the rule's tests cannot separate the labels' mangrove from not "
                     f"mangrove: the best fit ({method}) gets {balanced:.0%} of them right "
                     f"(balanced accuracy with area weights, on the labels themselves), below "
                     f"the {MIN_ACCURACY:.0%} Anderson et al. 1976 ask of a land-cover map; "
                     f"the calibrated extent is uncertain: check the labels, or map the "
                     f"look-alikes with other evidence",)
    closed = float(site.get("axis_closed_share", np.nan))
    if method in axes and own is None and closed < rule.axis_closed_share:  # NaN: no guard
        whose = "the site's" if method == "site_axis" else "the labels'"
        warnings += (f"the site's shore canopy is {closed:.3f} closed canopy (NDVI >= "
                     f"{rule.axis_closed_ndvi:.2f}), under the {rule.axis_closed_share:.2f} "
                     f"from which rule v9 reads the discriminant axis (its guard against an "
                     f"open shore canopy, salt marsh or pasture, that is not mangrove); the "
                     f"labels override it: the calibrated rule reads {whose} axis "
                     f"({method}); check that the labelled mangrove is the site's",)
    used = ({k: float(v) for k, v in zip(AXIS_KEYS, own, strict=True)} if own is not None
            else {"ndvi_min": float(rule.ndvi_min), "mvi_min": float(site["mvi_min"])})
    axis = None
    if method in axes:
        axis = {**{k: float(v) for k, v in zip(AXIS_KEYS, axes[method], strict=True)},
                "axis_used": 1.0}
    elif method == "site_mvi":
        axis = {"mvi_min": float(lowered)}
    parameters = {k: v for k, v in axis.items() if k != "axis_used"} if axis else used
    what = "the site's default kept" if axis is None else (
        f"the site's axis, boundary {axis['axis_boundary']:.4f} fitted" if method == "site_axis"
        else f"the site's MVI threshold {lowered:.4f} fitted" if method == "site_mvi"
        else "the labels' axis " + ", ".join(f"{v:.4f}" for v in parameters.values()))
    if best != method and scores[best][0] > scores[method][0]:  # the guard kept the default
        gain, se, df = gains[best]
        what += (f" ({best}'s gain on the labels, {gain:+.4f} of their weighted accuracy, "
                 f"is within their sampling noise: standard error {se:.4f} between their "
                 f"polygons, {df} degrees of freedom, one-sided {ALPHA:.0%})")
    provenance = f"{provenance}: {what}"
    fitted = dataclasses.replace(rule, source=provenance)
    return Calibration(rule=fitted, rule_id=rule_id("mangrove", fitted), parameters=parameters,
                       default_parameters=used, balanced_accuracy=balanced,
                       default_balanced_accuracy=scores["default"][1],
                       n_habitat=int(labels.sum()), n_other=int((~labels).sum()),
                       source=provenance, warnings=warnings, method=method, replaces=axis,
                       accuracy=accuracy, default_accuracy=scores["default"][0],
                       candidates={m: v[0] for m, v in scores.items()}, gains=gains)
