"""Calibration labels outside the first-pass context: do they change the errors? (review
finding 11, measurement only: the flow is not changed.)

    PYTHONPATH=<tree>:<tree>/tests python benchmarks/calibration_context.py \\
        --seeds 23-29,40-49 --drop labels --out x.jsonl --cache DIR

A mangrove pixel is called only inside the site's intertidal context; labels where the first
pass's context (:func:`indices.evidence.mangrove_first_pass`'s maps under the default rule:
:func:`indices.coast_maps.unpack_evidence` ``context``) is level 0 still pull the fitted
boundary and weigh the strata, for pixels the context already excludes. Here
``flows.site.evidence._calibrate`` is wrapped for the run so that, before the fit:

* ``--drop labels``: those labels are unlabelled (-1): out of the fit and of the strata's
  label counts ``n_h``; the strata's areas ``W_h`` still count the whole site;
* ``--drop labels+weights``: also the site's pixels at context level 0 are left out of the
  strata's areas (``inside`` restricted to the context);
* ``--drop none``: nothing (the branch as it is; a control run through the same wrapper).

``--context floor``: the context of the rule at its MVI floor instead (the same maps'
``floor``, 1 where that rule's context is nonzero: wider, the pixels a lowered threshold may
reach). Where too few labels are left the calibration is refused (the flow would fail the
site): the line then holds ``refused`` (the message) and no calibrated figures.

Otherwise :mod:`calibration_scenes` (its survey, scenes and line); each line adds
``dropped``: the labels left out (habitat, not habitat) and ``kept`` (the same, kept).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

_DROPPED: dict = {}


def wrap(mode: str, which: str = "first") -> None:
    """Wrap ``flows.site.evidence._calibrate`` (module doc)."""
    import dask
    import numpy as np

    import flows.site.evidence as ev
    from indices.coast_maps import unpack_evidence
    from indices.evidence import _evidence_maps
    from indices.habitat import RULES

    original = ev._calibrate

    def calibrate(site, path, base, labels, inside):
        if site.habitat == "mangrove" and mode != "none":
            packed = _evidence_maps(base, RULES["mangrove"])
            key = "context" if which == "first" else "floor"
            (context,) = dask.compute(unpack_evidence(packed)[key].transpose("y", "x"))
            outside = np.asarray(context) == 0
            gone = outside & (labels >= 0)
            _DROPPED["dropped"] = [int((gone & (labels == 1)).sum()),
                                   int((gone & (labels == 0)).sum())]
            labels = np.where(outside, np.int8(-1), labels)
            if mode == "labels+weights":
                inside = inside & ~outside
        _DROPPED["kept"] = [int((labels == 1).sum()), int((labels == 0).sum())]
        return original(site, path, base, labels, inside)

    ev._calibrate = calibrate


def main() -> None:
    from calibration_scenes import record
    from scenario_sweep import parse_seeds

    from aoi import CalibrationError

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="23-29,40-49")
    p.add_argument("--drop", choices=("none", "labels", "labels+weights"), required=True)
    p.add_argument("--context", choices=("first", "floor"), default="first")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cache", type=Path, required=True, help="pickled scenes (outside the repo)")
    a = p.parse_args()
    wrap(a.drop, a.context)
    a.cache.mkdir(parents=True, exist_ok=True)
    with open(a.out, "a") as fh:
        for seed in parse_seeds(a.seeds):
            _DROPPED.clear()
            try:
                rec = record(seed, a.cache)
            except CalibrationError as exc:
                rec = {"seed": seed, "refused": str(exc), "calibrated_error": None,
                       "truth": None, "default_error": None}
            rec |= {"drop": a.drop, "context": a.context, **_DROPPED}
            fh.write(json.dumps(rec, default=str) + "\n")
            fh.flush()
            print(f"seed {seed}: truth {rec['truth']} default {rec['default_error']} "
                  f"calibrated {rec['calibrated_error']} "
                  f"({(rec.get('calibration') or {}).get('method')}) dropped "
                  f"{rec.get('dropped')} kept {rec.get('kept')}", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
