"""The nightly monitoring run: sites -> search -> load -> indices -> change -> Parquet store.

One step per I/O stage, with bounded retries where the network or the disk is involved (only
of errors a retry can fix: :func:`retryable_error`); steps pass site ids, scene references and
small frames, never cubes. A site that fails does not stop the others: the run finishes every
site it can, writes their rows and its run record, and then fails naming the sites that did
not. A source that cannot be reached at all (:class:`~flows.sources.SourceUnreachable`) stops
the run instead, said once: every other site would fail the same way. A stored file of a site
that cannot be read is set aside and the site recomputed, once (:func:`plan_site_task`).

:func:`run_sites` is the run, written once and Prefect-free: ``bluecarbon run`` calls it
directly (:func:`run_nightly`: no Prefect imported, no API server, each step's retries done
here by :func:`retrying`), and the Prefect flow :func:`flows.monitor.monitor_sites` (``serve``,
deployments, a configured ``PREFECT_API_URL``) calls it with the same steps as Prefect tasks,
whose retries Prefect does from the same :class:`Retry` settings.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.config import RunConfig
from flows.runtime import progress
from flows.runtime.prefect import run_logger
from flows.runtime.startup import import_later, local_dask
from flows.runtime.termination import STOP, raise_termination_behind

if TYPE_CHECKING:
    from aoi import Site
    from flows.site import SitePlan, SiteTables
    from flows.sources import SceneRef, Source
    from indices.carbon_factors import FactorSet

__all__ = ["SITE_WORKERS", "STEPS", "Retry", "SitesFailed", "Step", "retryable_error",
           "retrying", "run_nightly", "run_sites"]


class SitesFailed(RuntimeError):
    """Some sites could not be processed; the others were written. ``unreachable``: the
    one-line reason when the run stopped because its source could not be reached."""

    def __init__(self, message: str, unreachable: str | None = None) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def retryable_error(exc: BaseException | None) -> bool:
    """Whether trying a step again can fix ``exc``: a :class:`~flows.sources.SourceError`
    marked ``retryable`` (timeouts, resets, HTTP 429 and 5xx), a timeout or dropped
    connection elsewhere. A bad item, a refused request, an unreachable service, an
    unreadable file or a full disk fail at once (issue 20, class 7)."""
    from flows.results.files import StoreError
    from flows.sources import SourceError, SourceUnreachable

    if isinstance(exc, SourceError):
        return exc.retryable and not isinstance(exc, SourceUnreachable)
    if isinstance(exc, StoreError):
        return isinstance(exc.__cause__, TimeoutError | ConnectionError | InterruptedError)
    return isinstance(exc, TimeoutError | ConnectionError)


@dataclass(frozen=True)
class Retry:
    """How a step is tried again when it raises: ``len(delays)`` more times, waiting
    ``delays[i]`` seconds before the ``i``-th retry. Prefect's ``retries`` and
    ``retry_delay_seconds`` for the flow's tasks; :func:`retrying` without Prefect."""

    delays: tuple[float, ...]

    @property
    def retries(self) -> int:
        return len(self.delays)


@dataclass(frozen=True)
class Step:
    """One step of a site's run: its name (the Prefect task's), its function, its retries."""

    name: str
    fn: Callable[..., Any]
    retry: Retry | None = None


def retrying(step: Step, *, sleep: Callable[[float], object] | None = None) -> Callable[..., Any]:
    """``step.fn``, tried again as its :class:`Retry` says when it raises an ``Exception``
    that a retry can fix (:func:`retryable_error`; a termination, ``KeyboardInterrupt`` or
    ``SystemExit``, is never retried, nor is anything once the run is stopping); the last
    failure is raised. ``sleep`` waits between tries (default: until the delay has passed
    or the run is stopping, :data:`~flows.runtime.termination.STOP`)."""
    if step.retry is None:
        return step.fn
    delays = step.retry.delays
    wait = sleep or STOP.wait

    def call(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(len(delays) + 1):
            try:
                return step.fn(*args, **kwargs)
            except Exception as exc:
                raise_termination_behind(exc)
                if attempt == len(delays) or not retryable_error(exc) or STOP.is_set():
                    raise
                run_logger().info("%s failed (%s: %s); retry %d of %d in %g s", step.name,
                                  type(exc).__name__, str(exc).splitlines()[0] if str(exc)
                                  else "", attempt + 1, len(delays), delays[attempt])
                wait(delays[attempt])
                if STOP.is_set():
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    call.__name__ = call.__qualname__ = step.fn.__name__
    call.__doc__ = step.fn.__doc__
    return call


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
    if len(rules) and found:  # the months a full run rewrites: older ones cannot be redone
        rules = rules[pd.to_datetime(rules["period"]).dt.date >= min(found).replace(day=1)]
    plan = plan_site(scenes, stored, report_from=report_from, full=full or recompute,
                     rule_id=rule_id, stored_rules=rules["rule_id"] if len(rules) else None)
    if plan.up_to_date:
        logger.info("%s: no new scenes (%d stored); skipped", site.id, len(stored))
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
    import_later("scipy.stats")  # the carbon step's, imported while the maps are encoded
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
            written = call["write_results"](config.out, tables, site, plan.since)
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
