"""Dump one seed's change map (last month) and baseline class map from the tree on
PYTHONPATH, aligned to the scenario grid, with the truth's baseline and last-month habitat:
    PYTHONPATH=<tree>:<tree>/tests python gain_maps.py SEED OUT.npz CACHE
Diagnosis only: the truth is used to score, nothing is fitted to it."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from scenario_sweep import scenario  # noqa: E402


def main(seed, out, cache):
    from aoi import load_sites
    from flows.site import site_tables
    from flows.sources import get_source

    sc = scenario(seed, "mangrove", 300, 18, Path(cache))
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    scenes = source.search(site, sc.start, sc.end)
    t = site_tables(site, source, scenes, start=sc.start, end=sc.end, run_id="d", chunks=None,
                    products=True)
    maps = t.maps
    y, x = maps["y"].values, maps["x"].values
    r0 = int(round((sc.top - (y[0] + 5)) / 10))
    c0 = int(round(((x[0] - 5) - sc.left) / 10))
    ny, nx = y.size, x.size
    change = maps["change"].values
    legend = maps["change"].attrs["legend"]
    cls = maps["class"].values
    np.savez_compressed(out, change=change, cls=cls, r0=r0, c0=c0,
                        legend=np.array([f"{k}:{v}" for k, v in legend.items()]),
                        cls_legend=np.array([f"{k}:{v}" for k, v in maps["class"].attrs.get("legend", {}).items()]),
                        truth0=sc.habitat[0][r0:r0 + ny, c0:c0 + nx],
                        truthN=sc.habitat[-1][r0:r0 + ny, c0:c0 + nx],
                        classes=sc.classes[r0:r0 + ny, c0:c0 + nx],
                        site=sc.site[r0:r0 + ny, c0:c0 + nx],
                        rows=t.change[["extent_ha", "extent_ci_low_ha", "extent_ci_high_ha",
                                       "gain_ha", "loss_ha"]].to_numpy(),
                        truth_extent=sc.truth["extent_ha"].to_numpy())


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
