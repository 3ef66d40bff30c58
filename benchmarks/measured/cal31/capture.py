"""benchmarks/calibration_scenes.py with the calibration's inputs kept (helper cal31): each
calibrated seed's labels raster, the features at the labels, the keywords and the result,
pickled to ``--keep DIR/cal-<seed>.pkl`` for offline study of the choice among candidates.
Same arguments as calibration_scenes.py plus ``--keep``; runs whichever tree is first on
PYTHONPATH."""
from __future__ import annotations

import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/


def main():
    i = sys.argv.index("--keep")
    keep = Path(sys.argv[i + 1])
    del sys.argv[i:i + 2]
    keep.mkdir(parents=True, exist_ok=True)
    import flows.site.evidence as fe
    import indices.calibration as ic

    real_cal, real_inner = ic.calibrate, fe._calibrate
    got = {}

    def cal(*a, **k):
        res = real_cal(*a, **k)
        got["args"], got["kwargs"], got["result"] = a, k, res
        return res

    def inner(site, path, base, labels, inside):
        got.clear()
        res = real_inner(site, path, base, labels, inside)
        with open(keep / f"cal-{path.name.split('-')[1]}.pkl", "wb") as fh:
            pickle.dump({"labels_grid": labels, **got}, fh)
        return res

    ic.calibrate, fe._calibrate = cal, inner
    import calibration_scenes

    calibration_scenes.main()


if __name__ == "__main__":
    main()
