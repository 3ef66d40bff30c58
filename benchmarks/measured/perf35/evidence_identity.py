"""The evidence of mangrove sites as ``flows.site.site_evidence_of(keep_base=True)`` computes
it (what the one-pass and whole walks read), saved per site to compare two code trees bit for
bit, with whether rule v14's trim fired (``axis_report``'s ``trimmed``) and the time taken.

    PYTHONPATH=$TREE:$TREE/tests python evidence_identity.py OUT_DIR --seeds 10-29 \\
        --cache /work/wt/cache-mang35 [--bench 400,2000]
    python evidence_identity.py --compare DIR_A DIR_B
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np


def _site_inputs(seed=None, cache=None, px=None):
    import xarray as xr

    from aoi import load_sites, site_grid, site_mask
    from flows.sources import CHUNKS, get_source

    if seed is not None:
        from scenario_sweep import scenario

        sc = scenario(seed, "mangrove", 300, 18, Path(cache))
        (site,) = load_sites(sc.sites)
        source = get_source("stac", catalog=str(sc.catalog))
        scenes = source.search(site, sc.start, sc.end)
    else:
        cat = {400: "/work/wt/cache-perf35/tile-402-s0-v2-coast2/catalog-24/catalog.json",
               2000: "/work/wt/cache-perf35/tile-2004-s0-v2-coast2/catalog-24/catalog.json"}[px]
        (site,) = load_sites(Path(f"/work/wt/perf35-work/site-{px}.geojson"),
                             max_area_ha=2e6)
        source = get_source("stac", catalog=cat)
        scenes = source.search(site, dt.date(2023, 1, 1), dt.date(2025, 11, 25))
    grid = site_grid(site)
    mask = xr.DataArray(site_mask(site, grid), dims=("y", "x"),
                        coords={"y": grid.y_coords(), "x": grid.x_coords()})
    return site, source.load(site, scenes, chunks=CHUNKS), grid, mask


def run(out: Path, seeds: list, cache: str | None, bench: list) -> None:
    from flows.runtime.startup import local_dask
    from flows.site.evidence import site_evidence_of
    from indices.evidence import mangrove_axis_report
    from indices.habitat import RULES

    out.mkdir(parents=True, exist_ok=True)
    with local_dask():
        for key in [("seed", s) for s in seeds] + [("bench", p) for p in bench]:
            site, cube, grid, mask = (_site_inputs(seed=key[1], cache=cache) if key[0] == "seed"
                                      else _site_inputs(px=key[1]))
            t = time.perf_counter()
            got = site_evidence_of(site, cube, grid, mask, keep_base=True)
            secs = time.perf_counter() - t
            ev = got.evidence
            trimmed = mangrove_axis_report(got.base, RULES["mangrove"]).get("trimmed", np.nan)
            np.savez(out / f"{key[0]}-{key[1]}.npz", context=np.asarray(ev.context),
                     params=np.asarray(ev.params, np.float64),
                     **{f"base_{v}": np.asarray(got.base[v]) for v in got.base.data_vars})
            print(f"{key[0]} {key[1]}: {secs:.3f} s, trimmed {trimmed}, "
                  f"{type(ev.context.data).__name__}", flush=True)


def compare(a: Path, b: Path) -> int:
    bad = 0
    files = sorted(p.name for p in a.glob("*.npz"))
    for name in files:
        x, y = np.load(a / name), np.load(b / name)
        diff = [k for k in x.files if not np.array_equal(x[k], y[k], equal_nan=True)]
        diff += [k for k in y.files if k not in x.files]
        bad += bool(diff)
        print(f"{name}: {'same' if not diff else 'DIFFERENT ' + ','.join(diff)}")
    print(f"{len(files) - bad} of {len(files)} the same")
    return 1 if bad else 0


def main() -> int:
    args = sys.argv[1:]
    if args[0] == "--compare":
        return compare(Path(args[1]), Path(args[2]))
    out = Path(args[0])
    seeds, cache, bench = [], None, []
    if "--seeds" in args:
        from scenario_sweep import parse_seeds

        seeds = parse_seeds(args[args.index("--seeds") + 1])
        cache = args[args.index("--cache") + 1]
    if "--bench" in args:
        bench = [int(v) for v in args[args.index("--bench") + 1].split(",")]
    run(out, seeds, cache, bench)
    return 0


if __name__ == "__main__":
    sys.exit(main())
