"""Stopping a run cleanly: a termination signal (SIGTERM, Ctrl-C) is never swallowed and never
recorded as a site's failure."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

__all__ = ["raise_termination_behind", "redeliver_swallowed_termination"]


def redeliver_swallowed_termination() -> None:
    """Make a SIGTERM that lands in a garbage-collector callback stop the run anyway.

    Prefect turns SIGTERM (a cancelled deployment run, a stopping worker) into an exception
    raised wherever the main thread is. Inside a weakref or ``__del__`` callback Python can
    only print it ("Exception ignored in ...", a traceback) and carry on: the run would go on
    as if never cancelled. This hook sends the signal again, so that it is raised at the next
    ordinary line (tests/test_prefect_e2e.py stops a serve mid-run); should that land in a
    callback again, the hook sends it again."""
    previous = sys.unraisablehook
    if getattr(previous, "_bluecarbon", False):
        return

    def hook(unraisable: Any) -> None:
        exc = unraisable.exc_value
        if type(exc).__name__ == "TerminationSignal" and isinstance(
                getattr(exc, "signal", None), int):
            # from another thread, a moment later: raised now, it would land in this hook
            threading.Timer(0.05, os.kill, (os.getpid(), exc.signal)).start()
            return
        previous(unraisable)

    hook._bluecarbon = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


def raise_termination_behind(exc: BaseException) -> None:
    """Raise the termination signal (SIGTERM, Ctrl-C) that ``exc`` was raised while handling,
    if any. A SIGTERM landing while Prefect creates a task run makes its task engine raise
    ``ValueError: Task run is not set`` from the signal's handling; recorded as the site's
    failure, it would turn a stopped run into a failed one (with a traceback), so the stop
    goes on instead."""
    prefect = sys.modules.get("prefect.exceptions")  # not imported here: a run without Prefect
    stops = (KeyboardInterrupt, SystemExit,
             *((prefect.TerminationSignal,) if prefect is not None else ()))
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, stops):
            raise cause
        cause = cause.__cause__ or cause.__context__
