"""Where a ``bluecarbon run``'s memory goes, month by month of its walk (issue 22, fourth pass).

    python -m benchmarks.walk_memory [--size 2000] [--scenes 24] [--trace]
                                     [--handles N] [--cache DIR]

Runs the real command in this process on one site of :mod:`benchmarks.whole_job` (its COGs
and sites file) and prints, as each month enters and leaves the walk
(``flows.site.walks.walk_months``), the process's RSS (anonymous and file-backed), glibc's
heap (``mallinfo2``: arenas, in use, free, mmapped) and with ``--trace`` Python's traced
allocations (``tracemalloc``: numpy's arrays included; GDAL's, numba's and other C
allocations are not, so ``in use`` minus ``traced`` is C memory); then the peak RSS
(sampled every 20 ms) and what the other threads were running at that moment. With
``--trace``, the 25 largest holders at month 10 by allocation site. ``--handles N`` caps the
reader's open datasets a thread at N (``flows.sources._blocks._MAX_HANDLES``).

Slow with ``--trace`` (~5x); the machine is shared: read memory, not time.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import runpy
import sys
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks",
                                               "keepcost")]


def _status(t0: float, trace: bool) -> str:
    """One line: RSS (anon, file) and glibc's heap, GiB; traced allocations with ``trace``."""
    kb = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "RssAnon", "RssFile")):
                key, value = line.split(":")
                kb[key] = int(value.split()[0]) / 2**20
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    m = libc.mallinfo2()
    text = (f"t={time.time() - t0:6.1f} s rss={kb['VmRSS']:.3f} anon={kb['RssAnon']:.3f} "
            f"file={kb['RssFile']:.3f} heap={m.arena / 2**30:.3f} in_use={m.uordblks / 2**30:.3f} "
            f"free={m.fordblks / 2**30:.3f} mmapped={m.hblkhd / 2**30:.3f}")
    if trace:
        import tracemalloc

        text += f" traced={tracemalloc.get_traced_memory()[0] / 2**30:.3f}"
    return text


def _others() -> list[str]:
    """The innermost flows/indices frames of every other thread."""
    out = []
    for tid, frame in sys._current_frames().items():
        if tid == threading.get_ident():
            continue
        ours = [f"{Path(f.filename).name}:{f.lineno}:{f.name}"
                for f in traceback.extract_stack(frame)
                if "/flows/" in f.filename or "/indices/" in f.filename]
        if ours:
            out.append(" > ".join(ours[-4:]))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=2000)
    p.add_argument("--scenes", type=int, default=24)
    p.add_argument("--trace", action="store_true")
    p.add_argument("--handles", type=int)
    p.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "BLUECARBON_BENCH_CACHE", "/tmp/bluecarbon-bench")))
    args = p.parse_args(argv)
    if args.trace:
        import tracemalloc

        tracemalloc.start(4)
    import tempfile

    import whole_job
    from job_runs import command, environment

    work = Path(tempfile.mkdtemp(prefix="bluecarbon-walk-memory-"))
    plan = whole_job.prepare(args.cache, work, args.size, args.scenes)
    os.environ.update({k: v for k, v in environment(args.cache).items()
                       if k.startswith(("PREFECT_", "DO_NOT"))})
    cmd = command("bluecarbon", plan["catalog"], plan["sites"], work / "out", plan["end"])
    t0 = time.time()

    import flows.site.walks as walks

    if args.handles is not None:
        import flows.sources._blocks as blocks

        blocks._MAX_HANDLES = args.handles
    walk_months = walks.walk_months

    def watched(months, *a, **k):
        def fed():
            for i, month in enumerate(months):
                print(f"month {i:2d} in  {_status(t0, args.trace)}", flush=True)
                yield month
        for i, out in enumerate(walk_months(fed(), *a, **k)):
            print(f"month {i:2d} out {_status(t0, args.trace)}", flush=True)
            if args.trace and i == 10:
                import tracemalloc

                for st in tracemalloc.take_snapshot().statistics("traceback")[:25]:
                    where = " < ".join(f"{Path(f.filename).name}:{f.lineno}"
                                       for f in list(st.traceback)[:4])
                    print(f"  held {st.size / 2**20:7.1f} MiB in {st.count:6d} blocks: {where}")
            yield out

    walks.walk_months = watched
    peak = {"rss": 0, "at": None}

    def sample():
        page = os.sysconf("SC_PAGE_SIZE")
        while True:
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * page
            if rss > peak["rss"]:
                peak.update(rss=rss, at=(time.time() - t0, _others()))
            time.sleep(0.02)

    threading.Thread(target=sample, daemon=True).start()
    sys.argv = cmd[2:]  # ["flows.cli", "run", ...]
    try:
        runpy.run_module("flows.cli", run_name="__main__")
    except SystemExit:
        pass
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    print(f"end {_status(t0, args.trace)}")
    at, where = peak["at"] or (0.0, [])
    print(f"peak RSS {peak['rss'] / 2**30:.3f} GiB at t={at:.1f} s; other threads then:")
    for line in where:
        print(f"  {line}")


if __name__ == "__main__":
    main()
