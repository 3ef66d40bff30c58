"""Whether two trees' strips walks give the same rows and maps (perf34): the strips walk of
tests/test_memory.py (1026² x 12 scenes, products) run by each tree in its own interpreter,
its observation, change and alert rows and its monthly maps saved, then compared bit for bit
(floats by their bits, NaN equal to NaN).

    python strips_identity.py CACHE_ROOT OUT TREE_A TREE_B
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

CHILD = r"""
import sys
tree, root, out = sys.argv[1:4]
sys.path[:0] = [tree, tree + "/benchmarks"]
from pathlib import Path
import numpy as np
import synthetic
from flows.site import site_tables
from flows.sources.stac import StacSource

source = StacSource(str(synthetic.write_tile(root, 1026, 12)))
site = synthetic.tile_site(1026)
first, last = synthetic.scene_dates(12)
t = site_tables(site, source, source.search(site, first, last), start=None, end=last,
                run_id="same", walk="strips", products=True)
out = Path(out)
out.mkdir(parents=True, exist_ok=True)
assert t.walk == "strips"
t.observations.to_parquet(out / "observations.parquet")
t.change.to_parquet(out / "change.parquet")
t.alerts.rows.drop(columns=["run_id"], errors="ignore").to_parquet(out / "alerts.parquet")
for name, var in t.maps.data_vars.items():
    np.save(out / f"map-{name}.npy", np.asarray(var.values))
"""


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint64 if a.itemsize == 8 else np.uint32) if a.dtype.kind == "f" else a


def main() -> None:
    root, out, *trees = sys.argv[1:]
    outs = []
    for i, tree in enumerate(trees):
        where = Path(out) / f"run{i}"
        subprocess.run([sys.executable, "-c", CHILD, tree, root, str(where)], check=True)
        outs.append(where)
    a, b = outs
    diffs = []
    for f in sorted(a.iterdir()):
        g = b / f.name
        if f.suffix == ".parquet":
            x, y = pd.read_parquet(f), pd.read_parquet(g)
            x, y = (d.drop(columns=["run_id"], errors="ignore") for d in (x, y))
            same = list(x.columns) == list(y.columns) and len(x) == len(y) and all(
                np.array_equal(_bits(np.asarray(x[c])), _bits(np.asarray(y[c])))
                if np.asarray(x[c]).dtype.kind == "f" else x[c].equals(y[c]) for c in x.columns)
            print(f"{f.name}: {len(x)} rows, {'same' if same else 'DIFFERENT'}")
        else:
            x, y = np.load(f), np.load(g)
            same = x.shape == y.shape and np.array_equal(_bits(x), _bits(y))
            print(f"{f.name}: {x.shape} {x.dtype}, {'same' if same else 'DIFFERENT'}")
        if not same:
            diffs.append(f.name)
    print("same" if not diffs else f"different: {diffs}")
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
