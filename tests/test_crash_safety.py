"""Crash safety: a run killed with SIGKILL at any point loses nothing.

After every kill, every table is readable (pandas, pyarrow, DuckDB, ``store.read_table``), no
key is duplicated, each site's file is wholly the version before the run or wholly the version
of an uninterrupted run (no partial file, no mixed rows), and a site's observation rows (which
mark its scenes as processed for the next incremental run) are never newer than its change
rows. Then the next run completes, and its tables equal an uninterrupted run's (``run_id``
aside), with no temp file left behind.

Real processes, really killed. The per-site steps are those of the flow
(:func:`flows.monitor.monitor_sites`): ``source.search`` -> ``plan_site`` on the stored
observations -> ``site_tables`` -> the flow's own ``write_results`` task function. For speed
they run in children forked from a warmed-up "zygote" process (this file run as a script: a
Python with numba's kernels compiled costs 10-20 s to start, a fork 10 ms). Kill points:

* **download**: the stac source reading COGs over HTTP from a local server, which SIGKILLs the
  child when the n-th COG request arrives (GDAL is then waiting on the socket);
* **compute**: a timer started when the n-th ``site_tables`` begins, after a seeded delay;
* **write**: exact points inside the Parquet upsert (before the temp file, mid-write, before
  its fsync, before the rename, before the directory fsync, between the two tables), found
  by a profile hook that watches calls (it changes nothing: ``sys.setprofile``).

And the real command line a few times: ``bluecarbon run`` (Prefect, ephemeral API) killed with
its process group at seeded delays after its progress lines, then run again to completion.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
if str(TESTS) not in sys.path:  # run as a script (the zygote): helpers beside this file
    sys.path.insert(0, str(TESTS))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from strategies import coastal_sites  # noqa: E402

BASELINE = ("2025-01-01", "2025-01-15")
START, E1, E2 = dt.date(2025, 1, 16), dt.date(2025, 2, 10), dt.date(2025, 2, 28)
"""Rows from mid-January to February (~12 scenes a site); a run to E1 makes the incremental
case's earlier state."""
SEED = 20251123
TABLES = ("observations", "change")
KEYS = {"observations": ["site_id", "scene_id"], "change": ["site_id", "period"]}


# --------------------------------------------------------------------------- command line
def prefect_template(tmp_path_factory) -> Path:
    """A migrated Prefect home, made once per test session (``prefect server database
    upgrade``, ~10 s); :func:`cli_env` gives each command its own copy, so concurrent runs
    never share a SQLite file."""
    template = tmp_path_factory.getbasetemp() / "prefect-home-template"
    if not (template / "prefect.db").is_file():
        shutil.rmtree(template, ignore_errors=True)
        template.mkdir(parents=True)
        env = cli_env(None) | {"PREFECT_HOME": str(template)}
        subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
                       env=env, check=True, capture_output=True, timeout=300, cwd=template)
    return template


