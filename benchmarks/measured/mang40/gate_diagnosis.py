"""Why a dev seed's fill moved between rule v16 (mang38: the gate was one pixel seen wet and
dry anywhere on the grid) and mang40 (the window's own intertidal zone, 3 x 3 opened, inside
the site's polygon): per seed, the never-clear pixels (grid, polygon), the window's flips and
its opened zone on the grid and inside the polygon, and (diagnosis only) the truth's stand
among the never-clear pixels inside the polygon.

    PYTHONPATH=<tree>:<tree>/tests python gate_diagnosis.py --seeds 304 --cache DIR
"""
import argparse
import json
from pathlib import Path

from scenario_sweep import MONTHS, SIZE, parse_seeds, scenario

from aoi import load_sites, site_grid, site_mask
from flows.sources import get_source
from indices.composite import composite
from indices.context import intertidal_zone


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", required=True)
    p.add_argument("--cache", type=Path, required=True)
    a = p.parse_args()
    for seed in parse_seeds(a.seeds):
        sc = scenario(seed, "mangrove", SIZE, MONTHS, a.cache)
        (site,) = load_sites(sc.sites)
        source = get_source("stac", catalog=str(sc.catalog))
        cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
        base = composite(cube, site.baseline_start, site.baseline_end).compute()
        nw, nc = (base[v].transpose("y", "x").values for v in ("n_wet", "n_clear"))
        inside = site_mask(site, site_grid(site))
        flips = (nc >= 2) & (nw >= 1) & (nw < nc)
        zone = intertidal_zone(nw, nc, 2)
        unseen = nc == 0
        rec = {"seed": seed, "grid_px": int(nc.size), "polygon_px": int(inside.sum()),
               "unseen_grid": int(unseen.sum()), "unseen_polygon": int((unseen & inside).sum()),
               "flips_grid": int(flips.sum()), "flips_polygon": int((flips & inside).sum()),
               "zone_grid": int(zone.sum()), "zone_polygon": int((zone & inside).sum())}
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
