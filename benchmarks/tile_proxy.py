"""The whole-tile site computation on fewer scenes, with where its memory goes (issue 22).

    PYTHONPATH=$PWD python benchmarks/tile_proxy.py [--size 10980] [--scenes 4] [--no-warm]
    PYTHONPATH=$PWD python benchmarks/tile_proxy.py --paths [--json FILE]

What ``benchmarks.run``'s ``--child pipeline`` runs (``site_tables`` with products on the
changing synthetic tile, ``walk="auto"``, 1024² chunks, then the maps written), in this
process, after an untimed 1026² x 2 warm-up, while a thread samples the RSS every 20 ms and
prints, every 2 s, the RSS, the load average and the main thread's innermost ``flows`` /
``indices`` frames; at the end the peak, where the main thread was at the peak, ``VmHWM``
and the seconds. 10980² x 4 scenes reproduces the 12-scene tile's peak phases (the
evidence, the walk's first inputs, the baseline pass) in about half its time.

``--paths``: instead, the real thing once, as ``benchmarks.whole_job``'s tile section runs it
(``bench_tile_paths``: the 12-scene tile's observation path, then its site computation, each
in a fresh process by ``benchmarks.run``'s ``--child``), with the load average before, between
and after (the machine is shared).

The tile's COGs are reused from ``--cache`` (``$BLUECARBON_BENCH_CACHE`` or
``/tmp/bluecarbon-bench``): ``synthetic.write_tile(change=True)`` writes them once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import dask  # noqa: E402
import numba  # noqa: E402
import synthetic  # noqa: E402

THREADS = 2


def where(thread_id: int) -> str:
    """The innermost ``flows``/``indices`` frames of a thread, outermost first."""
    frame = sys._current_frames().get(thread_id)
    if frame is None:
        return "-"
    ours = [f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno}:{f.name}"
            for f in traceback.extract_stack(frame)
            if "/flows/" in f.filename or "/indices/" in f.filename]
    return " > ".join(ours[-5:]) or "-"


class Sampler:
    """RSS every ``every`` s (``/proc/self/statm``); the peak and where the main thread was."""

    def __init__(self, every: float = 0.02, report: float = 2.0):
        self.peak, self.peak_at, self.peak_where = 0, 0.0, "-"
        self.t0, self.last = time.perf_counter(), -1e9
        self._every, self._report = every, report
        threading.Thread(target=self._run, daemon=True).start()

    def reset(self) -> None:
        self.peak, self.t0, self.last = 0, time.perf_counter(), -1e9

    def _run(self) -> None:
        page, main = os.sysconf("SC_PAGE_SIZE"), threading.main_thread().ident
        while True:
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * page
            now = time.perf_counter() - self.t0
            if rss > self.peak:
                self.peak, self.peak_at, self.peak_where = rss, now, where(main)
            if now - self.last >= self._report:
                self.last = now
                print(f"T t={now:7.1f} rss={rss / 2**30:.3f} load={os.getloadavg()[0]:.1f} "
                      f"main={where(main)}", flush=True)
            time.sleep(self._every)


def run(cache: Path, size: int, n: int, chunks: int) -> dict:
    from flows.results.maps import write_site_maps
    from flows.site import site_tables
    from flows.sources.stac import StacSource

    items = synthetic.write_tile(cache, size, n, change=True)
    site = synthetic.tile_site(size)
    source = StacSource(str(items))
    first, last = synthetic.scene_dates(n)
    scenes = source.search(site, first, last)
    t0 = time.perf_counter()
    tables = site_tables(site, source, scenes, start=None, end=last, run_id="bench",
                         chunks=chunks, products=True)
    t_tables = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="bluecarbon-bench-maps-") as out:
        written = write_site_maps(out, site, tables.maps)
    return {"walk": tables.walk, "site_tables_s": t_tables, "maps_written": len(written),
            "alerts": len(tables.alerts.rows) if tables.alerts is not None else None,
            "rows": len(tables.observations) + len(tables.change)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=10980)
    p.add_argument("--scenes", type=int, default=4)
    p.add_argument("--chunks", type=int, default=1024)
    p.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "BLUECARBON_BENCH_CACHE", "/tmp/bluecarbon-bench")))
    p.add_argument("--no-warm", action="store_true", help="skip the 1026² x 2 warm-up")
    p.add_argument("--json", type=Path, help="also write the result line here")
    p.add_argument("--paths", action="store_true",
                   help="the 12-scene tile's two paths (benchmarks.whole_job.bench_tile_paths)")
    args = p.parse_args(argv)
    if args.paths:
        return paths(args)
    numba.set_num_threads(THREADS)
    dask.config.set(scheduler="threads", num_workers=THREADS)
    import flows

    print(f"flows from {flows.__file__}", flush=True)
    sampler = Sampler()
    if not args.no_warm:
        run(args.cache, 1026, 2, args.chunks)
        print(f"warm-up done t={time.perf_counter() - sampler.t0:.1f}", flush=True)
    sampler.reset()
    load0 = os.getloadavg()
    t0, cpu0 = time.perf_counter(), os.times()
    got = run(args.cache, args.size, args.scenes, args.chunks)
    seconds, cpu1 = time.perf_counter() - t0, os.times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)  # every thread's, user + sys
    hwm = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
               if line.startswith("VmHWM"))
    result = {"size": args.size, "scenes": args.scenes, "chunks": args.chunks, **got,
              "seconds": round(seconds, 1), "cpu_s": round(cpu, 1),
              "cpu_over_wall": round(cpu / seconds, 3), "sampled_peak_gib": round(sampler.peak / 2**30, 3),
              "vmhwm_gib": round(hwm / 2**30, 3), "peak_at_s": round(sampler.peak_at, 1),
              "peak_where": sampler.peak_where, "load_start": load0,
              "load_end": os.getloadavg(), "flows": flows.__file__}
    print("RESULT " + json.dumps(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


def paths(args: argparse.Namespace) -> int:
    """``--paths`` (module doc): prints and writes the two runs and their ratio."""
    import whole_job

    loads = {"start": os.getloadavg()}
    t0 = time.perf_counter()
    got = whole_job.bench_tile_paths(args.cache, 8 * 2**30)
    loads["end"] = os.getloadavg()
    got["loadavg"] = loads
    got["wall_s"] = time.perf_counter() - t0
    print("RESULT " + json.dumps(got["summary"]) + f" load {loads}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(got, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
