"""The per-site computation on a real dask.distributed cluster: same numbers as without one.

A ``dask scheduler`` and two ``dask worker`` processes (one process, one thread each) run on
127.0.0.1 at free ports, each in its own process group with a scratch folder in tmp; they are
stopped by PID at the end (SIGTERM to the group, SIGKILL after a grace period). The flow only
uses dask for array compute inside its Prefect tasks (``distributed.Client(address)`` around
the site loop, not prefect-dask's task runner), so the workers run plain functions and never
need Prefect: the end-to-end test checks that no worker starts a Prefect server of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from services import Service

from aoi import bundled_sites_path, load_sites
from flows.site import load_range, site_tables
from flows.sources.demo import DemoSource

# a cluster that lost its workers must fail its tests, not wait for workers that never come
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[1]
SITES = ("kenya-mida-creek", "andalusia-cabo-de-gata-genoveses")  # mangrove, seagrass
END = dt.date(2024, 3, 31)
# columns that are counts (or counts times a pixel area): the same bits on any scheduler
EXACT = ("valid_fraction", "cloud_fraction", "habitat_area_ha", "n_observations", "extent_ha",
         "baseline_extent_ha", "gain_ha", "loss_ha", "net_change_ha", "extent_ci_low_ha",
         "extent_ci_high_ha", "gain_ci_low_ha", "gain_ci_high_ha", "loss_ci_low_ha",
         "loss_ci_high_ha", "baseline_observed_fraction", "canopy_20_50_ha",
         "canopy_50_80_ha", "canopy_80_100_ha", "turbid")


def _dask_cli() -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dask"]


def _start(root: Path) -> dict:
    """A scheduler and two single-threaded workers on 127.0.0.1, scratch in ``root``: their
    address, :class:`Service` processes and worker addresses (all stopped if one fails)."""
    from distributed import Client

    root.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(DASK_TEMPORARY_DIRECTORY=str(root), PYTHONUNBUFFERED="1")
    scheduler_file = root / "scheduler.json"
    procs: list[Service] = []
    try:
        procs.append(Service([*_dask_cli(), "scheduler", "--host", "127.0.0.1", "--port", "0",
                              "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                             env, root / "scheduler.log"))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            if procs[0].proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dask scheduler did not start:\n{procs[0].text()[-3000:]}")
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written whole, but give the writer a moment
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for i in range(2):
            procs.append(Service([*_dask_cli(), "worker", address, "--nworkers", "1",
                                  "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1",
                                  "--local-directory", str(root / f"w{i}"), "--name", f"w{i}"],
                                 env, root / f"worker{i}.log"))
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
            workers = sorted(client.scheduler_info()["workers"])
    except BaseException:
        _stop(procs)
        raise
    return {"address": address, "procs": procs, "workers": workers, "root": root}


def _stop(procs: list[Service]) -> list[int]:
    """Stop ``procs`` by PID (SIGTERM to each group, SIGKILL after a grace period); the PIDs
    still running after that."""
    for p in reversed(procs):
        p.stop(grace=15.0)
    return [p.pid for p in procs if p.proc.poll() is None]


def _trouble(state: dict) -> str | None:
    """Why the cluster cannot take a test as it is, None when it can: a dask process gone,
    a worker missing or replaced by its nanny, or tasks of an earlier test still there (a
    failed or timed-out test's client is gone, but a task it started runs on)."""
    from distributed import Client

    gone = [p.pid for p in state["procs"] if p.proc.poll() is not None]
    if gone:
        return f"dask processes exited: {gone}"
    try:
        with Client(state["address"], timeout=20) as client:
            client.wait_for_workers(2, timeout=30)
            workers = sorted(client.scheduler_info()["workers"])
            if workers != state["workers"]:
                return f"workers {workers}, expected {state['workers']}"
            deadline = time.monotonic() + 15  # a closed client's tasks take a moment to go
            while True:
                tasks = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
                running = sum(client.run(lambda dask_worker: dask_worker.state.executing_count)
                              .values())
                if not tasks and not running:
                    return None
                if time.monotonic() > deadline:
                    return f"{tasks} tasks on the scheduler, {running} running on the workers"
                time.sleep(0.5)
    except Exception as exc:  # any failure to reach it is the reason
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="module")
def _dask(tmp_path_factory) -> Iterator[dict]:
    """The module's cluster (:func:`_start`), stopped by PID at the end; :func:`cluster`
    hands it to each test healthy, restarting it when needed (the state is updated in place)."""
    root = tmp_path_factory.mktemp("dask")
    state = {"base": root, "starts": 1, **_start(root / "0")}
    try:
        yield state
    finally:
        leftover = _stop(state["procs"])
    assert not leftover, f"dask processes still running: {leftover}"


