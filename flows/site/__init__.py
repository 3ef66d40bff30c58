"""One site, end to end, without Prefect: what a run has to do, and the site's table rows.

    plan_site(scenes, stored) -> SitePlan            which scenes are new, from which month
    site_tables(site, source, scenes, ...) -> SiteTables
        choose_walk (memory budget) -> walk_whole | walk_streamed | walk_strips
        -> observation and change rows, alerts, monthly class and change maps
    recovery_trajectory(rows, reference_rows)        restoration against an intact site

The flow (:mod:`flows.monitor`) wraps these in Prefect tasks; tests, benchmarks and notebooks
call them directly.
"""

from flows.site.alerts import alert_pixels, alert_rows, site_alerts
from flows.site.budget import (
    WALKS,
    SiteTooLarge,
    memory_budget,
    once_memory,
    place_memory,
    stream_memory,
    strips_memory,
    walk_memory,
)
from flows.site.maps import maps_dataset, site_maps
from flows.site.plan import FillSceneFailed, SitePlan, load_range, month_start, plan_site
from flows.site.rows import recovery_trajectory
from flows.site.tables import SiteTables, site_tables

__all__ = [
    "WALKS", "FillSceneFailed", "SitePlan", "SiteTables", "SiteTooLarge", "alert_pixels", "alert_rows",
    "load_range", "maps_dataset", "memory_budget", "month_start", "once_memory", "place_memory",
    "plan_site",
    "recovery_trajectory", "site_alerts", "site_maps", "site_tables", "stream_memory",
    "strips_memory", "walk_memory",
]
