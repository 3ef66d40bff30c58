# ruff: noqa  (a one-off diagnosis kept as a record; reads synthetic_level.py's scene builder from benchmarks/measured/sg35/synthetic_level.py = synthetic_level.py)
import sys; sys.path.insert(0, 'benchmarks/measured/sg35')
exec(open('benchmarks/measured/sg35/synthetic_level.py').read().split("for wm in")[0])
from cands import make_cens, make
for wm in (True, False):
    for nd in (3000, 20000):
        for ns in (1.0, 1.4):
            h = hist_of(wm, nd, noise_scale=ns)
            print("cens: meadow", wm, "n_deep", nd, "x", ns, make_cens()(h, (NOISE, NOISE), rule))