def cli_env(template: Path | None, home: Path | None = None, **extra: str) -> dict[str, str]:
    """Environment of a ``bluecarbon`` subprocess: no outer Prefect or credential settings, a
    private copy of the Prefect home (``home``), no telemetry."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "SH_", "BLUECARBON_"))}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120", PYTHONUNBUFFERED="1")
    if template is not None:
        assert home is not None
        if not home.exists():
            shutil.copytree(template, home)
        env["PREFECT_HOME"] = str(home)
    env.update(extra)
    return env


def start_cli(*args: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.Popen:
    """``bluecarbon ...`` in its own process group (so that killing it takes Prefect's
    ephemeral server with it)."""
    return subprocess.Popen([sys.executable, "-m", "flows.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


class Lines:
    """Lines of a pipe collected by a thread; ``wait_for`` blocks until one matches."""

    def __init__(self, pipe) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe) -> None:
        for line in pipe:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self.lines.append("")  # EOF marker
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    if line == "":
                        return None
                    if predicate(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    @property
    def text(self) -> str:
        self._thread.join(30)
        return "".join(self.lines)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group of a CLI we started (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


# --------------------------------------------------------------------------- tables
def snapshot(out: Path) -> dict[tuple[str, ...], Any]:
    """Everything a run writes, read the ways users read it: ``{(table, site_id): rows
    without run_id}`` for the tables and the alerts (whose GeoJSON must agree), and
    ``{("maps", site_id, file): (pixels, tags)}`` for the map COGs. Raises if a reader fails."""
    import duckdb
    import pandas as pd
    import pyarrow.dataset as pads
    import rasterio

    from flows.results import store
    from flows.results.alerts import read_alerts

    state = {}
    for table in TABLES:
        rows = store.read_table(out, table)
        folder = out / table
        if folder.is_dir() and any(folder.glob("site_id=*/*.parquet")):
            via_pandas = pd.read_parquet(folder, partitioning=store.hive_partitioning())
            via_arrow = pads.dataset(folder, partitioning=store.hive_partitioning()).to_table()
            via_duckdb = duckdb.sql(
                f"select count(*) from read_parquet('{folder}/*/*.parquet', "
                "hive_partitioning=true, hive_types={'site_id': VARCHAR})").fetchall()[0][0]
            assert len(via_pandas) == via_arrow.num_rows == via_duckdb == len(rows), table
        dupes = rows.duplicated(KEYS[table])
        assert not dupes.any(), f"{table}: duplicate keys {rows[dupes][KEYS[table]].values[:3]}"
        for site_id, part in rows.groupby("site_id"):
            state[(table, str(site_id))] = (part.drop(columns="run_id")
                                            .sort_values(KEYS[table]).reset_index(drop=True))
    alerts = read_alerts(out)
    assert not alerts.duplicated(["site_id", "alert_id"]).any(), "duplicate alerts"
    for site_id, part in alerts.groupby("site_id"):
        features = json.loads((out / "alerts_geojson" / f"{site_id}.geojson").read_text())
        assert len(features["features"]) == len(part), f"alerts GeoJSON of {site_id} disagrees"
        state[("alerts", str(site_id))] = (part.drop(columns="run_id")
                                           .sort_values("alert_id").reset_index(drop=True))
    for tif in sorted(out.glob("maps/*/*.tif")):
        with rasterio.open(tif) as src:
            state[("maps", tif.parent.name, tif.name)] = (src.read(1).tobytes(),
                                                          sorted(src.tags().items()))
    return state


def same(a, b) -> bool:
    import pandas as pd

    if a is None or b is None:
        return a is None and b is None
    if not isinstance(a, pd.DataFrame):
        return a == b
    try:
        pd.testing.assert_frame_equal(a, b, check_dtype=True)
    except AssertionError:
        return False
    return True


def assert_same_state(got: dict, want: dict, what: str) -> None:
    import pandas as pd

    assert sorted(got) == sorted(want), f"{what}: partitions {sorted(got)} != {sorted(want)}"
    for key in want:
        if isinstance(want[key], pd.DataFrame):
            pd.testing.assert_frame_equal(got[key], want[key], obj=f"{what} {key}")
        else:
            assert got[key] == want[key], f"{what}: {key} differs"


def assert_consistent_after_kill(out: Path, pre: dict, ref: dict, what: str) -> dict:
    """The state a kill may leave: each partition (and map file) wholly 'pre' or wholly
    'ref', and a site's observation rows never ahead of its change rows, alerts and maps.
    Returns the state."""
    state = snapshot(out)
    for key, rows in state.items():
        assert key in ref, f"{what}: unexpected partition {key}"
        assert same(rows, pre.get(key)) or same(rows, ref[key]), \
            f"{what}: {key} is neither the old nor the new version (partial or mixed rows)"
    for site in {k[1] for k in ref}:
        obs = ("observations", site)
        if same(pre.get(obs), ref[obs]) or not same(state.get(obs), ref[obs]):
            continue  # no new observation rows (yet): nothing marks the site done
        behind = [k for k in set(ref) | set(state) if k[1] == site and k[0] != "observations"
                  and not same(state.get(k), ref.get(k))]
        assert not behind, (
            f"{what}: site {site}: observation rows are new but {sorted(behind)[:3]} are not; "
            "the next incremental run would take the site for done and never rewrite them")
    return state


def temp_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob(".*") if p.is_file() and p.name.endswith(".tmp"))


# --------------------------------------------------------------------------- the zygote
class Zygote:
    """This file run as a script: warms up, then forks one child per job (see ``_child``)."""

    def __init__(self, workdir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SH_"))}
        # numba's default OpenMP layer aborts a process forked after it ran ("fork() called
        # from a process already using GNU OpenMP"); the workqueue layer is fork-safe, and
        # flows/indices serialise parallel kernels (KERNEL_LOCK) as that layer needs
        env.update(NUMBA_THREADING_LAYER="workqueue", PYTHONUNBUFFERED="1",
                   PREFECT_HOME=str(workdir / "prefect-home"),
                   PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
        (workdir / "prefect-home").mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__)), "zygote",
                                      str(workdir)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=REPO, env=env)
        self.stderr = Lines(self.proc.stderr)
        ready = self.proc.stdout.readline()
        if json.loads(ready or "{}").get("ready") is not True:
            self.close()
            raise RuntimeError(f"zygote did not start: {ready!r}\n{self.stderr.text[-3000:]}")

    def run(self, job: dict, on_pid=None, timeout: float = 300) -> dict:
        """Run ``job`` in a fresh child; returns ``{"pid", "signal", "code", "markers"}``."""
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        markers: list[str] = []
        pid = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"zygote died\n{self.stderr.text[-3000:]}")
            msg = json.loads(line)
            if "pid" in msg:
                pid = msg["pid"]
                if on_pid is not None:
                    on_pid(pid)
            elif "marker" in msg:
                markers.append(msg["marker"])
            elif "done" in msg:
                assert msg["done"] == pid
                return {"pid": pid, "signal": msg["signal"], "code": msg["code"],
                        "markers": markers}
        raise TimeoutError(job)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _zygote(workdir: str) -> None:  # pragma: no cover - runs in the subprocess
    import dask

    from aoi import parse_sites
    from flows.site import load_range, site_tables
    from flows.sources.demo import DemoSource

    # compile every kernel before forking (synchronous scheduler: no thread pool to inherit)
    site = parse_sites(coastal_sites(2, prefix="warm", baseline=BASELINE))
    src = DemoSource(0)
    with dask.config.set(scheduler="synchronous"):
        for s in site:
            refs = src.search(s, *load_range(s, START, E1))
            site_tables(s, src, refs, start=START, end=E1, run_id="warm-up", products=True)
        _QUIET[0] = True
        _child({"out": os.path.join(workdir, "warm-out"), "sites": None, "kill": {}}, warm=True)
        _QUIET[0] = False
    _emit({"ready": True})
    for line in sys.stdin:
        job = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                code = _child(job)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 70
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _emit({"pid": pid})
        _, status = os.waitpid(pid, 0)
        _emit({"done": pid, "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
               "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None})


_QUIET = [False]


def _emit(message: dict) -> None:
    """One protocol line, in one write(2): atomic on a pipe, so the zygote's and its child's
    lines never interleave."""
    os.write(1, (json.dumps(message) + "\n").encode())


def _marker(text: str) -> None:
    if not _QUIET[0]:
        _emit({"marker": text})


def _arm(kill: dict) -> list[int]:
    """Install the kill point of a job: ``{"at": "call" | "timer", "what": name, "n": k,
    "delay_ms": d}``: at the k-th call of ``what`` (a Python function's code object, or a
    C function such as ``os.replace``), SIGKILL this process now or after ``delay_ms``;
    ``{"at": "count", "what": name}`` only counts (the returned one-item list)."""
    count = [0]
    if not kill or kill.get("at") in (None, "server"):
        return count
    import dask.local
    import pyarrow.parquet as pq

    from flows import site
    from flows.results import files, store

    python_targets = {"_atomic_write": store._atomic_write, "_fsync_dir": files.fsync_dir,
                      "write_rows": store.write_rows, "write_table": pq.write_table,
                      "site_tables": site.site_tables,
                      # the threaded scheduler's bookkeeping of each finished task runs in the
                      # main thread: the n-th call is a point in the middle of dask.compute
                      "finish_task": dask.local.finish_task}
    c_targets = {"os.replace": os.replace, "os.fsync": os.fsync}
    what = kill["what"]
    code = python_targets[what].__code__ if what in python_targets else None
    cfunc = c_targets.get(what)

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def hook(frame, event, arg):
        if (event == "call" and frame.f_code is code) or (event == "c_call" and arg is cfunc):
            count[0] += 1
            if count[0] == kill.get("n"):
                sys.setprofile(None)
                _marker(f"kill armed at {what} #{kill['n']}")
                if kill["at"] == "timer":
                    threading.Timer(kill["delay_ms"] / 1000, die).start()
                else:
                    die()

    sys.setprofile(hook)
    return count


def _child(job: dict, warm: bool = False) -> int:  # pragma: no cover - in the subprocess
    """The flow's per-site steps, without Prefect (see the module doc)."""
    from aoi import load_sites, parse_sites
    from flows.monitor import write_results
    from flows.results import store
    from flows.site import load_range, plan_site, site_tables
    from flows.sources.demo import DemoSource
    from flows.sources.stac import StacSource
    from indices.bap import fill_window

    out = Path(job["out"])
    end = dt.date.fromisoformat(job.get("end", E1.isoformat()))
    sites = (parse_sites(coastal_sites(1, prefix="warm", baseline=BASELINE)) if warm
             else load_sites(job["sites"]))
    source = StacSource(job["catalog"]) if job.get("catalog") else DemoSource(0)
    counted = _arm(job.get("kill") or {})
    for site in sites:
        _marker(f"search {site.id}")
        scenes = source.search(site, *load_range(site, START, end))
        stored = store.read_table(out, "observations", site.id)
        window = fill_window(site.baseline_end) if site.habitat == "mangrove" else None
        plan = plan_site(scenes, stored, report_from=START, fill_window=window,
                         baseline_start=site.baseline_start)  # as plan_site_task
        if plan.up_to_date:
            _marker(f"skip {site.id}")
            continue
        _marker(f"compute {site.id}")
        tables = site_tables(site, source, scenes, start=START, end=end,
                             run_id=job.get("run_id", "run"), mmu_ha=0.1, chunks=1024,
                             plan=plan, products=True)
        _marker(f"write {site.id}")
        write_results.fn(out, tables, site, tables.plan.since)  # as the run: the fill settled
        _marker(f"done {site.id}")
    _marker(f"count {counted[0]}")
    return 0


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sites_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("crash-sites") / "sites.geojson"
    path.write_text(json.dumps(coastal_sites(1, seed=7, prefix="crash", baseline=BASELINE)))
    return path


