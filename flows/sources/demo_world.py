"""The demo's world: cover spectra, bottom albedo, land-cover codes and the scenario knobs.

Split from :mod:`flows.sources.demo` (which re-exports these names): what the simulator
draws from, apart from how it renders.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
from scipy import ndimage

__all__ = ["BOTTOM_ALBEDO", "DemoScenario", "RICE_FLOODED_DAYS", "SEDIMENT", "SPECTRA"]

# Surface reflectance of the cover types, bands B02 B03 B04 B08 B11 B12 (L2A, 0-1). The
# classifier's rules come from the literature (indices.habitat); these spectra are placed so
# that the demo obeys what the literature says of each cover, not the other way round:
# * grassland: the median of rsgislib's grass class on real Sentinel-2 L2A (Aberystwyth,
#   2021-05-27, ../shared/realdata/rsgislib_aber_s2; MVI 3.45, NDVI 0.86), measured here;
# * mangrove: a dark, closed canopy whose MVI (5.7) lies inside the mangrove range of
#   Baloloy et al. 2020 (ISPRS J. 166:95-117: 4.5-16.5 on Sentinel-2) and NDVI (0.83) above
#   the closed-canopy 0.7 of Digital Earth Pacific's mangrove product: its wet canopy is dark
#   in SWIR1 (Baloloy's moisture term);
# * oil palm ("terrestrial"), rubber, rice, dry forest: MVI 1.2-3.0, below Baloloy's 4.5 as
#   terrestrial vegetation is in the paper and on real data (Welsh forest and grassland 5th-95th
#   percentiles 2.0-4.0 and 2.2-4.9, ../shared/notes/science.md), brighter in SWIR1 and green
#   than mangrove; dry forest in the dry season senescent (high SWIR, NDVI ~0.6). These four
#   are not copied from a published table of band values (none was at hand): their bands are
#   typical L2A magnitudes chosen inside those published index ranges.
SPECTRA: dict[str, tuple[float, ...]] = {
    "mangrove": (0.025, 0.045, 0.028, 0.300, 0.090, 0.045),
    "terrestrial": (0.030, 0.055, 0.040, 0.330, 0.170, 0.080),
    "rubber": (0.028, 0.052, 0.032, 0.370, 0.160, 0.075),
    "rice": (0.035, 0.070, 0.045, 0.400, 0.200, 0.100),
    "grassland": (0.043, 0.077, 0.042, 0.550, 0.214, 0.110),
    "dry_forest": (0.045, 0.070, 0.065, 0.280, 0.240, 0.150),
    "mudflat": (0.060, 0.070, 0.075, 0.090, 0.100, 0.080),
    "cleared": (0.070, 0.090, 0.110, 0.170, 0.240, 0.190),
    "turbid_water": (0.060, 0.080, 0.075, 0.030, 0.008, 0.005),
    "pond": (0.040, 0.065, 0.045, 0.025, 0.006, 0.004),
    "scrub": (0.050, 0.080, 0.100, 0.220, 0.280, 0.200),
    "beach": (0.200, 0.240, 0.280, 0.320, 0.380, 0.330),
    "deep_water": (0.020, 0.008, 0.003, 0.002, 0.001, 0.001),
    "cloud": (0.450, 0.450, 0.460, 0.500, 0.350, 0.250),
}
# Water-leaving reflectance added by a dense sediment plume (B02 B03 B04 B08 B11 B12).
SEDIMENT = (0.020, 0.045, 0.050, 0.012, 0.0, 0.0)
# Irradiance reflectance of the sea floor just below the surface (B02, B03, B04). Seagrass is
# darker against sand in blue, where chlorophyll absorbs, than in green: 0.14 and 0.25 of the
# sand here, between green and brown algae over coral sand in Maritorena, Morel & Gentili
# 1994 (Limnol. Oceanogr. 39:1689, Fig. 6 as tabulated with OSOAA: 0.20 and 0.08 at 490 nm,
# 0.55 and 0.10 at 525 nm); it was a grey 0.20 and 0.23 before, which no vegetation is.
BOTTOM_ALBEDO = {"sand": (0.250, 0.300, 0.280), "seagrass": (0.035, 0.075, 0.040)}

# Land cover codes of the simulated landscape.
SEA, MUDFLAT, MANGROVE, TERRESTRIAL, POND, SCRUB, BEACH, SHALLOW = range(8)
RUBBER, RICE, GRASSLAND, DRY_FOREST = range(8, 12)
_LAND_SPECTRA = {MANGROVE: "mangrove", TERRESTRIAL: "terrestrial", MUDFLAT: "mudflat",
                 POND: "pond", SCRUB: "scrub", BEACH: "beach", SEA: "turbid_water",
                 RUBBER: "rubber", RICE: "rice", GRASSLAND: "grassland",
                 DRY_FOREST: "dry_forest"}
# SCL of each cover when clear: 4 vegetation, 5 not vegetated, 6 water
_SCL_OF = np.array([6, 5, 4, 4, 6, 5, 5, 6, 4, 4, 4, 4], dtype=np.uint8)
# Shares of the terrestrial zone of a mangrove site that are not oil palm, in patches.
_INLAND_MIX = ((RICE, 0.15), (GRASSLAND, 0.12), (RUBBER, 0.15), (DRY_FOREST, 0.10))
RICE_FLOODED_DAYS = ((0, 40), (180, 220))
"""Days of the year a paddy is flooded (transplanting, two seasons): inland water that comes
and goes, which the mangrove context must not take for a tide next to mangrove."""


@dataclass(frozen=True)
class DemoScenario:
    """Knobs of the simulation; the defaults are the embedded demo."""

    end: dt.date = dt.date(2025, 12, 31)
    """Last day simulated (the demo's 'today', fixed so the demo is reproducible)."""
    revisit_days: int = 5
    cloud_mean: Mapping[str, float] = field(
        default_factory=lambda: {"mangrove": 0.45, "seagrass": 0.20})
    """Mean cloud fraction per scene by habitat (tropical mangrove coasts are cloudier)."""
    glint_probability: float = 0.3
    plume_probability: float = 0.04
    """Chance that a scene over a seagrass site shows a sediment plume (turbid water)."""
    plume_months: tuple[str, ...] = ()
    """Months ('YYYY-MM') in which every scene shows a plume, e.g. to test turbid flags."""
    swath_edge_probability: float = 0.15
    noise: float = 0.003
    """Sensor noise, reflectance units (1 sigma)."""
    spectra: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    """Overrides of ``SPECTRA`` by cover name."""
    clearing_ha: float = 5.0
    replant_ha: float = 8.0
    seagrass_loss_ha: float = 4.0
    canopy_closure_months: float = 18.0
    attenuation: tuple[float, float, float] = (0.035, 0.060, 0.40)
    """Diffuse attenuation k (1/m) in B02, B03, B04 for clear coastal water."""
    shore_angle_deg: float | None = None
    """Direction from sea to land; None draws it from the seed and site id."""

    def spectrum(self, name: str) -> np.ndarray:
        return np.asarray(self.spectra.get(name, SPECTRA[name]), dtype=np.float32)


def _seed_for(*parts: Any) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], scale_px: float) -> np.ndarray:
    """Spatially correlated noise, zero mean and unit standard deviation.

    Smoothed on a grid ``scale_px / 2`` times coarser and interpolated up: the same texture as a
    full-resolution Gaussian filter at a fraction of the cost (this runs for every scene)."""
    step = max(1, int(scale_px // 2))
    coarse = (shape[0] // step + 3, shape[1] // step + 3)
    f = ndimage.gaussian_filter(rng.standard_normal(coarse, dtype=np.float32), scale_px / step,
                                mode="wrap")
    f = _upsample_wrap(f, step, shape[0], shape[1])
    return ((f - f.mean()) / (f.std() + 1e-12)).astype(np.float32)


@numba.njit(cache=True, nogil=True)
def _upsample_wrap(coarse, step, ny, nx):  # pragma: no cover - compiled
    """Bilinear ``step``-times upsampling of a periodic field, from its second cell on:
    ``ndimage.zoom(coarse, step, order=1, grid_mode=True, mode="grid-wrap")[1:ny+1, 1:nx+1]``
    to within one float32 ulp, at a third of the cost (it runs for every simulated scene)."""
    cy, cx = coarse.shape
    b0 = np.empty(nx, np.int64)
    b1 = np.empty(nx, np.int64)
    fx = np.empty(nx, np.float64)
    for j in range(nx):
        v = (j + 1.5) / step - 0.5
        j0 = int(np.floor(v))
        fx[j] = v - j0
        b0[j], b1[j] = j0 % cx, (j0 + 1) % cx
    out = np.empty((ny, nx), np.float32)
    for i in range(ny):
        u = (i + 1.5) / step - 0.5
        i0 = int(np.floor(u))
        fy = u - i0
        a0, a1 = i0 % cy, (i0 + 1) % cy
        for j in range(nx):
            w = fx[j]
            out[i, j] = ((1 - fy) * ((1 - w) * coarse[a0, b0[j]] + w * coarse[a0, b1[j]])
                         + fy * ((1 - w) * coarse[a1, b0[j]] + w * coarse[a1, b1[j]]))
    return out


def _blob(center: tuple[int, int], area_px: float, shape: tuple[int, int],
          rng: np.random.Generator) -> np.ndarray:
    """An irregular patch of about ``area_px`` pixels around ``center`` (row, col); none if 0."""
    if area_px <= 0:
        return np.zeros(shape, dtype=bool)
    yy, xx = np.indices(shape, dtype=np.float32)
    dy, dx = yy - center[0], xx - center[1]
    angle = np.arctan2(dy, dx)
    wobble = 1 + 0.18 * np.sin(3 * angle + rng.uniform(0, 6.3)) + 0.1 * np.sin(5 * angle)
    radius = np.sqrt(area_px / np.pi)
    return np.hypot(dx, dy) <= radius * wobble
