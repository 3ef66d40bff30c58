"""Main's and the branch's last-month change maps (gain_maps.py's npz) against the truth, on
the site and on the pixels the fill touched (diagnosis only):
    PYTHONPATH=<branch>:<branch>/tests python pixel_check.py SEED MAIN.npz BRANCH.npz CACHE"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from scenario_sweep import scenario  # noqa: E402


def fill_mask(seed, cache, shape):
    from aoi import load_sites
    from flows.sources import get_source
    from indices.bap import baseline_fill
    from indices.composite import composite

    sc = scenario(seed, "mangrove", 300, 18, Path(cache))
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    bl = (site.baseline_start, site.baseline_end)
    off = baseline_fill(composite(cube, *bl), cube, bl).offsets()
    assert off.shape == shape, (off.shape, shape)
    return off != 0


def codes(npz, name):
    legend = dict(s.split(":", 1) for s in npz["legend"])
    return [int(k) for k, v in legend.items() if v == name]


def main(seed, main_npz, branch_npz, cache):
    trees = {"main": np.load(main_npz), "branch": np.load(branch_npz)}
    b = trees["branch"]
    site = b["site"].astype(bool)
    t0, tn = b["truth0"].astype(bool) & site, b["truthN"].astype(bool) & site
    filled = fill_mask(seed, cache, site.shape) & site
    tgain, tloss = ~t0 & tn & site, t0 & ~tn & site
    print(f"seed {seed}: truth gain {tgain.sum()} px ({(tgain & filled).sum()} filled), "
          f"truth loss {tloss.sum()} px ({(tloss & filled).sum()} filled), filled {filled.sum()} px")
    print("| tree | map gain px | on truth gain | false gain | false gain on filled | "
          "truth gain found | truth gain found, filled | map loss px | on truth loss | "
          "false loss | false loss on filled |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, z in trees.items():
        ch = z["change"][-1]
        gain = np.isin(ch, codes(z, "gain")) & site
        loss = np.isin(ch, codes(z, "loss")) & site
        print(f"| {name} | {gain.sum()} | {(gain & tgain).sum()} | {(gain & ~tgain).sum()} | "
              f"{(gain & ~tgain & filled).sum()} | {(gain & tgain).sum()} of {tgain.sum()} | "
              f"{(gain & tgain & filled).sum()} of {(tgain & filled).sum()} | {loss.sum()} | "
              f"{(loss & tloss).sum()} | {(loss & ~tloss).sum()} | "
              f"{(loss & ~tloss & filled).sum()} |")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4])
