"""The nightly run itself, written once and Prefect-free: every site through its steps.

:func:`run_sites` loads the sites, takes the results folder's run lock, runs each site's steps
(:data:`flows.nightly.STEPS`, or the Prefect flow's tasks) :data:`SITE_WORKERS` sites at a
time, isolates each site's failure, then writes the run record; :func:`run_nightly` is
``bluecarbon run`` without Prefect.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from flows.config import RunConfig
from flows.nightly.retry import SitesFailed, retrying
from flows.nightly.steps import STEPS, site_rule
from flows.runtime import progress
from flows.runtime.prefect import run_logger
from flows.runtime.startup import local_dask
from flows.runtime.termination import STOP, raise_termination_behind

if TYPE_CHECKING:
    from aoi import Site
    from flows.site import SiteTables
    from flows.sources import Source

__all__ = ["SITE_WORKERS", "run_nightly", "run_sites"]


# -- the run -------------------------------------------------------------------------------
SITE_WORKERS = 2
"""Sites processed at once. One site's compute keeps about one core busy (rendering or
reading, Python between dask tasks, Parquet and COG writes); two overlap one site's writes
and search with the other's compute (demo run: 31 s against 41 s one at a time)."""


def _default_end(config: RunConfig, source: Source) -> dt.date:
    if config.end:
        return config.end
    scenario = getattr(source, "scenario", None)  # the demo has a fixed 'today'
    return scenario.end if scenario is not None else dt.datetime.now(dt.UTC).date()


def _drop_maps(tables: SiteTables) -> None:
    """Let a site's maps go once written: Prefect keeps every task's result until the flow
    ends, and the maps are the big part (whole rasters, or temporary files for a site walked
    month by month), so later sites would find that much less memory and disk."""
    if tables.maps is not None:
        for name in list(tables.maps.data_vars):
            del tables.maps[name]


def _each_site(process: Callable[[Site], None], sites: list[Site]) -> None:
    """``process`` each site, :data:`SITE_WORKERS` at a time, in the caller's context (each
    thread gets a copy, so under Prefect the sites' tasks belong to the flow run, as with
    Prefect's own thread-pool task runner). Sites are started in file order; an exception
    that is not a site's own failure (``process`` records those) is raised once the others
    are done, and a stop (SIGTERM, Ctrl-C) starts no further site."""
    if SITE_WORKERS <= 1 or len(sites) <= 1:
        for site in sites:
            process(site)
        return
    pool = ThreadPoolExecutor(max_workers=SITE_WORKERS, thread_name_prefix="bluecarbon-site")
    try:
        futures = [pool.submit(contextvars.copy_context().run, process, site) for site in sites]
        # no more work: each thread ends once the queue is empty, not with the last site (a
        # thread's dask pool goes with it, so the run holds no idle threads at its end)
        pool.shutdown(wait=False)
        for future in futures:
            future.result()
    except BaseException:  # a stop (SIGTERM, Ctrl-C): no site is started after it
        STOP.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _distributed(address: str | None):
    if not address:  # dask's rechunks, without importing distributed to see there is none
        return local_dask()
    from distributed import Client

    return Client(address, set_as_default=True)