@pytest.fixture(scope="module")
def cli_sites_file(tmp_path_factory) -> Path:
    """A small site and a large one: the run processes both at once, and when the small one
    is done the large one is still computing (where the CLI kills land)."""
    path = tmp_path_factory.mktemp("crash-cli-sites") / "sites.geojson"
    doc = coastal_sites(1, seed=8, prefix="crashcli", baseline=BASELINE)
    doc["features"] += coastal_sites(1, seed=9, prefix="crashbig", baseline=BASELINE,
                                     lon0=101.3, min_ha=2500, max_ha=3000)["features"]
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    z = Zygote(tmp_path_factory.mktemp("zygote"))
    yield z
    z.close()


class KillingServer:
    """The STAC catalog over HTTP with Range support; SIGKILLs ``victim`` when the
    ``kill_at``-th COG request arrives (before answering it)."""

    def __init__(self, root: Path) -> None:
        from stac_fixtures import Served, _Handler, start_server

        self.cog_gets = 0
        self.kill_at: int | None = None
        self.victim = threading.Event()
        self.pid = 0
        self.killed = False
        self._lock = threading.Lock()
        outer = self

        class Handler(_Handler):
            served = Served(url="")

            def do_GET(self) -> None:  # noqa: N802
                if self.path.endswith(".tif"):
                    with outer._lock:
                        outer.cog_gets += 1
                        hit = outer.kill_at is not None and outer.cog_gets == outer.kill_at
                    if hit and outer.victim.wait(30):
                        os.kill(outer.pid, signal.SIGKILL)
                        outer.killed = True
                        return  # no answer: the process waiting for it is gone
                super().do_GET()

        self.httpd, _, self.url = start_server(root, Handler)

    def arm(self, kill_at: int | None) -> None:
        self.cog_gets, self.kill_at, self.killed, self.pid = 0, kill_at, False, 0
        self.victim.clear()

    def on_pid(self, pid: int) -> None:
        self.pid = pid
        self.victim.set()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def catalog_server(tmp_path_factory, sites_file):
    from stac_fixtures import build_demo_catalog

    from aoi import load_sites
    from flows.sources.demo import DemoSource

    root = tmp_path_factory.mktemp("crash-stac")
    build_demo_catalog(root, load_sites(sites_file), dt.date(2025, 1, 1), E2, DemoSource(0))
    server = KillingServer(root)
    yield server
    server.close()


