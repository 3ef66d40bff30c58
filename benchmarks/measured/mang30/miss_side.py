"""Which side of the extent interval the truth falls on in the site-months it is missed:
    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/mang30/miss_side.py 22 306 705
(the tree's rule; scenes from /work/wt/mang24-cache). Prints per seed the missed months:
truth, interval low / high, mapped extent, ha."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from scenario_sweep import scenario  # noqa: E402


def main(seeds):
    from scenarios.run_scenario import site_change_rows

    for seed in seeds:
        sc = scenario(seed, "mangrove", 300, 18, Path("/work/wt/mang24-cache"))
        rows = site_change_rows(sc)
        j = rows.join(sc.truth.set_index("period"), on="period", rsuffix="_truth")
        t, lo, hi = j["extent_ha_truth"], j["extent_ci_low_ha"], j["extent_ci_high_ha"]
        miss = ~((lo <= t + 1e-9) & (t <= hi + 1e-9))
        above, below = int((miss & (t > hi)).sum()), int((miss & (t < lo)).sum())
        print(f"seed {seed}: {int(miss.sum())} of {len(j)} months missed, truth above the "
              f"interval {above}, below {below}")
        for _, r in j[miss].iterrows():
            print(f"  {r['period']}: truth {r['extent_ha_truth']:.2f}  low "
                  f"{r['extent_ci_low_ha']:.2f}  high {r['extent_ci_high_ha']:.2f}  mapped "
                  f"{r['extent_ha']:.2f}")


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]])
