import datetime as dt, pandas as pd
from test_bap_flow import _Clouded, _run, SITE
from flows import PROCESSING_VERSION
from flows.site import load_range, plan_site
source = _Clouded(seed=3, until="2024-02-01")
_, first = _run(source, dt.date(2024, 1, 31))
stored = first.observations.assign(processing_version=PROCESSING_VERSION)
scenes2 = source.search(SITE, *load_range(SITE, None, dt.date(2024, 2, 29)))
plan = plan_site(scenes2, stored, report_from=SITE.baseline_start, rule_id=first.change["rule_id"].iloc[0], stored_rules=first.change["rule_id"])
_, second = _run(source, dt.date(2024, 2, 29), plan=plan)
rows = pd.concat([first.change[first.change["period"] < plan.since], second.change])
print("without fill_window: since", plan.since, rows[["period", "baseline_extent_ha", "baseline_observed_fraction"]].to_string())