def _job(out: Path, sites: Path, end: dt.date, *, catalog: str | None = None,
         kill: dict | None = None, run_id: str = "run") -> dict:
    """A job for :meth:`Zygote.run` (see ``_child``)."""
    return {"out": str(out), "sites": str(sites), "end": end.isoformat(), "catalog": catalog,
            "kill": kill or {}, "run_id": run_id}


@pytest.fixture(scope="module")
def references(zygote, sites_file, catalog_server, tmp_path_factory):
    """Uninterrupted runs: for each source, the state after a run to E1 ('pre' of the
    incremental case) and after a run to E2 from scratch ('ref'); and, from each starting
    state, the COG requests and the dask tasks (finish_task calls) a run makes."""
    root = tmp_path_factory.mktemp("crash-refs")
    refs: dict[str, Any] = {}
    for name, catalog in (("demo", None), ("stac", f"{catalog_server.url}/catalog.json")):
        for label, end in (("pre", E1), ("ref", E2)):
            out = root / f"{name}-{label}"
            catalog_server.arm(None)
            done = zygote.run(_job(out, sites_file, end, catalog=catalog, run_id=label,
                                   kill={"at": "count", "what": "finish_task"}))
            assert done["signal"] == 0 and done["code"] == 0, done
            refs[(name, label)] = out
            refs[(name, label, "state")] = snapshot(out)
            refs[(name, label, "gets")] = catalog_server.cog_gets
            refs[(name, label, "tasks")] = int(done["markers"][-1].split()[-1])
        # the incremental case's requests: from the 'pre' state to E2
        out = root / f"{name}-incremental"
        shutil.copytree(refs[(name, "pre")], out)
        catalog_server.arm(None)
        done = zygote.run(_job(out, sites_file, E2, catalog=catalog, run_id="inc",
                               kill={"at": "count", "what": "finish_task"}))
        assert done["code"] == 0, done
        refs[(name, "inc", "tasks")] = int(done["markers"][-1].split()[-1])
        assert_same_state(snapshot(out), refs[(name, "ref", "state")],
                          f"{name}: incremental run E1 -> E2 vs a run to E2")
        refs[(name, "inc", "gets")] = catalog_server.cog_gets
    return refs


