"""Run ``bluecarbon run --source stac`` on generated scenarios and print its figures against
the truth.

    PYTHONPATH=$PWD /work/main/.venv/bin/python tests/scenarios/run_scenario.py \\
        --kind mangrove --seeds 1 2 3 --size 300 --months 24 --out /tmp/scen

For each seed: the scenario is generated under ``<out>/<kind>-<seed>/``, bluecarbon writes its
results to ``.../results`` (a subprocess with this interpreter, so the checkout on PYTHONPATH
is the one measured), and the figures are compared: baseline extent, final extent, gain and
loss (final month, cumulative since the baseline), the share of months whose truth extent lies
in bluecarbon's interval, and for seagrass the extents over the assessable water. When
bluecarbon wrote monthly class maps, the share of each truth class it called habitat is
printed too (which terrestrial classes are taken for mangrove; which depths of meadow are
found).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a script: the tests folder holds the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from scenarios import Scenario, make_scenario
    from scenarios.landscape import CLASS_NAMES
else:
    from . import Scenario, make_scenario
    from .landscape import CLASS_NAMES

REPO = Path(__file__).resolve().parents[2]


def run_bluecarbon(sc: Scenario, out: Path, *, timeout: float = 1800) -> pd.DataFrame:
    """``bluecarbon run --source stac`` on the scenario; its ``change`` rows for the site."""
    out = Path(out)
    cmd = [sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())",
           "run", "--source", "stac", "--catalog", str(sc.catalog), "--sites", str(sc.sites),
           "--out", str(out), "--start", sc.start.isoformat(), "--end", sc.end.isoformat()]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=out.parent)
    if done.returncode not in (0, 3):
        raise RuntimeError(f"bluecarbon run failed ({done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    change = pd.read_parquet(out / "change")
    change = change[change["site_id"] == sc.site_id].copy()
    change["period"] = pd.to_datetime(change["period"]).dt.date
    return change.sort_values("period").reset_index(drop=True)


def site_change_rows(sc: Scenario) -> pd.DataFrame:
    """The same ``change`` rows computed in this process, without Prefect or a results
    folder (``flows.site.site_tables`` on the ``stac`` source): for accuracy tests over
    many seeds. Depends on where ``site_tables`` lives (flows/ is being reorganised); the
    command line of :func:`run_bluecarbon` is the stable contract."""
    from aoi import load_sites
    from flows.site import site_tables
    from flows.sources import get_source

    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    scenes = source.search(site, sc.start, sc.end)
    tables = site_tables(site, source, scenes, start=sc.start, end=sc.end, run_id="scenario",
                         chunks=None)
    change = tables.change.copy()
    change["period"] = pd.to_datetime(change["period"]).dt.date
    return change.sort_values("period").reset_index(drop=True)


def _err(got: float, want: float) -> str:
    if want == 0:
        return f"{got - want:+.1f} ha"
    return f"{100 * (got - want) / want:+.0f} % (x{got / want:.2f})"


def compare(sc: Scenario, change: pd.DataFrame) -> pd.DataFrame:
    """bluecarbon's figures against the truth: one row per figure."""
    truth = sc.truth.set_index("period")
    last = change.iloc[-1]
    t_last = truth.loc[last["period"]]
    rows = [("baseline extent", change["baseline_extent_ha"].iloc[0],
             truth["baseline_extent_ha"].iloc[0]),
            ("final extent", last["extent_ha"], t_last["extent_ha"]),
            ("gain", last["gain_ha"], t_last["gain_ha"]),
            ("loss", last["loss_ha"], t_last["loss_ha"])]
    if sc.kind == "seagrass":
        rows += [("baseline extent vs assessable truth", change["baseline_extent_ha"].iloc[0],
                  truth["baseline_extent_assessable_ha"].iloc[0]),
                 ("final extent vs assessable truth", last["extent_ha"],
                  t_last["extent_assessable_ha"])]
        if "assessable_fraction" in change:
            rows.append(("assessable fraction", last["assessable_fraction"],
                         t_last["assessable_fraction"]))
    out = pd.DataFrame(rows, columns=["figure", "bluecarbon", "truth"])
    out["error"] = [_err(g, w) for g, w in zip(out["bluecarbon"], out["truth"], strict=True)]
    joined = change.join(truth, on="period", rsuffix="_truth")
    if {"extent_ci_low_ha", "extent_ci_high_ha"} <= set(change):
        inside = ((joined["extent_ci_low_ha"] <= joined["extent_ha_truth"])
                  & (joined["extent_ha_truth"] <= joined["extent_ci_high_ha"]))
        out.attrs["interval_coverage"] = float(inside.mean())
    out.attrs["mean_abs_extent_error_ha"] = float(
        (joined["extent_ha"] - joined["extent_ha_truth"]).abs().mean())
    return out


