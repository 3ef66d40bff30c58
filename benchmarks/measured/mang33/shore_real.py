"""Scratch (mang33): rule v12's SHORE_WATER on the real coasts, split into the coast's water
and the dry ground reached only across it. Run once per tree (the tree first on sys.path):
``python shore_real.py TREE OUT.npz``; then ``python shore_real.py --split MAIN.npz BRANCH.npz``
(main's level minus the branch's, where only the coast's water takes it, is the dry ground)."""
import sys

if sys.argv[1] == "--split":
    import numpy as np
    a, b = np.load(sys.argv[2]), np.load(sys.argv[3])
    for name in ("wales", "ireland"):
        main, branch, ha = a[name], b[name], float(a[name + "_ha"])
        dry = (main == 4) & (branch != 4)
        levels = {int(v): int(((branch == v) & dry).sum()) for v in np.unique(branch[dry])}
        print(f"{name}: SHORE_WATER on main {int((main == 4).sum())} px ({(main == 4).sum() * ha:.1f} ha)"
              f" = coast's water {int((branch == 4).sum())} px ({(branch == 4).sum() * ha:.1f} ha)"
              f" + dry ground across it {int(dry.sum())} px ({dry.sum() * ha:.1f} ha; its level on"
              f" the branch {levels}); other pixels changed: {int(((main != branch) & ~dry).sum())}")
    sys.exit(0)
tree, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, tree + "/tests")
sys.path.insert(0, tree)
from pathlib import Path  # noqa: E402

import dask  # noqa: E402
import numpy as np  # noqa: E402
import test_realdata_mangrove as t  # noqa: E402
import xarray as xr  # noqa: E402

from indices.evidence import site_evidence  # noqa: E402
from indices.habitat import MangroveRule  # noqa: E402
from indices.spectral import compute_indices  # noqa: E402

RULE = MangroveRule()
real = Path("/work/shared/realdata")
maps = {}
for name in ("wales", "ireland"):
    fx = getattr(t, name)
    f = fx._get_wrapped_function() if hasattr(fx, "_get_wrapped_function") else fx.__wrapped__
    cube = f(real)
    refl = xr.Dataset({b: ((cube[b].astype(np.float32) + cube["boa_offset"]) / 1e4)
                       .clip(min=0).where(cube["SCL"].isin((2, 4, 5, 6, 7)) & (cube[b] > 0))
                       for b in ("B02", "B03", "B04", "B08", "B11", "B12")}).isel(time=0)
    ndwi = compute_indices(refl, ["ndwi"])["ndwi"]
    n_clear = (ndwi.notnull() * RULE.min_views).astype(np.int16)
    base = refl.assign(n_clear=n_clear, n_wet=xr.where(ndwi > 0, n_clear, 0).astype(np.int16))
    ev = site_evidence(base, "mangrove", RULE)
    ev = ev.with_arrays(dask.compute(*ev.arrays))
    px = float(abs(cube.x[1] - cube.x[0]))
    maps[name], maps[name + "_ha"] = np.asarray(ev.context), px * px / 1e4
np.savez(out, **maps)
print(__import__("indices").__file__, {k: v.shape for k, v in maps.items() if not k.endswith("_ha")})
