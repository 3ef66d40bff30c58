"""Where a calibration's extent differs from the default's (helper cal31): one seed, the
test's survey; the labels' candidates, the whole site's maps under each, against the truth.

    PYTHONPATH=<tree>:<tree>/tests python benchmarks/measured/cal31/diagnose.py 2114 \
        --cache /work/wt/cal-heldout-cache
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2]))  # benchmarks/


def run(seed: int, cache: Path, out: Path) -> dict:
    from scenario_sweep import scenario
    from test_independent_scenes import _survey

    import flows.site.tables as ft
    import indices.calibration as ic
    from aoi import load_sites
    from flows.site import site_tables
    from flows.sources import get_source

    got: dict = {}
    real_cal, real_ev = ic.calibrate, ft.site_evidence_of

    def cal(*a, **k):
        res = real_cal(*a, **k)
        got["cal_args"], got["cal"] = (a, k), res
        return res

    def ev(*a, **k):
        res = real_ev(*a, **k)
        got.setdefault("ev", []).append(res)
        return res

    ic.calibrate, ft.site_evidence_of = cal, ev
    sc = scenario(seed, "mangrove", 180, 12, cache)
    (site,) = load_sites(sc.sites)
    path = cache / f"survey-{seed}-180-12.geojson"
    path.write_text(json.dumps(_survey(sc, site, seed=seed)))
    source = get_source("stac", catalog=str(sc.catalog))
    scenes = source.search(site, sc.start, sc.end)
    extents = {}
    for name, s in (("default", site), ("calibrated", dataclasses.replace(
            site, properties={**site.properties, "calibration": str(path)}))):
        t = site_tables(s, source, scenes, start=sc.start, end=sc.end, run_id=name, chunks=None)
        extents[name] = float(t.change["baseline_extent_ha"].iloc[0])
    ic.calibrate, ft.site_evidence_of = real_cal, real_ev
    keep = {"seed": seed, "extents": extents, "truth": float(sc.truth["baseline_extent_ha"].iloc[0]),
            "cal_args": got["cal_args"], "cal": got["cal"],
            "ev": [(e.evidence, e.base) for e in got["ev"]], "sc": sc}
    with open(out, "wb") as fh:
        pickle.dump(keep, fh)
    return keep


def main():
    p = argparse.ArgumentParser()
    p.add_argument("seed", type=int)
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    out = a.out or Path(f"/work/wt/cal31-diag/diag-{a.seed}.pkl")
    out.parent.mkdir(parents=True, exist_ok=True)
    k = run(a.seed, a.cache, out)
    print(a.seed, k["extents"], k["truth"], k["cal"].method, k["cal"].candidates)


if __name__ == "__main__":
    main()
