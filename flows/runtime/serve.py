"""``bluecarbon serve``: both schedules in one long-running process, for a small deployment.

    bluecarbon serve [--config F] [--sites F] [--source stac --catalog URL_OR_PATH] [--out DIR]
                     [the other options of bluecarbon run] [--deliver]

Serves two deployments the way Prefect 3's ``serve(flow.to_deployment(...), ...)`` does (no
work pool, no worker; the same Runner, with a working graceful stop): the nightly
monitoring (``0 2 * * *`` UTC) and the monthly partner summary (``0 6 1 * *`` UTC, the month
before), the same schedules as ``prefect.yaml``. The nightly deployment's parameters are the run
settings (every :class:`flows.config.RunConfig` field, from the options and ``--config``), the
monthly one's the sites, results folder and ``deliver``. Runs execute one at a time in
subprocesses of this process, so the monthly summary on the 1st waits for that night's
monitoring.

Cron schedules are turned into runs by the Prefect *server's* scheduler, which the ephemeral
API does not run. So with ``PREFECT_API_URL`` set, the deployments go to that server; without
it, this command starts a local server itself (``prefect server start`` on
127.0.0.1:``PREFECT_SERVER_API_PORT``, default 4200, its SQLite and log under
``PREFECT_HOME``, the UI at http://127.0.0.1:4200) and stops it on the way out.

SIGTERM or SIGINT (Ctrl-C) shut down cleanly: a run in progress is cancelled, the schedules
are paused (``serve`` re-activates them on the next start), the local server is stopped and
the exit code is 0. If the local server dies, serving stops the same way and the exit code is
1 (so a service manager restarts it). Bad input gets one line on stderr and exit code 2 before
anything starts (the command's handler is in :mod:`flows.cli`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flows.runtime.localapi import healthy, port_free

__all__ = [
    "MONTHLY_CRON",
    "MONTHLY_DEPLOYMENT",
    "NIGHTLY_CRON",
    "NIGHTLY_DEPLOYMENT",
    "TIMEZONE",
    "LocalServer",
    "ServeError",
    "ServerFailed",
    "build_deployments",
    "serve",
]

NIGHTLY_DEPLOYMENT = "nightly-monitoring"
NIGHTLY_CRON = "0 2 * * *"
MONTHLY_DEPLOYMENT = "monthly-summary"
MONTHLY_CRON = "0 6 1 * *"
TIMEZONE = "UTC"
"""The schedules; ``prefect.yaml`` holds the same (``tests/test_prefect_e2e.py`` checks)."""

_SERVER_START_TIMEOUT_S = 180.0  # fresh SQLite migrations take ~20 s on 2 busy cores
_SERVER_STOP_TIMEOUT_S = 15.0


class ServeError(RuntimeError):
    """Serving cannot start (bad setting, busy port); the message is one line."""


class ServerFailed(ServeError):
    """The local Prefect server did not start, or died while serving; one line."""


class _Shutdown(BaseException):
    """Raised from the SIGTERM handler before Prefect's runner installs its own."""


# --------------------------------------------------------------------------- local server


def _prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()