@pytest.fixture
def cluster(_dask) -> dict:
    """A scheduler and two single-threaded workers on 127.0.0.1, healthy for this test: one
    test's failure (a worker lost, its tasks left running) must not fail or hang the tests
    after it. The workers are restarted (``Client.restart``: new processes under the same
    nannies, new addresses) and, when that does not bring the cluster back, the whole cluster
    is started again; ``cluster["workers"]`` are the addresses of this test's workers."""
    from distributed import Client

    why = _trouble(_dask)
    if why is None:
        return _dask
    print(f"dask cluster not usable ({why}): restarting its workers")
    try:
        if any(p.proc.poll() is not None for p in _dask["procs"]):
            raise RuntimeError("a dask process exited")
        with Client(_dask["address"], timeout=20) as client:
            client.restart(timeout=90, wait_for_workers=True)
            _dask["workers"] = sorted(client.scheduler_info()["workers"])
        why = _trouble(_dask)
    except Exception as exc:  # then the whole cluster again
        why = f"{type(exc).__name__}: {exc}"
    if why is not None:
        print(f"dask cluster still not usable ({why}): starting a new one")
        leftover = _stop(_dask["procs"])
        assert not leftover, f"dask processes still running: {leftover}"
        _dask.update(_start(_dask["base"] / str(_dask["starts"])))
        _dask["starts"] += 1
        why = _trouble(_dask)
        assert why is None, f"a new dask cluster is not usable: {why}"
    return _dask


def _site(site_id: str):
    return next(s for s in load_sites(bundled_sites_path()) if s.id == site_id)


def _tables(site_id: str, address: str | None, walk: str = "auto"):
    """``site_tables`` for one site, on the cluster at ``address`` (None: dask's threads);
    returns the tables and the workers that ran tasks."""
    site = _site(site_id)
    source = DemoSource(seed=3)
    first, last = load_range(site, None, END)
    scenes = source.search(site, first, last)
    if address is None:
        return site_tables(site, source, scenes, start=None, end=END, run_id="t",
                           walk=walk), set()
    from distributed import Client, get_task_stream

    with Client(address, set_as_default=True, timeout=30) as client, \
            get_task_stream(client) as stream:
        client.wait_for_workers(2, timeout=60)  # both alive: a dead one fails here, at once
        tables = site_tables(site, source, scenes, start=None, end=END, run_id="t", walk=walk)
    return tables, {t["worker"] for t in stream.data}


def _assert_same(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    assert list(a.columns) == list(b.columns), what
    assert len(a) == len(b) and len(a) > 0, f"{what}: {len(a)} vs {len(b)} rows"
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if col in EXACT or not np.issubdtype(np.asarray(x).dtype, np.floating):
            # bitwise: NaN == NaN, and 0.1 + 0.2 must not become 0.30000000000000004
            same = pd.Series(x).equals(pd.Series(y))
            assert same, f"{what}.{col} differs:\n{x}\n{y}"
        else:
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6, equal_nan=True,
                                       err_msg=f"{what}.{col}")


@pytest.mark.parametrize("site_id", SITES)
def test_site_tables_are_the_same_on_a_cluster(cluster, site_id):
    # the cluster first: a walk that left this process's arrays as allocated (the memory
    # walk's da.store into numpy did, on a cluster) would show whatever they held, and after
    # the local run of the same site that may be the local run's own freed maps
    remote, used = _tables(site_id, cluster["address"])
    local, _ = _tables(site_id, None)
    # the work really ran on the cluster, on both workers
    assert used == set(cluster["workers"]), f"tasks ran on {used}, cluster has {cluster['workers']}"
    assert remote.n_scenes == local.n_scenes > 10
    assert remote.failed_scenes == local.failed_scenes == {}
    _assert_same(local.observations, remote.observations, f"{site_id} observations")
    _assert_same(local.change, remote.change, f"{site_id} change")
    assert local.observations["ndvi_mean"].notna().sum() > 5  # the comparison compared numbers


