"""Percentile stability of the carbon ledger's intervals between Monte Carlo seeds, by design
(perf38, issue 22): the busy site of tests/test_carbon.py (``busy_rows``: 24 months, gain,
loss and their intervals), mangrove tropical-wet defaults, 2^14 draws, seeds 0-19 of each
design (or those given). For each month with an interval and each end (2.5 / 97.5 %) of stock and change:

* ``sd``: the standard deviation of that end over the seeds, % of the interval's width
  (the width of a 2^20-draw plain-random reference run);
* ``pair``: |seed 0 - seed 1|, % of the width (the docstring's earlier "moved between seeds");
* ``range``: max - min over the seeds, % of the width.

Reported: median and max over months and ends. Designs: ``ours`` (indices.sobol, what
indices.carbon.normal_scores uses now), ``scipy`` (main's: scipy.stats.qmc.Sobol scrambled,
norm.ppf), ``random`` (numpy default_rng normals). Run from the worktree:
PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/perf38/stability.py [a-b] > stability.txt
(2> the same as JSON)
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
from test_carbon import busy_rows

import indices.carbon as carbon
from indices.carbon_factors import default_factors

N, REF = 2**14, 2**20
SEEDS = range(*map(int, sys.argv[1].split("-"))) if len(sys.argv) > 1 else range(20)
"""Seeds ``a-b`` (b excluded) from the command line; 0-20 by default."""
ours = carbon.normal_scores


def scipy_scores(n, dims, seed):
    from scipy.stats import norm, qmc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        u = qmc.Sobol(d=dims, scramble=True, seed=np.random.default_rng(seed)).random(n)
    return norm.ppf(u)


def random_scores(n, dims, seed):
    return np.random.default_rng(seed).standard_normal((n, dims))


DESIGNS = {"ours": ours, "scipy": scipy_scores, "random": random_scores}
COLS = [f"{w}_ci_{e}_tco2e" for w in ("stock", "change") for e in ("low", "high")]


def run(design, n, seed):
    carbon.normal_scores = DESIGNS[design]
    try:
        return carbon.carbon_ledger(busy_rows(), default_factors("mangrove", "tropical_wet"),
                                    n_draws=n, seed=seed)
    finally:
        carbon.normal_scores = ours


def main() -> None:
    ref = run("random", REF, 10_000)
    width = {w: (ref[f"{w}_ci_high_tco2e"] - ref[f"{w}_ci_low_tco2e"]).to_numpy()
             for w in ("stock", "change")}
    out = {}
    for design in DESIGNS:
        ends = {c: np.array([run(design, N, s)[c].to_numpy() for s in SEEDS]) for c in COLS}
        stats = {}
        for what in ("stock", "change"):
            moving = width[what] > 1e-9
            sd, pair, rng, bias = [], [], [], []
            for e in ("low", "high"):
                x = ends[f"{what}_ci_{e}_tco2e"][:, moving] / width[what][moving] * 100
                r = ref[f"{what}_ci_{e}_tco2e"].to_numpy()[moving] / width[what][moving] * 100
                sd += list(x.std(axis=0, ddof=1))
                pair += list(np.abs(x[0] - x[1]))
                rng += list(x.max(axis=0) - x.min(axis=0))
                bias += list(np.abs(x.mean(axis=0) - r))
            stats[what] = {k: (round(float(np.median(v)), 3), round(float(np.max(v)), 3))
                           for k, v in (("sd", sd), ("pair", pair), ("range", rng),
                                        ("abs_mean_minus_ref", bias))}
            stats[what]["months"] = int(moving.sum())
        out[design] = stats
        print(design, json.dumps(stats), flush=True)
    json.dump(out, sys.stderr, indent=1)


if __name__ == "__main__":
    main()
