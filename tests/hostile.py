"""Helpers of the hardening tests (tests/test_harden_*.py, tests/test_fuzz_run.py): a tiny
static STAC catalog of real COGs, ``bluecarbon`` run in this process, as a plain run (no
Prefect: what ``bluecarbon run`` does with no Prefect API configured) or against one shared
temporary Prefect API (what it does with one, and what ``serve`` runs), and hostile servers on
127.0.0.1 (one that drips its answer a byte at a time, one that accepts and never answers).

In-process runs (``flows.cli.main``) cost a few seconds each, against ~10 s more for a
subprocess (interpreter, imports, a Prefect API of its own); subprocesses are kept for what
only a process can show (a signal, a hang).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from strategies import coastal_sites

BASELINE = ("2025-01-01", "2025-01-15")
START, END = dt.date(2025, 1, 16), dt.date(2025, 2, 10)
"""A month and a half: 7 scenes of the demo's revisit, 4 of them after the baseline."""


# -- a tiny world ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tiny_catalog(tmp_path_factory) -> Path:
    """A folder holding ``sites.geojson`` (one 5-8 ha mangrove site) and ``stac/`` (its demo
    scenes as a static catalog of COGs, two-tile mosaics on alternate days). Copy it
    (:func:`copy_world`) before changing anything in it."""
    from stac_fixtures import build_demo_catalog

    from aoi import load_sites
    from flows.sources.demo import DemoSource

    root = tmp_path_factory.mktemp("tiny-world")
    doc = coastal_sites(1, seed=3, prefix="tiny", baseline=BASELINE, min_ha=5, max_ha=8)
    (root / "sites.geojson").write_text(json.dumps(doc))
    build_demo_catalog(root / "stac", load_sites(root / "sites.geojson"),
                       dt.date(2025, 1, 1), END, DemoSource(0))
    return root


def copy_world(world: Path, into: Path) -> Path:
    """A private copy of :func:`tiny_catalog`'s folder under ``into``."""
    target = into / "world"
    shutil.copytree(world, target)
    return target


def items(world: Path) -> list[Path]:
    """The item files of a world's catalog, in id order."""
    return sorted((world / "stac" / "sentinel-2-l2a").glob("*/*.json"))


def asset_file(item: Path, band: str) -> Path:
    """The COG of ``band`` (B02 ... B12, SCL) of an item file."""
    return item.parent / f"{band}.tif"


# -- bluecarbon in this process ---------------------------------------------------------------
@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory) -> Iterator[str]:
    """One temporary Prefect API for the in-process runs of the session (its home a copy of
    the migrated template: no 20 s database creation)."""
    from test_crash_safety import prefect_template

    from flows.runtime.localapi import TemporaryAPI

    home = tmp_path_factory.mktemp("prefect-api-home")
    _API_HOME.append(home)
    shutil.rmtree(home)
    shutil.copytree(prefect_template(tmp_path_factory), home)
    saved = os.environ.get("PREFECT_HOME")
    os.environ["PREFECT_HOME"] = str(home)  # for the server only: other tests keep theirs
    try:
        api = TemporaryAPI().start()
    finally:
        if saved is None:
            os.environ.pop("PREFECT_HOME", None)
        else:
            os.environ["PREFECT_HOME"] = saved
    try:
        yield api.wait()
    finally:
        api.stop()


_API_HOME: list[Path] = []


def prefect_api_home() -> Path:
    """The Prefect home (its SQLite database) of :func:`prefect_api`'s server."""
    return _API_HOME[-1]


PLAIN = None
"""``run_cli``'s ``api_url`` for a plain run: no Prefect API configured, so no Prefect."""
RUN_MODES = ("plain", "prefect")
"""Ids of the two ways a run goes (:func:`api_for`), for tests that must hold in both."""


def api_for(mode: str, request) -> str | None:
    """The ``api_url`` of ``run_cli`` for a mode of :data:`RUN_MODES` (the shared Prefect API
    is started only when a test asks for it)."""
    return PLAIN if mode == "plain" else request.getfixturevalue("prefect_api")


@contextlib.contextmanager
def no_api() -> Iterator[None]:
    """Runs of ``flows.cli.main`` in this block are plain: no Prefect API is configured."""
    from flows.runtime.prefect import configured_api_url

    saved = os.environ.pop("PREFECT_API_URL", None)
    try:
        assert configured_api_url() is None, "a Prefect API is configured: no plain run"
        yield
    finally:
        if saved is not None:
            os.environ["PREFECT_API_URL"] = saved


@contextlib.contextmanager
def using_api(url: str | None) -> Iterator[None]:
    """Runs of ``flows.cli.main`` in this block go to the Prefect API at ``url`` (None:
    :func:`no_api`)."""
    if url is None:
        with no_api():
            yield
        return
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_LOGGING_TO_API_ENABLED,
        temporary_settings,
    )

    saved = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url  # the CLI then starts no API of its own
    try:
        # logs stay in this process: the API's log worker is a process-wide thread that
        # outlives each run and would report a busy shared API into the next test's output
        with temporary_settings(updates={PREFECT_API_URL: url,
                                         PREFECT_LOGGING_TO_API_ENABLED: False}):
            yield
    finally:
        if saved is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = saved


