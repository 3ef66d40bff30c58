"""Published optical tables the scenario generator is built from (data only, each with its source).

Every table here was read from a stored public copy and transcribed as printed there; the
copy is named so that a reader can check it. Nothing in this module comes from the project's
own code (``indices/``, ``flows/sources/demo.py``).
"""

from __future__ import annotations

import numpy as np

# -- Sentinel-2 bands ---------------------------------------------------------------------
S2_BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B08", "B11", "B12")
"""The scene cube's reflectance bands, in order."""

S2_WINDOWS_NM: dict[str, tuple[float, float]] = {
    "B02": (492.4, 66.0), "B03": (559.8, 36.0), "B04": (664.6, 31.0),
    "B08": (832.8, 106.0), "B11": (1613.7, 91.0), "B12": (2202.4, 175.0),
}
"""Central wavelength and bandwidth (nm) of Sentinel-2A MSI (ESA MSI band table, as listed in
the gee_acolite documentation, aouei.github.io/gee_acolite/api/sensors/sentinel2). Band values
of tabulated spectra are their mean over centre +- width/2 (a flat spectral response: an
approximation of the real, nearly flat-topped MSI responses)."""

S2_SNR: dict[str, float] = {"B02": 154, "B03": 168, "B04": 142, "B08": 174, "B11": 100,
                            "B12": 100}
"""MSI signal-to-noise requirement at the reference radiance (same source as the windows)."""

# -- Austin & Petzold (1986): Kd(lambda) from Kd(490) -----------------------------------
AP_WAVE = np.arange(350.0, 701.0, 10.0)
AP_M = np.array([
    2.1442, 2.0504, 1.9610, 1.8772, 1.8009, 1.7383, 1.7591, 1.6974, 1.6108, 1.5169, 1.4158,
    1.3077, 1.1982, 1.0955, 1.0000, 0.9118, 0.8310, 0.7578, 0.6924, 0.6350, 0.5860, 0.5457,
    0.5146, 0.4935, 0.4840, 0.4903, 0.5090, 0.5380, 0.6231, 0.7001, 0.7300, 0.7301, 0.7008,
    0.6245, 0.4901, 0.2891])
AP_KW = np.array([
    0.0510, 0.0405, 0.0331, 0.0278, 0.0242, 0.0217, 0.0200, 0.0189, 0.0182, 0.0178, 0.0176,
    0.0176, 0.0179, 0.0193, 0.0224, 0.0280, 0.0369, 0.0498, 0.0526, 0.0577, 0.0640, 0.0723,
    0.0842, 0.1065, 0.1578, 0.2409, 0.2892, 0.3124, 0.3296, 0.3290, 0.3559, 0.4105, 0.4278,
    0.4521, 0.5116, 0.6514])
"""Austin, R.W. & Petzold, T.J. (1986) "Spectral dependence of the diffuse attenuation
coefficient of light in ocean waters", Opt. Eng. 25:471-479: Kd(l) = M(l) [Kd(490) - Kw(490)]
+ Kw(l), M(490) = 1. Transcribed from the CbPM code of Westberry et al. (2008, Global
Biogeochem. Cycles 22:GB2024) as stored in github.com/Flavi1P/db_building
(script/cbpm_r/austinpetzold.r) and identically in a Python port by L. Arteaga."""

# -- Morel (1988) Case-1 water, as implemented in 6S ------------------------------------
MOREL_WAVE = np.arange(400.0, 701.0, 5.0)
MOREL_KW = np.array([
    0.0209, 0.0200, 0.0196, 0.0189, 0.0183, 0.0182, 0.0171, 0.0170, 0.0168, 0.0166, 0.0168,
    0.0170, 0.0173, 0.0174, 0.0175, 0.0184, 0.0194, 0.0203, 0.0217, 0.0240, 0.0271, 0.0320,
    0.0384, 0.0445, 0.0490, 0.0505, 0.0518, 0.0543, 0.0568, 0.0615, 0.0640, 0.0640, 0.0717,
    0.0762, 0.0807, 0.0940, 0.1070, 0.1280, 0.1570, 0.2000, 0.2530, 0.2790, 0.2960, 0.3030,
    0.3100, 0.3150, 0.3200, 0.3250, 0.3300, 0.3400, 0.3500, 0.3700, 0.4050, 0.4180, 0.4300,
    0.4400, 0.4500, 0.4700, 0.5000, 0.5500, 0.6500])