def _kill_plan() -> list[dict]:
    """The driver's kill points (seeded): phase, fresh or incremental, and where."""
    rng = random.Random(SEED)
    plan: list[dict] = []
    for n, mode in ((1, "fresh"), (2, "incremental"), (3, "fresh"), (4, "incremental")):
        plan.append({"phase": "write", "mode": mode, "kill": {"at": "call", "what": "os.replace",
                                                               "n": n}})
    plan += [
        {"phase": "write", "mode": "fresh", "kill": {"at": "call", "what": "_atomic_write",
                                                     "n": 2}},
        {"phase": "write", "mode": "incremental", "kill": {"at": "call", "what": "_fsync_dir",
                                                           "n": 1}},
        {"phase": "write", "mode": "incremental", "kill": {"at": "call", "what": "os.fsync",
                                                           "n": 3}},
        # between the two tables of a site: the window where the write order matters
        {"phase": "write", "mode": "fresh", "kill": {"at": "call", "what": "write_rows", "n": 2}},
        {"phase": "write", "mode": "incremental", "kill": {"at": "call", "what": "write_rows",
                                                           "n": 1}},
    ]
    for i in range(3):  # mid-way through writing a Parquet file: the first of a run's
        # writes, so that later writes follow it (a timer started in a run's last write may
        # outlive the process: the job ended, nothing killed)
        plan.append({"phase": "write", "mode": ("fresh", "incremental")[i % 2],
                     "kill": {"at": "timer", "what": "write_table", "n": 1,
                              "delay_ms": round(rng.uniform(0.0, 4.0), 2)}})
    for i in range(3):  # some time after a site's compute began
        plan.append({"phase": "compute", "mode": ("fresh", "incremental")[i % 2],
                     "kill": {"at": "timer", "what": "site_tables", "n": 1,
                              "delay_ms": round(rng.uniform(30, 300))}})
    for i in range(4):  # after the n-th of the run's dask tasks (a fraction of them)
        plan.append({"phase": "compute", "mode": ("fresh", "incremental")[i % 2],
                     "kill": {"at": "call", "what": "finish_task",
                              "fraction": round(rng.uniform(0.02, 0.98), 3)}})
    for i in range(5):
        plan.append({"phase": "download", "mode": ("fresh", "incremental")[i % 2],
                     "kill": {"at": "server", "fraction": round(rng.uniform(0.02, 0.98), 3)}})
    return plan


