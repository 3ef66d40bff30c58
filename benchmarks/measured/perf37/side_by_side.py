"""The phase tables of bluecarbon and the bottleneck peer side by side (perf37): medians over
the rounds of ``phase_rounds.sh`` (``phases/{bc,peer}-SIZE-TAG-r.json``), wall / CPU seconds.

    python side_by_side.py SIZE TAG [TAG_B]   (TAG_B: a second bluecarbon tree's rounds)

``PHASES_DIR``: another folder of rounds (``phases/first``: the first pass, main only).
"""

from __future__ import annotations

import glob
import json
import os
import statistics
import sys
from pathlib import Path

HERE = Path(os.environ.get("PHASES_DIR", Path(__file__).resolve().parent / "phases"))
TOP = ("run_config (config, sites, factors)", "source check", "search", "plan", "site_tables",
       "write_results", "update_carbon", "run record")


def ev(run: dict, label: str) -> tuple[float, float]:
    w = c = 0.0
    for e in run["events"]:
        if e[0] == label:
            w, c = w + e[2], c + e[3]
    return w, c


def start(run: dict, label: str) -> float:
    return next(e[1] for e in run["events"] if e[0] == label) + run["boot"]


def bc_phases(run: dict) -> dict:
    inside = [ev(run, k) for k in TOP]
    cfg = [ev(run, k) for k in TOP[:4]]
    wr, maps = ev(run, "write_results"), ev(run, "  maps")
    acc = run["acc"]
    med = [sum(x) for x in zip(*(acc[k] for k in acc if k.startswith("median")), strict=True)]
    return {
        "start-up and imports": (start(run, TOP[0]), run["cpu"] - sum(c for _, c in inside)),
        "config, sites, search, plan": tuple(map(sum, zip(*cfg, strict=True))),
        "site computation (reads .. rows)": ev(run, "site_tables"),
        "  evidence": ev(run, "  evidence"),
        "  walk": ev(run, "  one-pass walk"),
        "  reads: calls": (acc["reads (band x scene x window)"][0], None),
        "  reads: summed thread wall / CPU": tuple(acc["reads (band x scene x window)"][1:3]),
        "  median kernel: summed wall / CPU": tuple(med[1:3]),
        "  labels (in the walk's numba kernels)": (None, None),
        "tables written (Parquet, alerts)": (wr[0] - maps[0], wr[1] - maps[1]),
        "maps (46 COGs)": maps,
        "carbon": ev(run, "update_carbon"),
        "total": (run["wall"], run["cpu"]),
        "peak RSS MiB": (run["hwm_mib"], None),
    }


def peer_phases(run: dict) -> dict:
    acc = run["acc"]
    site = ev(run, "site_change")
    return {
        "start-up and imports": (run["boot"] + ev(run, "imports (import benchmarks.peer)")[0],
                                 ev(run, "imports (import benchmarks.peer)")[1] + 0.03),
        "config, sites, search, plan": ev(run, "catalog (read_items)"),
        "site computation (reads .. rows)": site,
        "  evidence": (None, None),
        "  walk": (None, None),
        "  reads: calls": (acc["reads (odc rio_read: band x day x chunk)"][0], None),
        "  reads: summed thread wall / CPU": tuple(
            acc["reads (odc rio_read: band x day x chunk)"][1:]),
        "  median kernel: summed wall / CPU": tuple(acc["median (bottleneck.nanmedian)"][1:]),
        "  labels (in the walk's numba kernels)": tuple(
            acc["labels (drop_small: ndimage.label)"][1:]),
        "tables written (Parquet, alerts)": ev(run, "parquet"),
        "maps (46 COGs)": (None, None),
        "carbon": (None, None),
        "total": (run["wall"], run["cpu"]),
        "peak RSS MiB": (run["hwm_mib"], None),
    }


def medians(rows: list[dict]) -> dict:
    out = {}
    for k in rows[0]:
        pair = []
        for i in range(2):
            vals = [r[k][i] for r in rows if r[k][i] is not None]
            pair.append(statistics.median(vals) if vals else None)
        out[k] = tuple(pair)
    return out


def fmt(p) -> str:
    w, c = p
    if w is None:
        return "-"
    if c is None:
        return f"{w:.0f}" if w > 50 else f"{w:.2f}"
    return f"{w:.2f} / {c:.2f}"


def main() -> None:
    size, tags = sys.argv[1], sys.argv[2:]
    cols, names = [], []
    for tag in tags:
        runs = [json.load(open(f)) for f in sorted(glob.glob(str(HERE / f"bc-{size}-{tag}-*.json")))]
        cols.append(medians([bc_phases(r) for r in runs]))
        names.append(f"bluecarbon {tag} ({len(runs)})")
    runs = [json.load(open(f)) for f in sorted(glob.glob(str(HERE / f"peer-{size}-{tags[0]}-*.json")))]
    cols.append(medians([peer_phases(r) for r in runs]))
    names.append(f"peer-bottleneck ({len(runs)})")
    print(f"| {size}² x 24, medians, wall / CPU s | " + " | ".join(names) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for k in cols[0]:
        print(f"| {k} | " + " | ".join(fmt(c[k]) for c in cols) + " |")


if __name__ == "__main__":
    main()
