"""Tables of a :mod:`sampler` profile: busy samples per thread and kind, the main thread's
phases in time order, and the functions with the most inclusive busy time.

    python benchmarks/measured/perf35/analyse.py prof.json [--top 40] [--timeline 0.25]
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict

WAITS = {("threading.py", "wait"), ("queue.py", "get"), ("threading.py", "_wait_for_tstate_lock"),
         ("selectors.py", "select"), ("thread.py", "_worker"), ("_base.py", "result"),
         ("threading.py", "join"), ("queue.py", "put"), ("threading.py", "acquire")}

# (kind, function or None, file substring or None): first rule that any frame matches
KINDS = [
    ("imports", "_find_and_load", None),
    ("numba dispatch/typing", None, "numba/"),
    ("COG read (rasterio/GDAL, _reader)", None, "flows/sources/_reader.py"),
    ("COG read (rasterio/GDAL, _reader)", None, "rasterio/"),
    ("maps written (COG encode)", None, "flows/results/maps.py"),
    ("Parquet written", None, "flows/results/store.py"),
    ("Parquet written", None, "pyarrow/"),
    ("STAC search", None, "flows/sources/stac"),
    ("sites, config", None, "aoi/"),
    ("dask.order", None, "dask/order.py"),
    ("dask graph/optimize", None, "dask/array/optimization.py"),
    ("dask graph/optimize", None, "dask/optimization.py"),
    ("dask graph/optimize", None, "dask/blockwise.py"),
    ("fsync (atomic writes)", "fsync_dir", None),
    ("fsync (atomic writes)", "atomic_path", None),
    ("dask graph/optimize", None, "dask/highlevelgraph.py"),
    ("dask scheduler (local.py)", None, "dask/local.py"),
    ("dask concatenate3", "concatenate3", None),
    ("scipy.ndimage", None, "scipy/ndimage"),
    ("rich display", None, "rich/"),
    ("xarray", None, "xarray/"),
    ("dask task spec", None, "dask/_task_spec.py"),
    ("dask other (array build)", None, "dask/"),
    ("indices (ours)", None, "/indices/"),
    ("flows (ours)", None, "/flows/"),
]


def classify(stack: list) -> str:
    if not stack:
        return "no frame"
    inner = stack[-1]
    if (inner[0].rsplit("/", 1)[-1], inner[1]) in WAITS:
        return "waiting"
    if any(n == "_find_and_load" for _, n, _ in stack):
        return "imports"
    for f, n, _ in reversed(stack):  # the innermost frame that a rule names
        for kind, name, file in KINDS:
            if (name is None or n == name) and (file is None or file in f):
                return kind
    return "other: " + inner[0].rsplit("/", 2)[-1] + ":" + inner[1]


PHASES = [
    ("imports", "_find_and_load", None),
    ("run_config (config, sites, factors)", "run_config", None),
    ("source check", "_check_source", None),
    ("plan / search", "search_scenes", None),
    ("evidence", "site_evidence_of", None),
    ("walk compute", "walk_once", None),
    ("site_tables other", "site_tables", None),
    ("write results", "write_results", None),
    ("run_nightly other", "run_nightly", None),
    ("cli other", "main", "flows/cli/__init__.py"),
]


def phase(stack: list) -> str:
    for ph, name, file in PHASES:
        for f, n, _ in stack:
            if (name is None or n == name) and (file is None or file in f):
                return ph
    return "outside main()"


def main() -> int:
    args = sys.argv[1:]
    path = args[0]
    top = int(args[args.index("--top") + 1]) if "--top" in args else 40
    data = json.load(open(path))
    dt = data["interval"]
    samples = data["samples"]
    ts = sorted({s[0] for s in samples})
    # each sample's weight: the real time to the next sampling instant
    gap = {t: (ts[i + 1] - t if i + 1 < len(ts) else dt) for i, t in enumerate(ts)}
    print(f"wall {data['wall']:.2f} s, {len(ts)} sampling instants (mean gap "
          f"{(ts[-1] - ts[0]) / max(1, len(ts) - 1) * 1e3:.1f} ms)")
    by_thread: dict = defaultdict(Counter)
    incl: Counter = Counter()
    main_phase: Counter = Counter()
    first: dict = {}
    for t, name, stack in samples:
        w = gap[t]
        k = classify(stack)
        by_thread[name][k] += w
        if name == "MainThread":
            ph = phase(stack)
            main_phase[ph] += w
            first.setdefault(ph, t)
        if k != "waiting":
            seen = set()
            for f, n, _ in stack:
                key = f.replace("/work/main/.venv/lib/python3.11/site-packages/", "") + ":" + n
                if key not in seen:
                    seen.add(key)
                    incl[key] += w
    print("\nmain thread phases (first seen at, seconds):")
    for ph, s in sorted(main_phase.items(), key=lambda kv: first[kv[0]]):
        print(f"  {first[ph]:6.2f}  {s:6.2f} s  {ph}")
    for name, c in sorted(by_thread.items(), key=lambda kv: -sum(kv[1].values())):
        busy = sum(v for k, v in c.items() if k != "waiting")
        if busy < 0.05:
            continue
        print(f"\nthread {name}: busy {busy:.2f} s (waiting {c['waiting']:.2f})")
        for k, v in c.most_common():
            if k != "waiting" and v >= 0.02:
                print(f"  {v:6.2f}  {k}")
    print(f"\ninclusive busy seconds (all threads), top {top}:")
    for k, v in incl.most_common(top):
        print(f"  {v:6.2f}  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