def run_cli(argv: list[str], api_url: str | None, capfd, timeout: float = 300.0
            ) -> tuple[int, str, float]:
    """``bluecarbon <argv>`` in this process (in a thread, so that a hang fails the test at
    ``timeout`` instead of holding it), on the Prefect API at ``api_url`` or, with
    :data:`PLAIN`, without Prefect: (exit code, everything written to fd 1 and 2, seconds).
    """
    from flows import cli

    result: list = []

    def target() -> None:
        try:
            _console_to_current_stderr()
            with using_api(api_url):
                result.append(cli.main(argv))
        except SystemExit as exc:  # argparse's own exit
            result.append(exc.code if isinstance(exc.code, int) else 2)
        except BaseException as exc:  # noqa: BLE001 - reported below, with its type
            result.append(exc)

    t0 = time.monotonic()
    saved = _logging_state()
    thread = threading.Thread(target=target, daemon=True, name="bluecarbon-cli")
    thread.start()
    thread.join(timeout)
    seconds = time.monotonic() - t0
    _restore_logging(saved)
    captured = capfd.readouterr()
    said = captured.out + captured.err
    assert not thread.is_alive(), f"bluecarbon {' '.join(argv)} still running after " \
                                  f"{timeout:.0f} s:\n{said[-3000:]}"
    (code,) = result
    if isinstance(code, BaseException):
        raise AssertionError(f"bluecarbon raised {type(code).__name__}: {code}\n{said[-3000:]}")
    return code, said, seconds


def _logging_state() -> dict:
    """Every logger's handlers, filters, level and propagation: a command configures logging
    for its process (Prefect at its first flow run); in a test session the later tests must
    find it as it was."""
    import logging

    loggers = {"": logging.getLogger(), **{k: v for k, v in logging.Logger.manager.loggerDict
                                           .items() if isinstance(v, logging.Logger)}}
    return {name: (list(lg.handlers), list(lg.filters), lg.level, lg.propagate, lg.disabled)
            for name, lg in loggers.items()}


def _restore_logging(saved: dict) -> None:
    import logging

    for name, lg in [("", logging.getLogger()),
                     *((k, v) for k, v in logging.Logger.manager.loggerDict.items()
                       if isinstance(v, logging.Logger))]:
        handlers, filters, level, propagate, disabled = saved.get(
            name, ([], [], logging.NOTSET, True, False))
        lg.handlers[:] = handlers
        lg.filters[:] = filters
        lg.setLevel(level)
        lg.propagate, lg.disabled = propagate, disabled


def _console_to_current_stderr() -> None:
    """Point Prefect's console log handlers at this test's stderr: configured once per
    process, they keep the stream of whichever test first ran Prefect, which pytest has
    closed since (a real command has one stderr for its whole life)."""
    import logging
    import sys

    loggers = [logging.getLogger(), *(v for v in logging.Logger.manager.loggerDict.values()
                                      if isinstance(v, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            if type(handler).__name__ == "PrefectConsoleHandler":
                handler.stream = sys.stderr
                handler.console.file = sys.stderr


def run_record(out: Path) -> dict:
    """The newest run record under ``out``."""
    records = sorted((out / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    assert records, f"no run record under {out}"
    return json.loads(records[-1].read_text())


def stac_run(world: Path, out: Path, *extra: str, catalog: str | None = None) -> list[str]:
    """The argv of a stac run over a world."""
    return ["run", "--sites", str(world / "sites.geojson"), "--source", "stac",
            "--catalog", catalog or str(world / "stac" / "catalog.json"),
            "--start", START.isoformat(), "--end", END.isoformat(), "--out", str(out), *extra]


def one_line_error(said: str) -> str:
    """The one ``bluecarbon: error:`` line of a refused command (asserting it is alone)."""
    lines = [ln for ln in said.strip().splitlines() if ln.strip()]
    assert "Traceback" not in said, said
    assert len(lines) == 1 and lines[0].startswith("bluecarbon: error: "), said
    return lines[0]


def tree(root: Path, skip: Path | None = None) -> dict[str, tuple]:
    """Every path under ``root`` (but ``skip``'s) with its type, size, mtime and, for files,
    bytes: what must not change outside the results folder."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if skip is not None and (here == skip or skip in here.parents):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            p = here / name
            if skip is not None and p == skip:
                continue
            st = os.lstat(p)
            data = b""
            if os.path.isfile(p) and not os.path.islink(p) and st.st_size < 2**20:
                data = p.read_bytes()
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, data,
                                             os.readlink(p) if os.path.islink(p) else None)
    return out


# -- hostile servers ------------------------------------------------------------------------
class Drip:
    """An HTTP server on 127.0.0.1 that answers every request with status 200 and then sends
    ``body`` one byte every ``interval`` seconds (a server under load, or a hostile one);
    ``silent``: accepts connections and never says anything."""

    def __init__(self, body: bytes = b'{"type": "Catalog"}', interval: float = 1.0,
                 silent: bool = False) -> None:
        self.body, self.interval, self.silent = body, interval, silent
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = 0
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.requests += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                conn.recv(65536)
            if self.silent:
                self._stop.wait()
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(self.body)).encode() + b"\r\n\r\n")
            for i in range(len(self.body)):
                if self._stop.wait(self.interval):
                    return
                conn.sendall(self.body[i:i + 1])

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
