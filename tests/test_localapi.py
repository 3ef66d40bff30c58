"""The temporary Prefect API that ``bluecarbon run`` boots before importing the pipeline:
it answers, stops with the run, dies with a killed run, and says why when it cannot start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from flows.runtime.localapi import TemporaryAPI, TemporaryAPIError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def home_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    return env


def _children(pid: int) -> set[int]:
    kids = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with open(task / "children") as fh:
            kids |= {int(p) for p in fh.read().split()}
    return kids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_api_answers_and_stops(home_env, monkeypatch):
    for key in [k for k in os.environ if k.startswith("PREFECT_")]:
        monkeypatch.delenv(key)
    for key, value in home_env.items():
        monkeypatch.setenv(key, value)
    with TemporaryAPI() as api:
        url = api.wait(timeout=120)
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/health", timeout=10) as resp:
            assert json.loads(resp.read()) is True
        with urllib.request.urlopen(f"{url}/admin/version", timeout=10) as resp:
            assert json.loads(resp.read()).startswith("3.")
        pid = api.process.pid
    assert api.process is None and not _alive(pid)


def test_a_server_that_cannot_start_is_one_line(tmp_path, monkeypatch):
    # a database in a folder that does not exist: the server exits during start
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL",
                       f"sqlite+aiosqlite:///{tmp_path}/missing/dir/prefect.db")
    api = TemporaryAPI().start()
    try:
        with pytest.raises(TemporaryAPIError) as err:
            api.wait(timeout=120)
    finally:
        api.stop()
    assert "\n" not in str(err.value) and "exited" in str(err.value)


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux only")
def test_a_killed_run_takes_its_server_along(tmp_path, home_env):
    """SIGKILL gives the run no chance to stop its server: the kernel does (PR_SET_PDEATHSIG),
    so nightly runs killed by a scheduler do not pile up orphaned servers."""
    # --prefect: a plain run starts no server (issue 22); a Prefect run starts its own
    run = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--prefect", "--out",
                            str(tmp_path / "out")], cwd=REPO, env=home_env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, servers = time.monotonic() + 60, set()
        while time.monotonic() < deadline and not servers:
            servers = {p for p in _children(run.pid)
                       if b"uvicorn" in Path(f"/proc/{p}/cmdline").read_bytes()}
            time.sleep(0.1)
        assert servers, "the run started no temporary API"
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(p) for p in servers):
            time.sleep(0.2)
        assert not any(_alive(p) for p in servers), "the server outlived the killed run"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
