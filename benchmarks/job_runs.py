"""Inputs and contenders of :mod:`benchmarks.whole_job` (issue 22): the static STAC catalog
and sites file of one mangrove site, the command of each contender, a process tree watched
for its peak RSS, and what each contender wrote for the final month.

``static_catalog`` and ``sites_file`` are also what ``tests/test_peer_benchmark.py`` and
:mod:`benchmarks.profile_job` build on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import pandas as pd  # noqa: E402
import psutil  # noqa: E402
import pystac  # noqa: E402
import synthetic  # noqa: E402
from shapely.geometry import mapping  # noqa: E402

__all__ = ["AGREEMENT", "AREAS", "BASELINE", "CONTENDERS", "SCENES", "TILE", "agreement",
           "command", "contender_env", "environment", "final_month", "sites_file", "static_catalog", "tile_size",
           "watched"]

TILE = 10980
SCENES = {"small": 24, "tile": 12}
BASELINE = ("2024-01-01", "2024-03-31")  # scenes 0-2 (5 Jan, 4 Feb, 5 Mar 2024)
CONTENDERS = ("bluecarbon", "peer-numpy", "peer-bottleneck")
AREAS = ("extent_ha", "gain_ha", "loss_ha")
AGREEMENT = 0.01


# -- inputs --------------------------------------------------------------------------------
def tile_size(site_px: int) -> int:
    """The synthetic tile holding a ``site_px``² site: the next multiple of 6 px (60 m)."""
    return site_px if site_px % 6 == 0 else site_px + 6 - site_px % 6


def static_catalog(cache: Path, site_px: int, n_scenes: int, log=print) -> Path:
    """A self-contained static STAC catalog (catalog, collection, one item a scene, absolute
    asset hrefs) of ``n_scenes`` changing-landscape scenes of the tile holding the site;
    written once, then reused."""
    items_path = synthetic.write_tile(cache, tile_size(site_px), n_scenes, change=True, log=log)
    root = items_path.parent
    folder = root / f"catalog-{n_scenes}"
    path = folder / "catalog.json"
    if path.exists():
        return path
    catalog = pystac.Catalog(f"bench-{root.name}-{n_scenes}", "synthetic Sentinel-2 L2A COGs")
    collection = pystac.Collection(
        "sentinel-2-l2a", "Sentinel-2 L2A (synthetic)",
        pystac.Extent(pystac.SpatialExtent([[-180, -90, 180, 90]]),
                      pystac.TemporalExtent([[None, None]])))
    catalog.add_child(collection)
    for feature in json.loads(items_path.read_text())["features"]:
        for asset in feature["assets"].values():
            asset["href"] = str(root / asset["href"])
        collection.add_item(pystac.Item.from_dict(feature))
    tmp = Path(tempfile.mkdtemp(prefix=".catalog-", dir=root))
    catalog.normalize_hrefs(str(tmp))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    with contextlib.suppress(OSError):
        tmp.rename(folder)  # another run may have written it meanwhile: the same catalog
    shutil.rmtree(tmp, ignore_errors=True)
    return path


def sites_file(folder: Path, site_px: int) -> Path:
    """A sites GeoJSON with one mangrove site of ``site_px``² pixels at the tile's corner:
    the polygon is inset 0.5 m from the pixel edges, so that bluecarbon's 60 m-snapped grid is
    the tile's and exactly ``site_px``² pixel centres are inside."""
    left, top, side = synthetic.LEFT, synthetic.TOP, site_px * 10.0
    geometry = synthetic._lonlat((left + 0.5, top - side + 0.5, left + side - 0.5, top - 0.5))
    feature = {"type": "Feature", "geometry": mapping(geometry), "properties": {
        "id": f"bench-{site_px}", "name": f"benchmark site {site_px} px", "habitat": "mangrove",
        "baseline_start": BASELINE[0], "baseline_end": BASELINE[1]}}
    path = folder / f"site-{site_px}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