PLAN = _kill_plan()


# --------------------------------------------------------------------------- the tests
def test_sigkill_at_any_point_then_rerun_equals_an_uninterrupted_run(
        zygote, sites_file, catalog_server, references, tmp_path):
    """``len(PLAN)`` (>= 20) kill points across download, compute and Parquet writes."""
    killed: dict[str, int] = {"download": 0, "compute": 0, "write": 0}
    log, seconds = [], []
    for i, point in enumerate(PLAN):
        name = "stac" if point["phase"] == "download" else "demo"
        catalog = f"{catalog_server.url}/catalog.json" if name == "stac" else None
        pre = references[(name, "pre", "state")] if point["mode"] == "incremental" else {}
        ref = references[(name, "ref", "state")]
        out = tmp_path / f"point-{i:02d}"
        if point["mode"] == "incremental":
            shutil.copytree(references[(name, "pre")], out)
        kill_at, kill = None, dict(point["kill"])
        counts = "inc" if point["mode"] == "incremental" else "ref"
        if point["phase"] == "download":
            kill_at = max(1, round(kill["fraction"] * references[(name, counts, "gets")]))
        elif kill.get("what") == "finish_task":
            kill["n"] = max(1, round(kill.pop("fraction") * references[(name, counts, "tasks")]))
        catalog_server.arm(kill_at)
        what = f"point {i} {point}"
        t0 = time.monotonic()
        done = zygote.run(_job(out, sites_file, E2, catalog=catalog, kill=kill,
                               run_id=f"killed-{i}"), on_pid=catalog_server.on_pid)
        assert done["code"] in (0, None), f"{what}: the child failed: {done}"
        if done["signal"] == signal.SIGKILL:
            phase = point["phase"]
            if point["kill"].get("at") == "timer":  # where the timer actually struck
                last = next((m for m in reversed(done["markers"]) if not m.startswith("kill")),
                            "")
                phase = "write" if last.startswith("write") else \
                    "compute" if last.startswith("compute") else "search"
            killed[phase] = killed.get(phase, 0) + 1
            log.append((i, phase, done["markers"][-1:]))
        assert_consistent_after_kill(out, pre, ref, what)
        catalog_server.arm(None)
        resumed = zygote.run(_job(out, sites_file, E2, catalog=catalog, run_id=f"resume-{i}"))
        assert resumed["signal"] == 0 and resumed["code"] == 0, f"{what}: rerun {resumed}"
        assert_same_state(snapshot(out), ref, f"{what}: rerun")
        assert temp_files(out) == [], f"{what}: temp files left after the rerun"
        seconds.append(time.monotonic() - t0)
    total = sum(killed.values())
    print(f"\nSIGKILLs by phase: {killed} ({total} of {len(PLAN)} points), kill + check + "
          f"rerun + check: median {sorted(seconds)[len(seconds) // 2]:.1f} s; {log}")
    assert total >= 20, killed
    assert killed["download"] >= 5 and killed["compute"] >= 4 and killed["write"] >= 12, killed


