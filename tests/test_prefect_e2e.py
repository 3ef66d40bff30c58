"""Scheduled runs for real: a Prefect server, ``prefect deploy --all`` of prefect.yaml, a process
worker, and ``bluecarbon serve``.

The slow tests start real processes (server on 127.0.0.1 at a free port, SQLite under a fresh
``PREFECT_HOME`` in tmp, telemetry off), each in its own process group, and stop them by PID
(SIGTERM to the group, SIGKILL after a grace period). They talk to the server over its REST API
with urllib, so this test process never imports a Prefect client or touches ~/.prefect.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import inspect
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
import yaml
from services import Service

from aoi import bundled_sites_path
from flows.runtime import serve as serve_module

REPO = Path(__file__).resolve().parents[1]
PREFECT_YAML = REPO / "prefect.yaml"
SITE_ID = "kenya-mida-creek"
RUN_END = "2024-03-31"  # a short demo window: baseline 2023 + one quarter reported
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


# --------------------------------------------------------------------------- helpers


def _yaml() -> dict[str, Any]:
    return yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prefect_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment minus any outer PREFECT_* setting, plus an isolated home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_CLI_PROMPT="false", PREFECT_WORKER_QUERY_SECONDS="2",
               PREFECT_RUNNER_POLL_FREQUENCY="2", PYTHONUNBUFFERED="1", **extra)
    return env


class Api:
    def __init__(self, url: str):
        self.url = url

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        """One API call; 429/503 (SQLite busy under load) retried as Prefect's client does."""
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(6):
            req = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
                    return json.loads(resp.read() or b"null")
            except urllib.error.HTTPError as exc:
                if exc.code not in (429, 503) or attempt == 5:
                    raise
                time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def healthy(self) -> bool:
        try:
            return self("GET", "/health") is True
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def deployments(self) -> dict[str, dict]:
        return {d["name"]: d for d in self("POST", "/deployments/filter", {})}

    def scheduled_runs(self, deployment_ids: list[str]) -> list[dict]:
        """Runs the server's scheduler created from the deployments' schedules (not the
        ones created by hand, which are 'Scheduled' for now too)."""
        runs = self("POST", "/deployments/get_scheduled_flow_runs",
                    {"deployment_ids": deployment_ids})
        return [r for r in runs if r["auto_scheduled"]]

    def run_deployment(self, deployment_id: str, parameters: dict) -> dict:
        return self("POST", f"/deployments/{deployment_id}/create_flow_run",
                    {"parameters": parameters})

    def flow_run(self, run_id: str) -> dict:
        return self("GET", f"/flow_runs/{run_id}")


class Phases:
    """Seconds since the test started, at each named step (printed: `pytest -s` shows them)."""

    def __init__(self) -> None:
        self.t0, self.marks = time.monotonic(), []

    def __call__(self, name: str) -> None:
        self.marks.append(f"{name} {time.monotonic() - self.t0:.1f}s")
        print(f"[e2e] {self.marks[-1]}", flush=True)


