"""Where ``bluecarbon run``'s time and memory go, on one site of :mod:`benchmarks.whole_job`.

    python -m benchmarks.profile_job [--size 2000] [--scenes 24] [--rate 50] [--out DIR]

Needs py-spy (``pip install py-spy``). Two profiled runs of the real command (a fresh process
each, Prefect's temporary API server included, after one unprofiled warm-up):

* **wall**: ``py-spy record --idle``: the main thread's samples in order are the run's
  timeline (one site: the flow runs it in the main thread; dask's workers compute while it
  waits), each sample put in a phase by the innermost frame that names one (:data:`PHASES`:
  imports wherever they happen, waiting for the server, the Prefect engine, search, graph
  building, the ``dask.compute`` of reads and kernels, the month walk, alerts, maps, Parquet,
  ...); the tree's RSS (psutil, 50 ms) is laid on the same timeline, so each phase gets its
  peak memory;
* **cpu**: ``py-spy record`` without ``--idle``: every busy thread of every process, each
  sample put in a kind of work by :data:`KINDS` (COG decode, numba kernels, dask and xarray
  overhead, ``concatenate3``, the walk, the Prefect server, ...).

Prints both tables and writes them (and the raw profiles: open them in speedscope.app) to
``--out``. Sampling costs a few percent; the machine is shared: read shares, not seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import psutil  # noqa: E402
import whole_job  # noqa: E402

# (phase, function name or None, file substring or None): the first rule that a frame of a
# main-thread sample matches names its phase (imports first, wherever they happen)
PHASES = [
    ("imports", "_find_and_load", None),
    ("start-up: waiting for the Prefect server", "TemporaryAPI.wait", None),
    ("shutdown: flush Prefect, stop the server", "_flush_prefect", None),
    ("shutdown: flush Prefect, stop the server", "TemporaryAPI.stop", None),
    ("search (STAC catalog)", "search_scenes", None),
    ("plan (store read)", "plan_site_task", None),
    ("maps written (COGs)", "write_site_maps", None),
    ("alerts written", "write_alerts", None),
    ("Parquet rows written", "write_rows", "flows/store.py"),
    ("alerts (rows, patches)", "alert_rows", None),
    ("month walk (gap-fill, labels, canopy, maps)", "_walk", "flows/pipeline.py"),
    ("dask.compute (reads, kernels, composites)", "compute", "dask/base.py"),
    ("site_tables: graph building, rows", "site_tables", "flows/pipeline.py"),
    ("trajectories, run record", "update_trajectories", None),
    ("trajectories, run record", "write_run_record", None),
    ("flow (other)", "monitor_sites", None),
    ("Prefect engine (flow and task runs)", None, "/prefect/"),
    ("CLI (config, sites, console)", None, "flows/"),
]

_WAITS = {"_worker", "Condition.wait", "Condition.notify", "Condition.__enter__",
          "Condition.__exit__", "Event.wait", "Thread.join", "_wait_for_tstate_lock",
          "Queue.get", "Queue.put", "select", "Selector.select", "EpollSelector.select"}

# (kind, function name or None, file substring or None, process or None): the first rule
# that a frame of a busy sample matches (process: "child", the Prefect server)
KINDS = [
    ("Prefect server (subprocess)", None, None, "child"),
    ("imports", "_find_and_load", None, None),
    ("COG decode (rasterio/GDAL)", None, "rasterio/", None),
    ("COG decode (rasterio/GDAL)", None, "flows/sources/_reader.py", None),
    ("maps written (COG encode, overviews)", None, "flows/maps.py", None),
    ("composite kernel (numba)", "_CompositeBlock.__call__", None, None),
    ("index and statistics kernels (numba)", None, "indices/spectral.py", None),
    ("index and statistics kernels (numba)", None, "indices/_kernels.py", None),
    ("dask concatenate3", "concatenate3", None, None),
    ("month walk: labels (scipy.ndimage)", None, "scipy/ndimage", None),
    ("month walk (change, canopy, maps)", "walk_months", None, None),
    ("month walk (change, canopy, maps)", "_walk", "flows/pipeline.py", None),
    ("alerts", None, "alerts", None),
    ("Parquet", None, "flows/store.py", None),
    ("numba dispatch/compile", None, "numba/", None),
    ("dask scheduling and graph", None, "dask/", None),
    ("console display (rich)", None, "rich/", None),
    ("xarray", None, "xarray/", None),
    ("Prefect engine (client, logging, events)", None, "/prefect/", None),
    ("Prefect engine (client, logging, events)", None, "/httpx/", None),
    ("Prefect engine (client, logging, events)", None, "/anyio/", None),
    ("Prefect engine (client, logging, events)", None, "aiosqlite", None),
    ("Prefect engine (client, logging, events)", None, "asyncio/", None),
]
WAITING = "threads waking to wait (GIL handovers, pool queues)"
NATIVE = "no Python frame (interpreter start and exit)"


def _matches(frame: dict, name: str | None, file: str | None) -> bool:
    return ((name is None or frame["name"] == name)
            and (file is None or file in (frame.get("file") or "")))


def _python(stack: list[dict]) -> list[dict]:
    """The stack without py-spy's "process ..." and "thread (...)" root entries."""
    return [f for f in stack if f.get("file") or not f["name"].startswith(("process ", "thread "))]


