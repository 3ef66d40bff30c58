"""False seagrass of the baseline, the tree's own rule (helper sg24): per seed, seagrass
called by :func:`indices.seagrass_rule.seagrass_score` on the pipeline's baseline composite
with its fitted water, inside the site, where the truth's baseline has no meadow (ha), and
called / truth over the truth's assessable meadow.

    PYTHONPATH=<tree>:<tree>/tests:<tree>/benchmarks python \\
        benchmarks/measured/sg24/false_ha.py 10 11 ...
"""
from __future__ import annotations

import sys
from pathlib import Path

from seagrass_diagnosis import _load

from indices.seagrass_rule import SeagrassRule, seagrass_score
from indices.water import water_parameters


def look(seed: int, cache: Path) -> str:
    rule = SeagrassRule()
    sc, base = _load(seed, cache)
    water = water_parameters(base, rule).compute()
    called = (seagrass_score(base, rule, water) > 0).values
    c0 = int(round((float(base.x[0]) - 5 - sc.left) / 10))
    r0 = int(round((sc.top - (float(base.y[0]) + 5)) / 10))
    win = (slice(r0, r0 + called.shape[0]), slice(c0, c0 + called.shape[1]))
    site, meadow0 = sc.site[win], sc.habitat[0][win]
    truth = (site & meadow0 & sc.assessable[win]).sum() * 0.01
    got = called & site
    return (f"seed {seed} truth {truth:.1f} called {got.sum() * 0.01:.1f} "
            f"main_f {(got & ~meadow0).sum() * 0.01:.1f}")


if __name__ == "__main__":
    for s in sys.argv[1:]:
        print(look(int(s), Path("/work/wt/sg23-cache")), flush=True)
