"""Counterfactual (helper mang32, records only): the site's parameters with the terrestrial
sample taken as the vegetation that neither the published rule NOR the floor rule (MVI 3.0)
connects, instead of the vegetation the published rule alone leaves unconnected; then the
final context and the baseline composite's map, against the truth.

    PYTHONPATH=$PWD:$PWD/tests nice -n 5 python benchmarks/measured/mang32/variant_inland.py SEED...

Prints per seed: main's and the variant's parameters (threshold, state, axis used) and
mapped / truth ha of the baseline composite's score (> 0), as diag.py maps it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

import indices.mangrove as M  # noqa: E402

REAL = M._samples


def floor_samples(ix, rule, level, shore, reach):
    s = REAL(ix, rule, level, shore, reach)
    if reach is not None:
        s[2] = s[2] & (reach.astype(np.uint8) == 0)
    return s


def run(seed, cache=Path("/work/wt/mang24-cache")):
    from scenario_sweep import scenario

    from aoi import load_sites
    from flows.sources import get_source
    from indices.evidence import baseline_composite, mangrove_final_context, mangrove_first_pass
    from indices.habitat import RULES
    from indices.mangrove_rule import mangrove_score

    sc = scenario(seed, "mangrove", 300, 18, cache)
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    base = baseline_composite(cube, "mangrove", (site.baseline_start, site.baseline_end)).compute()
    rule = RULES["mangrove"]
    y, x = base["y"].values, base["x"].values
    i0 = int(round((sc.top - y[0]) / 10 - 0.5))
    j0 = int(round((x[0] - sc.left) / 10 - 0.5))
    ny, nx = base["B03"].shape
    crop = (slice(i0, i0 + ny), slice(j0, j0 + nx))
    inside = sc.site[crop]
    truth = sc.habitat[0][crop] & inside
    out = {"seed": seed, "truth": round(truth.sum() / 100, 1)}
    for name, fn in (("main", REAL), ("floor_inland", floor_samples)):
        M._samples = fn
        try:
            params, codes = mangrove_first_pass(base, rule)
            params = params.compute()
            final = mangrove_final_context(base, rule, params, codes).compute()
            mapped = (mangrove_score(base, rule, final, params).values > 0) & inside
        finally:
            M._samples = REAL
        p = {k: round(float(params.sel(parameter=k)), 3)
             for k in ("mvi_min", "estimated", "axis_used", "inland_mvi_q90", "shore_mvi")}
        out[name] = {**p, "mapped": round(mapped.sum() / 100, 1),
                     "fn": round((truth & ~mapped).sum() / 100, 1),
                     "fp": round((mapped & ~truth).sum() / 100, 1)}
    return out


if __name__ == "__main__":
    for s in sys.argv[1:]:
        print(json.dumps(run(int(s))), flush=True)
