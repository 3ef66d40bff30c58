"""Many sites in one nightly run: time per site, memory and file handles as the run goes.

    python benchmarks/load_sites.py [--sites 200] [--json FILE] [--no-driver]

Generates ``--sites`` small valid sites (30-60 ha each, tiled along a coast,
``tests/strategies.py::coastal_sites``), runs ``bluecarbon run`` on them with the demo source
over a short period (baseline 1-15 Jan 2025, rows 16-31 Jan: ~6 scenes a site) into a fresh
results folder, and samples the CLI process with psutil each time it reports a site
done (its per-site progress lines): resident memory, open file descriptors, threads, and the
memory of its children (Prefect's ephemeral API server). Then, unless ``--no-driver``, the
same sites through the flow's steps without Prefect (``flows.site`` + the flow's
``write_results``) in one process, to put a number on Prefect's per-site overhead.

Prints a JSON summary: wall time, seconds per site (median, p90), RSS and fds at the first
and the last site, their growth per site over the second half of the run (least squares),
peak RSS, and the Prefect/no-Prefect ratio. ``tests/test_load.py`` runs this with fewer sites
and asserts on the same numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from strategies import coastal_sites  # noqa: E402

BASELINE = ("2025-01-01", "2025-01-15")
START, END = "2025-01-16", "2025-01-31"
_PROGRESS = re.compile(r"^(done|skip|failed)\s+(\S+):")


def sites_file(folder: Path, n: int) -> Path:
    path = folder / f"sites-{n}.geojson"
    path.write_text(json.dumps(coastal_sites(n, seed=42, prefix="load", baseline=BASELINE)))
    return path


def _slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (growth per site)."""
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def run_cli(sites: Path, out: Path, env: dict[str, str], timeout: float = 3600) -> dict:
    """``bluecarbon run`` on ``sites``; one psutil sample per progress line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", "--sites", str(sites), "--out", str(out),
         "--start", START, "--end", END], cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    ps = psutil.Process(proc.pid)
    samples: list[dict] = []
    lines: list[str] = []
    t0 = time.monotonic()

    def sample(kind: str, site: str) -> None:
        try:
            with ps.oneshot():
                rss, fds, threads = ps.memory_info().rss, ps.num_fds(), ps.num_threads()
            kids = sum(c.memory_info().rss for c in ps.children(recursive=True))
        except psutil.Error:
            return
        samples.append({"t": time.monotonic() - t0, "kind": kind, "site": site,
                        "rss_mb": rss / 2**20, "fds": fds, "threads": threads,
                        "children_rss_mb": kids / 2**20})

    def read_stderr() -> None:
        for line in proc.stderr:
            lines.append(line)
            m = _PROGRESS.match(line)
            if m:
                sample(m.group(1), m.group(2))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        stdout = proc.stdout.read()
        code = proc.wait(timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(30)
    reader.join(30)
    return {"returncode": code, "wall_s": time.monotonic() - t0, "samples": samples,
            "stderr": "".join(lines), "stdout": stdout}


def summarise(run: dict, n_sites: int) -> dict:
    s = run["samples"]
    done = [x for x in s if x["kind"] == "done"]
    per_site = [b["t"] - a["t"] for a, b in zip(done, done[1:], strict=False)]
    half = done[len(done) // 2:]
    xs = list(range(len(done) - len(half), len(done)))
    rss_all = [x["rss_mb"] for x in s]
    return {
        "sites": n_sites, "done": len(done), "returncode": run["returncode"],
        "wall_s": round(run["wall_s"], 1),
        "first_site_done_s": round(done[0]["t"], 1) if done else None,
        "s_per_site_median": round(statistics.median(per_site), 3) if per_site else None,
        "s_per_site_p90": round(sorted(per_site)[int(0.9 * (len(per_site) - 1))], 3)
        if per_site else None,
        "rss_mb_first": round(done[0]["rss_mb"], 1) if done else None,
        "rss_mb_last": round(done[-1]["rss_mb"], 1) if done else None,
        "rss_mb_peak": round(max(rss_all), 1) if rss_all else None,
        "rss_mb_per_site_2nd_half": round(_slope(xs, [x["rss_mb"] for x in half]), 4),
        "fds_first": done[0]["fds"] if done else None,
        "fds_last": done[-1]["fds"] if done else None,
        "fds_max": max(x["fds"] for x in s) if s else None,
        "fds_per_site_2nd_half": round(_slope(xs, [x["fds"] for x in half]), 4),
        "threads_first": done[0]["threads"] if done else None,
        "threads_last": done[-1]["threads"] if done else None,
        "children_rss_mb_first": round(done[0]["children_rss_mb"], 1) if done else None,
        "children_rss_mb_last": round(done[-1]["children_rss_mb"], 1) if done else None,
        "machine_ram_mb": round(psutil.virtual_memory().total / 2**20),
    }


def run_driver(sites: Path, out: Path) -> dict:
    """The flow's per-site steps without Prefect, in a fresh process: seconds per site."""
    code = f"""
import datetime as dt, json, sys, time
sys.path[:0] = [{str(REPO)!r}]
from aoi import load_sites
from flows.monitor import write_results
from flows.results import store
from flows.site import load_range, plan_site, site_tables
from flows.sources.demo import DemoSource
start, end = dt.date.fromisoformat({START!r}), dt.date.fromisoformat({END!r})
src, times = DemoSource(0), []
for site in load_sites({str(sites)!r}):
    t = time.monotonic()
    scenes = src.search(site, *load_range(site, start, end))
    plan = plan_site(scenes, store.read_table({str(out)!r}, "observations", site.id),
                     report_from=start)
    tables = site_tables(site, src, scenes, start=start, end=end, run_id="driver", plan=plan,
                         products=True)
    write_results.fn({str(out)!r}, tables, site, plan.since)
    times.append(time.monotonic() - t)
print(json.dumps(times))
"""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True)
    if proc.returncode:
        raise RuntimeError(f"the driver failed: {proc.stderr[-2000:]}")
    times = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"wall_s": round(time.monotonic() - t0, 1),
            "s_per_site_median": round(statistics.median(times[1:]), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-driver", action="store_true")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bluecarbon-load-"))
    try:
        sites = sites_file(work, args.sites)
        home = work / "prefect-home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   DO_NOT_TRACK="1", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")
        run = run_cli(sites, work / "results", env)
        summary = summarise(run, args.sites)
        if not args.no_driver:
            driver = run_driver(sites, work / "results-driver")
            summary["driver_s_per_site_median"] = driver["s_per_site_median"]
            if summary["s_per_site_median"]:
                summary["prefect_over_driver"] = round(
                    summary["s_per_site_median"] / driver["s_per_site_median"], 2)
        print(json.dumps(summary, indent=2))
        if args.json:
            args.json.write_text(json.dumps({"summary": summary, "samples": run["samples"]},
                                            indent=1))
        return 0 if run["returncode"] == 0 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