MOREL_XC = np.array([
    0.1100, 0.1110, 0.1125, 0.1135, 0.1126, 0.1104, 0.1078, 0.1065, 0.1041, 0.0996, 0.0971,
    0.0939, 0.0896, 0.0859, 0.0823, 0.0788, 0.0746, 0.0726, 0.0690, 0.0660, 0.0636, 0.0600,
    0.0578, 0.0540, 0.0498, 0.0475, 0.0467, 0.0450, 0.0440, 0.0426, 0.0410, 0.0400, 0.0390,
    0.0375, 0.0360, 0.0340, 0.0330, 0.0328, 0.0325, 0.0330, 0.0340, 0.0350, 0.0360, 0.0375,
    0.0385, 0.0400, 0.0420, 0.0430, 0.0440, 0.0445, 0.0450, 0.0460, 0.0475, 0.0490, 0.0515,
    0.0520, 0.0505, 0.0440, 0.0390, 0.0340, 0.0300])
MOREL_E = np.array([
    0.668, 0.672, 0.680, 0.687, 0.693, 0.701, 0.707, 0.708, 0.707, 0.704, 0.701, 0.699, 0.700,
    0.703, 0.703, 0.703, 0.703, 0.704, 0.702, 0.700, 0.700, 0.695, 0.690, 0.685, 0.680, 0.675,
    0.670, 0.665, 0.660, 0.655, 0.650, 0.645, 0.640, 0.630, 0.623, 0.615, 0.610, 0.614, 0.618,
    0.622, 0.626, 0.630, 0.634, 0.638, 0.642, 0.647, 0.653, 0.658, 0.663, 0.667, 0.672, 0.677,
    0.682, 0.687, 0.695, 0.697, 0.693, 0.665, 0.640, 0.620, 0.600])
MOREL_BW = np.array([
    0.0076, 0.0072, 0.0068, 0.0064, 0.0061, 0.0058, 0.0055, 0.0052, 0.0049, 0.0047, 0.0045,
    0.0043, 0.0041, 0.0039, 0.0037, 0.0036, 0.0034, 0.0033, 0.0031, 0.0030, 0.0029, 0.0027,
    0.0026, 0.0025, 0.0024, 0.0023, 0.0022, 0.0022, 0.0021, 0.0020, 0.0019, 0.0018, 0.0018,
    0.0017, 0.0017, 0.0016, 0.0016, 0.0015, 0.0015, 0.0014, 0.0014, 0.0013, 0.0013, 0.0012,
    0.0012, 0.0011, 0.0011, 0.0010, 0.0010, 0.0010, 0.0010, 0.0009, 0.0008, 0.0008, 0.0008,
    0.0007, 0.0007, 0.0007, 0.0007, 0.0007, 0.0007])
"""Morel, A. (1988) "Optical modeling of the upper ocean in relation to its biogenous matter
content (Case I waters)", J. Geophys. Res. 93(C9):10749-10768: Kd = Kw + Xc C^e (C chlorophyll,
mg m-3), b = 0.30 C^0.62, bb = 0.5 bw + (0.002 + 0.02 (0.5 - 0.25 log10 C) 550/l) b, and the
irradiance reflectance just below the surface R = 0.33 bb / (u Kd) with u = 0.90 (1 - R) /
(1 + 2.25 R) iterated. Tables and formulas transcribed from subroutine ``morcasiwat`` of 6S
(Vermote et al. 1997), OCEATOOLS, as stored in github.com/Hanyu-Shi/sixs90."""