def wait_for(check: Callable[[], Any], timeout: float, what: str, *,
             alive: Service | None = None, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if alive is not None and alive.proc.poll() is not None:
            pytest.fail(f"{what}: the process exited with {alive.proc.returncode}:\n"
                        f"{alive.tail()}")
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_terminal(api: Api, run_id: str, timeout: float, logs: list[Service]) -> dict:
    def done():
        run = api.flow_run(run_id)
        return run if run["state"]["type"] in TERMINAL else None

    try:
        return wait_for(done, timeout, f"flow run {run_id}", every=1.0)
    except pytest.fail.Exception:
        print("\n\n".join(s.tail() for s in logs))
        raise


def _one_site_file(folder: Path) -> Path:
    """A sites file holding a single bundled site (the smallest run that is still real)."""
    for path in sorted(bundled_sites_path().glob("*.geojson")):
        fc = json.loads(path.read_text(encoding="utf-8"))
        feats = [f for f in fc["features"] if f["properties"]["id"] == SITE_ID]
        if feats:
            out = folder / f"{SITE_ID}.geojson"
            out.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
            return out
    raise LookupError(SITE_ID)


def _assert_cron_runs(runs: list[dict], deployments: dict[str, dict]) -> None:
    """The scheduler created runs at the crons' times (UTC): nightly 02:00, monthly 06:00 on
    the 1st. None at all means the scheduler loop fails (SQLAlchemy 2.1 with prefect 3.8.8)."""
    by_name = {d["id"]: name for name, d in deployments.items()}
    starts: dict[str, list[dt.datetime]] = {}
    for run in runs:
        when = dt.datetime.fromisoformat(run["expected_start_time"].replace("Z", "+00:00"))
        starts.setdefault(by_name[run["deployment_id"]], []).append(when.astimezone(dt.UTC))
    assert set(starts) == {"nightly-monitoring", "monthly-summary"}, starts
    assert all((t.hour, t.minute) == (2, 0) for t in starts["nightly-monitoring"])
    assert all((t.day, t.hour, t.minute) == (1, 6, 0) for t in starts["monthly-summary"])
    assert len(starts["nightly-monitoring"]) >= 2  # one a day ahead, not a single run


def _repo_snapshot() -> tuple[bytes, set[str]]:
    return PREFECT_YAML.read_bytes(), {p.name for p in REPO.iterdir()}


# --------------------------------------------------------------------------- fast checks


def test_prefect_yaml_matches_the_flows_and_serve():
    """Both deployments share the pool, pull step and crons of flows/runtime/serve.py, and every
    parameter they set is one their flow takes (a typo would only fail at 02:00)."""
    from flows.monitor import monitor_sites
    from flows.monthly import monthly_summary

    spec = _yaml()
    assert "definitions" in spec
    steps = spec["pull"]
    assert steps == [{"prefect.deployments.steps.set_working_directory":
                      {"directory": "{{ $PWD }}"}}]
    deps = {d["name"]: d for d in spec["deployments"]}
    assert set(deps) == {"nightly-monitoring", "monthly-summary"}
    flows = {"flows/monitor.py:monitor_sites": monitor_sites,
             "flows/monthly.py:monthly_summary": monthly_summary}
    crons = {"nightly-monitoring": serve_module.NIGHTLY_CRON,
             "monthly-summary": serve_module.MONTHLY_CRON}
    for name, dep in deps.items():
        fn = flows[dep["entrypoint"]]
        accepted = set(inspect.signature(fn.fn).parameters)
        assert set(dep["parameters"]) <= accepted, (name, set(dep["parameters"]) - accepted)
        assert dep["schedules"] == [{"cron": crons[name], "timezone": serve_module.TIMEZONE}]
        assert dep["work_pool"] == deps["nightly-monitoring"]["work_pool"]
    nightly = set(inspect.signature(monitor_sites.fn).parameters)
    assert nightly >= {"sites", "source", "catalog", "start", "end", "out", "dask_address",
                       "seed", "mmu_ha", "max_area_ha", "chunks"}


@pytest.mark.parametrize(("when", "month"), [
    (dt.date(2026, 12, 1), "2026-11"),
    (dt.date(2027, 1, 1), "2026-12"),
    (dt.date(2024, 3, 31), "2024-02"),
    (dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC), "2026-02"),
    # 00:30 on 1 April in UTC+2 is still 31 March in UTC: the month before is February
    (dt.datetime(2026, 4, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))), "2026-02"),
])
def test_previous_month(when, month):
    from flows.monthly import previous_month

    assert previous_month(when) == month


