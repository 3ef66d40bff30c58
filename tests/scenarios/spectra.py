"""Land surface spectra of the scenarios: Sentinel-2 L2A surface reflectance per class.

Each class has a central spectrum and a box ``lo``..``hi`` per band within which each seed
draws its class mean (Beta(2.5, 2.5) per band, so the box edges are rare), and a relative
per-pixel variability. Bands: B02 B03 B04 B08 B11 B12.

Sources, by how firm they are:

* **Measured on real Sentinel-2** (``source="aber"``): forest, grassland and urban are the
  25th/50th/75th percentiles of surface reflectance of the classes of rsgislib's Aberystwyth
  scene (2021-05-27, ARCSI surface reflectance, rsgislib's own classification, see
  ``../shared/realdata/rsgislib_aber_s2/SOURCE.md``), computed by :func:`measure_aber` (the
  tests recompute them when the data is present). Temperate, not tropical: they stand for
  "terrestrial forest" and "grassland" anywhere; their MVI (5th-95th percentile) is 1.9-4.0
  and 2.2-4.9, the very overlap with mangrove that makes the problem hard.
* **Published index ranges, approximate band values** (``source="lit"``): no stored source
  gave a citable table of Sentinel-2 band values for mangrove, oil palm, rubber or rice, so
  their band values are approximate, chosen within typical L2A magnitudes and constrained by
  what the literature states about them: mangrove MVI = |NIR-G|/|SWIR1-G| mostly above 4.5
  with a tail below (Baloloy et al. 2020, ISPRS J. 166:95-117: threshold 4.5, 92 % index
  accuracy); palms, irrigated crops and aquaculture can have mangrove-like signatures (Neri,
  Baloloy & Blanco 2021, ISPRS Arch. XLVI-4/W6:235, abstract), so the oil palm box reaches
  MVI ~5; flooded rice is water-dominated at transplanting (the NDVI/LSWI contrast of
  Teluguntla et al. 2015, Remote Sens. 7:8858, abstract). Each such value is marked "approx." below; the boxes
  are deliberately wide.
* **Soils, sand and mud** (``source="approx"``): bare soil rising from blue to SWIR1 (the soil
  line), sand bright and flat beyond red, wet mud dark with water absorption in the SWIR;
  magnitudes approximate (USGS splib07 / ECOSTRESS shapes, values not transcribed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .tables import S2_BANDS

__all__ = ["CLASSES", "ClassSpectrum", "draw_means", "measure_aber", "mvi", "ndvi"]


@dataclass(frozen=True)
class ClassSpectrum:
    """One surface class: central reflectance, the box its per-seed mean is drawn in, and the
    relative per-pixel variability (sd of a multiplicative texture)."""

    name: str
    central: tuple[float, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]
    pixel_sd: float
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        for v in (self.central, self.lo, self.hi):
            if len(v) != len(S2_BANDS):
                raise ValueError(f"{self.name}: {len(v)} bands, expected {len(S2_BANDS)}")
        if not all(lo <= c <= hi for lo, c, hi in zip(self.lo, self.central, self.hi,
                                                       strict=True)):
            raise ValueError(f"{self.name}: central spectrum outside its box")


def _c(name, central, lo, hi, pixel_sd, source, note=""):
    return ClassSpectrum(name, tuple(central), tuple(lo), tuple(hi), pixel_sd, source, note)


#                                 B02    B03    B04    B08    B11    B12
CLASSES: dict[str, ClassSpectrum] = {c.name: c for c in (
    # measured, rsgislib Aberystwyth 2021-05-27: p50 / p25 / p75 (see measure_aber)
    _c("forest", (0.039, 0.066, 0.037, 0.400, 0.179, 0.093),
       (0.036, 0.061, 0.033, 0.347, 0.166, 0.086), (0.041, 0.071, 0.042, 0.453, 0.192, 0.100),
       0.06, "aber", "terrestrial (dry, inland) forest"),
    _c("grass", (0.043, 0.077, 0.042, 0.550, 0.214, 0.110),
       (0.040, 0.069, 0.034, 0.502, 0.192, 0.098), (0.046, 0.083, 0.048, 0.594, 0.238, 0.117),
       0.06, "aber", "grassland / pasture"),
    _c("urban", (0.072, 0.093, 0.084, 0.294, 0.206, 0.143),
       (0.057, 0.084, 0.066, 0.223, 0.183, 0.129), (0.091, 0.107, 0.107, 0.386, 0.234, 0.162),
       0.15, "aber", "built-up with gardens (a mixed class at 10 m)"),
    # literature-constrained, approximate band values
    _c("mangrove", (0.025, 0.042, 0.024, 0.270, 0.080, 0.038),
       (0.015, 0.030, 0.014, 0.210, 0.060, 0.025), (0.035, 0.055, 0.035, 0.330, 0.105, 0.055),
       0.06, "lit", "dense closed canopy; MVI 6.0 at the centre; the seed's mean is below "
       "4.5 in ~19 % of seeds (approx.)"),
    _c("oil_palm", (0.030, 0.050, 0.032, 0.300, 0.135, 0.060),
       (0.020, 0.038, 0.020, 0.240, 0.100, 0.040), (0.040, 0.062, 0.045, 0.360, 0.170, 0.080),
       0.07, "lit", "mature plantation; MVI ~3 at the centre, up to ~5 (approx.)"),
    _c("rubber", (0.030, 0.052, 0.030, 0.330, 0.150, 0.068),
       (0.022, 0.042, 0.022, 0.270, 0.125, 0.050), (0.040, 0.062, 0.040, 0.400, 0.180, 0.085),
       0.06, "lit", "in leaf; wintering (leaf fall) is applied as a phenology (approx.)"),
    _c("rice_flooded", (0.055, 0.065, 0.055, 0.100, 0.060, 0.035),
       (0.040, 0.050, 0.040, 0.060, 0.030, 0.020), (0.070, 0.080, 0.070, 0.160, 0.090, 0.055),
       0.10, "lit", "transplanting: water with sparse seedlings (approx.)"),
    _c("rice_grown", (0.035, 0.065, 0.040, 0.380, 0.190, 0.090),
       (0.025, 0.050, 0.025, 0.300, 0.160, 0.070), (0.045, 0.080, 0.055, 0.460, 0.230, 0.115),
       0.07, "lit", "heading stage, closed canopy (approx.)"),
    _c("bare_soil", (0.090, 0.120, 0.160, 0.220, 0.300, 0.250),
       (0.060, 0.085, 0.110, 0.160, 0.220, 0.170), (0.130, 0.170, 0.220, 0.290, 0.380, 0.330),
       0.08, "approx", "dry mineral soil (laterite to loam)"),
    _c("sand", (0.180, 0.220, 0.260, 0.300, 0.380, 0.330),
       (0.120, 0.160, 0.190, 0.230, 0.290, 0.240), (0.250, 0.300, 0.340, 0.380, 0.460, 0.420),
       0.05, "approx", "dry beach sand"),
    _c("mud_wet", (0.060, 0.070, 0.070, 0.080, 0.050, 0.030),
       (0.040, 0.050, 0.050, 0.055, 0.030, 0.018), (0.080, 0.095, 0.095, 0.110, 0.075, 0.050),
       0.08, "approx", "exposed intertidal mud, water-logged"),
    _c("mud_dry", (0.080, 0.100, 0.110, 0.140, 0.170, 0.130),
       (0.060, 0.075, 0.080, 0.100, 0.120, 0.090), (0.110, 0.130, 0.150, 0.190, 0.230, 0.180),
       0.08, "approx", "upper mudflat / cleared ground drying out"),
    _c("shrub", (0.035, 0.060, 0.045, 0.280, 0.200, 0.110),
       (0.025, 0.045, 0.030, 0.220, 0.170, 0.085), (0.050, 0.075, 0.065, 0.340, 0.240, 0.140),
       0.08, "approx", "Mediterranean maquis (sparse evergreen shrubs over soil)"),
)}


def draw_means(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each class's mean spectrum for one seed: Beta(2.5, 2.5) within its box, per band."""
    out = {}
    for name, c in CLASSES.items():
        u = rng.beta(2.5, 2.5, size=len(S2_BANDS))
        out[name] = np.asarray(c.lo) + u * (np.asarray(c.hi) - np.asarray(c.lo))
    return out


