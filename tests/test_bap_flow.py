"""The mangrove baseline's fill (:mod:`indices.bap`) through the flow: the reviews of rules v15
(session 35, ``benchmarks/measured/mang37``) and v16 (session 36, ``benchmarks/measured/
mang40``), each case a must-fix.

1. The stored rows share one baseline: an incremental run whose new scenes change the fill
   (:func:`flows.site.plan.fill_settled`, once the fill is computed) rewrites the site from
   the baseline's first month whatever the run's start, so its rows and the earlier run's
   are never of two baselines; a scene that cannot change it (a failed one, one after the
   last month the fill used) leaves the run incremental (v16's revert, session 36).
2. A window that saw nothing, or whose own tide lies off the site, is not filled: its "no
   intertidal context" warning, observed fraction 0 and assessable fraction 0 stay.
3. A fill beyond the run's memory fails the site with one line, no rows written (never a
   fill skipped for memory: the rows would depend on the machine, or the walk).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from aoi import load_sites
from flows import PROCESSING_VERSION
from flows.site import SiteTooLarge, load_range, plan_site, site_tables
from flows.site.budget import fill_pixels
from flows.sources.demo import DemoSource
from indices.bap import fill_window

SITES = {s.id: s for s in load_sites()}
SITE = SITES["selangor-kuala-selangor"]  # baseline 2023-01-01 .. 2023-12-31


class _Clouded(DemoSource):
    """The demo with rows 100-169 under cloud (SCL 9) in every scene before ``until``: the
    baseline's and, with ``until`` after it, the first months' too (the review's case)."""

    def __init__(self, *args, until: str = "2024-01-01", rows=(100, 169), **kwargs):
        super().__init__(*args, **kwargs)
        self.until, self.rows = np.datetime64(until), rows

    def load(self, site, scenes, *args, **kwargs):
        cube = super().load(site, scenes, *args, **kwargs)
        hide = cube["time"] < self.until
        if self.rows is None:
            rows = xr_true(cube)
        else:
            rows = ((cube["y"] <= cube["y"][self.rows[0]])
                    & (cube["y"] >= cube["y"][self.rows[1]]))
        cube["SCL"] = cube["SCL"].where(~(hide & rows), 9).astype(np.uint8)
        return cube


def xr_true(cube):
    return cube["y"] == cube["y"]


def _run(source, end, plan=None, **kw):
    scenes = source.search(SITE, *load_range(SITE, None, end))
    return scenes, site_tables(SITE, source, scenes, start=None, end=end, run_id="r",
                               walk="memory", plan=plan, **kw)


def test_an_incremental_run_in_the_fill_window_rewrites_every_row_on_one_baseline():
    """The review's r35_incr: rows 100-169 unseen in the baseline and in January 2024. A run
    ending in January cannot fill them; one ending in February fills them from February.
    The second run, incremental, must rewrite the January row too (v15 wrote February's
    row on the filled baseline beside January's on the unfilled one: 93.6 and 140.8 ha)."""
    source = _Clouded(seed=3, until="2024-02-01")
    scenes1, first = _run(source, dt.date(2024, 1, 31))
    stored = first.observations.assign(processing_version=PROCESSING_VERSION)
    scenes2 = source.search(SITE, *load_range(SITE, None, dt.date(2024, 2, 29)))
    plan = plan_site(scenes2, stored, report_from=SITE.baseline_start,
                     rule_id=first.change["rule_id"].iloc[0],
                     stored_rules=first.change["rule_id"],
                     fill_window=fill_window(SITE.baseline_end))
    assert plan.since == dt.date(2024, 2, 1) and plan.fill_candidates  # February's
    _, second = _run(source, dt.date(2024, 2, 29), plan=plan)
    # February's scenes fill the baseline: the site is rewritten from its first stored row
    assert second.plan.report_from == SITE.baseline_start  # the run's start, before the rows
    kept = first.change[first.change["period"] < second.plan.since]  # rows the run left
    rows = pd.concat([kept, second.change])
    assert len(rows) >= 2 and rows["period"].is_unique
    assert rows["baseline_extent_ha"].nunique() == 1, rows[["period", "baseline_extent_ha"]]
    _, whole = _run(source, dt.date(2024, 2, 29))
    pd.testing.assert_frame_equal(rows.reset_index(drop=True), whole.change)


def test_a_baseline_window_that_saw_nothing_is_not_filled():
    """The review's r35_allcloud: every baseline scene clouded everywhere, the months after
    clear. v15 filled the whole site and reported it observed (fraction 1.0, 0 ha, the
    warning lost); now the window's own context, warning and fraction stay."""
    source = _Clouded(seed=3, until="2024-01-01", rows=None)
    _, got = _run(source, dt.date(2024, 3, 31))
    assert any("no intertidal context" in w for w in got.warnings), got.warnings
    assert (got.change["baseline_observed_fraction"] == 0).all()
    assert (got.change["baseline_filled_fraction"] == 0).all()
    assert (got.change["assessable_fraction"] == 0).all()
    fill = got.evidence["rule"]["fill"]
    assert fill["filled"] == 0 and fill["unseen"] > 0 and "no tide" in fill["skipped"]


def test_a_fill_beyond_the_runs_memory_fails_the_site_whatever_the_walk(monkeypatch):
    """The review of rule v16's case 1 (session 36): a budget that leaves no room for the
    fill beside the walk skipped it, and rows of the unfilled baseline were written (a
    later run with memory then filled: two baselines; at one budget the memory walk filled
    and the one-pass walk did not). Now the site fails with one line before any row, and a
    walk either gives the filled rows or fails: never other rows."""
    source = _Clouded(seed=3)
    end = dt.date(2024, 3, 31)
    scenes, filled = _run(source, end)
    assert filled.evidence["rule"]["fill"]["filled"] == 70 * 240
    # the rows keep the window's view and the fill apart; together they saw the whole site
    seen, added = (filled.change[c] for c in ("baseline_observed_fraction",
                                               "baseline_filled_fraction"))
    assert (seen < 1.0).all() and (added > 0).all()
    np.testing.assert_allclose(seen + added, 1.0, atol=2e-6)
    monkeypatch.setenv("BLUECARBON_MEMORY_GB", "0.01")
    with pytest.raises(SiteTooLarge) as err:
        _run(source, end)
    line = str(err.value)
    assert "\n" not in line and SITE.id in line and "16800 never-clear pixels" in line
    assert line.endswith("raise BLUECARBON_MEMORY_GB or split the site")
    # the review's r36b: a budget with room for the fill beside the memory walk, not beside
    # the one-pass walk's larger fixed part
    from aoi import site_grid

    grid, room = site_grid(SITE), {}
    for gb in np.arange(0.01, 2.0, 0.01):
        monkeypatch.setenv("BLUECARBON_MEMORY_GB", f"{gb:.2f}")
        room = {w: fill_pixels(SITE, grid, scenes, w, chunks=None, products=False)
                for w in ("memory", "once")}
        if room["memory"] >= 70 * 240 > room["once"]:
            break
    assert room["memory"] >= 70 * 240 > room["once"], room
    _, memory = _run(source, end)
    pd.testing.assert_frame_equal(memory.change, filled.change)
    with pytest.raises(SiteTooLarge):
        site_tables(SITE, source, scenes, start=None, end=end, run_id="r", walk="once")


class _FewSeen(DemoSource):
    """The review of rule v16's case 2: every baseline scene clouded but a 3 x 3 box of
    tidal pixels (rows 0-2, columns 172-174 of the grid: off the site's polygon)."""

    box = (slice(0, 3), slice(172, 175))

    def load(self, site, scenes, *args, **kwargs):
        cube = super().load(site, scenes, *args, **kwargs)
        hide = (cube["time"] < np.datetime64("2024-01-01")).values
        scl = cube["SCL"].values.copy()
        keep = np.zeros(scl.shape[1:], bool)
        keep[self.box] = True
        scl[hide] = np.where(keep, scl[hide], 9)
        cube["SCL"] = cube["SCL"].copy(data=scl)
        return cube


def test_a_window_whose_own_tide_lies_off_the_site_is_not_filled():
    """v16 filled 99.99 % of the site from the month after (its gate: one pixel seen wet
    and dry anywhere on the grid), built the context from one month's views a pixel and
    gave 0 ha with a certain interval (high 1.67 ha) and no warning, where ~140 ha stand.
    The window's own intertidal zone (3 x 3 opened) lies off the polygon: nothing filled,
    the warning (the window's own cause), nothing assessable, the interval the site."""
    source = _FewSeen(seed=3)
    _, got = _run(source, dt.date(2024, 3, 31))
    fill = got.evidence["rule"]["fill"]
    assert fill["filled"] == 0 and fill["unseen"] == 69120 - 9 and "no tide" in fill["skipped"]
    (line,) = [w for w in got.warnings if "no intertidal context" in w]
    assert "water come and go" in line  # the 3 x 3 box's tide, the window's own counts
    # a window that saw little of the grid: its sea may be under the clouds (mang41)
    assert "lengthen the baseline" in line and "polygon reach" not in line, line
    assert (got.change["baseline_observed_fraction"] == 0).all()
    assert (got.change["baseline_filled_fraction"] == 0).all()
    assert (got.change["assessable_fraction"] == 0).all()
    assert (got.change["extent_ci_high_ha"] > 300).all()  # the site's 352 ha, not 0


class _FewSeenInside(_FewSeen):
    """The same, the box at rows 36-38, columns 52-54: the first 3 x 3 box of the clear
    baseline's intertidal zone wholly inside the polygon (``benchmarks/measured/mang40/
    few_pixels.py``, ``mang40-inside``): the window's own zone reaches the site, so the gate
    opens and 99.97 % of the site is filled from the month after."""

    box = (slice(36, 39), slice(52, 55))


def test_a_baseline_filled_from_a_month_after_the_window_is_uncertain_in_the_interval():
    """mang40's inside-box case: the fill gave 0 ha, certain in the window's months ([0, 1.67]
    ha) where the clear run's stand is ~140 ha. A filled pixel's baseline is unseen in the
    interval (``ENDS_FILLED``), as main's NaN baseline: the window's months' extent interval
    and every month's loss interval now hold the stand; the point estimate keeps the fill.
    (The months after the window look at it through the context the fill built: their
    extent interval still excludes it, mang41's README.)"""
    from aoi import site_grid, site_mask

    end = dt.date(2024, 3, 31)
    assert site_mask(SITE, site_grid(SITE))[_FewSeenInside.box].all()
    stand = _run(DemoSource(seed=3), end)[1].change["baseline_extent_ha"].iloc[0]
    assert 130 < stand < 150
    _, got = _run(_FewSeenInside(seed=3), end)
    assert got.evidence["rule"]["fill"]["filled"] == 69120 - 9
    # and the run says the baseline is mostly of later months (review37)
    assert any("filled from the 12 months after it" in w for w in got.warnings), got.warnings
    assert got.evidence["warnings"] == list(got.warnings)
    ch = got.change
    assert (ch["extent_ha"] == 0).all() and (ch["baseline_extent_ha"] == 0).all()
    window = ch[pd.to_datetime(ch["period"]) < pd.Timestamp("2024-01-01")]
    assert len(window) == 12
    assert (window["extent_ci_low_ha"] <= stand).all() and (window["extent_ci_high_ha"] >= stand).all()
    assert (ch["loss_ci_high_ha"] >= stand).all()  # the stand could have been there, and gone


@pytest.mark.parametrize("full", [False, True])
def test_a_start_in_the_fill_window_rewrites_from_the_baseline(full):
    """The review of rule v16's case 3: a nightly run ends in January on an unfilled baseline
    (rows 100-169 clouded to February); a run with ``--start`` in June finds new scenes in
    the fill window. v16 recomputed whole but wrote from June only: rows to January at 93.6
    ha beside June's at 140.8 ha. Now it writes from the baseline's first month: one
    baseline, the rows of a single run; on a ``full`` run too (``--full``, a recovered file:
    review37)."""
    source = _Clouded(seed=3, until="2024-02-01")
    _, first = _run(source, dt.date(2024, 1, 31))
    stored = first.observations.assign(processing_version=PROCESSING_VERSION)
    start, end = dt.date(2024, 6, 1), dt.date(2024, 6, 30)
    scenes = source.search(SITE, *load_range(SITE, start, end))
    plan = plan_site(scenes, stored, report_from=start, full=full,
                     rule_id=first.change["rule_id"].iloc[0],
                     stored_rules=first.change["rule_id"],
                     fill_window=fill_window(SITE.baseline_end),
                     baseline_start=SITE.baseline_start)
    first_row = first.observations["datetime"].min().date()  # the stored rows' first day
    assert plan.rewrite_from == first_row and plan.fill_candidates
    second = site_tables(SITE, source, scenes, start=start, end=end, run_id="r",
                         walk="memory", plan=plan)
    assert second.plan.report_from == first_row  # the fill changed: rewritten
    kept = first.change[first.change["period"] < second.plan.since]
    rows = pd.concat([kept, second.change])
    assert rows["baseline_extent_ha"].nunique() == 1, rows[["period", "baseline_extent_ha"]]
    _, whole = _run(source, end)
    pd.testing.assert_frame_equal(rows.reset_index(drop=True), whole.change)
    assert set(second.observations["scene_id"]) == {
        s.scene_id for s in scenes if s.datetime.date() >= SITE.baseline_start}


class _Failing(DemoSource):
    """The demo with the scenes ``broken`` failed as a reader fails them: bands and SCL 0,
    ``fetch_status`` :data:`flows.sources.base.FETCH_BROKEN` (:mod:`flows.sources._reader`)."""

    def __init__(self, *args, broken=(), base=DemoSource, **kwargs):
        super().__init__(*args, **kwargs)
        self.broken, self.inner = set(broken), base(*args, **kwargs)

    def load(self, site, scenes, *args, **kwargs):
        from flows.sources.base import FETCH_BROKEN

        cube = self.inner.load(site, scenes, *args, **kwargs)
        bad = np.isin(cube["scene_id"].values, list(self.broken))
        hit = xr.DataArray(bad, dims="time")
        for name in ("B02", "B03", "B04", "B08", "B11", "B12", "SCL"):
            cube[name] = cube[name].where(~hit, 0).astype(cube[name].dtype)
        cube["fetch_status"] = ("time", np.where(bad, FETCH_BROKEN, 0).astype(np.int16))
        return cube


def _stored_then_planned(source, end1, end2):
    scenes1, first = _run(source, end1)
    stored = first.observations.assign(processing_version=PROCESSING_VERSION)
    scenes2 = source.search(SITE, *load_range(SITE, None, end2))
    plan = plan_site(scenes2, stored, report_from=SITE.baseline_start,
                     rule_id=first.change["rule_id"].iloc[0],
                     stored_rules=first.change["rule_id"],
                     fill_window=fill_window(SITE.baseline_end),
                     baseline_start=SITE.baseline_start)
    return first, scenes2, plan


def test_a_window_scene_that_keeps_failing_leaves_the_run_incremental():
    """v16's revert (session 36): a scene of the fill window that keeps failing is never
    stored, and the plan recomputed the site whole on every run. A failed scene gives the
    fill no view, and the stored rows' fill lacked it too (it failed then): on a site the
    baseline saw whole (nothing to fill) and on one with pixels still unobserved alike, the
    run stays incremental, its rows those of a whole run, and the site never fails for it
    (a scene the store holds that fails later does: ``tests/test_fill_settle.py``)."""
    probe = DemoSource(seed=3)
    feb = [s for s in probe.search(SITE, dt.date(2024, 2, 1), dt.date(2024, 2, 29))]
    broken = {feb[0].scene_id}
    # rows 100-169 clouded to the end: unobserved whatever the window holds
    for inner, unseen in ((DemoSource, 0), (_Clouded, 70 * 240)):
        kw = {"until": "2025-01-01"} if inner is _Clouded else {}
        source = _Failing(seed=3, broken=broken, base=lambda *a, inner=inner, kw=kw, **k:
                          inner(*a, **k, **kw))
        first, scenes2, plan = _stored_then_planned(source, dt.date(2024, 2, 29),
                                                    dt.date(2024, 3, 31))
        assert set(first.failed_scenes) == broken
        assert first.evidence["rule"]["fill"]["unseen"] == unseen  # a first run: its rows
        assert broken <= plan.fill_candidates and broken <= plan.new_scene_ids
        _, second = _run(source, dt.date(2024, 3, 31), plan=plan)
        fill = second.evidence["rule"]["fill"]
        assert fill["unseen"] == unseen and fill["filled"] == 0, fill
        assert second.plan.report_from is None  # incremental
        assert second.plan.since == plan.since == dt.date(2024, 2, 1)
        assert set(second.observations["scene_id"]) == plan.new_scene_ids - broken
        _, whole = _run(source, dt.date(2024, 3, 31))
        rows = pd.concat([first.change[first.change["period"] < plan.since], second.change])
        pd.testing.assert_frame_equal(rows.reset_index(drop=True), whole.change)


def test_a_new_scene_at_or_before_the_fills_last_month_rewrites_after_it_does_not():
    """Rows 100-169 clouded to the end of February 2024: filled from March (+3). A run to
    March 31 with one March scene failed stores the fill of March's other scenes; the next
    run gets the failed one (it may change March's composite: at the last month used) and
    rewrites from the baseline. A run that adds April's scenes to a site filled whole by
    March (after the last month used) stays incremental. Each time the rows are a whole
    run's."""
    probe = DemoSource(seed=3)
    march = probe.search(SITE, dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    assert len(march) >= 2
    broken = {march[0].scene_id}
    failing = _Failing(seed=3, broken=broken,
                       base=lambda *a, **k: _Clouded(*a, **k, until="2024-03-01"))
    first, _, _ = _stored_then_planned(failing, dt.date(2024, 3, 31), dt.date(2024, 3, 31))
    assert set(first.failed_scenes) == broken
    assert set(first.evidence["rule"]["fill"]["months"]) == {"+3"}  # some of it
    source = _Clouded(seed=3, until="2024-03-01")  # the provider fixed its file
    stored = first.observations.assign(processing_version=PROCESSING_VERSION)
    scenes = source.search(SITE, *load_range(SITE, None, dt.date(2024, 3, 31)))
    plan = plan_site(scenes, stored, report_from=SITE.baseline_start,
                     rule_id=first.change["rule_id"].iloc[0],
                     stored_rules=first.change["rule_id"],
                     fill_window=fill_window(SITE.baseline_end),
                     baseline_start=SITE.baseline_start)
    assert plan.new_scene_ids == broken == plan.fill_candidates
    _, second = _run(source, dt.date(2024, 3, 31), plan=plan)
    assert second.plan.report_from == SITE.baseline_start  # rewritten
    _, whole = _run(source, dt.date(2024, 3, 31))
    pd.testing.assert_frame_equal(second.change, whole.change)
    # April's scenes, after the last month the fill used with every pixel filled (rows
    # 100-169 clouded in the baseline only: filled by March)
    source = _Clouded(seed=3)
    _, whole = _run(source, dt.date(2024, 3, 31))
    fill = whole.evidence["rule"]["fill"]
    assert fill["filled"] == fill["unseen"] == 70 * 240 and "+4" not in fill["months"]
    stored = whole.observations.assign(processing_version=PROCESSING_VERSION)
    end = dt.date(2024, 4, 30)
    scenes = source.search(SITE, *load_range(SITE, None, end))
    plan = plan_site(scenes, stored, report_from=SITE.baseline_start,
                     rule_id=whole.change["rule_id"].iloc[0],
                     stored_rules=whole.change["rule_id"],
                     fill_window=fill_window(SITE.baseline_end),
                     baseline_start=SITE.baseline_start)
    assert plan.fill_candidates and plan.since == dt.date(2024, 4, 1)
    _, third = _run(source, end, plan=plan)
    assert third.plan.report_from is None and third.plan.since == plan.since  # incremental
    _, whole4 = _run(source, end)
    rows = pd.concat([whole.change[whole.change["period"] < plan.since], third.change])
    pd.testing.assert_frame_equal(rows.reset_index(drop=True), whole4.change)
