"""Which water the seagrass rule judges (rule lyzenga1981-v3), on pixels built from the
two-flow model of shallow water, ``rho = rho_deep + (A - rho_deep) exp(-2 K z)`` (Maritorena,
Morel & Gentili 1994, Limnol. Oceanogr. 39:1689, eq. 9, here directly in surface reflectance),
with bottoms of their Fig. 6 (coral sand 0.383 / 0.423 at 490 / 525 nm, brown algae 0.030 /
0.041, as tabulated with the OSOAA code) and clear water (K 0.03 /m in B02, 0.07 /m in B03,
Jerlov type I-II magnitudes; deep water 0.012 / 0.003, bluer than green as clear water is).

Not from the classifier's own numbers: the site's water parameters are set from the same
model (sand line through the deep water, ``r = K_B / K_G``), and the answers follow from it.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from indices.habitat import SeagrassRule, seagrass_score
from indices.water import PARAMETERS

K_B, K_G = 0.03, 0.07
DEEP_B, DEEP_G = 0.012, 0.003
# surface-reflectance magnitudes of the bottoms (irradiance reflectance / ~4: rho ~ pi R / Q)
SAND = (0.383 / 4, 0.423 / 4)
BROWN = (0.030 / 4, 0.041 / 4)
NOISE = 0.001


def _water() -> xr.DataArray:
    r = K_B / K_G
    dii_sand = np.log(SAND[0] - DEEP_B) - r * np.log(SAND[1] - DEEP_G)
    values = {"deep_blue": DEEP_B, "deep_green": DEEP_G, "glint_blue": 1.0, "glint_green": 1.0,
              "nir_ref": 0.0001, "k_ratio": r, "dii_sand": dii_sand, "noise_blue": NOISE,
              "noise_green": NOISE, "n_views": 1.0, "estimated": 1.0}
    return xr.DataArray([values[k] for k in PARAMETERS], dims="parameter",
                        coords={"parameter": list(PARAMETERS)})


def _pixels(bottom, depths) -> xr.Dataset:
    z = np.asarray(depths, np.float64)[None, :]
    blue = DEEP_B + (bottom[0] - DEEP_B) * np.exp(-2 * K_B * z)
    green = DEEP_G + (bottom[1] - DEEP_G) * np.exp(-2 * K_G * z)
    red = np.full_like(z, 0.001)
    nir = np.full_like(z, 0.0001)
    return xr.Dataset({b: (("y", "x"), v.astype(np.float32)) for b, v in
                       (("B02", blue), ("B03", green), ("B04", red), ("B08", nir))})


def test_a_meadow_darker_than_the_deep_water_in_blue_is_judged_seagrass():
    """A brown-algae bottom (0.0075 at 490 nm) under clear water whose deep water is 0.012:
    its blue lies below the deep water's at every depth (negative bottom contrast), so its
    own DII is undefined; v1 left it unjudged (NaN). Where its green shows the bottom at 3
    sigma (to ~6 m here, one view's noise) it is judged seagrass, far from sand; deeper, where
    its green is lost in the noise, nothing places it on the site's sand line: not judged."""
    depths = [1.0, 3.0, 5.0, 8.0, 11.0]
    refl = _pixels(BROWN, depths)
    assert (refl["B02"].values < DEEP_B).all()  # darker than the deep water in blue
    green = refl["B03"].values[0] - DEEP_G
    score = seagrass_score(refl, SeagrassRule(), _water()).values[0]
    print(dict(zip(depths, np.round(score, 2), strict=True)), np.round(green / NOISE, 1))
    seen = green >= 3 * NOISE
    assert seen[:3].all() and not seen[3:].any()
    assert np.isfinite(score[seen]).all() and (score[seen] > 1).all()  # outside the doubt
    assert np.isnan(score[~seen]).all()


def test_sand_on_the_sites_sand_line_is_judged_sand_where_seen():
    depths = [2.0, 8.0, 15.0, 25.0]
    score = seagrass_score(_pixels(SAND, depths), SeagrassRule(), _water()).values[0]
    print(dict(zip(depths, np.round(score, 2), strict=True)))
    assert np.isfinite(score).all() and (score < -1).all()


def test_optically_deep_water_is_not_assessable():
    """Where neither band shows the bottom (the deep water itself, within its noise) the pixel
    is not judged: NaN, not 'not seagrass' and not seagrass."""
    rng = np.random.default_rng(17)
    n = 400
    blue = DEEP_B + rng.normal(0, NOISE, n)
    green = DEEP_G + rng.normal(0, NOISE, n)
    refl = xr.Dataset({b: (("y", "x"), v[None, :].astype(np.float32)) for b, v in
                       (("B02", blue), ("B03", green), ("B04", np.full(n, 0.001)),
                        ("B08", np.full(n, 0.0001)))})
    score = seagrass_score(refl, SeagrassRule(), _water()).values[0]
    judged = np.isfinite(score)
    print(f"judged {judged.mean():.1%}, called seagrass {(score > 0).mean():.1%}")
    # the green bottom signal 3 sigma above the deep water by noise alone: ~1 pixel in 700
    assert judged.mean() < 0.01
    assert (score > 0).mean() < 0.01


def _site_hist(k_b: float, k_g: float, deep: tuple[float, float], z_max: float, seed: int):
    """(green, blue) histogram of a sand shelf sloping from 0.5 m to ``z_max`` and flat there
    (a third of the pixels: a shelf's deep end), with noise ``NOISE``, as
    :func:`indices.water.water_parameters` builds it."""
    from indices.histogram import histogram

    rng = np.random.default_rng(seed)
    z = np.concatenate([np.linspace(0.5, z_max, 40000), np.full(20000, z_max)])
    blue = deep[0] + (SAND[0] - deep[0]) * np.exp(-2 * k_b * z) + rng.normal(0, NOISE, z.size)
    green = deep[1] + (SAND[1] - deep[1]) * np.exp(-2 * k_g * z) + rng.normal(0, NOISE, z.size)
    as_map = {k: xr.DataArray(v[None, :], dims=("y", "x")) for k, v in
              (("g", green), ("b", blue), ("m", np.ones(z.size, bool)))}
    return np.asarray(histogram(as_map["m"], as_map["g"], as_map["b"])).reshape(256, 256)


def test_a_shelf_dark_in_green_only_is_not_taken_for_optically_deep_water():
    """Clear water (K 0.03 / 0.07 /m), a sand shelf flat at 50 m: green has lost the bottom
    (its signal exp(-7) of the sand's: 1e-4, below the noise), blue has not (exp(-3): 0.004,
    four noise units), so the darkest water is a plateau in green and in blue + green, but
    not optically deep in blue. Its blue as deep water would be 0.004 too bright (deep sand
    then reads dark in blue: seagrass); the site's sand line through that plateau says blue
    still sees the bottom where green is lost, so the deep water is extrapolated instead.
    Turbid water (K 0.10 / 0.11 /m) over the same shelf: optically deep in both bands
    (exp(-10)), the plateau is the deep water."""
    from indices.water import fit_water

    rule = SeagrassRule()
    clear = fit_water(_site_hist(K_B, K_G, (DEEP_B, DEEP_G), 50.0, 1), rule, (NOISE, NOISE))
    plateau_blue = DEEP_B + (SAND[0] - DEEP_B) * np.exp(-2 * K_B * 50.0)
    print(f"clear: fitted deep blue {clear[0]:.4f} (true {DEEP_B}, shelf {plateau_blue:.4f})")
    assert abs(clear[0] - DEEP_B) < 0.5 * (plateau_blue - DEEP_B)
    deep = (0.008, 0.006)
    turbid = fit_water(_site_hist(0.10, 0.11, deep, 50.0, 2), rule, (NOISE, NOISE))
    print(f"turbid: fitted deep {turbid[0]:.4f} {turbid[1]:.4f} (true {deep})")
    assert abs(turbid[0] - deep[0]) < NOISE and abs(turbid[1] - deep[1]) < NOISE
