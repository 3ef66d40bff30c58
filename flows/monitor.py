"""The nightly monitoring flow: sites -> search -> load -> indices -> change -> Parquet store.

One task per I/O step, with retries where the network is involved; tasks pass site ids, scene
references and small frames, never cubes. A site that fails does not stop the others: the flow
finishes every site it can, writes their rows, and then fails naming the sites that did not.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from aoi import Site, calibration_input, load_sites
from flows.config import RunConfig, load_config, make_source
from flows.results import RunRecord, read_table, run_lock, write_rows, write_run_record
from flows.results.alerts import write_alerts
from flows.results.carbon import read_accuracy, read_year_maps, same_rows
from flows.results.maps import write_site_maps
from flows.results.rules import calibration_key, fitted_rule_id, remember_rule
from flows.runtime import progress
from flows.runtime.termination import raise_termination_behind, redeliver_swallowed_termination
from flows.site import (
    SitePlan,
    SiteTables,
    load_range,
    plan_site,
    recovery_trajectory,
    site_tables,
)
from flows.site.carbon import (
    account_rows,
    carbon_rows,
    closing_periods,
    factors_record,
    site_factor_sets,
)
from flows.sources import SceneRef, Source
from indices.carbon_factors import FactorSet
from indices.habitat import RULES

__all__ = ["SitesFailed", "make_source", "monitor_sites", "run_monitoring"]


class SitesFailed(RuntimeError):
    """Some sites could not be processed; the others were written."""


def _default_end(config: RunConfig, source: Source) -> dt.date:
    if config.end:
        return config.end
    scenario = getattr(source, "scenario", None)  # the demo has a fixed 'today'
    return scenario.end if scenario is not None else dt.datetime.now(dt.UTC).date()


@task(name="search-scenes", retries=3, retry_delay_seconds=[2, 10, 30], cache_policy=NO_CACHE)
def search_scenes(source: Source, site: Site, start: dt.date, end: dt.date) -> list[SceneRef]:
    scenes = source.search(site, start, end)
    get_run_logger().info("%s: %d scenes found %s..%s", site.id, len(scenes), start, end)
    return scenes


@task(name="plan-site", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def plan_site_task(out: Path, site: Site, scenes: list[SceneRef], start: dt.date | None,
                   full: bool, rule_id: str | None = None) -> SitePlan:
    stored = read_table(out, "observations", site.id)
    rules = read_table(out, "change", site.id)
    plan = plan_site(scenes, stored, report_from=start or site.baseline_start, full=full,
                     rule_id=rule_id, stored_rules=rules["rule_id"] if len(rules) else None)
    logger = get_run_logger()
    if plan.up_to_date:
        logger.info("%s: no new scenes (%d stored); skipped", site.id, len(stored))
    else:
        logger.info("%s: %d new scenes, months from %s to update", site.id,
                    len(plan.new_scene_ids), plan.since)
    return plan


def site_rule(out: Path, site: Site, scenes: list[SceneRef]) -> tuple[str | None, str | None]:
    """``(rule_id, calibration key)`` of ``site`` before it is computed: its habitat's default
    rule, or for a calibrated site the rule last fitted to the same input and baseline
    (:mod:`flows.results.rules`; None when not fitted yet, so that the site is recomputed)."""
    default = RULES[site.habitat].rule_id
    source = calibration_input(site)
    if source is None:
        return default, None
    baseline = [s.scene_id for s in scenes
                if site.baseline_start <= s.datetime.date() <= site.baseline_end]
    key = calibration_key(source.path, baseline, default)
    return fitted_rule_id(out, site.id, key), key


def _drop_maps(tables: SiteTables) -> None:
    """Let a site's maps go once written: Prefect keeps every task's result until the flow
    ends, and the maps are the big part (whole rasters, or temporary files for a site walked
    month by month), so later sites would find that much less memory and disk."""
    if tables.maps is not None:
        for name in list(tables.maps.data_vars):
            del tables.maps[name]


@task(name="compute-site", cache_policy=NO_CACHE)
def compute_site(source: Source, site: Site, scenes: list[SceneRef], config: RunConfig,
                 end: dt.date, run_id: str, plan: SitePlan) -> SiteTables:
    tables = site_tables(site, source, scenes, start=config.start, end=end, run_id=run_id,
                         mmu_ha=config.mmu_ha, chunks=config.chunks, plan=plan, products=True)
    logger = get_run_logger()
    if tables.walk == "stream":
        logger.info("%s: walked month by month: its months would not fit in memory at once "
                    "(BLUECARBON_MEMORY_GB); its scenes were read twice", site.id)
    elif tables.walk == "strips":
        logger.info("%s: walked month by month in strips of rows: one month of it would not "
                    "fit in memory (BLUECARBON_MEMORY_GB); its scenes were read three times",
                    site.id)
    logger.info("%s: %d scenes processed, %d observation rows, %d monthly rows",
                site.id, tables.n_scenes, len(tables.observations), len(tables.change))
    return tables


@task(name="write-results", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def write_results(out: Path, tables: SiteTables, site: Site, since: dt.date | None) -> dict[str, int]:
    """Change rows first, observation rows last: a scene's observation row is what tells the
    next incremental run (``plan_site``) that the scene is done, so it must not be stored
    before the change rows it affects. A run killed between the two writes leaves the scenes
    to redo, not months that are never rewritten (tests/test_crash_safety.py)."""
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


@task(name="carbon-and-accounts", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def update_carbon(out: Path, site: Site, factors: FactorSet, seed: int, run_id: str
                  ) -> dict[str, int]:
    """The site's carbon ledger and extent account over its whole stored series, once its
    change rows and maps are written (:mod:`flows.site.carbon`): error-adjusted areas where
    an accuracy assessment exists, accounts on the year-end class maps where they all are."""
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


@task(name="restoration-trajectories", retries=2, retry_delay_seconds=[1, 5],
      cache_policy=NO_CACHE)
def update_trajectories(out: Path, sites: list[Site]) -> list[str]:
    """Recovery ratio of each site with a ``reference_site`` against that site's rows."""
    logger, updated = get_run_logger(), []
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


