"""The branch's choice on the calibration inputs capture.py kept (main's run): each seed's
candidates, their weighted accuracies, the units better / worse than the default and the sign
test, main's method and the branch's. ``python offline.py DIR``"""
from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np

from flows.site.evidence import _label_units
from indices.calibration import calibrate


def main(folder: Path):
    for f in sorted(folder.glob("cal-*.pkl"), key=lambda p: int(p.stem.split("-")[1])):
        k = pickle.load(open(f, "rb"))
        grid = k["labels_grid"]
        units = _label_units(grid)[grid >= 0]
        cal = calibrate(*k["args"], **k["kwargs"], units=units)
        old = k["result"]
        n_units = len(np.unique(units))
        print(f"{f.stem:9s} units {n_units:3d} main {old.method:10s} branch {cal.method:10s} "
              + " ".join(f"{m}:{a:.4f}" for m, a in cal.candidates.items()) + "  "
              + " ".join(f"{m}:{g:+.4f}/{se:.4f} df={n}" for m, (g, se, n) in cal.gains.items()))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