def _serve_cli(*args: str, env: dict[str, str], timeout: float = 60):
    return subprocess.run([sys.executable, "-m", "flows.cli", "serve", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(("args", "extra_env", "message"), [
    (["--sites", "no-such-sites.geojson"], {}, "no-such-sites.geojson"),
    (["--source", "nope"], {}, "unknown source"),
    ([], {"PREFECT_SERVER_API_PORT": "http"}, "PREFECT_SERVER_API_PORT"),
    # the run's settings, checked like run's, before Prefect is imported (no home made)
    (["--source", "stac"], {}, "needs --catalog"),
    (["--source", "stac", "--catalog", "no-such-catalog.json"], {}, "does not exist"),
    (["--config", "no-such-config.toml"], {}, "does not exist"),
    (["--end", "2023-06-30"], {}, "before the baseline of site"),
    (["--source", "sentinelhub"], {"SH_CLIENT_ID": ""}, "SH_CLIENT_ID"),
])
def test_serve_refuses_bad_input_in_one_line(tmp_path, args, extra_env, message):
    env = _prefect_env(tmp_path / "home", **extra_env)
    proc = _serve_cli(*args, "--out", str(tmp_path / "out"), env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bluecarbon: error:") and message in lines[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "home").exists()


def test_serve_deployments_carry_the_run_settings(tmp_path, monkeypatch):
    """`serve --config F --source stac --catalog PATH ...`: the nightly deployment's
    parameters are every run setting (the file's, the options winning), paths absolute, each
    one the flow takes and validates; the monthly one gets the same sites and results."""
    from flows.cli import _build_parser, _run_config
    from flows.config import RunConfig, deployment_parameters
    from flows.monitor import monitor_sites
    from flows.monthly import monthly_summary

    monkeypatch.chdir(tmp_path)
    catalog = tmp_path / "stac" / "catalog.json"
    catalog.parent.mkdir()
    catalog.write_text("{}")
    sites = _one_site_file(tmp_path)
    (tmp_path / "serve.toml").write_text('[run]\nsource = "demo"\nmmu_ha = 0.3\n'
                                         'max_cloud = 60\nout = "from-config"\n')
    args = _build_parser().parse_args(
        ["serve", "--config", "serve.toml", "--sites", sites.name, "--source", "stac",
         "--catalog", "stac/catalog.json", "--out", "results", "--start", "2024-01-01"])
    config, _ = _run_config(args)
    params = deployment_parameters(config)
    assert set(params) == {f.name for f in dataclasses.fields(RunConfig)}
    assert params["source"] == "stac" and params["catalog"] == str(catalog)
    assert params["sites"] == str(sites) and params["out"] == str(tmp_path / "results")
    assert params["mmu_ha"] == 0.3 and params["max_cloud"] == 60 and params["end"] is None
    assert params["start"] == "2024-01-01"
    json.dumps(params)  # what the API stores
    nightly, monthly = serve_module.build_deployments(params, deliver=True)
    assert nightly.parameters == params
    assert monthly.parameters == {"sites": params["sites"], "out": params["out"], "deliver": True}
    validated = monitor_sites.validate_parameters(nightly.parameters)
    assert validated["start"] == dt.date(2024, 1, 1) and validated["catalog"] == str(catalog)
    monthly_summary.validate_parameters(monthly.parameters)
    # a URL catalog is left as it is
    url = deployment_parameters(config.replace(catalog="https://stac.example/v1"))["catalog"]
    assert url == "https://stac.example/v1"
    # but for a password or token (Prefect stores deployment parameters): the flow runs serve
    # starts, subprocesses, read the real URL from the environment
    from flows import config as config_module

    monkeypatch.setenv(config_module.SECRET_URLS_ENV, "{}")
    secret = "https://user:pw-never-stored@stac.example/v1?token=tok-never-stored"
    hidden = deployment_parameters(config.replace(catalog=secret))["catalog"]
    assert "never-stored" not in hidden and hidden.startswith("https://***@stac.example/v1")
    monkeypatch.setattr(config_module, "_SECRET_URLS", {})  # as in a fresh subprocess
    assert config_module.reveal_secret_url(hidden) == secret
    assert config_module.reveal_secret_url("https://other.example/v1") == \
        "https://other.example/v1"


def test_serve_refuses_a_busy_port_without_starting_anything(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = _prefect_env(tmp_path / "home", PREFECT_SERVER_API_PORT=str(port))
        proc = _serve_cli("--out", str(tmp_path / "out"), env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and f"port {port}" in line and "PREFECT_API_URL" in line


# --------------------------------------------------------------------------- server + worker


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """Every process a test starts; stopped in reverse order, whatever happened."""
    started: list[Service] = []
    yield started
    for svc in reversed(started):
        svc.stop()


@pytest.mark.slow
def test_deploy_all_and_worker_run_nightly_and_monthly(tmp_path, services):
    """The team's way: server, pool, `prefect deploy --all`, worker; both deployments run."""
    spec = _yaml()
    pool = spec["definitions"]["work_pools"]["process"]["name"]
    port = _free_port()
    api = Api(f"http://127.0.0.1:{port}/api")
    env = _prefect_env(tmp_path / "home", PREFECT_API_URL=api.url,
                       PREFECT_SERVER_API_HOST="127.0.0.1", PREFECT_SERVER_API_PORT=str(port))
    prefect = [sys.executable, "-m", "prefect"]
    sites, out = _one_site_file(tmp_path), tmp_path / "results"
    mark = Phases()

    server = Service([*prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                     env, tmp_path / "server.log")
    services.append(server)
    wait_for(api.healthy, 150, "the Prefect server", alive=server)
    mark("server healthy")

    def cli(*args: str) -> None:
        proc = subprocess.run([*prefect, *args], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=180)
        assert proc.returncode == 0, f"prefect {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"

    cli("work-pool", "create", pool, "--type", "process", "--overwrite")
    mark("pool created")
    before = _repo_snapshot()
    cli("--no-prompt", "deploy", "--all")
    mark("deployed")
    assert _repo_snapshot() == before, "prefect deploy changed prefect.yaml or wrote into the repo"

    worker = Service([*prefect, "worker", "start", "--pool", pool], env, tmp_path / "worker.log")
    services.append(worker)
    deployments = api.deployments()
    assert set(deployments) == {"nightly-monitoring", "monthly-summary"}
    nightly, monthly = deployments["nightly-monitoring"], deployments["monthly-summary"]
    assert nightly["entrypoint"] == "flows/monitor.py:monitor_sites"
    assert nightly["work_pool_name"] == monthly["work_pool_name"] == pool
    assert str(REPO) in json.dumps(nightly["pull_steps"])  # {{ $PWD }} resolved at deploy
    run = api.run_deployment(nightly["id"], {"sites": str(sites), "out": str(out),
                                             "end": RUN_END})

    # while it runs: the scheduler turned both crons into runs
    ids = [d["id"] for d in deployments.values()]
    runs = wait_for(lambda: (r := api.scheduled_runs(ids)) and
                    len({x["deployment_id"] for x in r}) == 2 and r,
                    90, "scheduled runs of both deployments (the server's scheduler)")
    _assert_cron_runs(runs, deployments)
    mark("cron runs materialised")

    done = wait_terminal(api, run["id"], 150, [worker, server])
    mark("nightly run done")
    assert done["state"]["type"] == "COMPLETED", (done["state"], worker.tail())
    assert done["parameters"]["source"] == "demo"  # the deployment's defaults merged in
    change = pd.read_parquet(out / "change" / f"site_id={SITE_ID}" / "part-0.parquet")
    obs = pd.read_parquet(out / "observations" / f"site_id={SITE_ID}" / "part-0.parquet")
    assert len(change) and len(obs)
    assert set(change["run_id"]) == {run["id"]}  # written by that very run, via the worker
    assert max(pd.to_datetime(change["period"])) == pd.Timestamp("2024-03-01")

    summary = api.run_deployment(monthly["id"], {"sites": str(sites), "out": str(out),
                                                 "month": "2024-03"})
    done = wait_terminal(api, summary["id"], 150, [worker, server])
    mark("monthly run done")
    assert done["state"]["type"] == "COMPLETED", (done["state"], worker.tail())
    reports = list((out / "reports" / "2024-03").rglob("*.html"))
    assert reports, "the monthly summary wrote no report"
    assert SITE_ID in reports[0].read_text(encoding="utf-8")

    children = [p for svc in services for p in svc.descendants()]
    for svc in reversed(services):
        svc.stop()
    assert worker.proc.returncode is not None and server.proc.returncode is not None
    assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not Api(api.url).healthy()
    mark("all stopped")


# --------------------------------------------------------------------------- bluecarbon serve


def _state_in_db(home: Path, run_id: str) -> str:
    """A run's state read from the stopped server's SQLite (the API is gone by then)."""
    with contextlib.closing(sqlite3.connect(home / "prefect.db")) as db:
        row = db.execute("SELECT state_type FROM flow_run WHERE id = ?", (run_id,)).fetchone()
    return row[0] if row else "missing"


def _paused_in_db(home: Path) -> dict[str, bool]:
    with contextlib.closing(sqlite3.connect(home / "prefect.db")) as db:
        return {name: bool(paused) for name, paused in
                db.execute("SELECT name, paused FROM deployment")}


@pytest.mark.slow
def test_bluecarbon_serve_runs_both_schedules_and_stops_cleanly(tmp_path, services):
    """`bluecarbon serve --config F` of a real source (a static STAC catalog of COGs on
    disk, named relative to where serve starts) with no PREFECT_API_URL: it starts its own
    server, serves both deployments with the run settings as parameters, runs one from the
    catalog, and on SIGTERM cancels the run in progress, pauses the schedules, stops every
    child and exits 0. Started again on the same home, it re-activates the schedules; when
    its server dies, it stops and exits 1."""
    from stac_fixtures import build_demo_catalog

    from aoi import load_sites
    from flows.sources.demo import DemoSource

    port = _free_port()
    api = Api(f"http://127.0.0.1:{port}/api")
    home = tmp_path / "home"
    env = _prefect_env(home, PREFECT_SERVER_API_PORT=str(port))
    sites, out = _one_site_file(tmp_path), tmp_path / "results"
    mark = Phases()
    catalog = build_demo_catalog(tmp_path / "stac", load_sites(sites), dt.date(2023, 1, 1),
                                 dt.date.fromisoformat(RUN_END), DemoSource(0)).catalog
    (tmp_path / "serve.toml").write_text(
        '[run]\nsource = "stac"\ncatalog = "stac/catalog.json"\nmmu_ha = 0.2\n')
    mark("STAC catalog written")
    serve = Service([sys.executable, "-m", "flows.cli", "serve", "--config", "serve.toml",
                     "--sites", str(sites), "--out", str(out)], env, tmp_path / "serve.log",
                    cwd=tmp_path)
    services.append(serve)

    wait_for(api.healthy, 150, "the server started by bluecarbon serve", alive=serve)
    mark("server healthy")
    deployments = wait_for(lambda: len(d := api.deployments()) == 2 and d, 90,
                           "the served deployments", alive=serve)
    nightly = deployments["nightly-monitoring"]
    params = nightly["parameters"]
    assert {k: params[k] for k in ("sites", "out", "source", "catalog", "mmu_ha", "end")} == {
        "sites": str(sites), "out": str(out), "source": "stac", "catalog": str(catalog),
        "mmu_ha": 0.2, "end": None}
    assert deployments["monthly-summary"]["parameters"] == {"sites": str(sites), "out": str(out),
                                                            "deliver": False}
    ids = [d["id"] for d in deployments.values()]
    runs = wait_for(lambda: (r := api.scheduled_runs(ids)) and
                    len({x["deployment_id"] for x in r}) == 2 and r,
                    90, "scheduled runs of both served deployments", alive=serve)
    _assert_cron_runs(runs, deployments)
    mark("served, cron runs materialised")

    run = api.run_deployment(nightly["id"], {"end": RUN_END})
    done = wait_terminal(api, run["id"], 240, [serve])
    assert done["state"]["type"] == "COMPLETED", (done["state"], serve.tail())
    change = pd.read_parquet(out / "change" / f"site_id={SITE_ID}" / "part-0.parquet")
    assert set(change["run_id"]) == {run["id"]}
    assert max(pd.to_datetime(change["period"])) == pd.Timestamp("2024-03-01")
    obs = pd.read_parquet(out / "observations" / f"site_id={SITE_ID}" / "part-0.parquet")
    assert set(obs["source"]) == {"stac"} and len(obs) > 10  # read from the catalog's COGs
    record = json.loads((out / "runs" / f"{run['id']}.json").read_text(encoding="utf-8"))
    assert record["parameters"]["catalog"] == str(catalog)
    assert record["parameters"]["mmu_ha"] == 0.2
    mark("run from the STAC catalog done")

    # a second run (the demo source, to 2025: long), stopped half-way by SIGTERM to
    # bluecarbon serve alone
    second = api.run_deployment(nightly["id"], {"source": "demo", "catalog": None,
                                                "end": "2025-12-31"})
    wait_for(lambda: api.flow_run(second["id"])["state"]["type"] == "RUNNING", 90,
             "the second run to start", alive=serve)
    children = serve.descendants()
    assert len(children) >= 2  # the server and the flow run
    mark("second run running")
    os.kill(serve.pid, signal.SIGTERM)
    try:
        code = serve.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"bluecarbon serve ignored SIGTERM:\n{serve.tail()}")
    assert code == 0, serve.tail()
    log = serve.tail(20000)
    assert "Traceback" not in log and "never awaited" not in log, log
    assert "bluecarbon serve: stopped" in log
    time.sleep(0.5)
    assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not api.healthy()
    assert _state_in_db(home, second["id"]) == "CANCELLED"
    assert _paused_in_db(home) == {"nightly-monitoring": True, "monthly-summary": True}
    mark("stopped")

    again = Service(serve.proc.args, env, tmp_path / "serve-again.log", cwd=tmp_path)
    services.append(again)
    wait_for(api.healthy, 150, "the server of the restarted bluecarbon serve", alive=again)
    wait_for(lambda: "served;" in again.tail(), 90, "serving again", alive=again)
    deployments = api.deployments()
    assert not any(d["paused"] for d in deployments.values())  # schedules active again
    mark("restarted, schedules active")
    server = next(p for p in again.descendants() if "server" in p.cmdline())
    server.kill()  # the local server dies under the running serve
    try:
        code = again.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"bluecarbon serve outlived its server:\n{again.tail()}")
    assert code == 1, again.tail()
    assert again.tail().strip().endswith(
        f"bluecarbon: error: the local Prefect server exited unexpectedly; see "
        f"{home / 'bluecarbon-serve-server.log'}")
    mark("server died, serve exited 1")
