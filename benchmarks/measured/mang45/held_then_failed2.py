"""review38 scratch: a held fill-window scene that fails in a later incremental run."""
import datetime as dt
import pandas as pd
from flows import PROCESSING_VERSION
from flows.site import load_range, plan_site, site_tables
from flows.sources.demo import DemoSource
from indices.bap import fill_window
from test_bap_flow import SITE, _Clouded, _Failing, _run

probe = DemoSource(seed=3)
march = {s.scene_id for s in probe.search(SITE, dt.date(2024, 3, 1), dt.date(2024, 3, 31))}
ok = _Clouded(seed=3, until="2024-03-01")
_, first = _run(ok, dt.date(2024, 5, 31))
print("run1 fill", first.evidence["rule"]["fill"])
stored = first.observations.assign(processing_version=PROCESSING_VERSION)
bad = _Failing(seed=3, broken=march, base=lambda *a, **k: _Clouded(*a, **k, until="2024-03-01"))
end = dt.date(2024, 6, 30)
scenes = bad.search(SITE, *load_range(SITE, None, end))
plan = plan_site(scenes, stored, report_from=SITE.baseline_start, rule_id=first.change["rule_id"].iloc[0],
                 stored_rules=first.change["rule_id"], fill_window=fill_window(SITE.baseline_end),
                 baseline_start=SITE.baseline_start)
print("plan since", plan.since, "candidates", len(plan.fill_candidates))
_, second = _run(bad, end, plan=plan)
print("run2 fill", second.evidence["rule"]["fill"], "failed", len(second.failed_scenes),
      "report_from", second.plan.report_from, "since", second.plan.since)
kept = first.change[first.change["period"] < second.plan.since]
rows = pd.concat([kept, second.change])
print(rows[["period", "baseline_extent_ha", "extent_ha"]].to_string())
_, whole = _run(ok, end)  # March fetched again: what a whole recompute stores
m = rows.reset_index(drop=True).merge(whole.change, on="period", suffixes=("", "_whole"))
cols = [c for c in ("extent_ha", "gain_ha", "loss_ha", "extent_ci_low_ha", "extent_ci_high_ha", "gain_ci_high_ha")]
diff = m[[c for c in cols] + [c + "_whole" for c in cols]]
print(m[["period"] + sum(([c, c + "_whole"] for c in cols), [])].tail(4).to_string())
print("rows differing from whole:", int((m[cols].values != m[[c + "_whole" for c in cols]].values).any(axis=1).sum()))