# -- running and watching a contender ------------------------------------------------------
def watched(cmd: list[str], *, env: dict[str, str], cwd: Path, rss_limit: float,
            timeout: float = 7200, interval: float = 0.05) -> dict:
    """Run ``cmd``; wall seconds from start to exit, CPU seconds (user + system, of the
    process and the children it waited for: the machine's load moves it far less than the
    wall time), and the peak over 50 ms samples of the RSS summed over the process and all
    its descendants (Prefect's server included), and of the main process and the children
    alone. Killed (process group) past ``rss_limit``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    peaks = {"tree": 0, "main": 0, "children": 0}
    state = {"killed": None}
    done = threading.Event()

    def sample() -> None:
        main = psutil.Process(proc.pid)
        children: list[psutil.Process] = []
        listed = 0.0
        while not done.wait(interval):
            try:
                # listing children scans every process of the machine: twice a second, not
                # at each sample (the RSS of a known process is one small read of /proc)
                if time.perf_counter() - listed > 0.5:
                    children, listed = main.children(recursive=True), time.perf_counter()
                rss = main.memory_info().rss
                kids = 0
                for child in children:
                    with contextlib.suppress(psutil.Error):
                        kids += child.memory_info().rss
            except psutil.Error:
                continue
            peaks["main"] = max(peaks["main"], rss)
            peaks["children"] = max(peaks["children"], kids)
            peaks["tree"] = max(peaks["tree"], rss + kids)
            if rss + kids > rss_limit and state["killed"] is None:
                state["killed"] = time.perf_counter() - t0
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, 9)
            if time.perf_counter() - t0 > timeout and state["killed"] is None:
                state["killed"] = -1.0
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, 9)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the contender and what it waited for
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    done.set()
    watcher.join()
    with contextlib.suppress(OSError):  # nothing of it may outlive the measurement
        os.killpg(proc.pid, 9)
    out = {"seconds": seconds, "cpu_seconds": cpu, "returncode": proc.returncode,
           "peak_rss": peaks["tree"],
           "peak_rss_main": peaks["main"], "peak_rss_children": peaks["children"],
           "stdout": stdout[-4000:], "stderr": stderr[-4000:]}
    if state["killed"] is not None:
        out["error"] = (f"killed: tree RSS passed {rss_limit / 2**30:.1f} GiB after "
                        f"{state['killed']:.0f} s" if state["killed"] >= 0 else
                        f"killed: no exit within {timeout:.0f} s")
    elif proc.returncode:
        out["error"] = f"exit {proc.returncode}: " + (stderr.strip().splitlines() or ["?"])[-1]
    return out


def environment(cache: Path) -> dict[str, str]:
    """The contenders' environment: this worktree's packages first, one Prefect home kept
    across runs (its database is created by the warm-up, as on a user's machine after the
    first run), no Prefect API configured (``bluecarbon run`` starts its temporary server),
    telemetry off."""
    home = cache / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep), PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1")
    return env


def command(contender: str, catalog: Path, sites: Path, out: Path, end: dt.date) -> list[str]:
    """The contender's command line; ``bluecarbon@DIR``: bluecarbon from the source tree
    ``DIR`` (another version, timed in the same run: :func:`contender_env`)."""
    if contender.split("@")[0] == "bluecarbon":
        return [sys.executable, "-m", "flows.cli", "run", "--source", "stac",
                "--catalog", str(catalog), "--sites", str(sites), "--out", str(out),
                "--end", end.isoformat(), "--max-area-ha", "2000000"]
    median = contender.removeprefix("peer-")
    return [sys.executable, "-m", "benchmarks.peer", "--catalog", str(catalog),
            "--sites", str(sites), "--out", str(out), "--median", median,
            "--end", end.isoformat()]


def contender_env(contender: str, env: dict[str, str]) -> dict[str, str]:
    """``env`` for ``contender``: ``bluecarbon@DIR`` imports its packages from ``DIR``."""
    if "@" not in contender:
        return env
    tree = contender.split("@", 1)[1]
    return dict(env, PYTHONPATH=os.pathsep.join([tree, env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep))


def final_month(contender: str, out: Path, site_id: str) -> dict:
    """The last month's period, extent, gain and loss a contender wrote, and its months."""
    if contender.split("@")[0] == "bluecarbon":
        path = out / "change" / f"site_id={site_id}" / "part-0.parquet"
    else:
        path = out / f"change-{site_id}.parquet"
    table = pd.read_parquet(path).sort_values("period")
    last = table.iloc[-1]
    return {"period": str(pd.Timestamp(last["period"]).date()), "months": len(table),
            **{k: float(last[k]) for k in AREAS}}


def agreement(reference: dict, other: dict) -> dict:
    """Relative differences of ``other``'s final-month areas to ``reference``'s."""
    rel = {}
    for k in AREAS:
        a, b = reference[k], other[k]
        rel[k] = 0.0 if a == b else abs(b - a) / abs(a) if a else float("inf")
    return {"relative": rel, "same_month": reference["period"] == other["period"],
            "same_months": reference["months"] == other["months"],
            "ok": (reference["period"] == other["period"]
                   and all(v <= AGREEMENT for v in rel.values()))}
