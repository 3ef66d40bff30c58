"""The nightly monitoring flow for Prefect: :func:`flows.nightly.run_sites` with its steps as
Prefect tasks (``bluecarbon serve``, ``prefect deploy`` of prefect.yaml, and ``bluecarbon run``
when a Prefect API is configured).

One task per I/O step, with the retries of :data:`flows.nightly.STEPS` (network and disk;
only of errors a retry can fix: :func:`retryable`); tasks pass site ids, scene references and
small frames, never cubes. A site that fails does not stop the others: the flow finishes every
site it can, writes their rows, and then fails naming the sites that did not; a source that
cannot be reached stops the run, said once. The run itself is written once, in
:mod:`flows.nightly`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from flows import nightly
from flows.config import RunConfig, hide_secret_url, load_config, make_source
from flows.nightly import SITE_WORKERS, STEPS, SitesFailed, Step, retryable_error
from flows.runtime.termination import redeliver_swallowed_termination

__all__ = ["SITE_WORKERS", "TASKS", "SitesFailed", "make_source", "monitor_sites", "retryable",
           "run_monitoring"]


def retryable(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: retry only what trying again can fix
    (:func:`flows.nightly.retryable_error` of the exception the failed state holds)."""
    return retryable_error(getattr(state, "data", None))


def _task(step: Step):
    retry = step.retry
    return task(step.fn, name=step.name, cache_policy=NO_CACHE,
                retries=retry.retries if retry else 0,
                retry_delay_seconds=list(retry.delays) if retry else 0,
                retry_condition_fn=retryable if retry else None)


search_scenes = _task(STEPS["search_scenes"])
plan_site_task = _task(STEPS["plan_site_task"])
compute_site = _task(STEPS["compute_site"])
write_results = _task(STEPS["write_results"])
update_carbon = _task(STEPS["update_carbon"])
update_trajectories = _task(STEPS["update_trajectories"])
TASKS = {t.fn.__name__: t for t in (search_scenes, plan_site_task, compute_site, write_results,
                                    update_carbon, update_trajectories)}
"""The flow's tasks by the name of their step (:data:`flows.nightly.STEPS`)."""


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
    record = nightly.run_sites(config, full=full, run_id=str(flow_run.id or "local"),
                               steps=TASKS, logger=get_run_logger())
    if record.failed_sites or record.errors:
        # a Failed state, not an exception: the run is marked failed with this summary, and
        # nobody reading the log wades through a traceback of what is already explained
        return Failed(message=record.headline, data=record.as_dict())
    return Completed(message=record.headline, data=record.as_dict())


def run_monitoring(config: RunConfig, *, full: bool = False) -> dict[str, Any]:
    """Run the flow in this process, on the Prefect API configured (a server, or Prefect's
    ephemeral one). Without Prefect: :func:`flows.nightly.run_nightly`.

    Returns the run summary; raises ``SitesFailed`` (after every other site was written) when
    some sites failed.
    """
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    if config.catalog:  # Prefect stores a flow's parameters: never a URL's password or token
        params["catalog"] = hide_secret_url(config.catalog)
    state = monitor_sites(**params, full=full, return_state=True)
    if state.is_failed():
        data = state.result(raise_on_failure=False)
        unreachable = data.get("unreachable") if isinstance(data, dict) else None
        raise SitesFailed(state.message or "the monitoring run failed", unreachable)
    return state.result()