def ndvi(s: np.ndarray) -> np.ndarray:
    s = np.asarray(s)
    return (s[..., 3] - s[..., 2]) / (s[..., 3] + s[..., 2])


def mvi(s: np.ndarray) -> np.ndarray:
    """Baloloy et al. (2020): |NIR - green| / |SWIR1 - green|."""
    s = np.asarray(s)
    return np.abs(s[..., 3] - s[..., 1]) / np.abs(s[..., 4] - s[..., 1])


def measure_aber(folder: Path) -> dict[str, np.ndarray]:
    """Percentiles (5, 25, 50, 75, 95) of B02 B03 B04 B08 B11 B12 reflectance per class of the
    rsgislib Aberystwyth scene: ``{"forest"|"grass"|"urban": (5, 6) array}``."""
    import rasterio
    from rasterio.windows import from_bounds

    folder = Path(folder)
    with rasterio.open(folder / "sen2_20210527_aber_subset.tif") as s, \
            rasterio.open(folder / "sen2_20210527_aber_cls.tif") as c:
        refl = s.read().astype(np.float64) / 1000.0
        window = from_bounds(*s.bounds, transform=c.transform).round_offsets().round_lengths()
        cls = c.read(1, window=window)[:refl.shape[1], :refl.shape[2]]
    bands = refl[[0, 1, 2, 6, 8, 9]]  # ARCSI order: B2 B3 B4 B5 B6 B7 B8 B8A B11 B12
    out = {}
    for code, name in ((1, "forest"), (2, "grass"), (3, "urban")):
        inside = (cls == code) & (bands[0] > 0)
        out[name] = np.percentile(bands[:, inside], [5, 25, 50, 75, 95], axis=1)
    return out
