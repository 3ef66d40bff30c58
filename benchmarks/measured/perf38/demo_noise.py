"""Is the demo's carbon change from main to the branch Monte Carlo noise? On the demo's own
change rows (a results folder of `bluecarbon run`), every site's ledger through the flow's
code (flows.site.carbon.carbon_rows, the run's seed, 0, unless given), with main's design
(scipy.stats.qmc.Sobol scrambled + norm.ppf, copied from main's indices.carbon) and the
branch's (indices.sobol + ndtri). Per interval end, |diff| as % of the row's 95 % width
(median, 95th percentile, max over rows), for: main's design seed 0 vs seed 1 (what a new
seed does on main), the branch's seed 0 vs 1, and main's vs the branch's at seed 0 (what the
merge does).

    python demo_noise.py RESULTS [SEED]
"""

import sys
import warnings

import numpy as np

import indices.carbon as carbon
from aoi.sites import bundled_sites_path, load_sites
from flows.results.read import read_table
from flows.site.carbon import carbon_rows, site_factor_sets

ours = carbon.normal_scores


def scipy_scores(n, dims, seed):
    from scipy.stats import norm, qmc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        u = qmc.Sobol(d=dims, scramble=True, seed=np.random.default_rng(seed)).random(n)
    return norm.ppf(u)


def ledgers(design, seed, sites, factors, change):
    carbon.normal_scores = design
    try:
        return {s.id: carbon_rows(s, change, factors[s.id], seed=seed) for s in sites}
    finally:
        carbon.normal_scores = ours


def main() -> None:
    change = read_table(sys.argv[1], "change")
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    sites = [s for s in load_sites(bundled_sites_path()) if s.id in set(change["site_id"])]
    factors = site_factor_sets(sites)
    runs = {(d, k): ledgers(f, k, sites, factors, change)
            for d, f in (("main", scipy_scores), ("branch", ours)) for k in (seed, seed + 1)}
    stored = read_table(sys.argv[1], "carbon")
    for sid, mine in (runs["branch", 0].items() if seed == 0 else ()):  # the run's rows
        theirs = stored[stored["site_id"] == sid].sort_values("period")
        for col in ("change_tco2e", "change_ci_low_tco2e", "stock_ci_high_tco2e"):
            assert np.array_equal(theirs[col].to_numpy(), mine.sort_values("period")[col]
                                  .to_numpy()), (sid, col)
    print(f"{len(sites)} sites, {sum(len(x) for x in runs['main', seed].values())} rows")
    for label, a, b in ((f"main seed {seed} vs {seed + 1}", ("main", seed), ("main", seed + 1)),
                        (f"branch seed {seed} vs {seed + 1}", ("branch", seed),
                         ("branch", seed + 1)),
                        (f"main vs branch, seed {seed}", ("main", seed), ("branch", seed))):
        for what in ("stock", "change"):
            rel = []
            for sid in runs[a]:
                x, y = runs[a][sid], runs[b][sid]
                width = (x[f"{what}_ci_high_tco2e"] - x[f"{what}_ci_low_tco2e"]).to_numpy()
                moving = width > 1e-6
                for end in ("low", "high"):
                    col = f"{what}_ci_{end}_tco2e"
                    rel += list(np.abs(x[col] - y[col]).to_numpy()[moving] / width[moving] * 100)
            rel = np.array(rel)
            print(f"{label:28s} {what:6s} ends {len(rel):4d}: |diff| median {np.median(rel):.3f}"
                  f" %, p95 {np.percentile(rel, 95):.3f} %, max {rel.max():.3f} % of the width")


if __name__ == "__main__":
    main()
