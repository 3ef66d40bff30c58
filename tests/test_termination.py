"""A SIGTERM that lands in a garbage-collector callback still stops a flow run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import os, signal, time, weakref
from prefect.exceptions import TerminationSignal
from prefect.utilities.engine import _prefect_sigterm_handler
from flows.runtime.termination import redeliver_swallowed_termination
if len(__import__("sys").argv) > 1:
    redeliver_swallowed_termination()
signal.signal(signal.SIGTERM, _prefect_sigterm_handler)  # as in a Prefect flow-run process

class Thing: pass

def callback(_):  # the signal arrives while the collector runs this
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.01)

thing = Thing()
ref = weakref.ref(thing, callback)
try:
    del thing
    for _ in range(500):
        time.sleep(0.002)
    print("still running")
except TerminationSignal:
    print("stopped")
"""


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_a_swallowed_sigterm_is_delivered_again():
    plain = _run()  # Python's default: printed as "Exception ignored", and the run goes on
    assert plain.stdout.strip() == "still running" and "TerminationSignal" in plain.stderr
    fixed = _run("hook")
    assert fixed.stdout.strip() == "stopped", fixed.stderr
    assert "Traceback" not in fixed.stderr


def test_a_site_failing_while_a_termination_is_handled_stops_the_run():
    """A SIGTERM landing while Prefect creates a task run comes back from its task engine as
    ``ValueError: Task run is not set`` raised while handling the signal: the per-site
    isolation must let the stop go on, not record the site as failed."""
    import signal

    from prefect.exceptions import TerminationSignal

    from flows.runtime.termination import raise_termination_behind

    def engine():
        try:
            raise TerminationSignal(signal.SIGTERM)
        except TerminationSignal:
            raise ValueError("Task run is not set")  # noqa: B904 (as Prefect's engine does)

    try:
        engine()
    except ValueError as exc:
        with pytest.raises(TerminationSignal):
            raise_termination_behind(exc)
    try:
        raise ValueError("bad input") from KeyError("x")
    except ValueError as exc:
        raise_termination_behind(exc)  # a site's own failure: nothing raised
