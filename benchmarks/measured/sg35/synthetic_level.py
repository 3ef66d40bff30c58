# ruff: noqa  (a one-off diagnosis kept as a record, not project code)
"""sg35: the plateau level (v6 = deep_plateau of the tree, v6b = cands.make(False)) on
sg34's synthetic clear site (tests/test_seagrass_judgement.py), with / without its meadow, 3000
or 20000 optically deep pixels, the noise exact or 1.4x the one handed to the fit.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/measured/sg35/synthetic_level.py
"""
import numpy as np, xarray as xr, sys
sys.path.insert(0,'tests')
from test_seagrass_judgement import SAND, BROWN, K_B, K_G, DEEP_B, DEEP_G, NOISE
from indices.water import _histogram, deep_plateau, fit_water
from indices.habitat import SeagrassRule
import indices.water as W
rule = SeagrassRule()
def water(bottom, z, k, deep): return deep + (bottom - deep) * np.exp(-2 * k * z)
def hist_of(with_meadow, n_deep=3000, seed=5, noise_scale=1.0):
    rng = np.random.default_rng(seed)
    z_sand = np.concatenate([np.linspace(0.5, 60.0, 40000), np.full(n_deep, 200.0)])
    z_meadow = np.linspace(6.0, 20.0, 20000) if with_meadow else np.zeros(0)
    blue = np.concatenate([water(SAND[0], z_sand, K_B, DEEP_B), water(BROWN[0], z_meadow, K_B, DEEP_B)])
    green = np.concatenate([water(SAND[1], z_sand, K_G, DEEP_G), water(BROWN[1], z_meadow, K_G, DEEP_G)])
    blue, green = (v + rng.normal(0, NOISE * noise_scale, v.size) for v in (blue, green))
    m = lambda v: xr.DataArray(v[None, :], dims=("y", "x"))
    return np.asarray(_histogram(m(np.ones(blue.size, bool)), m(green), m(blue))).reshape(256, 256)
for wm in (True, False):
    for nd in (3000, 20000):
        for ns in (1.0, 1.4):
            h = hist_of(wm, nd, noise_scale=ns)
            print("meadow", wm, "n_deep", nd, "true noise x", ns, "plateau", deep_plateau(h, (NOISE, NOISE), rule))
sys.path.insert(0, 'benchmarks/measured/sg35')
from cands import make
for wm in (True, False):
    for nd in (3000, 20000):
        for ns in (1.0, 1.4):
            h = hist_of(wm, nd, noise_scale=ns)
            print("v6b: meadow", wm, "n_deep", nd, "true noise x", ns, make(False)(h, (NOISE, NOISE), rule))
