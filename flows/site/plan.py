"""What a run has to do for one site, given what the results folder already holds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from aoi import Site
from flows import PROCESSING_VERSION
from flows.sources import SceneRef

__all__ = ["SitePlan", "load_range", "month_start", "plan_site"]


@dataclass(frozen=True)
class SitePlan:
    """What a run has to do for one site, given what the store already holds."""

    new_scene_ids: frozenset[str]
    """Scenes found that the store does not hold yet (all found scenes on a full run)."""
    since: dt.date | None
    """First month whose change row the new scenes can alter; None: nothing to do."""

    @property
    def up_to_date(self) -> bool:
        return self.since is None


def plan_site(scenes: list[SceneRef], stored: pd.DataFrame, *, report_from: dt.date,
              full: bool = False, rule_id: str | None = None,
              stored_rules: pd.Series | None = None) -> SitePlan:
    """Incremental processing: only scenes the store does not hold, and the months from the
    first of them on (later months carry its pixels forward). ``stored`` is the site's
    ``observations`` rows; a different ``processing_version`` among the rows of the scenes
    found forces a full run. Only those: a full run rewrites exactly them, so an older row it
    cannot rewrite (a scene no longer in the catalogue, or before ``report_from``) does not
    force a full recompute every night. Scenes before ``report_from`` (the baseline, read for
    context) are never rows.

    ``rule_id``: the site's rule (:func:`indices.habitat.rule_id`; None: not known before the
    site is computed, e.g. a calibration not fitted yet) and ``stored_rules`` the ``rule_id``
    of its stored change rows (of the months a full run rewrites: the caller leaves the
    others out, for the reason above): a rule other than the stored rows' (or an unknown
    one, or rows from before rule ids) recomputes the site once, like a new processing
    version. A site without stored change rows has nothing to redo."""
    if not full and len(stored):
        found = {s.scene_id for s in scenes if s.datetime.date() >= report_from}
        rewritable = stored[stored["scene_id"].isin(found)]
        full = bool((rewritable["processing_version"] != PROCESSING_VERSION).any())
    if not full and stored_rules is not None and len(stored_rules):
        full = rule_id is None or bool((stored_rules.astype(object) != rule_id).any())
    known = set() if full else set(stored["scene_id"])
    new = [s for s in scenes if s.scene_id not in known and s.datetime.date() >= report_from]
    if not new:
        return SitePlan(frozenset(), None)
    since = month_start(min(s.datetime for s in new).date())
    return SitePlan(frozenset(s.scene_id for s in new), since)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def load_range(site: Site, start: dt.date | None, end: dt.date) -> tuple[dt.date, dt.date]:
    """Dates to load: the baseline is always needed, whatever the reporting window."""
    first = min(start or site.baseline_start, site.baseline_start)
    return first, end
