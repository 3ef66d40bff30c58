"""What a run has to do for one site, given what the results folder already holds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aoi import Site
from flows import PROCESSING_VERSION
from flows.sources import SceneRef

__all__ = ["FillSceneFailed", "SitePlan", "fill_settled", "load_range", "month_start", "plan_site"]


@dataclass(frozen=True)
class SitePlan:
    """What a run has to do for one site, given what the store already holds."""

    new_scene_ids: frozenset[str]
    """Scenes found that the store does not hold yet (all found scenes on a full run)."""
    since: dt.date | None
    """First month whose change row the new scenes can alter; None: nothing to do."""
    report_from: dt.date | None = None
    """The first day whose rows the run writes when it is not the run's ``--start``: a
    mangrove site whose baseline fill a scene of its fill window changed is rewritten from
    :attr:`rewrite_from` (the earlier of the start and the site's first stored row; the
    baseline's first day when nothing is stored), whatever the start (:func:`fill_settled`);
    None: the run's start."""
    fill_candidates: frozenset[str] = frozenset()
    """Scenes of a mangrove site's fill window the store does not hold (before the run's
    start too): they may change its baseline fill, which only the computed fill can tell
    (:func:`fill_settled`, called by :func:`flows.site.site_tables`)."""
    rewrite_from: dt.date | None = None
    """Where the site's rows are rewritten from when a fill candidate changed the fill: the
    earlier of the run's start and the first stored observation (every stored row, and no
    row before both that the store never held); without stored days, ``baseline_start``
    (None: the site's, :func:`fill_settled`)."""

    held: bool = False
    """The store held observation rows of the site when the plan was made: rows a run's
    fill must agree with (:func:`fill_settled`)."""

    @property
    def up_to_date(self) -> bool:
        return self.since is None and not self.fill_candidates


def plan_site(scenes: list[SceneRef], stored: pd.DataFrame, *, report_from: dt.date,
              full: bool = False, rule_id: str | None = None,
              stored_rules: pd.Series | None = None,
              fill_window: tuple[dt.date, dt.date] | None = None,
              baseline_start: dt.date | None = None,
              first_row: dt.date | None = None) -> SitePlan:
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
    from (:func:`indices.bap.fill_window`; None: no fill, seagrass). A scene of it that the
    store does not hold may change the baseline itself (a clear month the last run did not
    have), and with it every month's change (the review of rule v15, session 35: an
    incremental run wrote its new months on another baseline beside the old rows). Whether it
    does, only the computed fill can tell: the plan passes them as
    :attr:`SitePlan.fill_candidates` (every scene of the window, before ``report_from`` too:
    a run loads them all, :func:`load_range`), and :func:`fill_settled` rewrites the site
    (from :attr:`SitePlan.rewrite_from`: the earlier of ``report_from`` and the first stored
    row, so a ``--start`` after them leaves none on the former fill) only when one changed it;
    else the run stays incremental. A scene that fails is never stored, so a fill trigger
    on "not stored" alone recomputed such a site whole on every run (v16's revert, session
    36). Once the window has passed and its scenes are held, no candidate is left. A run
    writes the observation rows of the candidates that did not fail whatever its start
    (:func:`flows.site.site_tables`; a first run, nothing stored, has every scene of the
    window as a candidate, and nothing to rewrite): else a ``--start`` after them left them
    candidates, and every run rewrote the site (review of v17, session 37).

    ``first_row``: the first month of the site's stored change rows (all of them, not only
    those of ``stored_rules``); None: the day of its first stored observation row. The
    candidates' observation rows before the start then do not move
    :attr:`SitePlan.rewrite_from` before the stored change rows."""
    if not full and len(stored):
        found = {s.scene_id for s in scenes if s.datetime.date() >= report_from}
        rewritable = stored[stored["scene_id"].isin(found)]
        full = bool((rewritable["processing_version"] != PROCESSING_VERSION).any())
    if not full and stored_rules is not None and len(stored_rules):
        full = rule_id is None or bool((stored_rules.astype(object) != rule_id).any())
    held = set(stored["scene_id"]) if len(stored) else set()
    candidates: frozenset[str] = frozenset()
    if fill_window is not None:  # on a full run too (--full, a recovery), and a first one
        candidates = frozenset(
            s.scene_id for s in scenes
            if s.scene_id not in held and fill_window[0] <= s.datetime.date() <= fill_window[1])
    rewrite = None  # None: fill_settled takes the site's baseline start
    if candidates and len(stored):  # the stored rows and the run's: never rows before both
        first = first_row or _first_stored(stored) or baseline_start  # (mang43)
        rewrite = first if first is None else min(first, report_from)
    known = set() if full else held
    new = [s for s in scenes if s.scene_id not in known and s.datetime.date() >= report_from]
    if not new:
        return SitePlan(frozenset(), None, fill_candidates=candidates, rewrite_from=rewrite,
                        held=bool(len(stored)))
    since = month_start(min(s.datetime for s in new).date())
    return SitePlan(frozenset(s.scene_id for s in new), since, fill_candidates=candidates,
                    rewrite_from=rewrite, held=bool(len(stored)))


class FillSceneFailed(RuntimeError):
    """A scene of a mangrove site's fill window failed in this run while its baseline fill
    had pixels to fill: the fill computed without it may differ from the stored rows' (of
    a run that had it), so the run writes none of the site's rows (:func:`fill_settled`)."""


