"""Per seed: pixels of the site no baseline scene saw clear, how many the fill took from
which month, how many stay unobserved, and the truth's baseline mangrove among them (ha):
    PYTHONPATH=<branch>:<branch>/tests:<branch>/benchmarks python unseen.py CACHE SEEDS > x.jsonl
The truth is used only to score."""
import json
import sys
from pathlib import Path

import numpy as np
from scenario_sweep import parse_seeds, scenario


def main(cache, seeds):
    from aoi import load_sites
    from flows.sources import get_source
    from indices.evidence import baseline_composite

    for seed in parse_seeds(seeds):
        sc = scenario(seed, "mangrove", 300, 18, Path(cache))
        (site,) = load_sites(sc.sites)
        src = get_source("stac", catalog=str(sc.catalog))
        cube = src.load(site, src.search(site, sc.start, sc.end), chunks=None)
        b = baseline_composite(cube, "mangrove", (site.baseline_start, site.baseline_end)).compute()
        fill = b["baseline_fill"].values
        y, x = b["y"].values, b["x"].values
        r0 = int(round((sc.top - (y[0] + 5)) / 10))
        c0 = int(round(((x[0] - 5) - sc.left) / 10))
        sl = np.s_[r0:r0 + y.size, c0:c0 + x.size]
        inside, truth = sc.site[sl], sc.habitat[0][sl]
        filled, left = (fill != 0) & inside, (b["n_clear"].values == 0) & inside
        offs, counts = np.unique(fill[filled], return_counts=True)
        ha = 0.01
        print(json.dumps({
            "seed": seed, "unseen_px": int((filled | left).sum()), "filled_px": int(filled.sum()),
            "still_unseen_px": int(left.sum()),
            "truth_stand_unseen_ha": round(float(((filled | left) & truth).sum() * ha), 2),
            "truth_stand_still_unseen_ha": round(float((left & truth).sum() * ha), 2),
            "fill_months": {int(o): int(c) for o, c in zip(offs, counts, strict=True)},
            "cube_starts_at_baseline": str(cube["time"].values.min())[:10] >= str(site.baseline_start)}),
            flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
