"""The calibration's threshold search on many labelled pixels: capped against full.

``python -m benchmarks.calibration_search`` (~2 min on 2 loaded cores)
``python -m benchmarks.calibration_search --sizes 200000,2000000 --rounds 3 --seeds 10-29``

Times :func:`indices.calibration.calibrate` with its cap (:data:`indices.calibration.
MAX_SEARCH_PIXELS`, a stratified draw) and without (``max_search_pixels=None``: the full
search, as before the cap), interleaved, medians of ``--rounds``, on synthetic mangrove labels
(NDVI > 0.6 and MVI > 3.2, 2 % of the labels flipped); then, on separable labels of
``--check-size`` pixels with the cap at a tenth of them, how many candidates (of the full
search's grid) the capped thresholds lie from the full ones, per seed. Compare ratios of one
run: the machine is shared.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.scenario_sweep import parse_seeds
from indices.calibration import _candidates, calibrate
from indices.habitat import MangroveRule


def _labels(n: int, seed: int, flip: float) -> tuple[np.ndarray, dict]:
    rng = np.random.default_rng(seed)
    ndvi, mvi = rng.uniform(0.2, 0.95, n), rng.uniform(1.0, 9.0, n)
    labels = ((ndvi > 0.6) & (mvi > 3.2)) ^ (rng.random(n) < flip)
    return labels, {"ndvi": ndvi, "mvi": mvi}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="200000,2000000")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seeds", default="10-29")
    p.add_argument("--check-size", type=int, default=60_000)
    args = p.parse_args(argv)
    for n in (int(s) for s in args.sizes.split(",")):
        labels, features = _labels(n, 1, 0.02)
        times = {"capped": [], "full": []}
        for r in range(args.rounds):
            order = ("capped", "full") if r % 2 == 0 else ("full", "capped")
            for name in order:
                t0 = time.perf_counter()
                cal = calibrate("mangrove", labels, features,
                                **({"max_search_pixels": None} if name == "full" else {}))
                times[name].append(time.perf_counter() - t0)
                print(f"{n:>9} {name:6} {times[name][-1]:6.2f} s {cal.parameters}", flush=True)
        med = {k: float(np.median(v)) for k, v in times.items()}
        print(f"{n:>9} median capped {med['capped']:.2f} s, full {med['full']:.2f} s, "
              f"ratio {med['capped'] / med['full']:.2f}", flush=True)
    rule, worst, same = MangroveRule(), 0, 0
    seeds = parse_seeds(args.seeds)
    for seed in seeds:
        labels, features = _labels(args.check_size, seed, 0.0)
        full = calibrate("mangrove", labels, features, max_search_pixels=None)
        capped = calibrate("mangrove", labels, features,
                           max_search_pixels=args.check_size // 10)
        steps = []
        for name, feature in (("ndvi_min", "ndvi"), ("mvi_min", "mvi")):
            grid = _candidates(features[feature], getattr(rule, name))
            i = np.searchsorted(grid, [full.parameters[name], capped.parameters[name]])
            steps.append(abs(int(i[0]) - int(i[1])))
        worst, same = max(worst, *steps), same + (max(steps) == 0)
        print(f"seed {seed}: candidates apart {steps}, balanced accuracy full "
              f"{full.balanced_accuracy:.5f} capped {capped.balanced_accuracy:.5f}")
    print(f"{same} of {len(seeds)} seeds the same thresholds; at most {worst} candidate(s) apart")


if __name__ == "__main__":
    main()