class LocalServer:
    """A ``prefect server start`` child on 127.0.0.1, in its own process group.

    ``start()`` returns once ``/api/health`` answers; ``stop()`` sends SIGTERM to the group,
    then SIGKILL after a grace period. Use it as a context manager.
    """

    def __init__(self, port: int, host: str = "127.0.0.1", home: Path | None = None) -> None:
        self.host, self.port = host, port
        self.home = home or _prefect_home()
        self.api_url = f"http://{host}:{port}/api"
        self.log_path = self.home / "bluecarbon-serve-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """Environment of the server (and of clients that should use it)."""
        env = dict(os.environ)
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_API_URL=self.api_url,
            PREFECT_UI_API_URL=self.api_url,  # the browser UI calls this, not the default port
            PREFECT_SERVER_API_HOST=self.host,
            PREFECT_SERVER_API_PORT=str(self.port),
        )
        env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        return env

    def check_port(self) -> None:
        """ServeError (one line) if something listens on the port already."""
        if not port_free(self.host, self.port):
            raise ServeError(
                f"port {self.port} on {self.host} is in use: to use a Prefect server already "
                f"running there, set PREFECT_API_URL={self.api_url}; otherwise pick another "
                "port with PREFECT_SERVER_API_PORT"
            )

    def start(self, timeout: float = _SERVER_START_TIMEOUT_S) -> None:
        self.check_port()
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start",
                 "--host", self.host, "--port", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.env(), start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise ServerFailed(f"the Prefect server exited during start; see {self.log_path}")
            if healthy(self.api_url):
                return
            time.sleep(0.5)
        self.stop()
        raise ServerFailed(f"the Prefect server was not healthy after {timeout:.0f} s; "
                           f"see {self.log_path}")

    def exited(self) -> bool:
        """The server was started and has exited since."""
        return self.process is not None and self.process.poll() is not None

    def watch(self, on_death: Callable[[], None], every: float = 2.0) -> None:
        """Call ``on_death`` (once, from a daemon thread) if the server process exits while
        this object still owns it, i.e. not through :meth:`stop`."""
        process = self.process

        def loop() -> None:
            while self.process is process and process is not None:
                if process.poll() is not None:
                    if self.process is process:
                        on_death()
                    return
                time.sleep(every)

        threading.Thread(target=loop, name="bluecarbon-server-watch", daemon=True).start()

    def stop(self, timeout: float = _SERVER_STOP_TIMEOUT_S) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- deployments


def build_deployments(parameters: dict[str, Any], deliver: bool = False) -> list[Any]:
    """The two runner deployments: the nightly one with ``parameters`` (the run settings as
    JSON, :func:`flows.config.deployment_parameters`), the monthly one with their ``sites``
    and ``out`` and ``deliver``."""
    from prefect.schedules import Cron

    from flows.monitor import monitor_sites
    from flows.monthly import monthly_summary

    nightly = monitor_sites.to_deployment(
        name=NIGHTLY_DEPLOYMENT,
        description="Search new Sentinel-2 L2A scenes for every site, update the observations "
                    "and change tables.",
        schedules=[Cron(NIGHTLY_CRON, timezone=TIMEZONE)],
        parameters=dict(parameters),
        tags=["bluecarbon", "serve"],
    )
    monthly = monthly_summary.to_deployment(
        name=MONTHLY_DEPLOYMENT,
        description="Partner summaries of the previous month.",
        schedules=[Cron(MONTHLY_CRON, timezone=TIMEZONE)],
        parameters={"sites": parameters.get("sites"), "out": parameters["out"],
                    "deliver": deliver},
        tags=["bluecarbon", "serve"],
    )
    return [nightly, monthly]


@contextlib.contextmanager
def _sigterm_as_shutdown() -> Iterator[None]:
    """Until the runner installs its graceful handler, a SIGTERM unwinds this process like
    Ctrl-C, so the local server is still stopped; both handlers are restored on the way out."""

    def handler(signum: int, frame: object) -> None:
        raise _Shutdown()

    previous = signal.signal(signal.SIGTERM, handler), signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def _make_runner(limit: int) -> Any:
    """Prefect's Runner (what ``prefect.serve`` builds), with a working graceful stop.

    Prefect 3.8.8's own SIGTERM handler calls the sync ``stop()`` from inside the event loop,
    which only creates a coroutine that is never awaited, then ``sys.exit(0)``: a traceback in
    the log, and the run in progress is left 'Running' in the database forever. Here SIGTERM
    and the first SIGINT schedule ``astop()`` in the loop instead: in-flight runs are cancelled
    (state 'Cancelled', "Runner is shutting down."), the poll loop ends, the schedules are
    paused, and ``start()`` returns. A second SIGINT interrupts at once.
    """
    import asyncio

    from prefect.runner import Runner

    class _GracefulRunner(Runner):
        _stopping_task: asyncio.Task[None] | None = None

        def handle_sigterm(self, signum: int = signal.SIGTERM, *args: Any) -> None:
            if self._stopping_task is not None:
                return
            if not self.started:  # still setting up: unwind like Ctrl-C
                raise _Shutdown()
            name = signal.Signals(signum).name
            self._logger.info("%s received, stopping: runs in progress are cancelled", name)
            signal.signal(signal.SIGINT, signal.default_int_handler)  # 2nd Ctrl-C: now
            loop = asyncio.get_running_loop()
            loop.call_soon_threadsafe(self._begin_stop, loop)

        def _begin_stop(self, loop: asyncio.AbstractEventLoop) -> None:
            if self._stopping_task is None and self.started:
                self._stopping_task = loop.create_task(self.astop())

        async def start(self, run_once: bool = False, webserver: bool | None = None) -> None:
            signal.signal(signal.SIGINT, self.handle_sigterm)
            await super().start(run_once=run_once, webserver=webserver)  # sets SIGTERM

    return _GracefulRunner(pause_on_shutdown=True, limit=limit)


def _serve(parameters: dict[str, Any], deliver: bool, runners: list[Any]) -> None:
    """``prefect.serve(*deployments, limit=1)``, with a graceful SIGTERM/SIGINT; the runner is
    appended to ``runners`` before it starts."""
    import asyncio

    deployments = build_deployments(parameters, deliver=deliver)
    # limit=1: one run at a time on a small machine; the 1st's summary waits for that night
    runner = _make_runner(limit=1)
    runners.append(runner)
    for deployment in deployments:
        runner.add_deployment(deployment)
    from prefect.settings import PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    print(f"bluecarbon serve: {NIGHTLY_DEPLOYMENT} ({NIGHTLY_CRON} {TIMEZONE}) and "
          f"{MONTHLY_DEPLOYMENT} ({MONTHLY_CRON} {TIMEZONE}) served; "
          f"sites={parameters.get('sites') or 'bundled'}, source={parameters['source']}"
          + (f" {parameters['catalog']}" if parameters.get("catalog") else "")
          + f", out={parameters['out']}" + (f"; UI {ui}/deployments" if ui else ""), flush=True)
    print("bluecarbon serve: run one now with: prefect deployment run "
          f"'monitor-sites/{NIGHTLY_DEPLOYMENT}'; stop with Ctrl-C or SIGTERM", flush=True)
    asyncio.run(runner.start())


def serve(parameters: dict[str, Any], deliver: bool = False) -> None:
    """Serve both deployments until SIGTERM or SIGINT (then return: a clean shutdown).

    ``parameters``: the nightly run's settings as JSON, paths absolute (a run starts in the
    worker's directory): :func:`flows.config.deployment_parameters`. Raises
    :class:`ServerFailed` when the local Prefect server failed to start or died,
    :class:`ServeError` for a busy or malformed port."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    server: LocalServer | None = None
    died: list[str] = []
    runners: list[Any] = []

    def death() -> str:
        return f"the local Prefect server exited unexpectedly; see {server.log_path}"

    def server_died() -> None:  # from the watch thread: stop serving like a SIGTERM would,
        died.append(death())
        for runner in runners:  # minus pausing the schedules: there is no API left to ask
            runner.pause_on_shutdown = False
        os.kill(os.getpid(), signal.SIGTERM)

    try:
        with _sigterm_as_shutdown():
            if not os.environ.get("PREFECT_API_URL"):
                port = os.environ.get("PREFECT_SERVER_API_PORT", "4200")
                if not port.isdigit() or not 0 < int(port) < 65536:
                    raise ServeError(f"PREFECT_SERVER_API_PORT must be a port number, got {port!r}")
                server = LocalServer(int(port))
                server.check_port()
                print(f"bluecarbon serve: starting a local Prefect server on "
                      f"http://{server.host}:{server.port} (log: {server.log_path})", flush=True)
                server.start()
                # before prefect is imported: its settings, the runner and every flow-run
                # subprocess read the API URL from the environment
                os.environ.update({k: v for k, v in server.env().items()
                                   if k.startswith("PREFECT_")})
                server.watch(server_died)
            _serve_with_settings(parameters, deliver, runners)
    except (_Shutdown, KeyboardInterrupt):
        pass
    except ServeError:
        raise
    except Exception:
        if not died and server is not None and server.exited():
            died.append(death())  # the runner failed on it before the watch thread looked
        if not died:  # without its server, the runner's shutdown calls fail: expected then
            raise
    finally:
        if server is not None:
            server.stop()
    if died:
        raise ServerFailed(died[0])
    print("bluecarbon serve: stopped", flush=True)


def _serve_with_settings(parameters: dict[str, Any], deliver: bool,
                         runners: list[Any]) -> None:
    """Serve with Prefect's settings following the environment, even if prefect was imported
    before the API URL was set (its settings are read at import)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = os.environ.get("PREFECT_API_URL")
    with temporary_settings(updates={PREFECT_API_URL: url} if url else None):
        _serve(parameters, deliver, runners)