def phase_of(stack: list[dict]) -> str:
    frames = _python(stack)
    if not frames:
        return NATIVE
    for phase, name, file in PHASES:
        if any(_matches(f, name, file) for f in frames):
            return phase
    return "other"


def kind_of(stack: list[dict], process: str) -> str:
    """``process``: "main" or "child" (the Prefect server)."""
    if process == "child":
        return KINDS[0][0]
    frames = _python(stack)
    if not frames:
        return NATIVE
    if frames[-1]["name"] in _WAITS:
        return WAITING
    for kind, name, file, _ in KINDS[1:]:
        if any(_matches(f, name, file) for f in frames):
            return kind
    return "other"


def record(cmd: list[str], out: Path, *, idle: bool, rate: int, env: dict, cwd: Path) -> dict:
    """py-spy record of ``cmd`` into ``out`` (speedscope JSON), with the RSS of the profiled
    process tree (py-spy itself left out) sampled every 50 ms."""
    spy = [shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")), "record",
           "--format", "speedscope", "--subprocesses", "--threads", "-r", str(rate),
           "-o", str(out), *(["--idle"] if idle else []), "--"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(spy + cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, int, int, int]] = []
    pids: dict = {"main": None, "children": set()}
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not done.wait(0.05):
            with contextlib.suppress(psutil.Error):
                kids = root.children(recursive=False)
                main = kids[0] if kids else None
                if main is None:
                    continue
                pids["main"] = main.pid
                rss_main = main.memory_info().rss
                rss_kids = 0
                for c in main.children(recursive=True):
                    pids["children"].add(c.pid)
                    with contextlib.suppress(psutil.Error):
                        rss_kids += c.memory_info().rss
                samples.append((time.perf_counter() - t0, rss_main + rss_kids, rss_main,
                                rss_kids))

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - t0
    done.set()
    watcher.join()
    if proc.returncode:
        raise SystemExit(f"profile_job: the profiled run failed ({proc.returncode}):\n"
                         f"{stderr[-3000:]}")
    return {"seconds": seconds, "rss": samples, "main_pid": pids["main"],
            "child_pids": sorted(pids["children"])}


def _profiles(path: Path) -> tuple[list[dict], list[dict]]:
    data = json.loads(path.read_text())
    return data["shared"]["frames"], data["profiles"]


def wall_phases(path: Path, rss: list[tuple[float, int, int, int]], pid: int) -> dict:
    """The main thread of the CLI process ``pid``, sample by sample: seconds and peak RSS a
    phase."""
    frames, profiles = _profiles(path)
    main = None
    for p in profiles:  # "Process N Thread N ...": the main thread's id is the process's
        words = p["name"].split()
        if len(words) > 3 and words[1] == words[3] == str(pid):
            main = p
    if main is None:
        raise SystemExit("profile_job: no main thread in the profile")
    seconds: dict[str, float] = defaultdict(float)
    timeline = []
    t = 0.0
    for stack, w in zip(main["samples"], main["weights"], strict=True):
        phase = phase_of([frames[i] for i in stack])
        seconds[phase] += w
        timeline.append((t, phase))
        t += w
    peaks: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    j = 0
    for when, tree, rss_main, kids in rss:
        while j + 1 < len(timeline) and timeline[j + 1][0] <= when:
            j += 1
        if timeline:
            peak = peaks[timeline[j][1]]
            peak[0], peak[1], peak[2] = max(peak[0], tree), max(peak[1], rss_main), max(
                peak[2], kids)
    total = sum(seconds.values())
    return {"total_s": total, "phases": {
        k: {"seconds": v, "share": v / total if total else 0.0,
            "peak_rss_gib": peaks[k][0] / 2**30, "peak_rss_main_gib": peaks[k][1] / 2**30,
            "peak_rss_children_gib": peaks[k][2] / 2**30}
        for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])}}