def run_sites(config: RunConfig, *, full: bool = False, run_id: str | None = None,
              steps: Mapping[str, Callable[..., Any]] | None = None,
              logger: logging.Logger | logging.LoggerAdapter | None = None) -> Any:
    """Every site of ``config``: new scenes searched, indices and change computed, rows,
    alerts and maps written, then the carbon step and the restoration trajectories, under
    the results folder's run lock; the run record written last. ``full`` recomputes and
    rewrites every row instead of only the new scenes'.

    ``steps``: the step callables by function name (default: :data:`STEPS`, each
    :func:`retrying`); the Prefect flow passes its tasks. Returns the finished
    :class:`~flows.results.RunRecord` (failed sites are in it, not raised)."""
    from aoi import load_sites
    from flows.config import make_source
    from flows.results import RunRecord, run_lock, write_run_record
    from flows.results.files import StoreError
    from flows.site import load_range
    from flows.site.carbon import factors_record, site_factor_sets
    from flows.sources import SourceError, SourceUnreachable, redact

    call = dict(steps) if steps is not None else {k: retrying(s) for k, s in STEPS.items()}
    logger = logger or run_logger()
    run_id = run_id or str(uuid.uuid4())
    STOP.clear()
    sites = load_sites(config.sites, max_area_ha=config.max_area_ha)
    carbon_factors = site_factor_sets(sites, config.factors)  # bad factors: before any work
    source = make_source(config)
    end = _default_end(config, source)
    record = RunRecord.start(run_id, config, end)
    progress.emit("run_started", n_sites=len(sites), run_id=run_id)
    unreachable: list[str] = []  # the reason, once the source proved unreachable
    preflight = getattr(source, "preflight", None)
    try:
        if preflight is not None:
            preflight()
    except SourceUnreachable as exc:
        unreachable.append(str(exc))
    except SourceError:  # anything else is met and said by each site's search
        pass

    def waiting(message: str) -> None:
        logger.warning("%s", message)
        progress.emit("waiting", message=message)
        record.waited_for = message

    def carbon(site: Site, entry: dict[str, Any]) -> None:
        """The carbon step of a site whose tables are written; a failure is the run's error,
        not the site's (its change rows and maps are stored)."""
        entry["carbon"] = factors_record(carbon_factors[site.id])
        try:
            entry["carbon"]["rows"] = call["update_carbon"](
                config.out, site, carbon_factors[site.id], config.seed, run_id)
        except Exception as exc:
            raise_termination_behind(exc)
            message = redact(f"{type(exc).__name__}: {exc}".splitlines()[0])
            logger.error("%s: carbon and accounts failed: %s", site.id, message)
            entry["carbon"]["error"] = message
            record.errors.append(f"carbon {site.id}: {message}")

    def process(site: Site) -> None:
        entry = record.sites[site.id]
        if STOP.is_set():
            return
        if unreachable:  # said once, for the site that met it; the others are not tried
            entry.update(status="failed", reason="not tried: the source is unreachable")
            progress.emit("site_not_tried", site_id=site.id)
            return
        progress.emit("site_started", site_id=site.id)
        try:
            first, last = load_range(site, config.start, end)
            scenes = call["search_scenes"](source, site, first, last)
            entry["scenes_found"] = len(scenes)
            progress.emit("site_searched", site_id=site.id, n_scenes=len(scenes))
            rule_id, calibration_key = site_rule(config.out, site, scenes)
            plan, recovered = call["plan_site_task"](config.out, site, scenes, config.start,
                                                     full, rule_id)
            entry["scenes_new"] = len(plan.new_scene_ids)
            entry["rule_id"] = rule_id
            if recovered:
                entry["recovered"] = recovered
            if plan.up_to_date:
                entry["status"] = "skipped"
                entry["reason"] = ("no new scenes" if scenes else
                                   "no scenes found for the site and dates")
                progress.emit("site_skipped", site_id=site.id, n_scenes=len(scenes))
                carbon(site, entry)  # a new factors file or accuracy assessment counts
                return
            tables = call["compute_site"](source, site, scenes, config, end, run_id, plan,
                                          min(SITE_WORKERS, len(sites)))
            if tables.plan is not None and tables.plan.report_from is not None:
                logger.info("%s: a scene of the fill window changed the baseline fill: "
                            "rewritten from %s", site.id, tables.plan.report_from)
            since = plan.since if tables.plan is None else tables.plan.since
            written = call["write_results"](config.out, tables, site, since)
            _drop_maps(tables)
            entry.update(tables.evidence, rule_id=tables.evidence["rule"]["rule_id"])
            if calibration_key is not None:
                from flows.results.rules import remember_rule

                remember_rule(config.out, site.id, calibration_key, entry["rule_id"],
                              tables.evidence)
        except Exception as exc:  # per-site isolation: record, carry on with the others
            raise_termination_behind(exc)
            message = redact(f"{type(exc).__name__}: {exc}".splitlines()[0])
            entry.update(status="failed", reason=message)
            if isinstance(exc, SourceUnreachable):  # said once, by the run's last line
                if not unreachable:
                    unreachable.append(str(exc))
                logger.info("%s: stopped: %s", site.id, message)
                progress.emit("site_not_tried", site_id=site.id)
                return
            logger.error("%s: failed: %s", site.id, message)
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
            record.trajectories = call["update_trajectories"](config.out, done)
        except Exception as exc:
            raise_termination_behind(exc)
            record.errors.append(redact(f"trajectories: {type(exc).__name__}: {exc}"
                                        .splitlines()[0]))
        skipped = dict(getattr(source, "skipped_items", None) or {})
        if skipped:
            logger.warning("%d catalogue item(s) skipped as unusable (named in the run "
                           "record)", len(skipped))
            record.skipped_items = {k: skipped[k] for k in list(skipped)[:100]}
            record.skipped_item_count = len(skipped)
        if unreachable:
            record.unreachable = unreachable[0]
            record.errors.append(f"source unreachable: {unreachable[0]}")
        record.finish()
        try:
            write_run_record(config.out, record)
        except StoreError as exc:  # the tables are written; say so in one line, exit 1
            record.errors.append(f"run record not written: {exc}")
    logger.info("run %s: %s", run_id, record.headline)
    return record


def run_nightly(config: RunConfig, *, full: bool = False) -> dict[str, Any]:
    """:func:`run_sites` in this process without Prefect (``bluecarbon run`` with no Prefect
    API configured). Returns the run record as a dict; raises :class:`SitesFailed` (after
    every other site was written and the record saved) when some sites failed."""
    record = run_sites(config, full=full)
    if record.failed_sites or record.errors:
        raise SitesFailed(record.headline, record.unreachable)
    return record.as_dict()
