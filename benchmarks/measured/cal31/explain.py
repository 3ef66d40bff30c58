"""Reads diagnose.py's pickle: the labels each candidate gets wrong, and where the whole site's
baseline map differs between the default and the calibrated run (context level, truth,
labelled or not). ``python explain.py diag-2114.pkl``"""
from __future__ import annotations

import pickle
import sys

import numpy as np

from aoi import calibration_input, load_sites, site_grid
from flows.site.evidence import calibration_labels
from indices.calibration_axis import (
    _BOUNDARY,
    STRATA,
    axis_z,
    map_strata,
    site_axis,
    spectral_test,
    stratum_weights,
)
from indices.mangrove_rule import mangrove_score


def main(path):
    k = pickle.load(open(path, "rb"))
    (labels, cols), kw = k["cal_args"][0][1:3], k["cal_args"][1]
    labels = np.asarray(labels, bool)
    cal, rule, site = k["cal"], kw["rule"], kw["site"]
    print("seed", k["seed"], "truth", k["truth"], k["extents"], "method", cal.method)
    print("strata_pixels", dict(zip(STRATA, kw["strata_pixels"], strict=True)))
    strata = map_strata(cols, rule, site)
    w = stratum_weights(strata, kw["strata_pixels"])
    for h, name in enumerate(STRATA):
        sel = strata == h
        print(f"  labels in {name}: {sel.sum()} (mangrove {int((sel & labels).sum())}), "
              f"weight each {w[sel][0] if sel.any() else 0:.2f}")
    own = site_axis(site)
    print("site boundary", None if own is None else own[_BOUNDARY], "fitted", cal.replaces)
    default = spectral_test(cols, rule, site, own)
    axis = None
    if cal.replaces and "axis_boundary" in cal.replaces:
        from indices.calibration_axis import AXIS_KEYS
        axis = np.array([cal.replaces[k] for k in AXIS_KEYS])
        chosen = spectral_test(cols, rule, site, axis)
    else:
        chosen = default
    for nm, p in (("default", default), ("chosen", chosen)):
        wrong = p != labels
        print(f"  {nm}: wrong {wrong.sum()} labels (mangrove missed {int((wrong & labels).sum())},"
              f" false {int((wrong & ~labels).sum())}); weighted wrong {(w * wrong).sum():.1f} of "
              f"{w.sum():.1f}; by stratum {[int((wrong & (strata == h)).sum()) for h in range(3)]}")
    if own is not None:
        z = axis_z(cols, own)
        veg = (cols["ndvi"] > rule.ndvi_min) & (cols["mvi"] > rule.mvi_floor)
        zm, zo = np.sort(z[labels & veg]), np.sort(z[~labels & veg])
        print("  site-axis z: mangrove labels lowest", np.round(zm[:8], 3), "others highest",
              np.round(zo[-8:], 3), "n others veg", zo.size)
    # whole-site maps
    sc = k["sc"]
    (ev_d, base_d), (ev_c, base_c) = k["ev"]
    maps = {}
    for nm, ev, base in (("default", ev_d, base_d), ("calibrated", ev_c, base_c)):
        s = mangrove_score(base, ev.rule, context=ev.context, params=ev.params)
        maps[nm] = (s.transpose("y", "x").values > 0)
        maps[nm + "_ctx"] = ev.context.transpose("y", "x").values
    (site_obj,) = load_sites(sc.sites)
    grid = site_grid(site_obj)
    r0, c0 = round((sc.top - grid.top) / 10), round((grid.left - sc.left) / 10)
    win = (slice(r0, r0 + grid.height), slice(c0, c0 + grid.width))
    truth = sc.habitat[0][win] & sc.site[win]
    inside = sc.site[win]
    import dataclasses
    src = calibration_input(dataclasses.replace(site_obj, properties={
        **site_obj.properties, "calibration": kw["source"] if "/" in kw["source"] else
        f"/work/wt/cal-heldout-cache/{kw['source']}"}))
    lab = calibration_labels(site_obj, src, grid)
    classes = sc.classes[win]
    d, c = maps["default"] & inside, maps["calibrated"] & inside
    print(f"  maps: default {d.sum()} px, calibrated {c.sum()} px, truth {truth.sum()}")
    add, drop = c & ~d, d & ~c
    for nm, m in (("added", add), ("dropped", drop)):
        print(f"  {nm}: {m.sum()} px; truth mangrove {int((m & truth).sum())}; labelled "
              f"{int((m & (lab >= 0)).sum())}; context(calibrated) levels "
              f"{np.unique(maps['calibrated_ctx'][m], return_counts=True)}; "
              f"truth classes {np.unique(classes[m], return_counts=True)}")
    # the added pixels on the site axis
    print("  default errors: commission", int((d & ~truth).sum()), "omission", int((~d & truth & inside).sum()))
    print("  calibrated errors: commission", int((c & ~truth).sum()), "omission", int((~c & truth & inside).sum()))
    print("  label classes (truth codes) of not-mangrove labels:",
          np.unique(classes[(lab == 0)], return_counts=True))


if __name__ == "__main__":
    main(sys.argv[1])