SITE_WORKERS = 2
"""Sites processed at once. One site's compute keeps about one core busy (rendering or
reading, Python between dask tasks, Parquet and COG writes); two overlap one site's writes
and search with the other's compute (demo run: 31 s against 41 s one at a time)."""


def _each_site(process: Callable[[Site], None], sites: list[Site]) -> None:
    """``process`` each site, :data:`SITE_WORKERS` at a time, in the flow run's context (each
    thread gets a copy, so the sites' tasks belong to this flow run, as with Prefect's own
    thread-pool task runner). Sites are started in file order; an exception that is not a
    site's own failure (``process`` records those) is raised once the others are done."""
    if SITE_WORKERS <= 1 or len(sites) <= 1:
        for site in sites:
            process(site)
        return
    with ThreadPoolExecutor(max_workers=SITE_WORKERS,
                            thread_name_prefix="bluecarbon-site") as pool:
        futures = [pool.submit(contextvars.copy_context().run, process, site) for site in sites]
    for future in futures:
        future.result()


def _distributed(address: str | None):
    if not address:
        return contextlib.nullcontext()
    from distributed import Client

    return Client(address, set_as_default=True)


@flow(name="monitor-sites", log_prints=False)
def monitor_sites(
    sites: str | None = None,
    source: str = RunConfig.source,
    catalog: str | None = RunConfig.catalog,
    start: dt.date | None = None,
    end: dt.date | None = None,
    out: str = str(RunConfig.out),
    dask_address: str | None = RunConfig.dask_address,
    seed: int = RunConfig.seed,
    mmu_ha: float = RunConfig.mmu_ha,
    max_area_ha: float = RunConfig.max_area_ha,
    chunks: int = RunConfig.chunks,
    max_cloud: float | None = RunConfig.max_cloud,
    factors: str | None = RunConfig.factors,
    full: bool = False,
):
    """Nightly monitoring of every site in ``sites`` (a GeoJSON file or folder; None: the
    bundled sites): new scenes searched, indices and change computed, Parquet rows upserted.
    Parameters are those of ``bluecarbon run`` (see :class:`flows.config.RunConfig`); ``full``
    recomputes and rewrites every row instead of only the new scenes' rows."""
    config = load_config(None, sites=sites, source=source, catalog=catalog, start=start, end=end,
                         out=out, dask_address=dask_address, seed=seed, mmu_ha=mmu_ha,
                         max_area_ha=max_area_ha, chunks=chunks, max_cloud=max_cloud,
                         factors=factors)
    redeliver_swallowed_termination()
    logger = get_run_logger()
    run_id = str(flow_run.id or "local")
    sites = load_sites(config.sites, max_area_ha=config.max_area_ha)
    carbon_factors = site_factor_sets(sites, config.factors)  # bad factors: before any work
    source = make_source(config)
    end = _default_end(config, source)
    record = RunRecord.start(run_id, config, end)
    progress.emit("run_started", n_sites=len(sites), run_id=run_id)

    def waiting(message: str) -> None:
        logger.warning("%s", message)
        progress.emit("waiting", message=message)
        record.waited_for = message

    def carbon(site: Site, entry: dict[str, Any]) -> None:
        """The carbon step of a site whose tables are written; a failure is the run's error,
        not the site's (its change rows and maps are stored)."""
        entry["carbon"] = factors_record(carbon_factors[site.id])
        try:
            entry["carbon"]["rows"] = update_carbon(config.out, site, carbon_factors[site.id],
                                                    config.seed, run_id)
        except Exception as exc:
            raise_termination_behind(exc)
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            logger.error("%s: carbon and accounts failed: %s", site.id, message)
            entry["carbon"]["error"] = message
            record.errors.append(f"carbon {site.id}: {message}")

    def process(site: Site) -> None:
        progress.emit("site_started", site_id=site.id)
        entry = record.sites[site.id]
        try:
            first, last = load_range(site, config.start, end)
            scenes = search_scenes(source, site, first, last)
            entry["scenes_found"] = len(scenes)
            progress.emit("site_searched", site_id=site.id, n_scenes=len(scenes))
            rule_id, calibration_key = site_rule(config.out, site, scenes)
            plan = plan_site_task(config.out, site, scenes, config.start, full, rule_id)
            entry["scenes_new"] = len(plan.new_scene_ids)
            entry["rule_id"] = rule_id
            if plan.up_to_date:
                entry["status"] = "skipped"
                entry["reason"] = ("no new scenes" if scenes else
                                   "no scenes found for the site and dates")
                progress.emit("site_skipped", site_id=site.id, n_scenes=len(scenes))
                carbon(site, entry)  # a new factors file or accuracy assessment counts
                return
            tables = compute_site(source, site, scenes, config, end, run_id, plan)
            written = write_results(config.out, tables, site, plan.since)
            _drop_maps(tables)
            entry.update(tables.evidence, rule_id=tables.evidence["rule"]["rule_id"])
            if calibration_key is not None:
                remember_rule(config.out, site.id, calibration_key, entry["rule_id"],
                              tables.evidence)
        except Exception as exc:  # per-site isolation: record, carry on with the others
            raise_termination_behind(exc)
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            logger.error("%s: failed: %s", site.id, message)
            entry.update(status="failed", reason=message)
            progress.emit("site_failed", site_id=site.id, error=message)
            return
        carbon(site, entry)
        for scene_id, reason in tables.failed_scenes.items():
            logger.warning("%s: scene %s failed: %s", site.id, scene_id, reason)
        entry.update(status="processed", rows=written, failed_scenes=tables.failed_scenes,
                     walk=tables.walk)
        progress.emit("site_done", site_id=site.id, n_scenes=tables.n_scenes,
                      failed_scenes=len(tables.failed_scenes), **written)

    with run_lock(config.out, run_id, on_wait=waiting), _distributed(config.dask_address):
        for site in sites:  # the record lists sites in the order of the sites file
            record.sites[site.id] = {"status": "running"}
        _each_site(process, sites)
        done = [s for s in sites if record.sites[s.id]["status"] in ("processed", "skipped")]
        try:
            record.trajectories = update_trajectories(config.out, done)
        except Exception as exc:
            raise_termination_behind(exc)
            record.errors.append(f"trajectories: {type(exc).__name__}: {exc}".splitlines()[0])
        record.finish()
        write_run_record(config.out, record)
    logger.info("run %s: %s", run_id, record.headline)
    if record.failed_sites or record.errors:
        # a Failed state, not an exception: the run is marked failed with this summary, and
        # nobody reading the log wades through a traceback of what is already explained
        return Failed(message=record.headline, data=record.as_dict())
    return Completed(message=record.headline, data=record.as_dict())


def run_monitoring(config: RunConfig, *, full: bool = False) -> dict[str, Any]:
    """Run the flow in this process (ephemeral Prefect API when no server is configured).

    Returns the run summary; raises ``SitesFailed`` (after every other site was written) when
    some sites failed.
    """
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    state = monitor_sites(**params, full=full, return_state=True)
    if state.is_failed():
        raise SitesFailed(state.message or "the monitoring run failed")
    return state.result()
