"""Bytes of the baseline fill per filled pixel, held and while built (mang38).

The review's r35_size.py / r35_mem.py on a window that sees a tide (rule v16 fills only
then): a grid whose window scenes are clouded everywhere but the first column (seen twice,
wet once), the month after clear. Held: the sparse fill's arrays. Built: the process's peak
RSS growth over the fill (ru_maxrss, after the composite was built lazily). Run each size in
a fresh process: ``python fill_memory.py 2048`` (one size, one line of JSON).
"""
import gc
import json
import resource
import sys
import time

sys.path.insert(0, "tests")
from test_bap import BASELINE, _cube  # noqa: E402

from indices.bap import baseline_fill  # noqa: E402
from indices.composite import composite  # noqa: E402

n = int(sys.argv[1])
shape = (n, n)
days = ["2024-04-10", "2024-05-10", "2024-07-10"]
cube = _cube(days, {}, shape)
cube["SCL"][:2, :, 1:] = 9
cube["B03"][0, :, 0] += 500  # the first column wet in the first scene, dry in the second
cube = cube.chunk({"time": 1, "y": 512, "x": 512})
base = composite(cube, *BASELINE)
gc.collect()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.time()
f = baseline_fill(base, cube, BASELINE)
dt_s = time.time() - t
grow = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - r0) * 1024
held = f.flat.nbytes + f.offset.nbytes + sum(v.nbytes for v in f.values.values())
print(json.dumps({"px": n * n, "unseen": f.unseen, "filled": f.filled, "s": round(dt_s, 1),
                  "held_B_per_px": round(held / max(f.filled, 1), 1),
                  "peak_growth_B_per_px": round(grow / max(f.filled, 1), 1),
                  "peak_growth_MiB": round(grow / 2**20, 1)}))
