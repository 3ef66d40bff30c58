"""Water optics of the scenarios: attenuation, deep-water and shallow-water reflectance, glint.

All reflectances returned are Sentinel-2 L2A surface reflectances (rho = pi Rrs), per band.

* Attenuation: Kd at B02/B03/B04 from Kd(490) with Austin & Petzold (1986) (see
  :data:`scenarios.tables.AP_M`); Kd(490) is drawn per seed between 0.023 /m (the clearest
  oceanic water: pure-water Kd(490) is 0.0224 /m in that table, 0.0217 /m in Morel 1988, so
  0.02 cannot be reached) and 0.15 /m (turbid coastal), spanning Jerlov's oceanic types I-III
  and the clearer coastal types.
* Deep water: Morel (1988) Case-1 reflectance R = 0.33 bb / (u Kd) for the chlorophyll that
  gives the drawn Kd(490) in Morel's own Kd model (the two Kd models are compared in the
  tests). Turbid plumes add flat mineral backscatter and non-algal absorption.
* Shallow water: Maritorena, Morel & Gentili (1994) two-flow model
  R(z) = R_deep + (A - R_deep) exp(-2 Kd z).
* Below-surface irradiance reflectance R to rho: Rrs = 0.52 rrs / (1 - 1.7 rrs) with
  rrs = R / Q (Lee et al. 2002, Appl. Opt. 41:5755, eq. 4), Q = 4 sr (Q is 3-5 sr for
  natural waters: Morel & Gentili 1996, Appl. Opt. 35:4850 -- a round value, not fitted).
* Sun glint: spectrally flat (the premise of Hedley et al. 2005, Int. J. Remote Sens.
  26:2107), added to every band including NIR and SWIR; water itself is ~0 in SWIR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tables import (
    AP_KW,
    AP_M,
    AP_WAVE,
    BOTTOM_BROWN_ALGAE,
    BOTTOM_CORAL_SAND,
    BOTTOM_GREEN_ALGAE,
    BOTTOM_WAVE,
    HQ_NI,
    HQ_WAVE_UM,
    MOREL_BW,
    MOREL_E,
    MOREL_KW,
    MOREL_WAVE,
    MOREL_XC,
    band_mean,
)

VIS = ("B02", "B03", "B04")
KD490_RANGE = (0.023, 0.15)
Q_SR = 4.0


def kd_austin_petzold(kd490: float, band: str) -> float:
    """Band-mean Kd (/m) for a water of the given Kd(490) (Austin & Petzold 1986)."""
    m490, kw490 = 1.0, float(np.interp(490.0, AP_WAVE, AP_KW))
    kd = AP_M / m490 * (kd490 - kw490) + AP_KW
    return band_mean(AP_WAVE, kd, band)


def chl_for_kd490(kd490: float) -> float:
    """Chlorophyll (mg m-3) whose Morel (1988) Kd(490) = Kw + Xc C^e equals ``kd490``."""
    kw, xc, e = (float(np.interp(490.0, MOREL_WAVE, t)) for t in (MOREL_KW, MOREL_XC, MOREL_E))
    return float(max(kd490 - kw, 1e-4) / xc) ** (1.0 / e)


def morel_reflectance(chl: float, extra_bb: float = 0.0, extra_kd: np.ndarray | float = 0.0
                      ) -> np.ndarray:
    """Morel (1988) deep-water irradiance reflectance below the surface, 400-700 nm (5 nm).

    ``extra_bb`` (/m, spectrally flat) and ``extra_kd`` add a mineral plume (not Case 1)."""
    chl = max(chl, 1e-4)
    b = 0.30 * chl ** 0.62
    bbt = 0.002 + 0.02 * (0.5 - 0.25 * np.log10(chl)) * 550.0 / MOREL_WAVE
    bb = 0.5 * MOREL_BW + bbt * b + extra_bb
    kd = MOREL_KW + MOREL_XC * chl ** MOREL_E + extra_kd
    r = 0.33 * bb / 0.75 / kd
    for _ in range(50):
        u = 0.90 * (1.0 - r) / (1.0 + 2.25 * r)
        r_new = 0.33 * bb / u / kd
        if np.all(np.abs(r_new - r) <= 1e-6 * np.abs(r_new)):
            return r_new
        r = r_new
    return r


def morel_kd(chl: float, band: str) -> float:
    """Band-mean Kd of Morel (1988) for a chlorophyll (the cross-check of Austin & Petzold)."""
    return band_mean(MOREL_WAVE, MOREL_KW + MOREL_XC * max(chl, 1e-4) ** MOREL_E, band)


def to_rho(r_below: np.ndarray | float) -> np.ndarray:
    """Below-surface irradiance reflectance R -> surface reflectance rho = pi Rrs."""
    rrs = np.asarray(r_below, dtype=np.float64) / Q_SR
    return np.pi * 0.52 * rrs / (1.0 - 1.7 * rrs)


def water_nir_absorption() -> float:
    """Pure-water absorption (/m) averaged over B08 from Hale & Querry (1973)."""
    a = 4 * np.pi * HQ_NI / (HQ_WAVE_UM * 1e-6)
    return band_mean(HQ_WAVE_UM * 1000.0, a, "B08")


@dataclass(frozen=True)
class WaterType:
    """One seed's water: attenuation and deep reflectance per visible band."""

    kd490: float
    chl: float
    kd: dict[str, float]
    """Band-mean Kd (/m), Austin & Petzold."""
    r_deep: dict[str, float]
    """Deep-water irradiance reflectance below the surface, Morel (1988)."""

    @classmethod
    def from_kd490(cls, kd490: float) -> WaterType:
        chl = chl_for_kd490(kd490)
        r = morel_reflectance(chl)
        return cls(kd490=kd490, chl=chl,
                   kd={b: kd_austin_petzold(kd490, b) for b in VIS},
                   r_deep={b: band_mean(MOREL_WAVE, r, b) for b in VIS})

    def plume(self, bb_sed: float) -> tuple[dict[str, float], dict[str, float], float]:
        """Kd, deep R per visible band and the NIR rho of water with mineral backscatter
        ``bb_sed`` (/m): non-algal absorption a_nap(l) = 2 bb_sed exp(-0.0123 (l - 443))
        (the exponential slope of Babin et al. 2003, JGR 108:3211; the 2x scale is an
        assumption), Kd raised by a_nap + 2.5 bb_sed (Kd ~ a + ~2.5 bb, after Lee et al.
        2005, JGR 110:C02016 -- approximate)."""
        a_nap = 2.0 * bb_sed * np.exp(-0.0123 * (MOREL_WAVE - 443.0))
        extra_kd = a_nap + 2.5 * bb_sed
        r = morel_reflectance(self.chl, extra_bb=bb_sed, extra_kd=extra_kd)
        kd = {b: self.kd[b] + band_mean(MOREL_WAVE, extra_kd, b) for b in VIS}
        nir = float(to_rho(0.33 * bb_sed / (0.8 * water_nir_absorption())))
        return kd, {b: band_mean(MOREL_WAVE, r, b) for b in VIS}, nir


