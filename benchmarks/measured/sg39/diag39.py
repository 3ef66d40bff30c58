# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg39: which pixels flip in the months under rule v6b, and why. Per month: the pixels the
baseline called seagrass that the month calls not (and the reverse), split by which term
judged them (the gate's DII or the place map's blue), the truth at them, the month's views,
and the month's blue residual against the baseline: the median over the baseline's judged
water of (month b - baseline b), i.e. the month's own atmosphere/glint offset in blue.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg39/diag39.py CACHE SEED...
"""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, "benchmarks")
import scenario_sweep as sw
from aoi import load_sites
from flows.sources import get_source
from indices.composite import monthly_composite
from indices.evidence import baseline_composite, site_evidence
from indices.masks import BANDS
from indices.seagrass_rule import (GLINT_COMPOSITE, bottom_signals, mask_turbid_water,
                                   seagrass_offset, seagrass_score, turbid_scenes)
from indices.seagrass_place import place_terms

cache = Path(sys.argv[1])
for seed in map(int, sys.argv[2:]):
    sc = sw.scenario(seed, "seagrass", sw.SIZE, sw.MONTHS, cache)
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    base = baseline_composite(cube, "seagrass", (site.baseline_start, site.baseline_end)).compute()
    ev = site_evidence(base, "seagrass")
    rule, water, place = ev.rule, ev.water, ev.place
    turbid, wm = turbid_scenes(cube, rule)
    months = monthly_composite(mask_turbid_water(cube, (turbid, wm)), ("B02", "B03", "B04", "B08"),
                               clear_bands=BANDS, deglint=GLINT_COMPOSITE).compute()
    xs, ys = base["x"].values, base["y"].values
    cols = np.floor((xs - sc.left) / 10).astype(int); rws = np.floor((sc.top - ys) / 10).astype(int)
    g = np.ix_(rws, cols)
    site_m = np.asarray(sc.site, bool)[g]
    hab = np.asarray(sc.habitat)[:, rws][:, :, cols]
    _, off0 = seagrass_offset(base, rule, water)
    s0 = seagrass_score(base, rule, water, place).values
    gate0 = np.isfinite(off0.values)
    plc0 = np.isfinite(s0) & ~gate0 & np.isfinite(place.values[0])
    b0 = bottom_signals(base, rule, water)[0].values
    judged = np.isfinite(s0) & site_m
    thr, con, tol = (a.values for a in place_terms(place, rule))
    print(f"seed {seed} beta {place.attrs.get('beta', np.nan):+.4f} q {place.attrs.get('q', np.nan):.2f} "
          f"noise_b {float(water.sel(parameter='noise_blue')):.4f} n_views {float(water.sel(parameter='n_views')):.1f} "
          f"base: gate {np.sum(gate0 & site_m)} place {np.sum(plc0 & site_m)} place-sg {np.sum(plc0 & site_m & (s0 > 0))}")
    for t in range(months.sizes["period"]):
        m = months.isel(period=t)
        _, off = seagrass_offset(m, rule, water)
        s = seagrass_score(m, rule, water, place).values
        s = np.where(judged, s, np.nan)
        gate = np.isfinite(off.values)
        plc = np.isfinite(s) & ~gate
        b = bottom_signals(m, rule, water)[0].values
        nc = m["n_clear"].values
        res = np.nanmedian((b - b0)[judged & (nc > 0)]) if np.any(judged & (nc > 0)) else np.nan
        resp = np.nanmedian((b - b0)[plc0 & site_m & (nc > 0)]) if np.any(plc0 & site_m & (nc > 0)) else np.nan
        h = hab[t].astype(bool)
        lost = (s0 > 0) & (s <= 0) & site_m
        won = (s0 <= 0) & (s > 0) & site_m
        print(f"  m{t:02d} views {np.median(nc[site_m]):.0f} resid_b all {res:+.4f} place {resp:+.4f} "
              f"| lost gate {np.sum(lost & gate)} ({np.sum(lost & gate & h)} still sg) place {np.sum(lost & plc)} ({np.sum(lost & plc & h)} still sg) "
              f"| won gate {np.sum(won & gate)} place {np.sum(won & plc)} ({np.sum(won & plc & ~h)} not sg) "
              f"| place judged {np.sum(plc & site_m)}")
