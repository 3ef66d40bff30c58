"""What a calibration returns, its limits and its refusals: shared by
:mod:`indices.calibration` (the threshold fit, and the entry :func:`indices.calibration.
calibrate`) and :mod:`indices.calibration_axis` (a mangrove site's fit on its discriminant
axis), which both import from here (the dependency one way: calibration -> calibration_axis
-> this module).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["CALIBRATION_METHODS", "MIN_ACCURACY", "MIN_PIXELS", "Calibration",
           "CalibrationError"]

MIN_PIXELS = 30
"""Labelled pixels each class needs (0.3 ha at 10 m): fewer, and a threshold fits noise."""
MIN_ACCURACY = 0.85
"""The accuracy below which a fit is said to leave its labels' classes overlapping: the
minimum interpretation accuracy of land-cover categories from remote sensor data, 85 %
(Anderson, Hardy, Roach & Witmer 1976, USGS Professional Paper 964, "Classification
criteria"; recalled, not checked against a stored copy here), applied to the fit's balanced
accuracy on its own labels (an optimistic figure: the truth on new pixels is lower)."""
CALIBRATION_METHODS = ("default", "site_axis", "site_mvi", "label_axis", "thresholds")
"""What a calibration may fit (:attr:`Calibration.method`), in the order
preferred among equals."""


class CalibrationError(ValueError):
    """Calibration input that cannot make a rule (the message is one line)."""


@dataclass(frozen=True)
class Calibration:
    """A fitted rule and where it came from."""

    rule: object
    """The site's rule (:class:`indices.habitat.MangroveRule` or ``SeagrassRule``)."""
    rule_id: str
    """:func:`indices.habitat.rule_id` of :attr:`rule` (``<habitat>-calibrated-<hash>``)."""
    parameters: Mapping[str, float]
    """The fitted thresholds."""
    default_parameters: Mapping[str, float]
    """The thresholds the fit started from (the rule given, or the habitat's defaults)."""
    balanced_accuracy: float
    """Of the fitted rule on the calibration pixels (optimistic: the same pixels)."""
    default_balanced_accuracy: float
    """Of the default rule on the same pixels."""
    n_habitat: int
    n_other: int
    source: str
    """Where the labels came from (given by the caller), with a digest of the labels."""
    warnings: tuple[str, ...] = ()
    """One line each: what the labels could not teach (:mod:`indices.calibration`'s doc), and
    a rule the labels overrode (:func:`indices.calibration_axis.calibrate_on_axis`: rule v9's
    closed-canopy guard)."""
    search_pixels: tuple[int, int] | None = None
    """Habitat and other pixels the threshold search scored: a stratified random draw
    (:func:`indices.calibration.search_sample`) where the labels were more than
    :data:`indices.calibration.MAX_SEARCH_PIXELS`; None where it scored them all."""
    search_seed: int | None = None
    """The draw's seed (the labels' digest, :attr:`source`), None without a draw."""
    method: str = "thresholds"
    """What the fit changed (:data:`CALIBRATION_METHODS`): ``thresholds`` (NDVI and MVI, the
    rule estimates nothing from the scene), ``site_axis`` (the site's discriminant axis, its
    boundary fitted), ``site_mvi`` (the site's MVI threshold, lowered), ``label_axis`` (the
    labels' own axis and boundary) or ``default`` (the site's default kept: no fit did better
    on the labels)."""
    replaces: Mapping[str, float] | None = None
    """The values, by name, that replace the site's own parameters: with ``site_axis`` and
    ``label_axis`` the fitted axis (:data:`indices.calibration_axis.AXIS_KEYS` and
    ``axis_used`` 1), with ``site_mvi`` the MVI threshold ``mvi_min``; the flow applies them
    to the site's computed parameters (:func:`indices.evidence.with_site_values`)."""
    accuracy: float | None = None
    """With the site's parameters: the chosen rule's share of the labels right, each weighted
    by its stratum's area (:func:`indices.calibration_axis.weighted_accuracy`: Olofsson et
    al. 2014's weights; an area-accuracy estimate only where the labels are a probability
    sample of each stratum)."""
    default_accuracy: float | None = None
    """The same of the site's default."""
    candidates: Mapping[str, float] | None = None
    """With the site's parameters: the weighted accuracy of each rule the fit compared
    (:data:`CALIBRATION_METHODS`), the one of largest chosen, the default where none is
    larger."""
    gains: Mapping[str, tuple[float, float, int]] | None = None
    """With the site's parameters: of each fit compared with the default, its gain in
    weighted accuracy on the labels, the gain's standard error between the labelled polygons
    of each class and its degrees of freedom (:func:`indices.calibration_axis.gain_evidence`:
    the default's guard, :func:`indices.calibration_axis.gain_is_shown`)."""

    @property
    def subsampled(self) -> bool:
        """Whether the search scored a draw of the labels (:attr:`search_pixels`)."""
        return self.search_pixels is not None
