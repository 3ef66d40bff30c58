"""Sweep one habitat's rule over independent scenario seeds: one JSON line a seed.

    PYTHONPATH=<tree>:<tree>/tests python benchmarks/scenario_sweep.py --kind mangrove \\
        --seeds 10-29,300-319 --out x.jsonl --cache DIR

Scenes come from the independent generator (``tests/scenarios``, written from published spectra
and Jerlov water types, not from the demo), 300 px and 18 months unless told, and are generated
once and pickled under ``--cache`` (outside the repository; shared by the code trees compared:
the generator is not the code under test). Each line holds the figures of
``tests/test_independent_scenes.py`` (``_figures``; ``_extent_ok`` at that test's tolerance for
the habitat, ``_change_ok``): baseline, final, gain and loss as [bluecarbon, truth] ha, the
share of months whose truth lies in the extent interval, the rule id; for seagrass also the last
month's assessable fraction [bluecarbon, truth] and the scene's Kd(490). The last line printed
sums the set. Sweeps, not tests: the CI budget. Compare two trees' records seed by seed.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np

SIZE, MONTHS = 300, 18
"""The sweeps' scenes: pixels a side and months (the sets of 20 quoted in the xfail reasons of
tests/test_independent_scenes.py)."""


def parse_seeds(spec: str) -> list[int]:
    """``"10-29,300-319,7"`` -> the seeds, in order."""
    out = []
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def scenario(seed: int, kind: str, size: int, months: int, cache: Path):
    """The generator's scenario for ``seed``, pickled under ``cache`` the first time."""
    from scenarios import make_scenario

    root = cache / f"{kind}-{seed}-{size}-{months}"
    pkl = root / "scenario.pkl"
    if pkl.exists():
        return pickle.loads(pkl.read_bytes())
    sc = make_scenario(seed, kind=kind, size=size, n_months=months, out_dir=root)
    pkl.write_bytes(pickle.dumps(sc))
    return sc


def mangrove_baseline(seed: int, cache: Path, size: int = SIZE, months: int = MONTHS):
    """For the mangrove diagnoses (``mangrove_tidal_diagnosis``, ``mangrove_lda_diagnosis``):
    ``(sc, site, cube, base, rule, params, codes)`` of a cached scenario: its lazy cube, the
    computed baseline composite, the default rule and the first pass's site parameters
    (computed) and coast codes (lazy) (:func:`indices.evidence.mangrove_first_pass`)."""
    from aoi import load_sites
    from flows.sources import get_source
    from indices.evidence import baseline_composite, mangrove_first_pass
    from indices.habitat import RULES

    sc = scenario(seed, "mangrove", size, months, cache)
    (site,) = load_sites(sc.sites)
    source = get_source("stac", catalog=str(sc.catalog))
    cube = source.load(site, source.search(site, sc.start, sc.end), chunks=None)
    base = baseline_composite(cube, "mangrove", (site.baseline_start, site.baseline_end)).compute()
    rule = RULES["mangrove"]
    params, codes = mangrove_first_pass(base, rule)
    return sc, site, cube, base, rule, params.compute(), codes


def auc(a: np.ndarray, b: np.ndarray) -> float:
    """P(a > b) of two samples (Mann-Whitney), over their finite values; NaN where either
    has none. For the diagnoses."""
    a, b = np.asarray(a), np.asarray(b)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not a.size or not b.size:
        return float("nan")
    ranks = np.concatenate([a, b]).argsort().argsort() + 1.0
    return float((ranks[:a.size].sum() - a.size * (a.size + 1) / 2) / (a.size * b.size))


def record(seed: int, kind: str, size: int, months: int, cache: Path) -> dict:
    """One seed's figures against the truth (see the module docstring)."""
    from scenarios.run_scenario import site_change_rows
    from test_independent_scenes import _change_ok, _extent_ok, _figures

    t0 = time.perf_counter()
    sc = scenario(seed, kind, size, months, cache)
    rows = site_change_rows(sc)
    f = _figures(sc, rows)
    rec = {"seed": seed, "kind": kind,
           **{k: [float(v) for v in f[k]] for k in ("baseline", "final", "gain", "loss")},
           "covered": float(np.mean(f["covered"])), "width": float(np.median(f["width"])),
           "extent_ok": bool(_extent_ok(f, kind)),
           "change_ok": bool(_change_ok(f)), "rule_id": str(rows["rule_id"].iloc[0])}
    if kind == "seagrass":
        truth = sc.truth.set_index("period")["assessable_fraction"]
        rec["assessable_fraction"] = [float(rows["assessable_fraction"].iloc[-1]),
                                      float(truth.iloc[-1])]
        rec["kd490"] = float(sc.params["kd490"])
    rec["s"] = round(time.perf_counter() - t0, 1)
    return rec


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=("mangrove", "seagrass"), required=True)
    p.add_argument("--seeds", required=True, help="e.g. 10-29,300-319")
    p.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    p.add_argument("--cache", type=Path, required=True, help="pickled scenes (outside the repo)")
    p.add_argument("--size", type=int, default=SIZE)
    p.add_argument("--months", type=int, default=MONTHS)
    a = p.parse_args(argv)
    records = []
    for seed in parse_seeds(a.seeds):
        rec = record(seed, a.kind, a.size, a.months, a.cache)
        records.append(rec)
        with open(a.out, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        print(json.dumps(rec), flush=True)
    print(f"{a.kind} {a.seeds}: extent {np.mean([r['extent_ok'] for r in records]):.0%}, "
          f"gain and loss {np.mean([r['change_ok'] for r in records]):.0%}, interval covers "
          f"{np.mean([r['covered'] for r in records]):.1%} of site-months", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
