"""Prefect in this process: quiet settings for a local run, calm task-failure logs, the queued
logs and events sent before the temporary API stops (see docs/prefect.md), and the run's
logger with or without Prefect. Nothing here imports Prefect unless it is already in use."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

__all__ = ["RUN_LOGGER", "configured_api_url", "flush_prefect", "quiet_prefect", "quiet_task_failures", "run_logger"]

RUN_LOGGER = "bluecarbon.run"
"""The logger of a run without Prefect (``bluecarbon run`` with no Prefect API configured)."""


def quiet_prefect(verbose: bool) -> None:
    """Prefect settings for a local run: no telemetry, a patient ephemeral API, calm logs."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "WARNING")


class _OneLineTaskFailures(logging.Filter):
    """Without ``-v``, a task that failed is logged in one line, not with its traceback: the
    flow catches a site's failure, prints it and records it with its reason, and a traceback
    on stderr would read as a crash to whoever runs or schedules the command (``-v`` keeps
    it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


class _SaidByTheFlow(logging.Filter):
    """Without ``-v``, on the console only: Prefect's own two lines about a failed task
    ("failed with exception", "finished in state Failed") are left out, since the flow says
    each site's failure itself (Prefect's API still gets them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("prefect.task_runs")
                    and record.levelno >= logging.ERROR
                    and str(record.msg).startswith(("Task run failed with exception",
                                                    "Finished in state Failed")))


def quiet_task_failures(verbose: bool) -> None:
    if not verbose:
        logging.getLogger("prefect.task_runs").addFilter(_OneLineTaskFailures())
        for logger in (logging.getLogger("prefect"), logging.getLogger()):
            for handler in logger.handlers:
                if type(handler).__name__ == "PrefectConsoleHandler" and not any(
                        isinstance(f, _SaidByTheFlow) for f in handler.filters):
                    handler.addFilter(_SaidByTheFlow())


def flush_prefect(timeout: float = 10.0) -> None:
    """Send Prefect's queued logs and events while the temporary API still answers. Left to
    Prefect's exit hook, they would go to a stopped server, whose client retries each batch
    with backoff: a run that ended with warnings (failed scenes) then lingered for ~75 s
    before exiting, printing "Error logging to API"."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout)


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """Prefect's logger of the flow or task run this is called in (its lines go to Prefect's
    API with the run), else the :data:`RUN_LOGGER` logger: the steps of
    :mod:`flows.nightly` log the same lines with or without Prefect. Prefect is not imported
    by this: without it, no run context can exist."""
    if "prefect.context" in sys.modules:
        from prefect.context import FlowRunContext, TaskRunContext

        if TaskRunContext.get() is not None or FlowRunContext.get() is not None:
            from prefect import get_run_logger

            return get_run_logger()
    return logging.getLogger(RUN_LOGGER)


def configured_api_url(cwd: Path | None = None) -> str | None:
    """The Prefect API URL this process would use, read from where Prefect 3 reads it and
    without importing Prefect (a second): ``PREFECT_API_URL`` in the environment, else in
    ``.env``, else ``[api] url`` of ``prefect.toml``, else ``[tool.prefect.api] url`` of
    ``pyproject.toml`` (those three in the working directory), else the active profile's
    ``PREFECT_API_URL`` (``PREFECT_PROFILE`` or the file's ``active``) in the profiles file
    (``PREFECT_PROFILES_PATH``, ``$PREFECT_HOME/profiles.toml``, ``~/.prefect/profiles.toml``).
    None: no API configured (Prefect would start an ephemeral one). Unreadable files count as
    saying nothing, as Prefect (which warns) takes them. ``tests/test_cli.py`` checks this
    against Prefect's own settings."""
    here = Path.cwd() if cwd is None else Path(cwd)
    url = os.environ.get("PREFECT_API_URL") or _dotenv(here / ".env").get("PREFECT_API_URL")
    url = url or _toml_get(here / "prefect.toml", ("api", "url"))
    url = url or _toml_get(here / "pyproject.toml", ("tool", "prefect", "api", "url"))
    if url:
        return str(url)
    path = _profiles_path(here)
    profiles = _toml(path) if path is not None else {}
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active")
    profile = profiles.get("profiles", {}).get(active) if isinstance(active, str) else None
    url = profile.get("PREFECT_API_URL") if isinstance(profile, dict) else None
    return str(url) if url else None


def _profiles_path(here: Path) -> Path | None:
    path = (os.environ.get("PREFECT_PROFILES_PATH")
            or _dotenv(here / ".env").get("PREFECT_PROFILES_PATH")
            or _toml_get(here / "prefect.toml", ("profiles_path",))
            or _toml_get(here / "pyproject.toml", ("tool", "prefect", "profiles_path")))
    if path:
        return Path(str(path)).expanduser()
    home = os.environ.get("PREFECT_HOME")
    return Path(home).expanduser() / "profiles.toml" if home else \
        Path("~/.prefect/profiles.toml").expanduser()


def _toml(path: Path) -> dict:
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _toml_get(path: Path, keys: tuple[str, ...]) -> object:
    value: object = _toml(path) if path.is_file() else {}
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value or None


def _dotenv(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a ``.env`` file (``export``, quotes and comments as dotenv)."""
    out: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    except (OSError, UnicodeDecodeError):
        return out
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        value = value.strip()
        if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) > 1:
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].strip()
        out[key.strip()] = value
    return out
