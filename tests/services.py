"""Long-running children of the tests (Prefect servers and workers, dask schedulers and
workers): each in its own process group, logging to a file, stopped with its whole group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]


class Service:
    """A long-running child in its own process group, logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path = REPO):
        self.log = log
        with open(log, "wb") as fh:
            self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                         stdout=fh, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.pid = self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, n: int = 4000) -> str:
        return self.text()[-n:]

    def descendants(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            return psutil.Process(self.pid).children(recursive=True)
        return []

    def processes(self) -> list[psutil.Process]:
        """This child and everything it started."""
        with contextlib.suppress(psutil.NoSuchProcess):
            return [psutil.Process(self.pid), *self.descendants()]
        return []

    def stop(self, grace: float = 20.0) -> int:
        """SIGTERM to the group, SIGKILL after ``grace`` seconds; returns the exit code."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # stragglers of the group
            os.killpg(self.pid, signal.SIGKILL)
        return self.proc.returncode
