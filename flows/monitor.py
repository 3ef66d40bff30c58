"""The nightly monitoring flow: sites -> search -> load -> indices -> change -> Parquet store.

One task per I/O step, with retries where the network is involved; tasks pass site ids, scene
references and small frames, never cubes. A site that fails does not stop the others: the flow
finishes every site it can, writes their rows, and then fails naming the sites that did not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from aoi import Site, load_sites
from flows import progress, store
from flows.config import RunConfig, load_config
from flows.pipeline import (
    SitePlan,
    SiteTables,
    load_range,
    plan_site,
    recovery_trajectory,
    site_tables,
)
from flows.sources import SceneRef, Source, get_source

__all__ = ["monitor_sites", "run_monitoring", "RunSummary"]


@dataclass
class RunSummary:
    run_id: str
    sites: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SitesFailed(RuntimeError):
    """Some sites could not be processed; the others were written."""


def make_source(config: RunConfig) -> Source:
    """The configured scene source; raises ``SourceError`` (one line) when it cannot be used."""
    kwargs: dict[str, Any] = {}
    if config.source == "demo":
        kwargs["seed"] = config.seed
    if config.catalog:
        kwargs["catalog"] = config.catalog
    if config.max_cloud is not None and config.source != "demo":
        kwargs["max_cloud"] = config.max_cloud
    return get_source(config.source, **kwargs)


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
                   full: bool) -> SitePlan:
    stored = store.read_table(out, "observations", site.id)
    plan = plan_site(scenes, stored, report_from=start or site.baseline_start, full=full)
    logger = get_run_logger()
    if plan.up_to_date:
        logger.info("%s: no new scenes (%d stored); skipped", site.id, len(stored))
    else:
        logger.info("%s: %d new scenes, months from %s to update", site.id,
                    len(plan.new_scene_ids), plan.since)
    return plan


@task(name="compute-site", cache_policy=NO_CACHE)
def compute_site(source: Source, site: Site, scenes: list[SceneRef], config: RunConfig,
                 end: dt.date, run_id: str, plan: SitePlan) -> SiteTables:
    tables = site_tables(site, source, scenes, start=config.start, end=end, run_id=run_id,
                         mmu_ha=config.mmu_ha, chunks=config.chunks, plan=plan)
    get_run_logger().info("%s: %d scenes processed, %d observation rows, %d monthly rows",
                          site.id, tables.n_scenes, len(tables.observations), len(tables.change))
    return tables


@task(name="write-results", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def write_results(out: Path, tables: SiteTables) -> dict[str, int]:
    written = {}
    for name, frame in (("observations", tables.observations), ("change", tables.change)):
        if len(frame):
            summary = store.write_rows(out, name, frame)
            written[name] = len(frame)
            del summary
    return written


@task(name="restoration-trajectories", retries=2, retry_delay_seconds=[1, 5],
      cache_policy=NO_CACHE)
def update_trajectories(out: Path, sites: list[Site]) -> list[str]:
    """Recovery ratio of each site with a ``reference_site`` against that site's rows."""
    logger, updated = get_run_logger(), []
    for site in sites:
        ref_id = site.properties.get("reference_site")
        if not ref_id:
            continue
        rows = store.read_table(out, "change", site.id)
        reference = store.read_table(out, "change", str(ref_id))
        if rows.empty or reference.empty:
            logger.warning("%s: reference site %s has no rows yet; no trajectory", site.id, ref_id)
            continue
        store.write_rows(out, "change", recovery_trajectory(rows, reference))
        updated.append(site.id)
    return updated


def _distributed(address: str | None):
    if not address:
        return contextlib.nullcontext()
    from distributed import Client

    return Client(address, set_as_default=True)


@flow(name="monitor-sites", log_prints=False)
def monitor_sites(
    sites: str | None = None,
    source: str = "demo",
    catalog: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    out: str = "results",
    dask_address: str | None = None,
    seed: int = 0,
    mmu_ha: float = 0.1,
    max_area_ha: float = RunConfig.max_area_ha,
    chunks: int = 1024,
    max_cloud: float | None = None,
    full: bool = False,
):
    """Nightly monitoring of every site in ``sites`` (a GeoJSON file or folder; None: the
    bundled sites): new scenes searched, indices and change computed, Parquet rows upserted.
    Parameters are those of ``bluecarbon run`` (see :class:`flows.config.RunConfig`); ``full``
    recomputes and rewrites every row instead of only the new scenes' rows."""
    config = load_config(None, sites=sites, source=source, catalog=catalog, start=start, end=end,
                         out=out, dask_address=dask_address, seed=seed, mmu_ha=mmu_ha,
                         max_area_ha=max_area_ha, chunks=chunks, max_cloud=max_cloud)
    logger = get_run_logger()
    started = time.monotonic()
    run_id = str(flow_run.id or "local")
    sites = load_sites(config.sites, max_area_ha=config.max_area_ha)
    source = make_source(config)
    end = _default_end(config, source)
    summary = RunSummary(run_id=run_id)
    progress.emit("run_started", n_sites=len(sites), run_id=run_id)
    with _distributed(config.dask_address):
        for site in sites:
            progress.emit("site_started", site_id=site.id)
            try:
                first, last = load_range(site, config.start, end)
                scenes = search_scenes(source, site, first, last)
                progress.emit("site_searched", site_id=site.id, n_scenes=len(scenes))
                plan = plan_site_task(config.out, site, scenes, config.start, full)
                if plan.up_to_date:
                    summary.sites[site.id] = {"scenes": len(scenes), "skipped": True}
                    progress.emit("site_skipped", site_id=site.id, n_scenes=len(scenes))
                    continue
                tables = compute_site(source, site, scenes, config, end, run_id, plan)
                written = write_results(config.out, tables)
            except Exception as exc:  # per-site isolation: record, carry on with the others
                message = f"{type(exc).__name__}: {exc}".splitlines()[0]
                logger.error("%s: failed: %s", site.id, message)
                summary.failed[site.id] = message
                progress.emit("site_failed", site_id=site.id, error=message)
                continue
            summary.sites[site.id] = {"scenes": tables.n_scenes, **written}
            progress.emit("site_done", site_id=site.id, n_scenes=tables.n_scenes, **written)
        trajectory_sites = [s for s in sites if s.id in summary.sites]
        try:
            update_trajectories(config.out, trajectory_sites)
        except Exception as exc:
            summary.failed["trajectories"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    summary.seconds = round(time.monotonic() - started, 2)
    logger.info("run %s: %d sites written, %d failed in %.1f s", run_id, len(summary.sites),
                len(summary.failed), summary.seconds)
    if summary.failed:
        names = ", ".join(f"{k} ({v})" for k, v in summary.failed.items())
        # a Failed state, not an exception: the run is marked failed with this summary, and
        # nobody reading the log wades through a traceback of what is already explained
        return Failed(message=f"{len(summary.failed)} of {len(sites)} sites failed: {names}",
                      data=summary.as_dict())
    return Completed(message=f"{len(summary.sites)} sites written", data=summary.as_dict())


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
