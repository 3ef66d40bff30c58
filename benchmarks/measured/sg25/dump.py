"""Dump, per seed, main's deglinted bottom signals and fitted water with the truth's maps
(helper sg25; the inputs of ``sandfield.py``, so that its variants do not recomposite).

    PYTHONPATH=<tree>:<tree>/tests:<tree>/benchmarks python benchmarks/measured/sg25/dump.py \\
        OUT_DIR 10-29 200-219 1300-1319

Per seed ``OUT_DIR/<seed>.npz``: ``b``, ``g`` (float64, :func:`bottom_signals` of the
baseline composite with the site's fitted water), ``wet`` (water mask and bands finite),
``views`` (``n_clear``), ``nb_h``/``ng_h`` (the honest noise of sg23: deglinted signals,
pairs chosen by their mean), the water parameters, and the truth: ``site``, ``meadow``
(baseline month), ``assessable``, ``depth``; ``kd490``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from seagrass_diagnosis import _load

from indices.seagrass_rule import SeagrassRule, bottom_signals
from indices.water import PARAMETERS, water_mask, water_parameters


def honest(bd, gd, wet, rule, step=1):
    """sg23's honest noise: neighbour differences of the deglinted signals over pairs whose
    mean is among the darkest ``deep_fraction`` of the water."""
    avg = (bd + gd) / 2
    ok = wet & np.isfinite(avg)
    cut = np.quantile(avg[ok], rule.deep_fraction)
    pair = ok[:, step:] & ok[:, :-step] & ((avg[:, step:] + avg[:, :-step]) / 2 <= cut)

    def sigma(v):
        return np.median(np.abs(v[:, step:] - v[:, :-step])[pair]) / (0.6745 * np.sqrt(2))

    return sigma(bd), sigma(gd)


def dump(seed: int, cache: Path, out: Path) -> None:
    rule = SeagrassRule()
    sc, base = _load(seed, cache)
    water = water_parameters(base, rule).compute()
    wp = dict(zip(PARAMETERS, water.values.tolist(), strict=True))
    b, g, _ = bottom_signals(base, rule, water)
    b, g = b.values.astype(np.float64), g.values.astype(np.float64)
    wet = (water_mask(base, rule).values & np.isfinite(base["B02"].values)
           & np.isfinite(base["B08"].values))
    nb_h, ng_h = honest(b, g, wet, rule)
    c0 = int(round((float(base.x[0]) - 5 - sc.left) / 10))
    r0 = int(round((sc.top - (float(base.y[0]) + 5)) / 10))
    win = (slice(r0, r0 + b.shape[0]), slice(c0, c0 + b.shape[1]))
    np.savez_compressed(
        out / f"{seed}.npz", b=b, g=g, wet=wet, views=base["n_clear"].values,
        nb_h=nb_h, ng_h=ng_h, water=np.array([wp[k] for k in PARAMETERS]),
        site=sc.site[win], meadow=sc.habitat[0][win], classes=sc.classes[win], assessable=sc.assessable[win],
        depth=sc.depth[win] if getattr(sc, "depth", None) is not None else np.zeros(0),
        kd490=sc.params["kd490"], zvis=sc.params.get("visibility_depth_m", np.nan))
    print(seed, f"nz {nb_h / wp['noise_blue']:.2f}/{ng_h / wp['noise_green']:.2f}", flush=True)


def _seeds(spec: str) -> list[int]:
    lo, _, hi = spec.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(sys.argv[2]) if len(sys.argv) > 2 and "/" in sys.argv[2] else Path(
        "/work/wt/sg23-cache")
    for spec in [a for a in sys.argv[2:] if "/" not in a]:
        for s in _seeds(spec):
            if not (out / f"{s}.npz").exists():
                dump(s, cache, out)
