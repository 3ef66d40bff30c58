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
    report_from: dt.date | None = None
    """The first day whose rows the run writes when it is not the run's ``--start``: a
    mangrove site that a new scene in its fill window recomputes whole is rewritten from its
    baseline's first day, whatever the start (:func:`plan_site`); None: the run's start."""

    @property
    def up_to_date(self) -> bool:
        return self.since is None


def plan_site(scenes: list[SceneRef], stored: pd.DataFrame, *, report_from: dt.date,
              full: bool = False, rule_id: str | None = None,
              stored_rules: pd.Series | None = None,
              fill_window: tuple[dt.date, dt.date] | None = None,
              baseline_start: dt.date | None = None) -> SitePlan:
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
    version. A site without stored change rows has nothing to redo.

    ``fill_window``: the days after a mangrove baseline its never-clear pixels are filled
    from (:func:`indices.bap.fill_window`; None: no fill, seagrass). A new scene in it may
    change the baseline itself (a clear month the last run did not have), and with it every
    month's change: the site is then recomputed whole, so the stored rows always share one
    baseline (the review of rule v15, session 35: an incremental run wrote its new months
    on another baseline beside the old rows). Every scene of the window counts, before
    ``report_from`` too (a run loads them all: :func:`load_range`), and such a recompute
    rewrites the rows from ``baseline_start`` (the site's; :attr:`SitePlan.report_from`),
    not from ``report_from``: a ``--start`` inside or after the window would else leave the
    rows before it on the former baseline (the review of rule v16, session 36; on a ``full``
    run as well: review37). Once the
    window has passed and its scenes are held, runs are incremental again."""
    if not full and len(stored):
        found = {s.scene_id for s in scenes if s.datetime.date() >= report_from}
        rewritable = stored[stored["scene_id"].isin(found)]
        full = bool((rewritable["processing_version"] != PROCESSING_VERSION).any())
    if not full and stored_rules is not None and len(stored_rules):
        full = rule_id is None or bool((stored_rules.astype(object) != rule_id).any())
    rewrite = None
    if fill_window is not None and len(stored):  # on a full run too (--full, a recovery)
        held = set(stored["scene_id"])
        if any(s.scene_id not in held and fill_window[0] <= s.datetime.date() <= fill_window[1]
               for s in scenes):
            full, rewrite = True, baseline_start
            report_from = min(report_from, baseline_start or report_from)
    known = set() if full else set(stored["scene_id"])
    new = [s for s in scenes if s.scene_id not in known and s.datetime.date() >= report_from]
    if not new:
        return SitePlan(frozenset(), None)
    since = month_start(min(s.datetime for s in new).date())
    return SitePlan(frozenset(s.scene_id for s in new), since, rewrite)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def load_range(site: Site, start: dt.date | None, end: dt.date) -> tuple[dt.date, dt.date]:
    """Dates to load: the baseline is always needed, whatever the reporting window."""
    first = min(start or site.baseline_start, site.baseline_start)
    return first, end
