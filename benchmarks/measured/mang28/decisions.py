"""Rule v9's closed-canopy guard on the independent scenarios (helper mang28).

    PYTHONPATH=$PWD:$PWD/benchmarks:$PWD/tests python benchmarks/measured/mang28/decisions.py \
        SEEDS --out FILE.jsonl [--cache DIR]

For each seed's baseline (``scenario_sweep.mangrove_baseline``): the site's parameters under
the default rule (v9) and under the same rule without the guard (``axis_closed_share`` 0:
rule v8's decision), the guard's share and decision, and whether every other parameter is
identical (then the site's rows are v8's: the parameters are all the rows read from the
first pass).
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
from scenario_sweep import mangrove_baseline, parse_seeds

from indices.evidence import mangrove_first_pass
from indices.mangrove import MANGROVE_PARAMETERS


def decision(seed: int, cache: Path) -> dict:
    _, _, _, base, rule, params, _ = mangrove_baseline(seed, cache)
    v9 = dict(zip(MANGROVE_PARAMETERS, np.asarray(params).tolist(), strict=True))
    unguarded, _ = mangrove_first_pass(base, dataclasses.replace(rule, axis_closed_share=0.0))
    v8 = dict(zip(MANGROVE_PARAMETERS, np.asarray(unguarded.compute()).tolist(), strict=True))
    same = all(np.array_equal(v9[k], v8[k], equal_nan=True) for k in MANGROVE_PARAMETERS)
    return {"seed": seed, "axis_used_v8": v8["axis_used"], "axis_used_v9": v9["axis_used"],
            "closed_share": v9["axis_closed_share"], "guard_on": bool(
                v9["axis_closed_share"] >= rule.axis_closed_share),
            "params_identical": same, "rule_id": rule.rule_id}


def main(argv: list[str]) -> None:
    out = Path(argv[argv.index("--out") + 1])
    cache = Path(argv[argv.index("--cache") + 1]) if "--cache" in argv \
        else Path("/work/wt/mang24-cache")
    with out.open("a") as f:
        for seed in parse_seeds(argv[0]):
            t0 = time.perf_counter()
            rec = {**decision(seed, cache), "s": round(time.perf_counter() - t0, 1)}
            f.write(json.dumps(rec) + "\n")
            f.flush()
            print(rec, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