@pytest.mark.slow
def test_killed_cli_runs_resume_to_the_uninterrupted_tables(tmp_path, tmp_path_factory,
                                                            cli_sites_file, zygote):
    """``bluecarbon run`` (Prefect) SIGKILLed twice at seeded delays after its progress lines,
    then run again: exit 0, a completed run record, the uninterrupted tables."""
    template = prefect_template(tmp_path_factory)
    done = zygote.run(_job(tmp_path / "reference", cli_sites_file, E2, run_id="ref"))
    assert done["signal"] == 0 and done["code"] == 0, done
    ref = snapshot(tmp_path / "reference")
    out = tmp_path / "results"
    args = ("run", "--sites", str(cli_sites_file), "--out", str(out), "--start",
            START.isoformat(), "--end", E2.isoformat())
    rng = random.Random(SEED + 1)
    kills = []
    finished = 0  # killed runs that had written everything, their record too, before the kill
    # kill 1: some time after the small site is done (the large one is computing or writing);
    # kill 2: some time after the rerun skipped the small site (the large one is computing)
    for attempt, marker in enumerate(("done ", "skip ")):
        records_before = len(list((out / "runs").glob("*.json")))
        proc = start_cli(*args, env=cli_env(template, tmp_path / f"home-{attempt}"))
        stderr = Lines(proc.stderr)
        seen = stderr.wait_for(lambda line, m=marker: line.startswith(m), timeout=240)
        assert seen, f"no '{marker}' line before the run ended:\n{stderr.text[-3000:]}"
        delay = rng.uniform(0.1, 0.8)
        time.sleep(delay)
        if proc.poll() is not None:
            pytest.fail(f"the CLI ended before its kill at +{delay:.1f}s: {stderr.text[-2000:]}")
        kill_group(proc)
        state = assert_consistent_after_kill(out, {}, ref, f"CLI kill {attempt}")
        big_done = same(state.get(("change", "crashbig-0000")), ref[("change", "crashbig-0000")])
        if len(list((out / "runs").glob("*.json"))) > records_before:
            # a run whose work was all written may finish (record included) within the kill's
            # delay (the plain run ends within a second of its last site); one killed mid-work
            # must leave no record
            assert big_done, f"CLI kill {attempt}: a run killed mid-work left a run record"
            finished += 1
        kills.append((attempt, seen.strip()[:40], round(delay, 2),
                      "large site written" if big_done else "large site not yet written"))
    proc = start_cli(*args, env=cli_env(template, tmp_path / "home-final"))
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert_same_state(snapshot(out), ref, "CLI rerun after two kills")
    assert temp_files(out) == []
    records = [json.loads(p.read_text()) for p in (out / "runs").glob("*.json")]
    # killed runs leave none, but for those that had finished all their work
    assert [r["status"] for r in records] == ["completed"] * (1 + finished), records
    print(f"\nCLI kills: {kills}")


if __name__ == "__main__":  # the zygote (see Zygote)
    if sys.argv[1:2] == ["zygote"]:
        _zygote(sys.argv[2])