def class_confusion(sc: Scenario, results: Path) -> pd.DataFrame:
    """Share of each truth class (base map, inside the site) that bluecarbon's baseline-month
    class map calls habitat; seagrass by depth band as well. Empty if no maps were written."""
    import rasterio

    folder = Path(results) / "maps" / sc.site_id
    path = folder / f"{sc.periods[0]:%Y-%m}_class.tif"
    if not path.exists():
        return pd.DataFrame()
    with rasterio.open(path) as src:
        called = src.read(1)
        left, top = src.transform.c, src.transform.f
    r0, c0 = int(round((sc.top - top) / 10)), int(round((left - sc.left) / 10))
    classes = sc.classes[r0:r0 + called.shape[0], c0:c0 + called.shape[1]]
    site = sc.site[r0:r0 + called.shape[0], c0:c0 + called.shape[1]]
    truth = sc.habitat[0][r0:r0 + called.shape[0], c0:c0 + called.shape[1]]
    rows = []
    for code in np.unique(classes[site]):
        sel = site & (classes == code) & (called != 255)
        if sel.sum() >= 20:
            rows.append((CLASS_NAMES.get(int(code), str(code)), int(sel.sum()),
                         float((called[sel] == 1).mean())))
    rows.append(("(truth habitat)", int((site & truth).sum()),
                 float((called[site & truth] == 1).mean()) if (site & truth).any() else np.nan))
    if sc.depth is not None:
        depth = sc.depth[r0:r0 + called.shape[0], c0:c0 + called.shape[1]]
        for lo, hi in ((0, 2.5), (2.5, 5), (5, 10), (10, 15), (15, 20), (20, 30)):
            sel = site & truth & (depth > lo) & (depth <= hi) & (called != 255)
            if sel.sum() >= 20:
                rows.append((f"seagrass {lo}-{hi} m", int(sel.sum()),
                             float((called[sel] == 1).mean())))
    return pd.DataFrame(rows, columns=["truth class", "pixels", "called habitat"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("mangrove", "seagrass"), default="mangrove")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--out", type=Path, default=Path("scenario-runs"))
    args = parser.parse_args(argv)
    for seed in args.seeds:
        root = args.out / f"{args.kind}-{seed}"
        t0 = time.perf_counter()
        sc = make_scenario(seed, kind=args.kind, size=args.size, n_months=args.months,
                           out_dir=root)
        t1 = time.perf_counter()
        change = run_bluecarbon(sc, root / "results")
        t2 = time.perf_counter()
        table = compare(sc, change)
        print(f"\n== {sc.site_id}: {len(sc.scenes)} scenes, {sc.shape[0]} px, "
              f"kd490 {sc.params['kd490']:.3f} /m (generated in {t1 - t0:.1f} s, "
              f"bluecarbon {t2 - t1:.0f} s, {dt.datetime.now():%H:%M})")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        for key, value in table.attrs.items():
            print(f"  {key}: {value:.3f}")
        confusion = class_confusion(sc, root / "results")
        if len(confusion):
            print(confusion.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
