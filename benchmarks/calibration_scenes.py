"""Calibration on independent scenarios: the default rule's baseline extent error against the
calibrated one's, one JSON line a seed.

    PYTHONPATH=<tree>:<tree>/tests python benchmarks/calibration_scenes.py \\
        --seeds 23-29,40-49 --out x.jsonl --cache DIR

The survey is ``tests/test_independent_scenes.py``'s (``_survey``: pure 8-px blocks over 2 %
of the site, habitat and not habitat in turn, labelled from the truth, seeded by the seed), the
scenes that test's (180 px, 12 months), run through ``flows.site.site_tables`` with and
without the site's ``calibration`` property, as the test does. Scenes are pickled under
``--cache`` (:func:`scenario_sweep.scenario`: the generator is not the code under test). Each
line: the truth, the default and calibrated baseline extents and errors (ha), and the run
record's ``calibration``. A sweep, not a test: the CI budget.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

SIZE, MONTHS = 180, 12
"""``tests/test_independent_scenes.py``'s scenes."""


def record(seed: int, cache: Path, size: int = SIZE, months: int = MONTHS) -> dict:
    """One seed's line (module doc)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from scenario_sweep import scenario
    from test_independent_scenes import _survey

    from aoi import load_sites
    from flows.site import site_tables
    from flows.sources import get_source

    sc = scenario(seed, "mangrove", size, months, cache)
    (site,) = load_sites(sc.sites)
    path = cache / f"survey-{seed}-{size}-{months}.geojson"
    path.write_text(json.dumps(_survey(sc, site, seed=seed)))
    source = get_source("stac", catalog=str(sc.catalog))
    scenes = source.search(site, sc.start, sc.end)
    true = float(sc.truth["baseline_extent_ha"].iloc[0])
    out: dict = {"seed": seed, "truth": round(true, 2)}
    for name, s in (("default", site), ("calibrated", dataclasses.replace(
            site, properties={**site.properties, "calibration": str(path)}))):
        t0 = time.perf_counter()
        tables = site_tables(s, source, scenes, start=sc.start, end=sc.end, run_id=name,
                             chunks=None)
        extent = float(tables.change["baseline_extent_ha"].iloc[0])
        out[name] = round(extent, 2)
        out[f"{name}_error"] = round(abs(extent - true), 2)
        out[f"{name}_s"] = round(time.perf_counter() - t0, 1)
        if name == "calibrated":
            out["calibration"] = tables.evidence.get("calibration")
            out["rule_id"] = tables.evidence["rule"]["rule_id"]
    out["ratio"] = round(out["calibrated_error"] / max(out["default_error"], 1e-9), 3)
    return out


def main() -> None:
    from scenario_sweep import parse_seeds

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="23-29,40-49")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cache", type=Path, required=True, help="pickled scenes (outside the repo)")
    p.add_argument("--methods", default=None,
                   help="the rules the calibration may choose, comma-separated (of "
                        "indices.calibration_axis.ORDER; default: all)")
    a = p.parse_args()
    if a.methods:  # measurement only: the axis-aware fit restricted
        import functools

        import indices.calibration_axis as ca

        ca.calibrate_on_axis = functools.partial(ca.calibrate_on_axis,
                                                 methods=tuple(a.methods.split(",")))
    a.cache.mkdir(parents=True, exist_ok=True)
    with open(a.out, "a") as fh:
        for seed in parse_seeds(a.seeds):
            rec = record(seed, a.cache) | {"methods": a.methods or "all"}
            fh.write(json.dumps(rec, default=str) + "\n")
            fh.flush()
            print(f"seed {seed}: truth {rec['truth']} default {rec['default']} "
                  f"({rec['default_error']}) calibrated {rec['calibrated']} "
                  f"({rec['calibrated_error']}) ratio {rec['ratio']}", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
