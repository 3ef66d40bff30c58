"""Where the strips walk's traced peak is (perf34, issue 22): tests/test_memory.py's strips
walk (1026² x 12 scenes, products) on dask's synchronous scheduler under ``tracemalloc``;
each ``dask.compute`` and each of the walk's months labelled with its phase and its traced
peak; a snapshot taken after each task whenever the traced memory reaches a new high (the
holders at the peak, by allocation site).

    python trace_peak.py TREE CACHE_ROOT [--frames 8] [--top 30]
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

p = argparse.ArgumentParser()
p.add_argument("tree", type=Path)
p.add_argument("root")
p.add_argument("--frames", type=int, default=10)
p.add_argument("--top", type=int, default=30)
p.add_argument("--scenes", type=int, default=12)
p.add_argument("--no-snap", action="store_true", help="phases only (faster)")
p.add_argument("--order", action="store_true",
               help="also each compute's graph: tasks and dask.order's most outputs held")
args = p.parse_args()
sys.path[:0] = [str(args.tree), str(args.tree / "benchmarks")]

import tracemalloc  # noqa: E402

import dask  # noqa: E402
import synthetic  # noqa: E402
from dask.callbacks import Callback  # noqa: E402

from aoi import site_grid  # noqa: E402
from flows.site import month_start, site_tables  # noqa: E402
from flows.sources.stac import StacSource  # noqa: E402

MiB = 2**20


def run(sz, k):
    source = StacSource(str(synthetic.write_tile(args.root, sz, k)))
    site = synthetic.tile_site(sz)
    first, last = synthetic.scene_dates(k)
    scenes = source.search(site, first, last)
    tables = site_tables(site, source, scenes, start=None, end=last, run_id="walk",
                         walk="strips", products=True)
    grid = site_grid(site)
    return tables, grid, len({month_start(s.datetime.date()) for s in scenes})


run(1026, 2)
dask.config.set(scheduler="synchronous")
tracemalloc.start(args.frames)
best = {"cur": 0, "snap": None, "task": None, "where": None}
phases = []
current_task = {"key": None}


class Watch(Callback):
    def _pretask(self, key, dsk, state):
        current_task["key"] = key

    def _posttask(self, key, result, dsk, state, worker_id):
        cur = tracemalloc.get_traced_memory()[0]
        if not args.no_snap and cur > best["cur"] + 2 * MiB:
            best.update(cur=cur, snap=tracemalloc.take_snapshot(), task=str(key)[:120],
                        where=where())


def where():
    frames = [f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in traceback.extract_stack()
              if "/flows/" in f.filename or "/indices/" in f.filename]
    return " > ".join(frames[-4:])


compute = dask.compute


def order_pressure(a) -> tuple[int, int]:
    """Tasks of the (optimised) graph of ``a`` and the most outputs held at once when its tasks
    run one at a time in dask.order's order (``dask.order.diagnostics``)."""
    from dask._expr import FinalizeCompute
    from dask.base import collections_to_expr, unpack_collections
    from dask.order import diagnostics

    colls, _ = unpack_collections(*a)
    dsk = dict(FinalizeCompute(collections_to_expr(colls, True)).optimize().__dask_graph__())
    _, pressure = diagnostics(dsk)
    return len(dsk), max(pressure, default=0)


def labelled(*a, **k):
    if args.order:
        n, most = order_pressure(a)
        print(f"order: {where()}: {n} tasks, at most {most} outputs held", flush=True)
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    out = compute(*a, **k)
    cur, peak = tracemalloc.get_traced_memory()
    phases.append((where(), before / MiB, peak / MiB, cur / MiB))
    return out


dask.compute = labelled
import flows.site.strips as fs  # noqa: E402

fs.dask.compute = labelled  # the same module object: patched above
with Watch():
    tables, grid, months = run(1026, args.scenes)
cur, peak = tracemalloc.get_traced_memory()
print(f"traced peak {peak / MiB:.1f} MiB, now {cur / MiB:.1f}")
agg = {}
for w, b, pk, _c in phases:
    a = agg.setdefault(w, [0, 0.0, 0.0])
    a[0] += 1
    a[1] = max(a[1], pk)
    a[2] = max(a[2], pk - b)
print("computes by caller: n, max peak MiB, max rise MiB")
for w, (n, pk, rise) in sorted(agg.items(), key=lambda kv: -kv[1][1]):
    print(f"  {n:3d} {pk:7.1f} {rise:7.1f}  {w}")
print("compute phases' peaks above are since each compute started")
if args.no_snap:
    raise SystemExit
print(f"highest after a task: {best['cur'] / MiB:.1f} MiB after {best['task']}\n  at {best['where']}")
for st in best["snap"].statistics("traceback")[:args.top]:
    fr = [f"{Path(f.filename).name}:{f.lineno}" for f in list(st.traceback)[::-1]]
    print(f"  {st.size / MiB:7.1f} MiB {st.count:6d} blocks: {' < '.join(fr[:args.frames])}")
