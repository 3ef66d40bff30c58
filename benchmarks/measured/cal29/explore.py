"""Exploration (helper cal29): what candidate calibrated rules would give on a scenario.

    PYTHONPATH=<tree>:<tree>/tests python benchmarks/measured/cal29/explore.py SEED... --cache DIR
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[2]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("seeds", type=int, nargs="+")
    p.add_argument("--cache", type=Path, required=True)
    a = p.parse_args()
    from scenario_sweep import mangrove_baseline
    from test_independent_scenes import _survey

    from aoi import calibration_input, site_grid, site_mask
    from flows.site.evidence import calibration_labels
    from indices.evidence import mangrove_final_context
    from indices.mangrove_axis import AXIS_BANDS, AXIS_PARAMETERS, axis_value
    from indices.mangrove_rule import mangrove_score
    from indices.spectral import compute_indices
    import dataclasses

    for seed in a.seeds:
        sc, site, cube, base, rule, params, codes = mangrove_baseline(seed, a.cache, 180, 12)
        path = a.cache / f"survey-{seed}-180-12.geojson"
        path.write_text(json.dumps(_survey(sc, site, seed=seed)))
        s2 = dataclasses.replace(site, properties={**site.properties, "calibration": str(path)})
        grid = site_grid(s2)
        mask = site_mask(s2, grid)
        labels = np.where(mask, calibration_labels(s2, calibration_input(s2), grid), -1)
        r0, c0 = round((sc.top - grid.top) / 10), round((grid.left - sc.left) / 10)
        win = (slice(r0, r0 + grid.height), slice(c0, c0 + grid.width))
        truth = sc.habitat[0][win] & sc.site[win]
        true_ha = sc.truth["baseline_extent_ha"].iloc[0]
        ix = compute_indices(base, ["ndvi", "mvi"])
        ndvi, mvi = ix["ndvi"].values, ix["mvi"].values
        P = dict(zip(params["parameter"].values, params.values))
        coef = [P[k] for k in AXIS_PARAMETERS[:5]]
        z = axis_value(base, coef).values if np.isfinite(coef).all() else np.full(ndvi.shape, np.nan)
        logs = np.stack([np.log(np.maximum(base[b].values, 5e-4)) for b in AXIS_BANDS], -1)

        def extent(pr):
            ctx = mangrove_final_context(base, rule, pr, codes)
            s = mangrove_score(base, rule, ctx, pr).values
            called = (s > 0) & mask
            return called.sum() / 100, called

        e0, called0 = extent(params)
        lab = labels >= 0
        y = labels[lab] == 1
        veg = ndvi > rule.ndvi_min
        print(f"seed {seed}: truth {true_ha:.1f} default(approx) {e0:.1f} axis_used {P['axis_used']}"
              f" boundary {P['axis_boundary']:.3f} mvi_min {P['mvi_min']:.2f} estimated {P['estimated']}")
        print(f"  labels hab {y.sum()} other {(~y).sum()} other-veg {(~y & veg[lab]).sum()}"
              f"  hab-veg {(y & veg[lab]).sum()}")
        print(f"  default at labels: hab recall {called0[lab][y].mean():.3f} other recall "
              f"{1 - called0[lab][~y].mean():.3f}")
        # truth over the site: mangrove z vs land-veg z
        tv = truth & veg & mask
        lv = ~truth & veg & mask
        print(f"  site: stand veg {tv.sum()} px, land veg {lv.sum()} px; z stand q10/50 "
              f"{np.nanquantile(z[tv], [.1, .5]).round(2)} land q50/90 {np.nanquantile(z[lv], [.5, .9]).round(2)}")
        print(f"  labels z hab q10/50 {np.nanquantile(z[lab][y], [.1, .5]).round(2)}, "
              f"other-veg z {np.sort(z[lab][~y & veg[lab]]).round(2)[-10:]}")
        # candidate: site axis, boundary sweep
        for b in np.linspace(-1, 1.5, 11):
            pr = params.copy(data=params.values.copy())
            pr.loc[{"parameter": "axis_boundary"}] = b
            pr.loc[{"parameter": "axis_used"}] = 1.0
            e, c = extent(pr)
            print(f"   boundary {b:+.2f}: extent {e:.1f} (err {e - true_ha:+.1f}); labels hab rec "
                  f"{c[lab][y].mean():.3f} oth rec {1 - c[lab][~y].mean():.3f}")
        # labels' own Fisher axis: labelled mangrove vs labelled not-mangrove vegetation
        xa, xb = logs[lab][y & veg[lab]], logs[lab][~y & veg[lab]]
        if len(xb) > 5:
            ma, mb = xa.mean(0), xb.mean(0)
            sw = (np.cov(xa, rowvar=False) * (len(xa) - 1) + np.cov(xb, rowvar=False) * (len(xb) - 1)) / (len(xa) + len(xb) - 2)
            w = np.linalg.solve(sw, ma - mb)
            w = w / (w @ (ma - mb))
            off = -(w @ mb)
            zl = logs @ w + off
            print(f"  labels' axis: truth stand q10/50 {np.nanquantile(zl[tv], [.1, .5]).round(2)} land q50/90 {np.nanquantile(zl[lv], [.5, .9]).round(2)}")
            for b in np.linspace(-0.5, 1.0, 7):
                pr = params.copy(data=params.values.copy())
                for k, v in zip(AXIS_PARAMETERS[:5], [*w, off]):
                    pr.loc[{"parameter": k}] = v
                pr.loc[{"parameter": "axis_boundary"}] = b
                pr.loc[{"parameter": "axis_used"}] = 1.0
                e, c = extent(pr)
                print(f"   L boundary {b:+.2f}: extent {e:.1f} (err {e - true_ha:+.1f}); labels hab rec "
                      f"{c[lab][y].mean():.3f} oth rec {1 - c[lab][~y].mean():.3f}")


if __name__ == "__main__":
    main()
