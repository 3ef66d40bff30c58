"""Scratch: how much bare shore-band ground rule v12 turns into TIDAL or SHORE_WATER on the real coasts,
and how much of it passes the spectral test (site params, and the published MVI)."""
import sys
from pathlib import Path
sys.path.insert(0, "/work/wt/mang31/tests"); sys.path.insert(0, "/work/wt/mang31")
import dask, numpy as np, xarray as xr
import test_realdata_mangrove as t
from indices.habitat import MangroveRule, mangrove_spectral_score
from indices.evidence import site_evidence
from indices.spectral import compute_indices
from indices import context as C
from indices.context import TIDAL, CONNECTED, SHORE_WATER

RULE = MangroveRule()
real = Path("/work/shared/realdata")

class R:  # fixture stand-in
    pass

def load(name):
    f = getattr(t, name).__wrapped__ if hasattr(getattr(t, name), "__wrapped__") else None
    return f(real)

def run(name, cube):
    refl = xr.Dataset({b: ((cube[b].astype(np.float32) + cube["boa_offset"]) / 1e4)
                       .clip(min=0).where(cube["SCL"].isin((2, 4, 5, 6, 7)) & (cube[b] > 0))
                       for b in ("B02", "B03", "B04", "B08", "B11", "B12")}).isel(time=0)
    ndwi = compute_indices(refl, ["ndwi"])["ndwi"]
    n_clear = (ndwi.notnull() * RULE.min_views).astype(np.int16)
    base = refl.assign(n_clear=n_clear, n_wet=xr.where(ndwi > 0, n_clear, 0).astype(np.int16))
    orig = C.shore_ground
    res = {}
    for tag in ("v11", "v9"):
        if tag == "v9":
            C.shore_ground = lambda levels, *a, **k: np.zeros(levels.shape, bool)
        ev = site_evidence(base, "mangrove", RULE)
        ev = ev.with_arrays(dask.compute(*ev.arrays))
        res[tag] = (np.asarray(ev.context), ev.params)
    C.shore_ground = orig
    ctx10, p10 = res["v11"]; ctx9, _ = res["v9"]
    new = ((ctx10 == TIDAL) | (ctx10 == SHORE_WATER)) & (ctx9 != TIDAL)
    water = ctx10 == SHORE_WATER
    s_site = mangrove_spectral_score(refl, RULE, p10).values > 0
    s_pub = mangrove_spectral_score(refl, RULE).values > 0
    ndvi = compute_indices(refl, ["ndvi"])["ndvi"].values
    px = float(abs(cube.x[1] - cube.x[0]))
    ha = px * px / 1e4
    print(f"{name}: px {px} m; v9 connected {int((ctx9 == CONNECTED).sum())}, v12 new tidal {int(new.sum())} "
          f"({new.sum() * ha:.1f} ha, of which SHORE_WATER {int(water.sum())} px {water.sum() * ha:.1f} ha); of them NDVI>0.4 {int((new & (ndvi > 0.4)).sum())}, "
          f"pass site test {int((new & s_site).sum())}, pass published MVI test {int((new & s_pub).sum())} "
          f"({(new & s_pub).sum() * ha:.1f} ha); mangrove share of the map (site test, connected/tidal/shore water) {float(((ctx10 > 0) & (ctx10 != 2) & s_site).mean()):.4f}; site mvi_min {float(p10.sel(parameter='mvi_min')):.2f}")

for name in ("wales", "ireland"):
    fx = getattr(t, name)
    f = fx._get_wrapped_function() if hasattr(fx, "_get_wrapped_function") else fx.__wrapped__
    cube = f(real)
    run(name, cube)
