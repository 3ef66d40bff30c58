"""Which truth the fill's pixels had, per seed (diagnosis only: the truth scores, nothing is
fitted to it). For each pixel of the site no baseline scene saw clear, filled from month
offset k (indices.bap), the generator's habitat at the baseline, at the fill month and at the
last month:
  stand    truth mangrove at the baseline (the fill's purpose: main took it for gain later)
  gain_ok  truth gain (not mangrove at the baseline, mangrove at the end), still not
           mangrove at the fill month: the gain stays to be found after the fill
  gain_in  truth gain already mangrove at the fill month: the fill reads it into the
           baseline, so the walk cannot call it gain (what the fill costs the gain test)
  other    not mangrove at the baseline nor at the end
    PYTHONPATH=<tree>:<tree>/tests python fill_truth.py SEEDS CACHE > out.jsonl"""
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from scenario_sweep import parse_seeds, scenario  # noqa: E402


def main(seeds, cache):
    from aoi import load_sites
    from flows.sources import get_source
    from indices.bap import baseline_fill
    from indices.composite import composite

    for seed in parse_seeds(seeds):
        sc = scenario(seed, "mangrove", 300, 18, Path(cache))
        (site,) = load_sites(sc.sites)
        source = get_source("stac", catalog=str(sc.catalog))
        cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
        bl = (site.baseline_start, site.baseline_end)
        base = composite(cube, *bl)
        fill = baseline_fill(base, cube, bl)
        ny, nx = fill.shape
        y, x = cube["y"].values, cube["x"].values
        r0 = int(round((sc.top - (y[0] + 5)) / 10))
        c0 = int(round(((x[0] - 5) - sc.left) / 10))
        periods = np.asarray(sc.periods).astype("datetime64[M]")
        last_base = int(np.flatnonzero(periods == np.datetime64(bl[1], "M"))[0])
        hab = np.asarray(sc.habitat)[:, r0:r0 + ny, c0:c0 + nx].astype(bool)
        inside = np.asarray(sc.site)[r0:r0 + ny, c0:c0 + nx].astype(bool).ravel()
        flat, off = fill.flat, fill.offset.astype(int)
        keep = inside[flat]
        flat, off = flat[keep], off[keep]
        h = hab.reshape(hab.shape[0], -1)
        t0, tn = h[0, flat], h[-1, flat]
        at = h[np.clip(last_base + off, 0, h.shape[0] - 1), flat]
        out = {"seed": seed, "unseen_site_px": int(inside[np.r_[fill.flat]].sum()) if fill.unseen else 0,
               "filled_site_px": int(flat.size),
               "stand": int(t0.sum()), "gain_ok": int((~t0 & tn & ~at).sum()),
               "gain_in": int((~t0 & tn & at).sum()), "other": int((~t0 & ~tn).sum()),
               "truth_gain_px": int((~h[0] & h[-1] & inside).sum()),
               "by_month": {int(k): int((off == k).sum()) for k in np.unique(off)}}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
