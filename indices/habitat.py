"""Habitat classification: mangrove and seagrass from surface reflectance.

Each classifier returns a *score*: a float32 map whose sign is the decision (> 0 habitat) and
whose magnitude is the margin in units of the rule's tolerance, NaN where the pixel was not
observed. ``|score| < 1`` marks a pixel whose class is uncertain; the change metrics turn those
into the extent interval.

Inputs are reflectance datasets: float bands ``B02 B03 B04 B08 B11 B12`` with NaN where not
observed, as returned by :func:`indices.composite.monthly_composite` or
:func:`scene_reflectance` for single scenes. Everything stays lazy.

The rules live in :mod:`indices.mangrove_rule` and :mod:`indices.seagrass_rule`, what they share
in :mod:`indices.rules`; this module is their face (imported names kept for callers).
"""

from __future__ import annotations

import xarray as xr

from indices.mangrove_rule import (
    MangroveRule,
    flat_score,
    mangrove_context,
    mangrove_score,
    mangrove_spectral_score,
    mangrove_values,
    view_scaled,
)
from indices.masks import REFLECTANCE_BANDS, scene_reflectance
from indices.rules import CONTEXT_SCORE, RULE_TAGS, rule_id
from indices.seagrass_rule import (
    SeagrassRule,
    bottom_signals,
    mask_turbid_water,
    seagrass_constants,
    seagrass_offset,
    seagrass_score,
    turbid_scenes,
)

__all__ = [
    "CONTEXT_SCORE", "MangroveRule", "REFLECTANCE_BANDS", "RULES", "RULE_TAGS", "SeagrassRule",
    "bottom_signals", "flat_score", "habitat_score", "mangrove_context", "mangrove_score",
    "mangrove_spectral_score", "mangrove_values", "mask_turbid_water", "rule_id",
    "scene_reflectance", "seagrass_constants", "seagrass_offset", "seagrass_score",
    "turbid_scenes", "view_scaled",
]

RULES = {"mangrove": MangroveRule(), "seagrass": SeagrassRule()}

_SCORERS = {"mangrove": mangrove_score, "seagrass": seagrass_score}


def habitat_score(refl: xr.Dataset, habitat: str, rule=None, **context) -> xr.DataArray:
    """Score of ``habitat`` ('mangrove' | 'seagrass'): > 0 habitat, NaN not observed (or, for
    seagrass, not assessable). ``context``: the scorer's site context (mangrove:
    ``context=``; seagrass: ``water=``), see :func:`mangrove_score`, :func:`seagrass_score`."""
    try:
        scorer = _SCORERS[habitat]
    except KeyError:
        raise ValueError(f"unknown habitat {habitat!r}; expected one of {sorted(_SCORERS)}") from None
    return scorer(refl, rule or RULES[habitat], **context)
