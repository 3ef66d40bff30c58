"""Do the months' water sit where the baseline's does? (helper sg24; a look on the tree
with the 3 x 3 mean, ``mean3-variant.patch`` applied)

    PYTHONPATH=<tree>:<tree>/tests:<tree>/benchmarks python \\
        benchmarks/measured/sg24/month_offset.py 11 14 13

Per seed and month: the median of the month's deglinted bottom signals (3 x 3 means,
:func:`indices.seagrass_rule.bottom_signals` with the baseline's water) over the baseline's
darkest water (the windows whose ``(b + g) / 2`` is in the lowest ``deep_fraction``), less the
baseline's median there, in units of the month's noise of the mean at that water's median
clear views (``noise * sqrt(n_views / n)``, what the gates use): ``db``/``dg``. A scene-wide
offset (the generator's atmospheric-correction residual, per scene and band:
``tests/scenarios/render.py`` ``ATMOS_SD``) is not in a neighbour-difference noise at all.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from seagrass_diagnosis import _load

from indices.composite import monthly_composite
from indices.masks import BANDS
from indices.seagrass_rule import SeagrassRule, bottom_signals, mask_turbid_water
from indices.water import PARAMETERS, water_parameters


def look(seed: int, cache: Path) -> list[str]:
    from scenario_sweep import MONTHS, SIZE, scenario

    from aoi import load_sites
    from flows.sources import get_source

    rule = SeagrassRule()
    sc, base = _load(seed, cache)
    water = water_parameters(base, rule).compute()
    wp = dict(zip(PARAMETERS, water.values.tolist(), strict=True))
    b0, g0, _ = bottom_signals(base, rule, water)
    b0, g0 = b0.values, g0.values
    avg = (b0 + g0) / 2
    ok = np.isfinite(avg)
    dark = ok & (avg <= np.quantile(avg[ok], rule.deep_fraction))
    sc = scenario(seed, "seagrass", SIZE, MONTHS, cache)
    (site,) = load_sites(sc.sites)
    src = get_source("stac", catalog=str(sc.catalog))
    cube = src.load(site, src.search(site, sc.start, sc.end), chunks=None)
    months = monthly_composite(mask_turbid_water(cube), ("B02", "B03", "B04", "B08"),
                               clear_bands=BANDS).compute()
    bm, gm, _ = bottom_signals(months, rule, water)
    out = []
    for i, p in enumerate(months["period"].values):
        bb, gg = bm.values[i], gm.values[i]
        sel = dark & np.isfinite(bb) & np.isfinite(gg)
        if sel.sum() < 50:
            out.append(f"seed {seed} {str(p)[:7]} n {int(sel.sum())}")
            continue
        n = float(np.median(months["n_clear"].values[i][sel]))
        scale = np.sqrt(wp["n_views"] / max(n, 1.0))
        db = (np.median(bb[sel]) - np.median(b0[sel])) / (wp["noise_blue"] * scale)
        dg = (np.median(gg[sel]) - np.median(g0[sel])) / (wp["noise_green"] * scale)
        out.append(f"seed {seed} {str(p)[:7]} n {int(sel.sum())} views {n:.0f} "
                   f"db {db:+.1f} dg {dg:+.1f}")
    return out


if __name__ == "__main__":
    for s in sys.argv[1:]:
        for line in look(int(s), Path("/work/wt/sg23-cache")):
            print(line, flush=True)
