"""Test-wide settings: no network beyond loopback, quiet Prefect, a CI profile for Hypothesis."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from pathlib import Path

import pytest
from hostile import prefect_api, tiny_catalog  # noqa: F401 - fixtures of the hardening tests
from hypothesis import settings
from seeding import ENV, run_seed

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REALDATA = SHARED / "realdata"

_TERMINAL = "BLUECARBON_TEST_TERMINAL"


def _share_terminal() -> None:
    """pytest-xdist starts its workers with ``COLUMNS=80 LINES=24``, which the run itself may not
    have; the CLI tests check what a pipe shows, so a worker takes the run's values back."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        os.environ[_TERMINAL] = json.dumps({k: os.environ.get(k) for k in ("COLUMNS", "LINES")})
        return
    for key, value in json.loads(os.environ.get(_TERMINAL, "{}")).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


_share_terminal()
RUN_SEED = run_seed()  # drawn here, before pytest-xdist starts its workers: they inherit it


LONGEST_FIRST = ("test_walk_stream.py", "test_cli.py", "test_prefect_e2e.py", "test_memory.py",
                 "test_independent_scenes.py", "test_crash_safety.py", "test_accuracy.py",
                 "test_sentinelhub.py", "test_alerts.py", "test_distributed.py", "test_faults.py",
                 "test_load.py", "test_peer_benchmark.py", "test_notebooks.py", "test_secrets.py")
"""The test files that take longest, longest first (``--durations=0`` on two workers, 2026-12-07:
264 s to 35 s of the 1972 s the workers spent)."""


def pytest_collection_modifyitems(config, items) -> None:
    """Run :data:`LONGEST_FIRST` first, every other file after them in its usual order.

    ``make test`` hands whole files to two pytest-xdist workers (``--dist loadfile``, in this
    order: ``--no-loadscope-reorder``); a long file handed out last would run alone at the end.
    The order of the tests inside a file is kept (the sort is stable)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_report_header(config) -> str:
    return f"random draws of this run: {ENV}={RUN_SEED} (set it to replay them)"


settings.register_profile("ci", deadline=None, print_blob=True)
settings.load_profile("ci")

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


class NetworkAccessError(AssertionError):
    """A test tried to reach a host that is not this machine."""


def _is_local(address) -> bool:
    if isinstance(address, str):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: would need DNS, i.e. the network


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
        raise NetworkAccessError(f"test tried to connect to {address!r}: tests never touch the network")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
        raise NetworkAccessError(f"test tried to connect to {address!r}: tests never touch the network")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost", "") and not _is_local((str(host), 0)):
        raise NetworkAccessError(f"test tried to resolve {host!r}: tests never touch the network")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def no_network():
    """Fail any test (in this process) that tries to reach a non-loopback address."""
    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", _guarded_connect)
    mp.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    mp.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def realdata() -> Path:
    """``../shared/realdata``; tests using it skip where it is absent (a user's clone)."""
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not present (only CI and developers have it)")
    return REALDATA


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session's page checks (tests/browser.py); skipped where
    Chromium is not installed."""
    from browser import Browser

    from flows.reports.pdf import chromium_binary

    binary = chromium_binary()
    if binary is None:
        pytest.skip("chromium binary not installed (apt-get install chromium)")
    session = Browser(binary)
    yield session
    session.close()
