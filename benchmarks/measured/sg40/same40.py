# ruff: noqa  (a one-off check kept as a record)
"""sg40: the block-wise place map against sg38's eager one (tests/place_oracle38.py), bit for
bit, on sg35's captured 300 px baselines, at several strip sizes (rows that cut blocks are
not possible: strips are whole blocks; sizes that leave a partial last strip are), and from
the composite lazy in chunks that cut the blocks and the strips ("lazy").

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg40/same40.py CAP SEED...
"""
import pickle, sys
from pathlib import Path
import numpy as np
import indices.water as W
from indices.habitat import RULES
from indices.seagrass_place import place_map
from place_oracle38 import place_map as oracle

rule = RULES["seagrass"]
for seed in map(int, sys.argv[2:]):
    base = pickle.loads((Path(sys.argv[1]) / f"{seed}.pkl").read_bytes())["base"]
    w = W.water_parameters(base, rule)
    ref = oracle(base, rule, w)
    line = []
    for strip in (2**20, 288 * 30, 288 * 11, 1, "lazy"):
        new = (place_map(base.chunk({"y": 100, "x": 77}), rule, w, strip_pixels=288 * 40)
               if strip == "lazy" else place_map(base, rule, w, strip_pixels=strip))
        same = (new.values.tobytes() == ref.values.tobytes() and new.attrs == ref.attrs
                and new.dims == ref.dims and new.dtype == ref.dtype
                and all((new[k].values == ref[k].values).all() for k in ref.coords))
        line.append(f"{strip}:{'same' if same else 'DIFF'}")
    print(seed, f"q {ref.attrs.get('q', float('nan')):.3f}",
          f"supported {int(np.isfinite(ref.values[0]).sum())}", *line, flush=True)
