"""Wall and CPU seconds of ``bluecarbon run``'s phases, in one process, with no sampler:
``flows.cli.main`` run here (perf37: copied from perf36, + the reads' and the median
kernel's summed thread CPU, ``ACC``), a few of the run's functions wrapped with timers (the wrapping is
done in this driver only; the code under test is unchanged), and the process' peak RSS.

    PYTHONPATH=$TREE python benchmarks/measured/perf37/phases.py [--json F] -- run ...

Prints one line a phase: start (s since the interpreter's start), wall, CPU (the process'
CPU seconds, every thread, during the phase).
"""

from __future__ import annotations

import json
import os
import sys
import time

T0 = time.perf_counter()
C0 = time.process_time()
try:  # the interpreter's own start, before this line
    with open(f"/proc/{os.getpid()}/stat") as f:
        _START_TICKS = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        _UP = float(f.read().split()[0])
    BOOT = _UP - _START_TICKS / os.sysconf("SC_CLK_TCK")  # seconds since the process began
except OSError:
    BOOT = 0.0

EVENTS: list[tuple] = []


def _mem() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process, MiB."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                out[line[:5]] = int(line.split()[1]) / 1024
    return out["VmRSS"], out["VmHWM"]

WRAP = [  # (module, attribute path, label)
    ("flows.cli.run", "run_config", "run_config (config, sites, factors)"),
    ("flows.cli.run", "_check_source", "source check"),
    ("flows.nightly.steps", "search_scenes", "search"),
    ("flows.nightly.steps", "plan_site_task", "plan"),
    ("flows.site.tables", "site_tables", "site_tables"),
    ("flows.site.evidence", "site_evidence_of", "  evidence"),
    ("flows.site.onepass", "walk_once", "  one-pass walk"),
    ("flows.site.walks", "walk_computed", "    month walk (computed maps)"),
    ("flows.site.reads", "keep_reads", "  baseline reads kept"),
    ("flows.site.tables", "observation_rows", "  observation rows"),
    ("flows.site.tables", "change_rows", "  change rows"),
    ("flows.nightly.steps", "write_results", "write_results"),
    ("flows.results.maps", "write_site_maps", "  maps"),
    ("flows.nightly.steps", "update_carbon", "update_carbon"),
    ("flows.results", "write_run_record", "run record"),
]


ACC_SPEC = [  # (module, attribute, label): calls summed over every thread (count, wall, thread CPU)
    ("flows.sources._blocks", "read_block_status", "reads (band x scene x window)"),
    ("indices._median", "composite_kernel_serial", "median kernel (serial, in tasks)"),
    ("indices._median", "composite_kernel", "median kernel (parallel)"),
]
ACC: dict[str, list[float]] = {}


def _accumulate(module: str, attr: str, label: str) -> None:
    import importlib
    import threading

    mod = importlib.import_module(module)
    fn = getattr(mod, attr)
    lock = threading.Lock()
    ACC[label] = acc = [0, 0.0, 0.0, 0.0]  # calls, wall, thread CPU, the first call's CPU

    def summed(*a, **k):
        t, c = time.perf_counter(), time.thread_time()
        try:
            return fn(*a, **k)
        finally:
            w, cp = time.perf_counter() - t, time.thread_time() - c
            with lock:
                if acc[0] == 0:
                    acc[3] = cp
                acc[0] += 1
                acc[1] += w
                acc[2] += cp

    _replace(fn, summed)


def _replace(fn, new) -> None:
    for other in list(sys.modules.values()):  # every module that bound the function by name
        d = getattr(other, "__dict__", None)
        if d is None:
            continue
        for k, v in list(d.items()):
            if v is fn:
                d[k] = new


