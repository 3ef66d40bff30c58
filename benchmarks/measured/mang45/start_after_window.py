"""review38 scratch: a store begun with --start after the fill window: is every later run a whole rewrite?"""
import datetime as dt
from flows import PROCESSING_VERSION
from flows.site import load_range, plan_site, site_tables
from indices.bap import fill_window
from test_bap_flow import SITE, _Clouded

source = _Clouded(seed=3, until="2024-02-01")
start = dt.date(2024, 6, 1)
def run(end, stored=None, rules=None):
    scenes = source.search(SITE, *load_range(SITE, start, end))
    plan = None
    if stored is not None:
        plan = plan_site(scenes, stored, report_from=start, rule_id=rules.iloc[0], stored_rules=rules,
                         fill_window=fill_window(SITE.baseline_end), baseline_start=SITE.baseline_start)
        print("plan: since", plan.since, "new", len(plan.new_scene_ids), "candidates", len(plan.fill_candidates),
              "rewrite_from", plan.rewrite_from, "up_to_date", plan.up_to_date)
    t = site_tables(SITE, source, scenes, start=start, end=end, run_id="r", walk="memory", plan=plan)
    if t.plan is not None:
        print("settled: report_from", t.plan.report_from, "since", t.plan.since, "obs rows", len(t.observations),
              "change rows", len(t.change))
    return t
import pandas as pd
t1 = run(dt.date(2024, 6, 30))
print("first obs from", t1.observations["datetime"].min(), "fill", t1.evidence["rule"].get("fill"))
stored = t1.observations.assign(processing_version=PROCESSING_VERSION); rules = t1.change["rule_id"]
t2 = run(dt.date(2024, 6, 30), stored, rules)   # same end: nothing new
stored = pd.concat([stored, t2.observations.assign(processing_version=PROCESSING_VERSION)]).drop_duplicates("scene_id")
t3 = run(dt.date(2024, 6, 30), stored, rules)   # again