@pytest.mark.parametrize("walk", ["memory", "stream", "strips"])
def test_the_month_by_month_walk_on_a_cluster_gives_the_same_rows(cluster, walk):
    """Every month at once (each month's maps gathered here from the workers), or a site too
    large for the in-memory walk (or for one month in memory: in strips): each month computed
    on the workers, walked here; the rows of the whole walk without a cluster."""
    site_id = SITES[0]
    remote, used = _tables(site_id, cluster["address"], walk=walk)  # first: see above
    local, _ = _tables(site_id, None, walk="memory")
    assert used == set(cluster["workers"]), f"tasks ran on {used}, cluster has {cluster['workers']}"
    _assert_same(local.observations, remote.observations, f"{site_id} observations")
    _assert_same(local.change, remote.change, f"{site_id} change")


def test_cli_run_on_a_cluster_writes_the_same_rows(cluster, tmp_path):
    """``bluecarbon run --dask-address``: Prefect in this run's own process (ephemeral API),
    array compute on the workers; the rows equal ``site_tables`` without a cluster, and no
    worker started a Prefect server."""
    from flows.results import store

    site_id = SITES[0]
    sites_file = tmp_path / "site.geojson"
    for path in sorted(bundled_sites_path().glob("*.geojson")):
        fc = json.loads(path.read_text(encoding="utf-8"))
        feats = [f for f in fc["features"] if f["properties"]["id"] == site_id]
        if feats:
            sites_file.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
    from distributed import Client

    def transitions() -> dict[str, int]:  # tasks the workers have handled so far
        with Client(cluster["address"], timeout=30) as client:
            return client.run(lambda dask_worker: dask_worker.state.transition_counter)

    def prefect_on_workers() -> dict[str, bool]:
        with Client(cluster["address"], timeout=30) as client:
            return client.run(lambda: "prefect" in sys.modules)

    counts = transitions()
    worker_logs = {p.log: len(p.text()) for p in cluster["procs"]}
    before = {p.pid for c in cluster["procs"] for p in c.processes()}
    out = tmp_path / "out"
    try:  # within the module's 300 s: a hung run fails here with its output, not silently
        proc = subprocess.run(
            [sys.executable, "-m", "flows.cli", "run", "--sites", str(sites_file), "--seed",
             "3", "--end", END.isoformat(), "--out", str(out), "--dask-address",
             cluster["address"]],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=200)
    except subprocess.TimeoutExpired as exc:  # run() killed it
        logs = "".join(f"\n--- {p.log.name}\n{p.tail(1500)}" for p in cluster["procs"])
        pytest.fail(f"bluecarbon run did not finish in 200 s:\n{_text(exc.stdout)[-2000:]}"
                    f"{_text(exc.stderr)[-3000:]}{logs}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    ran = {w: n - counts[w] for w, n in transitions().items()}
    assert all(n > 0 for n in ran.values()) and len(ran) == 2, f"tasks per worker: {ran}"
    after = {p.pid for c in cluster["procs"] for p in c.processes()}
    assert after == before, "a dask process started or lost processes during the run"
    new_log = "".join(p.text()[worker_logs[p.log]:] for p in cluster["procs"])
    assert "temporary server" not in new_log.lower() and "uvicorn" not in new_log.lower()
    # the graph holds plain functions (readers, kernels): workers never even import Prefect
    assert not any(prefect_on_workers().values())
    # the rows the flow wrote are those of site_tables without a cluster
    local, _ = _tables(site_id, None)
    written = store.read_table(out, "observations", site_id).sort_values("datetime")
    assert len(written) == len(local.observations) > 10
    for col in ("valid_fraction", "cloud_fraction", "habitat_area_ha"):
        assert written[col].to_numpy().tolist() == local.observations[col].tolist(), col
    for col in ("ndvi_mean", "ndwi_mean", "mndwi_mean", "mvi_mean"):
        np.testing.assert_allclose(written[col].to_numpy(), local.observations[col], rtol=1e-6,
                                   equal_nan=True, err_msg=col)
    change = store.read_table(out, "change", site_id).sort_values("period")
    np.testing.assert_array_equal(change["extent_ha"].to_numpy(),
                                  local.change.sort_values("period")["extent_ha"].to_numpy())


def _text(out: str | bytes | None) -> str:
    return out.decode(errors="replace") if isinstance(out, bytes) else (out or "")


def test_the_memory_walk_stores_in_place_only_where_dask_computes_here(cluster):
    """The memory walk writes each month's chunks straight into arrays of this process only
    when dask runs the tasks in it; on a cluster (or in other processes) a task would write
    into its own copy, and the walk would read the arrays as ``np.empty`` left them (the
    seagrass site's cluster rows were so: valid_fraction 1.0 where the maps held zeros)."""
    import dask
    import dask.array as da
    from distributed import Client

    from flows.site.walks import computes_here

    x = [da.ones(4, chunks=2)]
    assert computes_here(x)  # a dask array's default scheduler: threads
    for scheduler, here in (("threads", True), ("sync", True), ("processes", False)):
        with dask.config.set(scheduler=scheduler):
            assert computes_here(x) is here, scheduler
    with Client(cluster["address"], set_as_default=True, timeout=30):
        assert not computes_here(x)
    assert computes_here(x)


def test_no_credential_in_the_graph_and_workers_read_their_own(cluster, monkeypatch):
    """A Sentinel Hub cube's graph, pickled as the client ships it, holds neither the client
    id nor the secret in any spelling; the workers authenticate from their own environment
    and fetch the same pixels as the threaded scheduler."""
    import base64
    import pickle
    import urllib.parse

    import cloudpickle
    from distributed import Client
    from shub_standin import StandIn

    from flows.sources.sentinelhub import SentinelHubSettings, SentinelHubSource

    site = _site(SITES[1])
    client_id, secret = "bc-graph-id-7Qm2", "bc-graph-SECRET-4d9a-leakcheck"
    with StandIn(DemoSource(seed=3), client_id=client_id, client_secret=secret) as shub:
        shub.add_site(site)
        env = {"SH_CLIENT_ID": client_id, "SH_CLIENT_SECRET": secret,
               "SH_BASE_URL": shub.base_url, "SH_TOKEN_URL": shub.token_url,
               "OAUTHLIB_INSECURE_TRANSPORT": "1"}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        source = SentinelHubSource(SentinelHubSettings.from_env(download_sleep_time=0.01))
        refs = source.search(site, dt.date(2023, 6, 1), dt.date(2023, 6, 30))[:2]
        assert len(refs) == 2
        cube = source.load(site, refs)
        shipped = cloudpickle.dumps(dict(cube.__dask_graph__())) + pickle.dumps(cube)
        forms = [client_id, secret, urllib.parse.quote_plus(secret),
                 base64.b64encode(secret.encode()).decode(),
                 base64.b64encode(f"{client_id}:{secret}".encode()).decode()]
        leaked = [f for f in forms if f.encode() in shipped]
        assert not leaked, f"credentials in the pickled graph: {leaked}"
        local = cube.compute(scheduler="threads")
        with Client(cluster["address"], timeout=30) as client:
            def set_env(values):
                os.environ.update(values)
                return sorted(values)

            def clear_env(names):
                for name in names:
                    os.environ.pop(name, None)
                return True

            client.run(set_env, env)
            try:
                tokens_before = shub.calls["token"]
                remote = client.compute(cube).result(timeout=120)
                assert shub.calls["token"] > tokens_before, "workers should authenticate"
            finally:
                client.run(clear_env, list(env))
    assert int(remote["fetch_status"].max()) == 0
    for band in ("B02", "B08", "B11", "SCL"):
        np.testing.assert_array_equal(remote[band].values, local[band].values, err_msg=band)
    assert (local["B08"].values > 0).any()
