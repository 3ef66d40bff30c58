"""``bluecarbon run`` and ``bluecarbon serve``: the run settings checked, then the run.

Both take the run settings (:func:`run_config`: ``--config``, the options, RunConfig) and
refuse bad input, or a source that cannot work or be reached, in one line before any work.
``run`` runs in this process: without Prefect when no Prefect API is configured
(:func:`flows.nightly.run_nightly`), else as the Prefect flow (:mod:`flows.monitor`).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from flows.cli.exits import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_UNREACHABLE,
    fail,
    warn,
)

__all__ = ["cmd_run", "cmd_serve", "run_config"]


def run_config(args: argparse.Namespace, warnings: list[str] | None = None
               ) -> tuple[Any, list]:
    """The run settings of ``run`` or ``serve`` and the sites, checked: ConfigError,
    SitesError or FactorsError (one line) on bad input, before any work; the sites'
    plausibility warnings are added to ``warnings``."""
    from aoi import load_sites
    from flows.config import check_environment, check_period, load_config
    from flows.site.carbon import site_factor_sets

    overrides: dict[str, Any] = {
        "sites": args.sites, "source": args.source, "catalog": args.catalog,
        "start": args.start, "end": args.end, "out": args.out,
        "dask_address": args.dask_address, "seed": args.seed, "mmu_ha": args.mmu_ha,
        "max_area_ha": args.max_area_ha, "chunks": args.chunks, "max_cloud": args.max_cloud,
        "factors": args.factors,
    }
    config = load_config(args.config, **overrides)
    check_environment()  # settings read deep inside the run: checked before any work
    sites = load_sites(config.sites, max_area_ha=config.max_area_ha, warnings=warnings)
    check_period(config, sites)
    site_factor_sets(sites, config.factors)  # bad carbon factors
    return config, sites


def cmd_run(args: argparse.Namespace) -> int:
    """``bluecarbon run``: 0 done, 1 some sites failed, 2 bad input, 3 some scenes could not be
    fetched, 4 the source cannot be reached, 130 stopped (the module doc of :mod:`flows.cli`)."""
    from aoi import SitesError
    from flows.config import ConfigError, check_scheduler
    from flows.site.carbon import FactorsError

    warnings: list[str] = []
    try:
        config, sites = run_config(args, warnings)
        check_scheduler(config.dask_address)
    except (ConfigError, SitesError, FactorsError) as exc:
        return fail(str(exc))
    problem = _check_source(config)  # before Prefect: an unreachable source fails in seconds
    if problem is not None:
        return problem
    warn(warnings)  # once, before the progress display

    from flows.runtime.prefect import configured_api_url
    from flows.runtime.termination import exit_on_interrupt

    configured = configured_api_url()
    if configured is None and not args.prefect:
        restore = exit_on_interrupt()
        try:
            return _run_plain(args, config, sites)
        finally:
            restore()

    from flows.runtime.localapi import TemporaryAPI
    from flows.runtime.prefect import quiet_prefect

    quiet_prefect(args.verbose)  # before Prefect is imported: it reads its settings once

    # --prefect and no server configured: boot Prefect's temporary API now, while the
    # pipeline is imported
    api = None if configured else TemporaryAPI().start()
    restore = exit_on_interrupt(cleanup=(lambda: api.stop(timeout=2.0)) if api else None)
    try:
        return _run(args, config, sites, api)
    finally:
        restore()
        if api is not None:
            from flows.runtime.prefect import flush_prefect

            flush_prefect()
            api.stop()


def _check_source(config: Any) -> int | None:
    """A source that cannot work (no catalog, no credentials: exit 2) or cannot be reached
    (exit 4) fails here, in one line, before any work (and before Prefect is started or
    imported)."""
    from flows.config import make_source
    from flows.sources import SourceError, SourceUnreachable

    try:
        preflight = getattr(make_source(config), "preflight", None)
        if preflight is not None:
            preflight()
    except SourceUnreachable as exc:
        return fail(str(exc), EXIT_UNREACHABLE)
    except SourceError as exc:
        return fail(str(exc))
    return None


def _run_plain(args: argparse.Namespace, config: Any, sites: list) -> int:
    """``bluecarbon run`` with no Prefect API configured: the run in this process, without
    Prefect (:func:`flows.nightly.run_nightly`: no server, no Prefect import)."""
    from flows.nightly import SitesFailed, run_nightly
    from flows.runtime.display import RunDisplay, show_logs

    display = RunDisplay(sites, config, starting="starting")
    show_logs(args.verbose)
    started = time.monotonic()
    with display:
        try:
            record = run_nightly(config, full=args.full)
        except SitesFailed as exc:
            display.finish(failed=exc.unreachable or str(exc))
            return EXIT_UNREACHABLE if exc.unreachable else EXIT_FAILED
    display.finish(seconds=time.monotonic() - started)
    return EXIT_PARTIAL if record.get("status") == "partial" else EXIT_OK


def _run(args: argparse.Namespace, config: Any, sites: list, api: Any) -> int:
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    from flows.monitor import SitesFailed, run_monitoring
    from flows.runtime.display import RunDisplay
    from flows.runtime.localapi import TemporaryAPIError
    from flows.runtime.prefect import quiet_task_failures

    if api is not None and get_current_settings().api.url:
        api.stop()  # a Prefect profile names a server: the run goes there
        api = None
    display = RunDisplay(sites, config)
    started = time.monotonic()
    with display:
        try:
            url = api.wait() if api is not None else None
            quiet_task_failures(args.verbose)
            with temporary_settings(updates={PREFECT_API_URL: url} if url else None):
                record = run_monitoring(config, full=args.full)
        except TemporaryAPIError as exc:
            display.finish(failed=str(exc))
            return EXIT_FAILED
        except SitesFailed as exc:
            display.finish(failed=exc.unreachable or str(exc))
            return EXIT_UNREACHABLE if exc.unreachable else EXIT_FAILED
    display.finish(seconds=time.monotonic() - started)
    return EXIT_PARTIAL if record.get("status") == "partial" else EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """``bluecarbon serve``: exit 0 after a clean shutdown (SIGTERM, SIGINT), 1 when the local
    Prefect server failed to start or died, 2 on bad input (settings, sites, period, a source
    that cannot work), before anything starts."""
    from aoi import SitesError
    from flows.config import ConfigError, deployment_parameters, make_source
    from flows.runtime.serve import ServeError, ServerFailed, serve
    from flows.site.carbon import FactorsError
    from flows.sources import SourceError

    warnings: list[str] = []
    try:
        config, _ = run_config(args, warnings)
        make_source(config)  # Prefect-free: Prefect reads its settings once, at import
    except (ConfigError, SitesError, SourceError, FactorsError) as exc:
        return fail(str(exc))
    warn(warnings)
    try:
        serve(deployment_parameters(config), deliver=bool(args.deliver))
    except ServerFailed as exc:
        return fail(str(exc), EXIT_FAILED)
    except ServeError as exc:
        return fail(str(exc))
    return EXIT_OK

