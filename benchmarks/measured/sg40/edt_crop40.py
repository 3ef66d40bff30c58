# ruff: noqa  (a one-off check kept as a record)
"""sg40: does scipy's EDT pick the same nearest feature on a row crop (halo H rows) as on the
whole image, for every pixel of the crop's inner rows within the cap? Random block patterns."""
import sys
import numpy as np
from scipy import ndimage

block, window = 10, 2
cap = window * block
H = (window + 1) * block
rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
bad = checked = 0
for trial in range(300):
    by, bx = rng.integers(3, 40), rng.integers(3, 40)
    have = rng.random((by, bx)) < rng.choice([0.02, 0.1, 0.3, 0.6])
    ny, nx = by * block - rng.integers(0, block), bx * block - rng.integers(0, block)
    near = np.kron(have, np.ones((block, block), bool))[:ny, :nx]
    if not near.any():
        continue
    d, (iy, ix) = ndimage.distance_transform_edt(~near, return_indices=True)
    bid = (iy // block) * bx + ix // block
    rows = block * rng.integers(1, 6)
    for r0 in range(0, ny, rows):
        r1 = min(ny, r0 + rows)
        c0, c1 = max(0, r0 - H), min(ny, r1 + H)
        sub = near[c0:c1]
        if not sub.any():
            assert (d[r0:r1] > cap).all()
            continue
        d2, (jy, jx) = ndimage.distance_transform_edt(~sub, return_indices=True)
        s = slice(r0 - c0, r1 - c0)
        ok = d[r0:r1] <= cap
        b2 = ((jy[s] + c0) // block) * bx + jx[s] // block
        checked += ok.sum()
        bad += (b2[ok] != bid[r0:r1][ok]).sum()
        assert (d2[s][ok] == d[r0:r1][ok]).all()
        assert (d2[s] >= d[r0:r1]).all()
print("checked", checked, "differing nearest block", bad)
