"""Wall and CPU seconds of the bottleneck peer's phases (:mod:`benchmarks.peer`), one
process, no sampler, the same way ``phases.py`` times ``bluecarbon run`` (perf37, issue 22):

    PYTHONPATH=$TREE python benchmarks/measured/perf37/peer_phases.py [--json F] -- \\
        --catalog C --sites S --out D --median bottleneck --end YYYY-MM-DD

Phases: the interpreter's start, the peer's imports (``import benchmarks.peer``: dask, numpy,
odc.stac, pandas, pystac, shapely, xarray, rasterio, scipy.ndimage, the few ``indices``
modules it reads the rule from), the catalog walk, ``site_change`` (its own split: graph,
compute, walk), the Parquet write; and summed over every thread (calls, wall, thread CPU):
odc's reads (``odc.loader._rio.rio_read``: one band of one solar day in one chunk),
bottleneck's ``nanmedian``, the labels (``drop_small``). The wrapping is done here only.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

T0 = time.perf_counter()
C0 = time.process_time()
try:
    with open(f"/proc/{os.getpid()}/stat") as f:
        _START_TICKS = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        _UP = float(f.read().split()[0])
    BOOT = _UP - _START_TICKS / os.sysconf("SC_CLK_TCK")
except OSError:
    BOOT = 0.0

EVENTS: list[tuple] = []
ACC: dict[str, list[float]] = {}


def _mem() -> tuple[float, float]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                out[line[:5]] = int(line.split()[1]) / 1024
    return out["VmRSS"], out["VmHWM"]


def _event(label: str, t: float, c: float) -> None:
    EVENTS.append((label, t - T0, time.perf_counter() - t, time.process_time() - c, *_mem()))


def _summed(fn, label: str):
    lock = threading.Lock()
    ACC[label] = acc = [0, 0.0, 0.0]

    def summed(*a, **k):
        t, c = time.perf_counter(), time.thread_time()
        try:
            return fn(*a, **k)
        finally:
            w, cp = time.perf_counter() - t, time.thread_time() - c
            with lock:
                acc[0] += 1
                acc[1] += w
                acc[2] += cp

    return summed


def _timed(fn, label: str):
    def timed(*a, **k):
        t, c = time.perf_counter(), time.process_time()
        try:
            return fn(*a, **k)
        finally:
            _event(label, t, c)

    return timed


def main() -> int:
    args = sys.argv[1:]
    out = None
    if args and args[0] == "--json":
        out, args = args[1], args[2:]
    argv = args[1:] if args and args[0] == "--" else args
    t, c = time.perf_counter(), time.process_time()
    from benchmarks import peer
    _event("imports (import benchmarks.peer)", t, c)
    import bottleneck
    import odc.loader._rio as rio

    rio.rio_read = _summed(rio.rio_read, "reads (odc rio_read: band x day x chunk)")
    bottleneck.nanmedian = _summed(bottleneck.nanmedian, "median (bottleneck.nanmedian)")
    peer.drop_small = _summed(peer.drop_small, "labels (drop_small: ndimage.label)")
    peer.read_items = _timed(peer.read_items, "catalog (read_items)")
    site_change = peer.site_change
    phases_of: list[dict] = []

    def timed_site(*a, **k):
        t, c = time.perf_counter(), time.process_time()
        table, ph = site_change(*a, **k)
        _event("site_change", t, c)
        phases_of.append(ph)
        return table, ph

    peer.site_change = timed_site
    import pandas as pd
    to_parquet = pd.DataFrame.to_parquet

    def parquet(self, *a, **k):
        t, c = time.perf_counter(), time.process_time()
        try:
            return to_parquet(self, *a, **k)
        finally:
            _event("parquet", t, c)

    pd.DataFrame.to_parquet = parquet
    t, c = time.perf_counter(), time.process_time()
    rc = peer.main(argv)
    _event("peer.main", t, c)
    wall, cpu = time.perf_counter() - T0 + BOOT, time.process_time()
    hwm = _mem()[1]
    print(f"{'phase':40s} {'start':>7s} {'wall':>7s} {'cpu':>7s}  RSS/HWM at its end (MiB)",
          file=sys.stderr)
    print(f"{'interpreter start':40s} {0:7.2f} {BOOT:7.2f} {C0:7.2f}", file=sys.stderr)
    for label, start, w, cp, rss, hw in sorted(EVENTS, key=lambda e: e[1]):
        print(f"{label:40s} {start + BOOT:7.2f} {w:7.2f} {cp:7.2f}  {rss:5.0f} / {hw:5.0f}",
              file=sys.stderr)
    for ph in phases_of:
        print("  site_change's own split (wall s): " + ", ".join(
            f"{k} {v:.2f}" for k, v in ph.items() if k.endswith("_s")), file=sys.stderr)
    print(f"{'total':40s} {0:7.2f} {wall:7.2f} {cpu:7.2f}   peak RSS {hwm:.0f} MiB",
          file=sys.stderr)
    for label, (n, w, cp) in ACC.items():
        print(f"{'sum: ' + label:40s} {n:7d} {w:7.2f} {cp:7.2f}  (calls, wall, thread CPU)",
              file=sys.stderr)
    if out:
        with open(out, "w") as f:
            json.dump({"boot": BOOT, "wall": wall, "cpu": cpu, "hwm_mib": hwm,
                       "events": EVENTS, "acc": ACC, "site_change": phases_of}, f)
    return rc


if __name__ == "__main__":
    sys.exit(main())
