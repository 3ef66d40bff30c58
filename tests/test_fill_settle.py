"""The mangrove fill through incremental runs: the review of rule v17 (session 37, its
scripts in ``benchmarks/measured/mang45``), each case a must-fix.

1. A scene of the fill window that a run stored and a later run fails: the later run's fill,
   without it, differed from the stored rows' (June 140.82 ha beside January-May's 140.96),
   and the next run found every scene stored: the store differed from a whole recompute for
   good. Now the site fails for that run, one line, no rows; the next run, the scene back,
   stores what a whole run stores.
2. A store begun with ``--start`` after the fill window's months: the window's scenes never
   had observation rows, stayed fill candidates, and every run rewrote the site. Now their
   rows are written whatever the start: the next run with no new scene is up to date.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from test_bap_flow import SITE, _Clouded, _Failing, _run

from flows import PROCESSING_VERSION
from flows.site import FillSceneFailed, load_range, plan_site, site_tables
from flows.sources.demo import DemoSource
from indices.bap import fill_window


def _store(stored: pd.DataFrame | None, obs: pd.DataFrame) -> pd.DataFrame:
    """The observation rows a store holds after a run wrote ``obs`` (one row a scene)."""
    obs = obs.assign(processing_version=PROCESSING_VERSION)
    if stored is None:
        return obs.reset_index(drop=True)
    return pd.concat([stored, obs]).drop_duplicates("scene_id", keep="last") \
        .reset_index(drop=True)


def _plan(scenes, stored, change, report_from):
    return plan_site(scenes, stored, report_from=report_from,
                     rule_id=change["rule_id"].iloc[0] if len(change) else None,
                     stored_rules=change["rule_id"] if len(change) else None,
                     fill_window=fill_window(SITE.baseline_end),
                     baseline_start=SITE.baseline_start,
                     first_row=change["period"].min() if len(change) else None)


@pytest.mark.parametrize("end1", [dt.date(2024, 4, 30), dt.date(2024, 5, 31)])
def test_a_held_window_scene_that_fails_later_fails_the_site_for_that_run(end1):
    """The reviewer's held_then_failed(2).py: rows 100-169 clouded to the end of February
    2024, filled from March. Run 1 stores March; run 2 (a month on) has every March scene
    failed: the site fails with one line (the fill without March is another), no rows.
    Run 3, March delivered again, is incremental from run 1's store and its rows with run
    1's are a whole run's."""
    probe = DemoSource(seed=3)
    march = {s.scene_id for s in probe.search(SITE, dt.date(2024, 3, 1),
                                               dt.date(2024, 3, 31))}
    ok = _Clouded(seed=3, until="2024-03-01")
    _, first = _run(ok, end1)
    assert "+3" in first.evidence["rule"]["fill"]["months"]  # March first
    stored = _store(None, first.observations)
    assert march <= set(stored["scene_id"])
    bad = _Failing(seed=3, broken=march,
                   base=lambda *a, **k: _Clouded(*a, **k, until="2024-03-01"))
    end = (pd.Timestamp(end1) + pd.offsets.MonthEnd(1)).date()
    scenes = bad.search(SITE, *load_range(SITE, None, end))
    plan = _plan(scenes, stored, first.change, SITE.baseline_start)
    assert not march & plan.fill_candidates and plan.since == dt.date(end.year, end.month, 1)
    with pytest.raises(FillSceneFailed, match="the next run retries") as err:
        _run(bad, end, plan=plan)
    message = str(err.value)
    assert "\n" not in message and any(s in message for s in march), message
    # run 3: nothing was written by run 2; March back
    scenes = ok.search(SITE, *load_range(SITE, None, end))
    plan = _plan(scenes, stored, first.change, SITE.baseline_start)
    _, third = _run(ok, end, plan=plan)
    assert third.plan.report_from is None  # incremental: the fill is run 1's
    rows = pd.concat([first.change[first.change["period"] < third.plan.since], third.change])
    _, whole = _run(ok, end)
    pd.testing.assert_frame_equal(rows.reset_index(drop=True), whole.change)


def test_a_window_scene_that_failed_in_a_first_run_does_not_fail_it():
    """A first run (nothing stored) has no rows to disagree with: it writes its rows, the
    failed scene without an observation row (a candidate for the next run)."""
    probe = DemoSource(seed=3)
    march = {s.scene_id for s in probe.search(SITE, dt.date(2024, 3, 1),
                                               dt.date(2024, 3, 31))}
    bad = _Failing(seed=3, broken=march,
                   base=lambda *a, **k: _Clouded(*a, **k, until="2024-03-01"))
    end = dt.date(2024, 4, 30)
    scenes = bad.search(SITE, *load_range(SITE, None, end))
    empty = _store(None, site_tables(SITE, bad, [], start=None, end=end, run_id="r",
                                     walk="memory").observations)
    plan = _plan(scenes, empty, pd.DataFrame(columns=["rule_id", "period"]),
                 SITE.baseline_start)
    _, first = _run(bad, end, plan=plan)
    assert set(first.failed_scenes) == march and len(first.change)
    assert not march & set(first.observations["scene_id"])


def _start_run(source, start, end, stored=None, change=None):
    """A run with ``--start`` ``start``, planned on the store as the nightly run plans it
    (an empty store: a first run)."""
    scenes = source.search(SITE, *load_range(SITE, start, end))
    if stored is None:
        stored = _store(None, site_tables(SITE, source, [], start=start, end=end,
                                          run_id="r", walk="memory").observations)
        change = pd.DataFrame(columns=["rule_id", "period"])
    plan = _plan(scenes, stored, change, start)
    if plan.up_to_date:
        return plan, None
    return plan, site_tables(SITE, source, scenes, start=start, end=end, run_id="r",
                             walk="memory", plan=plan)


def test_a_start_after_the_fill_window_is_up_to_date_on_the_next_run():
    """The reviewer's start_after_window.py: rows 100-169 clouded to the end of January 2024
    (filled from February), ``--start`` June 2024. The first run writes the observation rows
    of the window's scenes before June too (not its change rows); the second, no new
    scene, is up to date. A store of an earlier version (no such rows) is rewritten once,
    from June (its first row, never before), and then up to date."""
    source = _Clouded(seed=3, until="2024-02-01")
    start, end = dt.date(2024, 6, 1), dt.date(2024, 6, 30)
    plan1, first = _start_run(source, start, end)
    assert plan1.fill_candidates and not plan1.held
    assert first.plan.report_from is None
    assert first.change["period"].min() == start
    window = fill_window(SITE.baseline_end)
    days = first.observations["datetime"].dt.date
    assert days.min() < start and (days >= window[0]).all()  # the window's, not before
    stored = _store(None, first.observations)
    plan2, second = _start_run(source, start, end, stored, first.change)
    assert plan2.up_to_date and second is None

    # a store without the window's rows (rule v17's first run): one rewrite, from June
    _, old = _run_plain(source, start, end)
    stored = _store(None, old.observations)
    assert stored["datetime"].dt.date.min() >= start
    plan2, second = _start_run(source, start, end, stored, old.change)
    assert plan2.since is None and plan2.fill_candidates and plan2.rewrite_from == start
    assert second.plan.report_from == start  # the fill now has the candidates: rewritten
    assert second.change["period"].min() == start
    pd.testing.assert_frame_equal(second.change, first.change)
    stored = _store(stored, second.observations)
    plan3, third = _start_run(source, start, end, stored, second.change)
    assert plan3.up_to_date and third is None


def _run_plain(source, start, end):
    scenes = source.search(SITE, *load_range(SITE, start, end))
    return scenes, site_tables(SITE, source, scenes, start=start, end=end, run_id="r",
                               walk="memory")
