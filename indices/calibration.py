"""Per-site calibration: a site's thresholds fitted to labelled pixels, explainably.

Partners who know their site give labelled pixels (habitat / not habitat: field polygons or
photo-interpretation rasterised onto the site grid, or a reference raster such as Global
Mangrove Watch v3 resampled onto it). :func:`calibrate` fits the thresholds of the site's
rule on the feature values at those pixels and returns the rule with them, its provenance and
a ``rule_id`` (:func:`indices.habitat.rule_id`): a small, explainable classifier, the same
rule as the default with other numbers, no black box.

The fit: an exhaustive search over every combination of candidate thresholds (the labelled
values' own quantiles) that maximises balanced accuracy (the mean of the recalls of both
classes, robust to the class imbalance of a site), of equal ones the nearest the rule's own
(the least change the labels ask for). Mangrove fits ``ndvi_min`` and ``mvi_min`` (the context stays:
labels teach the spectra, not the tide); seagrass fits ``dii_max`` on the bottom's
depth-invariant index against the site's sand (:func:`indices.habitat.seagrass_offset`;
the rule given must then carry the site's default threshold as ``dii_max``).

Bad input is refused with :class:`CalibrationError`, one line naming the problem: one class
only, too few pixels of a class, no usable feature values at the labels (no overlap).
Labels that fit but cannot teach a threshold get a warning (:attr:`Calibration.warnings`):
a mangrove survey whose "not mangrove" pixels hold no vegetation (fewer than
:data:`MIN_PIXELS` pass the fitted NDVI test) shows no look-alike of the MVI test, whose
whole purpose is to separate mangrove from the other vegetation (Baloloy et al. 2020), so
the fitted MVI threshold rests on the mangrove labels alone. The survey should sample the
look-alikes: a stratified random design, with land covers or the map's classes as strata
(Olofsson et al. 2014, RSE 148:42-57). And labels whose classes the rule's features cannot
separate (the best thresholds below :data:`MIN_ACCURACY` balanced accuracy on the labels
themselves: a palm with the mangrove's NDVI and MVI) are said, not silently fitted.
Large label sets (a whole-tile reference raster: millions of labelled pixels) are searched on
a stratified random draw of at most :data:`MAX_SEARCH_PIXELS` of them (:func:`search_sample`);
the candidates, the fitted rule's accuracy and the warnings still read every label.
A mangrove site calibrated by the flow is given its own parameters under the default rule
(``site``): its calibration then keeps rule v8's discriminant axis
(:func:`indices.calibration_axis.calibrate_on_axis`: the site's default, its axis with a
boundary fitted on the labels, or the labels' own Fisher axis, whichever the labels, weighted
by their strata's areas, find the most right, a fit only where its gain is beyond the labels'
sampling noise between their polygons); without it, the thresholds above are fitted.
Pure: numpy in, a rule out; rasterising polygons and reading rasters is the flow's job.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping

import numpy as np

from indices import calibration_axis
from indices.calibration_base import (
    CALIBRATION_METHODS,
    MIN_ACCURACY,
    MIN_PIXELS,
    Calibration,
    CalibrationError,
)
from indices.habitat import MangroveRule, SeagrassRule, rule_id
from indices.mangrove_axis import AXIS_BANDS

__all__ = ["CALIBRATION_METHODS", "MAX_SEARCH_PIXELS", "MIN_ACCURACY", "MIN_PIXELS",
           "Calibration", "CalibrationError", "balanced_accuracy", "calibrate", "search_sample"]

MAX_SEARCH_PIXELS = 200_000
"""Labelled pixels the threshold search scores at most (:func:`search_sample`); more are drawn
from at random, per class. The search's cost grows with the pixels times the candidates
(1.2 s at 200k labelled pixels, 14-17 s at 2M, measured; a whole-tile reference raster would
take minutes; 2.0 s at 2M with the draw), its answer does not need them. A class drawn keeps
at least half the cap, 100k pixels (a smaller one is kept whole): its recall has a binomial
standard error of at most ``sqrt(0.25 / 1e5)`` = 0.16 %, the balanced accuracy (the mean of
the two recalls, independent draws) at most 0.11 %, and the search compares thresholds on the
same pixels, whose errors largely cancel. The binomial sample size for a proportion within
``h`` at 95 %, ``n = 1.96² p (1 - p) / h²`` (Cochran 1977, Sampling Techniques; the form used
for accuracy assessment by Foody 2009, Int. J. Remote Sens. 30:5273-5291, and Olofsson et al.
2014, RSE 148:42-57: recalled, not checked against a stored copy here), asks 9,604 pixels a
class for ``h`` = 1 %: 100k are ten times that. The candidates (:func:`_candidates`) and the
tie-break's ranks are still those of all the labels: the full search's grid. The cap is a
choice of this project (the time), checked on a separable synthetic case: the full search's
thresholds within one candidate (``tests/test_calibration.py``; seeds 10-29 of
``benchmarks/calibration_search.py``, a tenth of 60k labels: the same in 17, one candidate
apart in 3)."""

_FEATURES = {MangroveRule: ("ndvi_min", "mvi_min"), SeagrassRule: ("dii_max",)}
"""The thresholds fitted per rule, and the feature each tests (habitat is above ``*_min``,
below ``*_max``)."""
_FEATURE_OF = {"ndvi_min": "ndvi", "mvi_min": "mvi", "dii_max": "dii_offset"}
_LOOK_ALIKES = {"mvi_min": "vegetation"}
"""The thresholds whose fit needs 'not habitat' labels that pass the rule's other tests, and
what those look-alikes are (the MVI separates mangrove from other vegetation)."""


def balanced_accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean of the recall of habitat and the recall of not habitat."""
    predicted, truth = np.asarray(predicted, bool), np.asarray(truth, bool)
    return 0.5 * (predicted[truth].mean() + (~predicted[~truth]).mean())