def cpu_kinds(path: Path, pid: int) -> dict:
    """Busy samples of every thread of the CLI process ``pid`` and its children (the
    server), by kind of work."""
    frames, profiles = _profiles(path)
    seconds: dict[str, float] = defaultdict(float)
    by_process: dict[str, float] = defaultdict(float)
    for p in profiles:
        process = "main" if p["name"].split()[1] == str(pid) else "child"
        for stack, w in zip(p["samples"], p["weights"], strict=True):
            kind = kind_of([frames[i] for i in stack], process)
            seconds[kind] += w
            by_process[p["name"].split(" Thread")[0]] += w
    total = sum(seconds.values())
    return {"total_cpu_s": total, "kinds": {
        k: {"cpu_s": v, "share": v / total if total else 0.0}
        for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])},
        "processes": dict(by_process)}


def analyse(folder: Path, size: int, report: dict) -> dict:
    """The two tables from the profiles and RSS samples saved in ``folder``."""
    for mode in ("wall", "cpu"):
        run = json.loads((folder / f"run-{mode}-{size}.json").read_text())
        prof = folder / f"{mode}-{size}.speedscope.json"
        report[f"{mode}_run_s"] = run["seconds"]
        if mode == "wall":
            report["wall"] = wall_phases(prof, run["rss"], run["main_pid"])
            report["peak_rss_gib"] = max(r[1] for r in run["rss"]) / 2**30
        else:
            report["cpu"] = cpu_kinds(prof, run["main_pid"])
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=2000, help="site side in px (default 2000)")
    p.add_argument("--scenes", type=int, default=24)
    p.add_argument("--rate", type=int, default=50, help="samples a second (default 50)")
    p.add_argument("--cache", type=Path, default=Path("/tmp/bluecarbon-bench"))
    p.add_argument("--out", type=Path, default=Path("profile-job"))
    p.add_argument("--reanalyse", action="store_true",
                   help="only the tables, from the profiles already in --out")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"size": args.size, "scenes": args.scenes, "rate": args.rate}
    if args.reanalyse:
        report |= {k: v for k, v in json.loads(
            (args.out / f"profile-{args.size}.json").read_text()).items()
            if k.startswith("unprofiled")}
    else:
        work = Path(tempfile.mkdtemp(prefix="bluecarbon-profile-"))
        try:
            env = whole_job.environment(args.cache)
            inputs = whole_job.prepare(args.cache, work, args.size, args.scenes)
            warm = whole_job.run_contender("bluecarbon", inputs, work, env, 2**40, "warm")
            print(f"warm-up (unprofiled): {warm['seconds']:.1f} s, peak RSS "
                  f"{warm['peak_rss'] / 2**30:.2f} GiB")
            report |= {"unprofiled_s": warm["seconds"],
                       "unprofiled_peak_rss_gib": warm["peak_rss"] / 2**30}
            for mode in ("wall", "cpu"):
                out = work / f"out-{mode}"
                cmd = whole_job.command("bluecarbon", inputs["catalog"], inputs["sites"], out,
                                        inputs["end"])
                prof = args.out / f"{mode}-{args.size}.speedscope.json"
                run = record(cmd, prof, idle=mode == "wall", rate=args.rate, env=env, cwd=work)
                shutil.rmtree(out, ignore_errors=True)
                (args.out / f"run-{mode}-{args.size}.json").write_text(json.dumps(run))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    report = analyse(args.out, args.size, report)
    print(f"\nwall (main thread, {report['wall']['total_s']:.1f} s sampled, run "
          f"{report['wall_run_s']:.1f} s under py-spy):")
    for k, v in report["wall"]["phases"].items():
        print(f"  {v['share']:6.1%} {v['seconds']:6.1f} s  peak RSS {v['peak_rss_gib']:5.2f} GiB "
              f"(main {v['peak_rss_main_gib']:.2f})  {k}")
    print(f"\ncpu (busy samples, all threads and processes: {report['cpu']['total_cpu_s']:.1f} "
          f"CPU s in {report['cpu_run_s']:.1f} s):")
    for k, v in report["cpu"]["kinds"].items():
        print(f"  {v['share']:6.1%} {v['cpu_s']:6.1f} s  {k}")
    (args.out / f"profile-{args.size}.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
