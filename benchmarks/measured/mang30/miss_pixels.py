"""Where the truth's extent escapes the interval (rule v11c of this tree): the truth's mangrove
pixels of a missed month that the map calls bare, split by whether the walk holds them
uncertain and whether the green bit (a month since the baseline past NDVI 0.4) is set.
    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/mang30/miss_pixels.py 22 306
Wraps indices.summary.monthly_states to keep the table walk's month states (a diagnosis
script, not a test)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from scenario_sweep import scenario  # noqa: E402

import indices.summary as summary  # noqa: E402

CACHE = Path("/work/wt/mang24-cache")


def main(seeds):
    from scenarios.run_scenario import site_change_rows

    real = summary.monthly_states
    for seed in seeds:
        kept = []

        def wrapped(*a, **k):
            gen = real(*a, **k)
            if not kept:
                kept.append([])
                for m in gen:
                    kept[0].append(m)
                    yield m
            else:
                yield from gen

        summary.monthly_states = wrapped
        sc = scenario(seed, "mangrove", 300, 18, CACHE)
        rows = site_change_rows(sc)
        summary.monthly_states = real
        z = np.load(CACHE / f"mangrove-{seed}-300-18" / "truth_maps.npz")
        truth = z["habitat"]
        j = rows.join(sc.truth.set_index("period"), on="period", rsuffix="_truth")
        t, hi = j["extent_ha_truth"].to_numpy(), j["extent_ci_high_ha"].to_numpy()
        states = kept[0]
        print(f"seed {seed}: {len(states)} month states, map shape {states[0].habitat.shape}, "
              f"truth {truth.shape[1:]}")
        from aoi import load_sites
        from flows.sources import get_source

        (site,) = load_sites(sc.sites)
        source = get_source("stac", catalog=str(sc.catalog))
        cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
        x, y = cube["x"].values, cube["y"].values
        c0 = int(round((x[0] - sc.left) / 10 - 0.5))
        r0 = int(round((sc.top - y[0]) / 10 - 0.5))
        ny, nx = states[0].habitat.shape
        print(f"  offset rows {r0} cols {c0} (x0 {x[0]}, left {sc.left})")
        truth = truth[:, r0:r0 + ny, c0:c0 + nx]
        print(f"  truth baseline px in the crop {truth[0].sum()}, mapped baseline "
              f"{states[0].baseline.sum()}, both {(truth[0] & states[0].baseline).sum()}")
        for i, m in enumerate(states):
            if t[i] <= hi[i] + 1e-9:
                continue
            missed = truth[i] & ~m.habitat
            print(f"  month {i}: truth {t[i]:.2f} high {hi[i]:.2f}; truth mangrove mapped "
                  f"bare {missed.sum()} px, of them uncertain {(missed & m.uncertain).sum()}, "
                  f"seen this month {(missed & m.seen).sum()}, baseline uncertain "
                  f"{(missed & m.baseline_uncertain).sum()}")


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]])