# -- Pure water in the near infrared ----------------------------------------------------
HQ_WAVE_UM = np.array([0.750, 0.775, 0.800, 0.825, 0.850, 0.875, 0.900])
HQ_NI = np.array([1.56e-07, 1.48e-07, 1.25e-07, 1.82e-07, 2.93e-07, 3.91e-07, 4.86e-07])
"""Imaginary refractive index of pure water, Hale, G.M. & Querry, M.R. (1973) Appl. Opt.
12:555-563, as tabulated in 6S (subroutine ``indwat``, same source as above). Absorption
a = 4 pi ni / lambda: ~2-6 /m over B08, so water-leaving NIR comes only from the top
decimetres (turbid water)."""

# -- Benthic reflectances: Maritorena, Morel & Gentili (1994) ---------------------------
BOTTOM_WAVE = np.arange(450.0, 691.0, 5.0)
BOTTOM_CORAL_SAND = np.array([
    0.339, 0.346, 0.351, 0.357, 0.362, 0.368, 0.373, 0.378, 0.383, 0.389, 0.394, 0.400, 0.405,
    0.411, 0.417, 0.423, 0.429, 0.436, 0.442, 0.449, 0.456, 0.463, 0.470, 0.477, 0.483, 0.490,
    0.496, 0.502, 0.507, 0.513, 0.518, 0.523, 0.528, 0.533, 0.538, 0.542, 0.547, 0.552, 0.556,
    0.560, 0.564, 0.568, 0.572, 0.575, 0.579, 0.582, 0.587, 0.592, 0.596])
BOTTOM_GREEN_ALGAE = np.array([
    0.055, 0.060, 0.063, 0.064, 0.066, 0.067, 0.069, 0.072, 0.077, 0.087, 0.103, 0.125, 0.151,
    0.180, 0.208, 0.231, 0.246, 0.257, 0.263, 0.267, 0.269, 0.270, 0.267, 0.261, 0.253, 0.243,
    0.235, 0.227, 0.222, 0.217, 0.215, 0.210, 0.204, 0.196, 0.189, 0.184, 0.180, 0.174, 0.164,
    0.151, 0.139, 0.128, 0.115, 0.099, 0.083, 0.075, 0.078, 0.101, 0.148])
BOTTOM_BROWN_ALGAE = np.array([
    0.024, 0.025, 0.026, 0.026, 0.027, 0.028, 0.029, 0.030, 0.030, 0.031, 0.032, 0.033, 0.035,
    0.037, 0.039, 0.041, 0.044, 0.046, 0.049, 0.053, 0.058, 0.064, 0.071, 0.077, 0.082, 0.085,
    0.086, 0.086, 0.088, 0.091, 0.094, 0.093, 0.087, 0.081, 0.076, 0.074, 0.072, 0.072, 0.074,
    0.077, 0.075, 0.065, 0.051, 0.039, 0.033, 0.032, 0.036, 0.049, 0.075])
"""Bottom irradiance reflectances of Maritorena, Morel & Gentili (1994) "Diffuse reflectance of
oceanic shallow waters: influence of water depth and bottom albedo", Limnol. Oceanogr.
39:1689-1703, Fig. 6: clean coral sand, green algae (Boodlea) and brown algae (mean of
Turbinaria and Sargassum), as distributed with the OSOAA radiative transfer code (CNES,
github.com/CNES/RadiativeTransferCode-OSOAA, fic/OSOAA_SEA_BOTTOM_REFLECTANCES.txt), 450-690 nm.

No numeric Posidonia spectrum could be read from a stored source; seagrass bottoms are drawn
between these two dark vegetated bottoms (see :mod:`scenarios.water`), and siliceous
(Mediterranean) sand as a darker scaling of the coral sand: terrigenous sand reflects about a
third of coral sand (4SM documentation, watercolumncorrection.com, "normalization")."""


def band_mean(wave: np.ndarray, values: np.ndarray, band: str) -> float:
    """Mean of a tabulated spectrum over a Sentinel-2 band window (linear interpolation)."""
    centre, width = S2_WINDOWS_NM[band]
    grid = np.linspace(centre - width / 2, centre + width / 2, 65)
    return float(np.interp(grid, wave, values).mean())
