"""Stopping a run cleanly: a termination signal (SIGTERM, Ctrl-C) is never swallowed and never
recorded as a site's failure, and Ctrl-C ends a command-line run within seconds, in one line.

A run killed at any point loses nothing (every write is atomic, and the observation rows that
mark scenes done are written last: tests/test_crash_safety.py), so stopping is ending the
process: :func:`exit_on_interrupt` makes SIGINT print one line, stop the temporary Prefect API
and exit with :data:`EXIT_INTERRUPTED` at once, rather than raising ``KeyboardInterrupt`` into
whichever thread and leaving the site threads to finish every remaining site.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["EXIT_INTERRUPTED", "STOP", "exit_on_interrupt", "raise_termination_behind",
           "redeliver_swallowed_termination"]

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT, as shells report it)."""
STOP = threading.Event()
"""Set when a run is being stopped: no further site is started."""


def exit_on_interrupt(cleanup: Callable[[], object] | None = None,
                      message: str = "bluecarbon: interrupted (Ctrl-C): stopped; the tables "
                                     "hold what was written, the next run goes on from there"
                      ) -> Callable[[], None]:
    """Install a SIGINT handler for this command-line run: one line on stderr, ``cleanup``
    (e.g. stopping the temporary API; its errors ignored), then ``os._exit(130)``. A second
    Ctrl-C during the cleanup exits at once. Returns a function that restores the previous
    handler. Only from the main thread (elsewhere it does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    stopping = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        if stopping.is_set():
            os._exit(EXIT_INTERRUPTED)
        stopping.set()
        STOP.set()
        # the one line: nothing the still-running threads warn of matters any more (a
        # numpy warning of a task cut short was seen once in 4 runs under load)
        warnings.simplefilter("ignore")
        try:
            sys.stderr.write("\n" + message + "\n")
            sys.stderr.flush()
            if cleanup is not None:
                cleanup()
        except BaseException:  # noqa: BLE001,S110 - exiting anyway
            pass
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except BaseException:  # noqa: BLE001,S110
                    pass
            os._exit(EXIT_INTERRUPTED)

    previous = signal.signal(signal.SIGINT, handler)

    def restore() -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous)

    return restore


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
