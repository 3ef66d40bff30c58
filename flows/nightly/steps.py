"""The steps of one site's nightly run: search, plan, compute, write, carbon, trajectories.

Each is a plain function of site ids, paths, scene references and small frames (never cubes),
run by :func:`flows.nightly.run_sites` through :data:`STEPS`: with their retries
(:func:`flows.nightly.retrying`), or as Prefect tasks (:mod:`flows.monitor`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.config import RunConfig
from flows.nightly.retry import Retry, Step
from flows.runtime.prefect import run_logger

if TYPE_CHECKING:
    from aoi import Site
    from flows.site import SitePlan, SiteTables
    from flows.sources import SceneRef, Source
    from indices.carbon_factors import FactorSet

__all__ = ["STEPS", "compute_site", "plan_site_task", "search_scenes", "site_rule",
           "update_carbon", "update_trajectories", "write_results"]


# -- the steps -----------------------------------------------------------------------------
def search_scenes(source: Source, site: Site, start: dt.date, end: dt.date) -> list[SceneRef]:
    scenes = source.search(site, start, end)
    run_logger().info("%s: %d scenes found %s..%s", site.id, len(scenes), start, end)
    return scenes


def plan_site_task(out: Path, site: Site, scenes: list[SceneRef], start: dt.date | None,
                   full: bool, rule_id: str | None = None) -> tuple[SitePlan, list[str]]:
    """The site's plan, and what had to be recovered: a stored file of this site that
    cannot be read is set aside (renamed, never deleted) and rebuilt, once, rather than
    failing every run from now on (issue 20, class 8); a lost observation, change or alert
    file means the site is recomputed in full."""
    import pandas as pd

    from flows.results import TABLES
    from flows.results.files import StoreError, set_aside
    from flows.site import plan_site
    from indices.bap import fill_window

    logger = run_logger()
    recovered, frames = [], {}
    for name, read, path in _site_files(out, site.id):
        try:
            frames[name] = read()
        except StoreError as exc:
            moved = set_aside(path, root=Path(out))
            logger.warning("%s: %s; set aside as %s, the site is recomputed", site.id, exc,
                           moved.name if moved else "-")
            recovered.append(f"{name}: {exc}")
            frames[name] = TABLES[name].schema.empty_table().to_pandas() \
                if name in TABLES else None
    stored, rules = frames["observations"], frames["change"]
    recompute = any(r.split(":", 1)[0] in _RECOMPUTED_FROM for r in recovered)
    report_from = start or site.baseline_start
    found = [s.datetime.date() for s in scenes if s.datetime.date() >= report_from]
    first_row = pd.Timestamp(pd.to_datetime(rules["period"]).min()).date() \
        if len(rules) else None  # before the cut below: where the stored rows begin
    if len(rules) and found:  # the months a full run rewrites: older ones cannot be redone
        rules = rules[pd.to_datetime(rules["period"]).dt.date >= min(found).replace(day=1)]
    window = fill_window(site.baseline_end) if site.habitat == "mangrove" else None
    plan = plan_site(scenes, stored, report_from=report_from, full=full or recompute,
                     rule_id=rule_id, stored_rules=rules["rule_id"] if len(rules) else None,
                     fill_window=window, baseline_start=site.baseline_start,
                     first_row=first_row)
    if plan.up_to_date:
        logger.info("%s: no new scenes (%d stored); skipped", site.id, len(stored))
    elif plan.since is None:
        logger.info("%s: no new scenes from the start; %d scenes of the fill window not "
                    "stored: the site is computed to see whether they change its baseline",
                    site.id, len(plan.fill_candidates))
    else:
        logger.info("%s: %d new scenes, months from %s to update", site.id,
                    len(plan.new_scene_ids), plan.since)
    return plan, recovered


_RECOMPUTED_FROM = ("observations", "change", "alerts")
"""The stored files whose loss means the site's months are recomputed; the carbon ledger and
the extent account are rebuilt by every run's carbon step anyway."""


def _site_files(out: Path, site_id: str) -> list[tuple[str, Callable[[], Any], Path]]:
    """Each stored file of a site a run reads before writing: its name, a reader and path."""
    from flows.results import alerts as stored_alerts
    from flows.results import read_table
    from flows.results.store import partition_path

    files: list[tuple[str, Callable[[], Any], Path]] = [
        (name, lambda name=name: read_table(out, name, site_id),
         partition_path(out, name, site_id))
        for name in ("observations", "change", "carbon", "accounts")]
    files.append(("alerts", lambda: stored_alerts.read_alerts(out, site_id),
                  stored_alerts._partition(Path(out), site_id)))
    return files


def site_rule(out: Path, site: Site, scenes: list[SceneRef]) -> tuple[str | None, str | None]:
    """``(rule_id, calibration key)`` of ``site`` before it is computed: its habitat's default
    rule, or for a calibrated site the rule last fitted to the same input and baseline
    (:mod:`flows.results.rules`; None when not fitted yet, so that the site is recomputed)."""
    from aoi import calibration_input
    from flows.results.rules import calibration_key, fitted_rule_id
    from indices.habitat import RULES

    default = RULES[site.habitat].rule_id
    source = calibration_input(site)
    if source is None:
        return default, None
    baseline = [s.scene_id for s in scenes
                if site.baseline_start <= s.datetime.date() <= site.baseline_end]
    key = calibration_key(source.path, baseline, default)
    return fitted_rule_id(out, site.id, key), key


