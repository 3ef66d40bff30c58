"""What every habitat rule shares: the score of a decision by context alone, and the rule's
identifier (``rule_id`` on every change row and in the run record)."""

from __future__ import annotations

import dataclasses
import hashlib
import json

__all__ = ["CONTEXT_SCORE", "RULE_TAGS", "STRONG", "rule_id"]

CONTEXT_SCORE = 10.0
"""Score magnitude of a decision by context alone (outside the intertidal context; land or
deep water for seagrass): far outside the band of doubt."""
STRONG = 2.0
"""A look this far past the threshold (``|score| >= 2``: twice the band of doubt) changes a
class on its own (:func:`indices.change.confirmed_state`), where the habitat's scores are
margins in units of a month's noise (:func:`indices.mangrove_rule.view_scaled` keeps a
month of too few views to reject one bad view above ``-STRONG``: a loss needs a second
look)."""

RULE_TAGS = {"mangrove": "baloloy2020-v17", "seagrass": "lyzenga1981-v6"}
"""The published rule behind each habitat's defaults, versioned: bump when a default moves.
(Seagrass v5: the water's composites glint-consistent, :data:`indices.seagrass_rule.
GLINT_COMPOSITE`; v4 was merged and reverted, 92fdcb3 and d6d4ac9: its id not reused. v6:
the place map past the green gate, :mod:`indices.seagrass_place`. Mangrove v15 and v16, the
baseline's never-clear pixels filled from the months after the window, were merged and
reverted, 4e488fb / 0a6b3c1 and 47ddd63: their ids not reused. v17: v16's fill (from the
months after the window only, where the window's own intertidal zone reaches the site),
:mod:`indices.bap`, with the exact rewrite trigger of :func:`flows.site.plan.fill_settled`.)"""


def rule_id(habitat: str, rule) -> str:
    """Short stable identifier of a rule and its parameters: ``<habitat>-<tag>`` for the
    defaults (``mangrove-baloloy2020-v17``), ``<habitat>-calibrated-<hash>`` for a rule fitted
    to a site (:mod:`indices.calibration`), ``<habitat>-custom-<hash>`` otherwise; the hash is
    of every parameter, so a site's rows change id exactly when its rule does."""
    if habitat not in RULE_TAGS:
        raise ValueError(f"unknown habitat {habitat!r}; expected one of {sorted(RULE_TAGS)}")
    if rule == type(rule)():
        return f"{habitat}-{RULE_TAGS[habitat]}"
    # the code's version too: a calibrated rule's rows change when the method does
    fields = json.dumps({**dataclasses.asdict(rule), "_method": RULE_TAGS[habitat]},
                        sort_keys=True, default=repr)
    digest = hashlib.blake2b(fields.encode(), digest_size=5).hexdigest()
    kind = "calibrated" if str(getattr(rule, "source", "")).startswith("calibrated") else "custom"
    return f"{habitat}-{kind}-{digest}"

