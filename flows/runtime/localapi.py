"""Prefect's temporary API for ``bluecarbon run``, started before Prefect is imported.

With no ``PREFECT_API_URL``, the first flow run makes Prefect import its whole server app into
our process (~7 s of CPU on the 2-core machine) and then boot the same app in a uvicorn
subprocess (another ~7 s) before the flow can begin. ``bluecarbon run`` instead starts that
subprocess first thing, with the command and settings of Prefect's own ephemeral mode (UI off,
``PREFECT__SERVER_EPHEMERAL``), lets it boot while this process imports the pipeline, and
points Prefect at it: the server app is never imported here and the boot overlaps our imports.
The server is stopped when the run ends, and dies with this process if it is killed (Linux:
``PR_SET_PDEATHSIG``), so no orphaned server outlives a crashed run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from importlib.util import find_spec
from pathlib import Path

__all__ = ["TemporaryAPI", "TemporaryAPIError", "healthy", "port_free"]

_EXIT_ADDRESS_IN_USE = 3
"""uvicorn's exit status when the port was taken meanwhile, but also when the app failed to
start (a database it cannot open): told apart by whether the port is in use now."""


class TemporaryAPIError(RuntimeError):
    """The temporary Prefect API did not come up (one line, with the server's last words)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(host: str, port: int) -> bool:
    """Whether a server could bind ``port`` on ``host`` now, as uvicorn binds: a port in
    TIME_WAIT after a previous server is free, a listener is not."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether the Prefect API at ``api_url`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as resp:  # noqa: S310
            return resp.status == 200 and resp.read().strip() == b"true"
    except (OSError, urllib.error.URLError, ValueError):
        return False


class TemporaryAPI:
    """A Prefect API on 127.0.0.1 in a child process: ``start()`` returns at once, ``wait()``
    blocks until it answers and returns its URL, ``stop()`` ends it (also a context manager)."""

    def __init__(self) -> None:
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # the server's stderr, quoted if it fails

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> TemporaryAPI:
        spec = find_spec("prefect")  # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise TemporaryAPIError("prefect is not installed")
        app_dir = Path(next(iter(spec.submodule_search_locations))).parent
        self.port = _free_port()
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
               "PREFECT__SERVER_FINAL": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir), "--factory",
             "prefect.server.api.server:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log, env=env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
            # out of the terminal's process group: Ctrl-C there reaches the run, which stops
            # this server itself, and never kills it under a run still talking to it
            start_new_session=True,
        )
        return self

    def wait(self, timeout: float = 120.0) -> str:
        """The API URL once ``/api/health`` answers; TemporaryAPIError if the server exits or
        is not up within ``timeout`` seconds (a fresh Prefect database takes ~20 s here)."""
        deadline, restarts = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            if self.process is None:
                raise TemporaryAPIError("the temporary Prefect API was not started")
            code = self.process.poll()
            if code == _EXIT_ADDRESS_IN_USE and restarts < 3 and not port_free("127.0.0.1", self.port):
                restarts += 1  # another program took the port between our probe and uvicorn
                self.start()
                continue
            if code is not None:
                self.process = None
                raise TemporaryAPIError(f"the temporary Prefect API exited ({code}): "
                                        f"{self._last_words()}")
            if healthy(self.api_url, timeout=1.0):
                return self.api_url
            time.sleep(0.1)
        words = self._last_words()
        self.stop()
        raise TemporaryAPIError(f"the temporary Prefect API did not answer within "
                                f"{timeout:.0f} s: {words}")

    def _last_words(self) -> str:
        if self._log.closed:
            return "no output"
        self._log.seek(0)
        lines = [ln.strip() for ln in self._log.read().decode("utf-8", "replace").splitlines()]
        lines = [ln for ln in lines if ln]
        return lines[-1][:300] if lines else "no output"

    def stop(self, timeout: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._log.close()

    def __enter__(self) -> TemporaryAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