def compute_site(source: Source, site: Site, scenes: list[SceneRef], config: RunConfig,
                 end: dt.date, run_id: str, plan: SitePlan, share: int = 1) -> SiteTables:
    """The site's tables (:func:`flows.site.site_tables`), its walk chosen for the memory it
    may take: the budget divided by ``share``, the sites computed at once."""
    from flows.site import site_tables
    tables = site_tables(site, source, scenes, start=config.start, end=end, run_id=run_id,
                         mmu_ha=config.mmu_ha, chunks=config.chunks, plan=plan, products=True,
                         share=share)
    logger = run_logger()
    if tables.walk == "once":
        logger.info("%s: walked month by month in one pass over its scenes", site.id)
    elif tables.walk == "stream":
        logger.info("%s: walked month by month: its months would not fit in memory at once "
                    "(BLUECARBON_MEMORY_GB); its scenes were read twice", site.id)
    elif tables.walk == "strips":
        logger.info("%s: walked month by month in strips of rows: one month of it would not "
                    "fit in memory (BLUECARBON_MEMORY_GB); its scenes were read three times",
                    site.id)
    logger.info("%s: %d scenes processed, %d observation rows, %d monthly rows",
                site.id, tables.n_scenes, len(tables.observations), len(tables.change))
    for line in tables.warnings:  # rows that are less than a measurement: said, and recorded
        logger.warning("%s", line)
    return tables


def write_results(out: Path, tables: SiteTables, site: Site, since: dt.date | None) -> dict[str, int]:
    """Change rows first, observation rows last: a scene's observation row is what tells the
    next incremental run (``plan_site``) that the scene is done, so it must not be stored
    before the change rows it affects. A run killed between the two writes leaves the scenes
    to redo, not months that are never rewritten (tests/test_crash_safety.py)."""
    from flows.results import write_rows
    from flows.results.alerts import write_alerts
    from flows.results.maps import write_site_maps

    written = {}
    if tables.maps is not None:  # products first too: the observation rows mark a scene done
        written["maps"] = len(write_site_maps(out, site, tables.maps, since=since))
    if tables.alerts is not None and write_alerts(out, tables.alerts) is not None:
        written["alerts"] = len(tables.alerts.rows)
    for name, frame in (("change", tables.change), ("observations", tables.observations)):
        if len(frame):
            write_rows(out, name, frame)
            written[name] = len(frame)
    return written


def update_carbon(out: Path, site: Site, factors: FactorSet, seed: int, run_id: str
                  ) -> dict[str, int]:
    """The site's carbon ledger and extent account over its whole stored series, once its
    change rows and maps are written (:mod:`flows.site.carbon`): error-adjusted areas where
    an accuracy assessment exists, accounts on the year-end class maps where they all are."""
    from flows.results import read_table, write_rows
    from flows.results.carbon import read_accuracy, read_year_maps, same_rows
    from flows.site.carbon import account_rows, carbon_rows, closing_periods

    change = read_table(out, "change", site.id)
    if change.empty:
        return {}
    ledger = carbon_rows(site, change, factors, accuracy=read_accuracy(out, site.id), seed=seed,
                         run_id=run_id)
    maps = read_year_maps(out, site.id, closing_periods(change, site.id))
    account = account_rows(site, change, maps, run_id=run_id)
    for name, rows in (("carbon", ledger), ("accounts", account)):
        if not same_rows(read_table(out, name, site.id), rows):  # else: keep the file's bytes
            write_rows(out, name, rows)
    return {"carbon": len(ledger), "accounts": len(account)}


def update_trajectories(out: Path, sites: list[Site]) -> list[str]:
    """Recovery ratio of each site with a ``reference_site`` against that site's rows."""
    from flows.results import read_table, write_rows
    from flows.site import recovery_trajectory

    logger, updated = run_logger(), []
    for site in sites:
        ref_id = site.properties.get("reference_site")
        if not ref_id:
            continue
        rows = read_table(out, "change", site.id)
        reference = read_table(out, "change", str(ref_id))
        if rows.empty or reference.empty:
            logger.warning("%s: reference site %s has no rows yet; no trajectory", site.id, ref_id)
            continue
        write_rows(out, "change", recovery_trajectory(rows, reference))
        updated.append(site.id)
    return updated


_IO = Retry((1.0, 5.0))
STEPS: dict[str, Step] = {step.fn.__name__: step for step in (
    Step("search-scenes", search_scenes, Retry((2.0, 10.0, 30.0))),
    Step("plan-site", plan_site_task, _IO),
    Step("compute-site", compute_site),
    Step("write-results", write_results, _IO),
    Step("carbon-and-accounts", update_carbon, _IO),
    Step("restoration-trajectories", update_trajectories, _IO),
)}
"""The steps of a site's run by function name, with their retries: network (the catalogue
search) and disk (the results folder). The compute step is not retried: it reads through
GDAL's own retries, and a failed scene is data (``fetch_status``), not an exception."""
