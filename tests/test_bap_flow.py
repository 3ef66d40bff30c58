"""The mangrove baseline's fill (:mod:`indices.bap`) through the flow: the review of rule v15
(session 35, ``benchmarks/measured/mang37``), each case a must-fix.

1. The stored rows share one baseline: an incremental run whose new scenes fall in the fill's
   window recomputes the site whole (:func:`flows.site.plan.plan_site`), so its rows and the
   earlier run's are never of two baselines.
2. A window that saw nothing is not filled: its "no intertidal context" warning, observed
   fraction 0 and assessable fraction 0 stay.
3. The fill is bounded by the run's memory: beyond it, skipped with a warning line.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from aoi import load_sites
from flows import PROCESSING_VERSION
from flows.site import load_range, plan_site, site_tables
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
    _, second = _run(source, dt.date(2024, 2, 29), plan=plan)
    kept = first.change[first.change["period"] < plan.since]  # rows the second run left
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


def test_a_fill_beyond_the_runs_memory_is_skipped_with_a_warning(monkeypatch):
    """:func:`flows.site.budget.fill_pixels`: a budget that leaves no room beside the walk
    skips the fill (the walk as asked still runs), says so, and the pixels stay unobserved;
    with room the same site is filled."""
    source = _Clouded(seed=3)
    end = dt.date(2024, 3, 31)
    _, filled = _run(source, end)
    assert filled.evidence["rule"]["fill"]["filled"] == 70 * 240
    # the rows keep the window's view and the fill apart; together they saw the whole site
    seen, added = (filled.change[c] for c in ("baseline_observed_fraction",
                                               "baseline_filled_fraction"))
    assert (seen < 1.0).all() and (added > 0).all()
    np.testing.assert_allclose(seen + added, 1.0, atol=2e-6)
    assert not any("fill skipped" in w for w in filled.warnings)
    monkeypatch.setenv("BLUECARBON_MEMORY_GB", "0.01")
    _, skipped = _run(source, end)
    fill = skipped.evidence["rule"]["fill"]
    assert fill["filled"] == 0 and fill["unobserved"] == 70 * 240
    assert any("baseline fill skipped" in w and "memory" in w for w in skipped.warnings)
    assert (skipped.change["baseline_filled_fraction"] == 0).all()
    assert skipped.change["baseline_observed_fraction"].equals(seen)