def _predict(features: Mapping[str, np.ndarray], params: Mapping[str, float]) -> np.ndarray:
    out = np.ones(len(next(iter(features.values()))), bool)
    for name, value in params.items():
        f = features[_FEATURE_OF[name]]
        out &= (f > value) if name.endswith("_min") else (f < value)
    return out


def calibrate(habitat: str, labels: np.ndarray, features: Mapping[str, np.ndarray], *,
              rule=None, source: str = "labelled pixels",
              max_search_pixels: int | None = MAX_SEARCH_PIXELS,
              site: Mapping[str, float] | None = None, strata_pixels=None,
              units: np.ndarray | None = None) -> Calibration:
    """Fit the site's thresholds (module doc) on labelled pixels; with the site's parameters
    ``site`` (mangrove), the axis-aware fit (:func:`indices.calibration_axis.calibrate_on_axis`).

    Parameters
    ----------
    habitat
        ``"mangrove"`` or ``"seagrass"``.
    labels
        1-D bool (or 0/1) per labelled pixel: habitat or not.
    features
        1-D arrays at the same pixels, NaN where not observed: mangrove ``ndvi`` and ``mvi``
        (of the baseline composite), seagrass ``dii_offset``.
    rule
        The rule to start from and keep the other parameters of (default: the habitat's).
    source
        Provenance of the labels (a file name, "GMW v3 2020"), kept in the rule.
    max_search_pixels
        Labelled pixels the threshold search scores at most (:data:`MAX_SEARCH_PIXELS`;
        None: all of them).
    site
        Mangrove: the site's parameters under its default rule (by name,
        :data:`indices.mangrove.MANGROVE_PARAMETERS`, computed); ``features`` then also
        hold the reflectances :data:`indices.mangrove_axis.AXIS_BANDS` at the labels.
    strata_pixels
        With ``site``: the site's pixels in each stratum of its default map
        (:data:`indices.calibration_axis.STRATA`), the labels' weights; None: unweighted.
    units
        With ``site``: the sampling unit of each labelled pixel (an id: the polygon it was
        labelled in), the units the default's guard counts
        (:func:`indices.calibration_axis.gain_evidence`); None: each pixel its own.
    """
    rule = rule or (MangroveRule() if habitat == "mangrove" else SeagrassRule()
                    if habitat == "seagrass" else None)
    if rule is None:
        raise CalibrationError(f"unknown habitat {habitat!r}; expected 'mangrove' or 'seagrass'")
    names = _FEATURES[type(rule)]
    needed = [_FEATURE_OF[n] for n in names]
    if site is not None:
        if not isinstance(rule, MangroveRule):
            raise CalibrationError(f"{habitat} calibration takes no site axis")
        needed += list(AXIS_BANDS)
    missing = [f for f in needed if f not in features]
    if missing:
        raise CalibrationError(f"{habitat} calibration needs feature values {missing}")
    labels = np.asarray(labels).astype(bool).ravel()
    cols = {f: np.asarray(features[f], np.float64).ravel() for f in needed}
    if any(c.shape != labels.shape for c in cols.values()):
        raise CalibrationError(f"labels ({labels.size}) and features "
                               f"({[c.size for c in cols.values()]}) differ in length")
    ok = np.all([np.isfinite(c) for c in cols.values()], axis=0)
    if not ok.any():
        raise CalibrationError("no labelled pixel has feature values: the labels do not "
                               "overlap the site's observed pixels")
    labels, cols = labels[ok], {f: c[ok] for f, c in cols.items()}
    if units is not None:
        units = np.asarray(units).ravel()
        if units.shape != ok.shape:
            raise CalibrationError(f"labels ({ok.size}) and units ({units.size}) differ in "
                                   f"length")
        units = units[ok]
    n_hab, n_other = int(labels.sum()), int((~labels).sum())
    if n_hab == 0 or n_other == 0:
        raise CalibrationError(f"calibration needs both classes; got {n_hab} habitat and "
                               f"{n_other} other pixels with values")
    if min(n_hab, n_other) < MIN_PIXELS:
        raise CalibrationError(f"too few labelled pixels: {n_hab} habitat and {n_other} other "
                               f"with values, at least {MIN_PIXELS} of each needed")
    start = {n: float(getattr(rule, n)) for n in names}
    digest = hashlib.blake2b(np.packbits(labels).tobytes() + b"".join(
        np.round(c, 6).tobytes() for c in cols.values()), digest_size=4).hexdigest()
    provenance = f"calibrated on {n_hab}+{n_other} px of {source} ({digest})"
    if site is not None:  # the module's attribute, read at the call (a sweep may restrict it)
        return calibration_axis.calibrate_on_axis(labels, cols, rule, site, strata_pixels,
                                                  provenance=provenance, units=units)
    seed = int(digest, 16)
    thresholds = {f: cols[f] for f in (_FEATURE_OF[n] for n in names)}
    default_ba = balanced_accuracy(_predict(thresholds, start), labels)
    drawn = search_sample(labels, max_search_pixels, seed)
    params = _search(thresholds, labels, start, drawn)
    fitted_ba = balanced_accuracy(_predict(thresholds, params), labels)
    warnings = tuple(_look_alike_warnings(habitat, labels, thresholds, params))
    if fitted_ba < MIN_ACCURACY:
        tests = ", ".join(_FEATURE_OF[n].upper() for n in names)
        warnings += (f"the rule's tests ({tests}) cannot separate the labels' {habitat} from "
                     f"not {habitat}: the best thresholds get {fitted_ba:.0%} of them right "
                     f"(balanced accuracy, on the labels themselves), below the "
                     f"{MIN_ACCURACY:.0%} Anderson et al. 1976 ask of a land-cover map; the "
                     f"calibrated extent is uncertain: check the labels, or map the look-alikes "
                     f"with other evidence",)
    searched = None
    if drawn is not None:
        searched = (int(labels[drawn].sum()), int((~labels[drawn]).sum()))
        provenance += f", thresholds searched on {searched[0]}+{searched[1]} px drawn per class"
    # a calibrated mangrove rule keeps its fitted threshold (no estimate from the scene)
    extra = {"scene_threshold": False} if isinstance(rule, MangroveRule) else {}
    fitted = dataclasses.replace(rule, **params, **extra, source=provenance)
    return Calibration(rule=fitted, rule_id=rule_id(habitat, fitted), parameters=params,
                       default_parameters=start,
                       balanced_accuracy=fitted_ba,
                       default_balanced_accuracy=default_ba, n_habitat=n_hab,
                       n_other=n_other, source=provenance, warnings=warnings,
                       search_pixels=searched, search_seed=None if drawn is None else seed)