def bottom_albedo(kind: str, mix: float) -> dict[str, float]:
    """Bottom irradiance reflectance per visible band.

    ``kind="sand"``: coral sand scaled by ``mix`` (0.33-1: terrigenous to carbonate sand).
    ``kind="seagrass"``: brown-algae bottom mixed with green algae, ``mix`` the green share
    (0-0.4 keeps the 560 nm peak at 0.07-0.15, the range of dense seagrass canopies).
    ``kind="mud"``: a dark terrigenous bottom, coral sand x ``mix`` (0.15-0.3)."""
    if kind in ("sand", "mud"):
        spec = BOTTOM_CORAL_SAND * mix
    elif kind == "seagrass":
        spec = (1.0 - mix) * BOTTOM_BROWN_ALGAE + mix * BOTTOM_GREEN_ALGAE
    else:
        raise ValueError(f"unknown bottom {kind!r}")
    return {b: band_mean(BOTTOM_WAVE, spec, b) for b in VIS}


def shallow_reflectance(r_deep: np.ndarray | float, albedo: np.ndarray | float,
                        kd: np.ndarray | float, depth: np.ndarray | float) -> np.ndarray:
    """Maritorena et al. (1994) eq. 9: R(z) = R_deep + (A - R_deep) exp(-2 Kd z)."""
    att = np.exp(-2.0 * np.asarray(kd) * np.maximum(np.asarray(depth, dtype=np.float64), 0.0))
    return r_deep + (albedo - r_deep) * att


def noise_equivalent_rho(band: str, reference_rho: float = 0.25) -> float:
    """Sensor noise of one pixel in surface reflectance: a reference reflectance over the
    band's SNR requirement. The reference radiances were not verified; 0.25 is the order of
    the MSI reference radiances expressed as reflectance (approximate)."""
    from .tables import S2_SNR

    return reference_rho / S2_SNR[band]


def visibility_depth(water: WaterType, sand: dict[str, float], grass: dict[str, float],
                     noise: dict[str, float], k: float = 3.0) -> float:
    """Deepest depth (m) where a sand and a seagrass bottom still differ by more than ``k``
    times the noise in B02 or B03 (at the surface: rho units): the assessable-water criterion
    of the truth. Documented here; not taken from the literature."""
    best = 0.0
    for b in ("B02", "B03"):
        contrast = abs(float(to_rho(sand[b]) - to_rho(grass[b])))
        if contrast <= k * noise[b]:
            continue
        best = max(best, np.log(contrast / (k * noise[b])) / (2.0 * water.kd[b]))
    return float(best)