def _wrap(module: str, attr: str, label: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    fn = getattr(mod, attr)

    def timed(*a, **k):
        t, c = time.perf_counter(), time.process_time()
        try:
            return fn(*a, **k)
        finally:
            if attr == "run_config" and os.environ.get("PHASES_TRIM"):  # diagnosis only:
                import ctypes  # the freed heap given back to the OS after the sites' checks

                ctypes.CDLL("libc.so.6").malloc_trim(0)
            EVENTS.append((label, t - T0, time.perf_counter() - t, time.process_time() - c,
                           *_mem()))

    timed.__wrapped__ = fn
    for other in list(sys.modules.values()):  # every module that bound the function by name
        d = getattr(other, "__dict__", None)
        if d is None:
            continue
        for k, v in list(d.items()):
            if v is fn:
                d[k] = timed
    steps = getattr(sys.modules.get("flows.nightly.steps"), "STEPS", {})
    for step in steps.values():  # the nightly run calls its steps through these
        if getattr(step, "fn", None) is fn:
            object.__setattr__(step, "fn", timed)


def main() -> int:
    args = sys.argv[1:]
    out = None
    if args and args[0] == "--json":
        out, args = args[1], args[2:]
    argv = args[1:] if args and args[0] == "--" else args
    if os.environ.get("PHASES_PREIMPORT"):  # diagnosis: these imported before the run
        t, c = time.perf_counter(), time.process_time()
        for name in os.environ["PHASES_PREIMPORT"].split(","):
            __import__(name)
        EVENTS.append(("pre-import " + os.environ["PHASES_PREIMPORT"], t - T0,
                       time.perf_counter() - t, time.process_time() - c, *_mem()))
    t, c = time.perf_counter(), time.process_time()
    import flows.cli
    import flows.cli.run
    EVENTS.append(("import flows.cli", t - T0, time.perf_counter() - t, time.process_time() - c,
                   *_mem()))
    # the modules the wrapped functions live in, imported by the run itself at its own time:
    # wrapping them here would import them earlier, so wrap lazily through an import hook
    pending = {m: [(a, lbl, _wrap) for mm, a, lbl in WRAP if mm == m] for m, _, _ in WRAP}
    for m, a, lbl in ACC_SPEC:
        pending.setdefault(m, []).append((a, lbl, _accumulate))
    for m in list(pending):
        if m in sys.modules and not getattr(sys.modules[m].__spec__, "_initializing", False):
            for a, lbl, how in pending.pop(m):
                how(m, a, lbl)

    import builtins
    real_import = builtins.__import__

    def hook(name, globals=None, locals=None, fromlist=(), level=0):
        mod = real_import(name, globals, locals, fromlist, level)
        if pending:
            for m in [m for m in pending if m in sys.modules
                      and not getattr(sys.modules[m].__spec__, "_initializing", False)]:
                for a, lbl, how in pending.pop(m):
                    how(m, a, lbl)
        return mod

    builtins.__import__ = hook
    t, c = time.perf_counter(), time.process_time()
    rc = flows.cli.main(argv)
    EVENTS.append(("flows.cli.main", t - T0, time.perf_counter() - t, time.process_time() - c,
                   *_mem()))
    builtins.__import__ = real_import
    wall, cpu = time.perf_counter() - T0 + BOOT, time.process_time()
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    print(f"{'phase':40s} {'start':>7s} {'wall':>7s} {'cpu':>7s}  RSS/HWM at its end (MiB)",
          file=sys.stderr)
    print(f"{'interpreter start':40s} {0:7.2f} {BOOT:7.2f} {C0:7.2f}", file=sys.stderr)
    for label, start, w, cp, rss, hw in sorted(EVENTS, key=lambda e: e[1]):
        print(f"{label:40s} {start + BOOT:7.2f} {w:7.2f} {cp:7.2f}  {rss:5.0f} / {hw:5.0f}",
              file=sys.stderr)
    print(f"{'total':40s} {0:7.2f} {wall:7.2f} {cpu:7.2f}   peak RSS {hwm:.0f} MiB",
          file=sys.stderr)
    for label, (n, w, cp, first) in ACC.items():
        print(f"{'sum: ' + label:40s} {n:7d} {w:7.2f} {cp:7.2f}  (calls, wall, thread CPU; "
              f"the first call {first:.2f})", file=sys.stderr)
    if out:
        with open(out, "w") as f:
            json.dump({"boot": BOOT, "wall": wall, "cpu": cpu, "hwm_mib": hwm,
                       "events": EVENTS, "acc": ACC}, f)
    return rc


if __name__ == "__main__":
    sys.exit(main())