def search_sample(labels: np.ndarray, cap: int | None, seed: int) -> np.ndarray | None:
    """Indices (sorted) of a stratified random draw of at most ``cap`` of the labelled pixels
    for the threshold search (:data:`MAX_SEARCH_PIXELS`), None where there are no more
    (or ``cap`` is None): the classes are the strata (Olofsson et al. 2014, RSE 148:42-57),
    each drawn without replacement, half the cap each, the share a smaller class leaves to
    the other (a class of fewer pixels is taken whole). Each class's recall is estimated from
    its own draw, so the balanced accuracy the search maximises needs no weights. ``seed``:
    the caller's, derived from the labels (:func:`calibrate`: their digest), so that the same
    input draws the same pixels and fits the same rule."""
    labels = np.asarray(labels, bool)
    if cap is None or labels.size <= cap:
        return None
    habitat, other = np.flatnonzero(labels), np.flatnonzero(~labels)
    k_hab = min(habitat.size, max(cap // 2, cap - other.size))
    k_other = min(other.size, cap - k_hab)
    rng = np.random.default_rng(seed)
    picked = [rng.choice(idx, size=k, replace=False) if k < idx.size else idx
              for idx, k in ((habitat, k_hab), (other, k_other))]
    return np.sort(np.concatenate(picked))


def _candidates(values: np.ndarray, start: float) -> np.ndarray:
    """A threshold's candidates: the labelled values' own quantiles and the rule's value."""
    return np.unique(np.append(np.quantile(values, np.linspace(0.005, 0.995, 199)), start))


def _search(cols: Mapping[str, np.ndarray], labels: np.ndarray, start: Mapping[str, float],
            drawn: np.ndarray | None = None) -> dict[str, float]:
    """The thresholds of largest balanced accuracy over every combination of the features'
    candidates (:func:`_candidates`; an exhaustive search: one feature at a time can stall
    where the rule's own thresholds predict the labels backwards, e.g. a site whose mangrove
    lies below the published MVI and whose palms above it, and end with a rule that calls
    nothing habitat); of equal ones, the nearest the rule's own, measured in the labelled
    values' ranks summed over the features: labels with no look-alike of the other class on
    one side say how far a threshold must move, not that it may go anywhere beyond (a survey
    without terrestrial vegetation does not switch the MVI test off). ``drawn``: the labelled
    pixels the balanced accuracy is scored on (:func:`search_sample`; None: all); the
    candidates and ranks are of all of them."""
    names = list(start)
    grids, ranks = [], []
    for n in names:
        ordered = np.sort(cols[_FEATURE_OF[n]])
        # the quantiles of the sorted values are those of the values (a multiset's), found
        # ~7x faster (numpy partitions the input for each of the 199: measured at 2M px)
        grid = _candidates(ordered, start[n])
        grids.append(grid)
        rank = np.searchsorted(ordered, grid) / ordered.size
        spread = max(float(ordered[-1] - ordered[0]), 1e-12)
        # between labelled values (the same rank), the nearest in value: a tie-break only
        ranks.append(np.abs(rank - np.searchsorted(ordered, start[n]) / ordered.size)
                     + 1e-6 * np.abs(grid - start[n]) / spread)
    if drawn is not None:
        cols, labels = {f: c[drawn] for f, c in cols.items()}, labels[drawn]
    *outer, last = names
    n_hab, n_other = labels.sum(), (~labels).sum()
    values = cols[_FEATURE_OF[last]]
    best, best_distance, best_params = -1.0, np.inf, dict(start)
    for combo in np.ndindex(*(len(g) for g in grids[:-1])):
        here = {n: float(grids[k][i]) for k, (n, i) in enumerate(zip(outer, combo, strict=True))}
        passed = _predict(cols, here)
        hab, other = np.sort(values[passed & labels]), np.sort(values[passed & ~labels])
        if last.endswith("_min"):  # habitat above: f > t
            tp = hab.size - np.searchsorted(hab, grids[-1], side="right")
            fp = other.size - np.searchsorted(other, grids[-1], side="right")
        else:  # habitat below: f < t
            tp = np.searchsorted(hab, grids[-1], side="left")
            fp = np.searchsorted(other, grids[-1], side="left")
        score = 0.5 * (tp / n_hab + 1.0 - fp / n_other)
        distance = ranks[-1] + sum(ranks[k][i] for k, i in enumerate(combo))
        top = score.max()
        if top < best - 1e-12:
            continue
        tied = np.flatnonzero(score >= top - 1e-12)
        j = int(tied[np.argmin(distance[tied])])
        if top > best + 1e-12 or distance[j] < best_distance:
            best, best_distance = max(top, best), float(distance[j])
            best_params = {**here, last: float(grids[-1][j])}
    return best_params


def _look_alike_warnings(habitat: str, labels: np.ndarray, cols: Mapping[str, np.ndarray],
                         params: Mapping[str, float]):
    """A line for each fitted threshold whose look-alikes (:data:`_LOOK_ALIKES`) the 'not
    habitat' labels do not show: fewer than :data:`MIN_PIXELS` of them pass the rule's other
    fitted tests."""
    for name, what in _LOOK_ALIKES.items():
        if name not in params:
            continue
        others = {n: v for n, v in params.items() if n != name}
        n_alike = int((~labels & _predict(cols, others)).sum())
        if n_alike < MIN_PIXELS:
            feature = _FEATURE_OF[name].upper()
            tests = ", ".join(f"{_FEATURE_OF[n].upper()} {'>' if n.endswith('_min') else '<'} "
                              f"{v:.2f}" for n, v in others.items())
            yield (f"the 'not {habitat}' labels hold {n_alike} pixels of {what} ({tests}), "
                   f"fewer than {MIN_PIXELS}: the {feature} threshold ({params[name]:.2f}) "
                   f"was fitted without the look-alikes it separates {habitat} from; "
                   f"label some {what} as not {habitat}")