def fill_settled(plan: SitePlan, fill, scenes: list[SceneRef], failed, site: Site) -> SitePlan:
    """The plan a mangrove site's rows are written by, once its baseline fill is computed
    (:class:`indices.bap.BaselineFill`, of this run's scenes): the site rewritten from
    :attr:`SitePlan.rewrite_from` (all its scenes from then on)
    when a fill candidate not ``failed`` in this run could have changed the fill, else
    ``plan`` as it is (incremental; its candidates settled).

    A candidate can change the fill only when pixels were unseen in the baseline window and
    the fill was not skipped (no tide inside the site: the window's own counts, which no
    later scene changes), and then only if it lies in a calendar month at or before the last
    month a pixel was filled from (:attr:`indices.bap.BaselineFill.offset`). This is exact:
    the fill walks the months nearest first and stops once every pixel is filled, so a later
    month is either not read, or read while pixels stayed unobserved and found no clear view
    of them; a clear view is each scene's own test (:func:`indices.composite.monthly_composite`),
    so that month without the candidate finds none either, and the fill is the same (a
    scene while pixels stay unobserved filled nothing, or its month would be at or before
    the last one used: no rewrite needed, mang43). A failed scene
    gave the fill no view at all: the fill is the same without it.

    A scene of the fill window the store holds (an earlier run's fill read it: every window
    scene that did not fail gets its observation row, whatever the start) that ``failed`` in
    this run and could have changed the fill (the same test: pixels unseen, the fill not
    skipped, and the fill left pixels unfilled or the scene lies at or before its last month)
    raises :class:`FillSceneFailed`: this run's fill, without it, may differ from the stored
    rows', and rows written on it would stay beside them for good (review of rule v17,
    session 37: June 140.82 ha beside January-May's 140.96). The site fails for this run, no
    rows written; the next run retries. A window scene never stored that fails again is
    not: the stored rows' fill lacked it too (it failed then, or the run was the first), so
    the fill is theirs and the run stays incremental; a scene that keeps failing never blocks
    a site. (Left: a run killed after its change rows and before their observation rows,
    then the scene failing in the rerun; a record of the scenes each fill read would close
    it.)"""
    from indices.bap import fill_months

    settled = SitePlan(plan.new_scene_ids, plan.since, plan.report_from)
    if fill is None or not fill.unseen or fill.skipped or not plan.held:
        return settled
    last = int(fill.offset.max()) if fill.filled else 0  # 0: no month gave a view
    if failed:  # (plan.held: above)
        bad = [s for s in scenes if s.scene_id in failed
               and s.scene_id not in plan.fill_candidates]  # held: read by the rows' fill
        pos, off = fill_months(np.array([s.datetime.date() for s in bad], "datetime64[D]"),
                               (site.baseline_start, site.baseline_end))
        if fill.filled == fill.unseen:  # filled whole: a month after its last is not read
            pos = pos[off <= last]
        if len(pos):
            raise FillSceneFailed(
                f"scene {bad[pos[0]].scene_id} of the baseline fill's window failed "
                f"({len(pos)} such); the next run retries")
    if not plan.fill_candidates:
        return settled
    days = [s.datetime.date() for s in scenes
            if s.scene_id in plan.fill_candidates and s.scene_id not in failed]
    _, off = fill_months(np.array(days, "datetime64[D]"),
                         (site.baseline_start, site.baseline_end))
    if not (off <= last).any():
        return settled
    first = plan.rewrite_from or site.baseline_start
    ids = [s for s in scenes if s.datetime.date() >= first]
    return SitePlan(frozenset(s.scene_id for s in ids),
                    month_start(min(s.datetime for s in ids).date()), first)


def _first_stored(stored: pd.DataFrame) -> dt.date | None:
    """The day of the site's first stored observation row (None: no ``datetime`` column)."""
    if "datetime" not in stored or not len(stored):
        return None
    return pd.Timestamp(pd.to_datetime(stored["datetime"]).min()).date()


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def load_range(site: Site, start: dt.date | None, end: dt.date) -> tuple[dt.date, dt.date]:
    """Dates to load: the baseline is always needed, whatever the reporting window."""
    first = min(start or site.baseline_start, site.baseline_start)
    return first, end
