"""Prefect in this process: quiet settings for a local run, calm task-failure logs, and the
queued logs and events sent before the temporary API stops (see docs/prefect.md)."""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["flush_prefect", "quiet_prefect", "quiet_task_failures"]


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
