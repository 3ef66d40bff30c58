"""Canopy density and restoration trajectories.

Canopy cover is unmixed between two endmembers taken from the site's own baseline composite:
closed canopy (median red and NIR of confidently classified habitat) and bare background
(median red and NIR of unvegetated, dry pixels: NDVI < 0.25, NDWI < 0). For a linear mixture
``f * canopy + (1 - f) * background`` NDVI is not linear in ``f`` (a 50 % canopy over mud reads
NDVI ~0.6, i.e. "68 %" by scaled NDVI), but it can be solved for ``f`` exactly:

    f = (Db - v Sb) / (v (Sc - Sb) - (Dc - Db)),   D = NIR - red, S = NIR + red, v = NDVI

and, being a ratio, it ignores brightness texture that would bias an unmixing of NIR alone.
The classes 20-50, 50-80 and 80-100 % are counted on that cover.

They are counted over the mangrove *and* the restoration zone: pixels that were not mangrove in
the baseline and have gained at least ``MIN_GAIN`` cover since (a replanting on the mudflat),
leaving out stable terrestrial vegetation, which unmixes as closed canopy too.

The trajectory compares the mean NDVI of the restoration zone with the mean NDVI of intact
habitat (habitat in the baseline and now) of a reference site, month by month.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from indices.change import MonthState, mmu_pixels, monthly_states

__all__ = ["CANOPY_CLASSES", "CANOPY_METRICS", "MIN_GAIN", "CanopyWalk", "canopy_metrics",
           "unmix_cover"]

CANOPY_CLASSES = {"canopy_20_50_ha": (0.2, 0.5), "canopy_50_80_ha": (0.5, 0.8),
                  "canopy_80_100_ha": (0.8, np.inf)}
MIN_GAIN = 0.15
"""Cover gained since the baseline that puts a non-habitat pixel in the restoration zone."""
MIN_VIEWS = 3
"""Clear views a month needs before its cover replaces the last known cover of a pixel."""
MIN_ZONE_HA = 0.5
"""Smallest restoration zone whose NDVI is reported (below it, noise would pass for growth)."""
DEFAULT_ENDMEMBERS = ((0.075, 0.09), (0.028, 0.32))
"""(red, NIR) of bare intertidal mud and of closed mangrove canopy, used when a site lacks
enough pixels of either in its baseline."""

CANOPY_METRICS = (*CANOPY_CLASSES, "habitat_ndvi_mean", "restored_ndvi_mean")


def _endmembers(red_base, nir_base, ndvi_base, ndwi_base, base_score, site):
    ok = site & np.isfinite(nir_base) & np.isfinite(red_base)
    canopy = ok & (base_score >= 1)
    bare = ok & (ndvi_base < 0.25) & (ndwi_base < 0)
    bare_rn = ((float(np.median(red_base[bare])), float(np.median(nir_base[bare])))
               if bare.sum() >= 20 else DEFAULT_ENDMEMBERS[0])
    canopy_rn = ((float(np.median(red_base[canopy])), float(np.median(nir_base[canopy])))
                 if canopy.sum() >= 20 else DEFAULT_ENDMEMBERS[1])
    return bare_rn, canopy_rn


def unmix_cover(ndvi: np.ndarray, bare: tuple[float, float],
                canopy: tuple[float, float]) -> np.ndarray:
    """Canopy fraction (>= 0, NaN where NDVI is) of a two-endmember mixture with this NDVI."""
    (rb, nb), (rc, nc) = bare, canopy
    db, sb, dc, sc = nb - rb, nb + rb, nc - rc, nc + rc
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (db - ndvi * sb) / (ndvi * (sc - sb) - (dc - db))
    return np.clip(f, 0, None)


class CanopyWalk:
    """The canopy metrics month by month, fed the :func:`indices.change.monthly_states` of the
    change table: built from the baseline composite's maps, then :meth:`step` once a month
    with that month's state, NDVI and clear-view count. Holds two float maps (last cover and
    last NDVI), so a walk over any number of months needs the same memory."""

    def __init__(self, base_score, red_base, nir_base, ndvi_base, ndwi_base, site, *,
                 pixel_area_ha: float, habitat: str):
        self.site = site.astype(bool)
        self.pixel_area_ha, self.habitat = pixel_area_ha, habitat
        self.bare, self.canopy = _endmembers(red_base, nir_base, ndvi_base, ndwi_base, base_score,
                                             self.site)
        self.cover_base = unmix_cover(ndvi_base, self.bare, self.canopy)
        self.cover = np.where(np.isfinite(self.cover_base), self.cover_base, 0.0)
        self.last_ndvi = np.where(np.isfinite(ndvi_base), ndvi_base, np.nan)

    def step(self, m: MonthState, ndvi: np.ndarray, n_clear: np.ndarray) -> np.ndarray:
        """This month's :data:`CANOPY_METRICS`."""
        out = np.full(len(CANOPY_METRICS), np.nan)
        seen = m.seen & np.isfinite(ndvi)
        # a clear view can be hazy at a cloud's unflagged edge and a median of two averages it in:
        # cover moves on three or more views
        steady = seen & (n_clear >= MIN_VIEWS)
        self.cover = np.where(steady, unmix_cover(ndvi, self.bare, self.canopy), self.cover)
        self.last_ndvi = np.where(seen, ndvi, self.last_ndvi)
        stable = m.habitat & m.baseline
        out[3] = np.nanmean(self.last_ndvi[stable]) if stable.any() else np.nan
        if self.habitat == "mangrove":
            gained = np.nan_to_num(self.cover - self.cover_base, nan=0.0) >= MIN_GAIN
            restoring = self.site & ~m.baseline & (gained | m.habitat)
            counted = m.habitat | restoring
            for i, (a, b) in enumerate(CANOPY_CLASSES.values()):
                out[i] = (counted & (self.cover >= a) & (self.cover < b)).sum() * self.pixel_area_ha
            zone_ok = restoring.sum() * self.pixel_area_ha >= MIN_ZONE_HA
            out[4] = np.nanmean(self.last_ndvi[restoring]) if zone_ok else np.nan
        return out


def _canopy_kernel(scores, ndvi, n_clear, base_score, red_base, nir_base, ndvi_base, ndwi_base, site, *,
                   pixel_area_ha: float, mmu: int, habitat: str):
    walk = CanopyWalk(base_score, red_base, nir_base, ndvi_base, ndwi_base, site,
                      pixel_area_ha=pixel_area_ha, habitat=habitat)
    out = np.full((scores.shape[0], len(CANOPY_METRICS)), np.nan)
    for p, m in enumerate(monthly_states(scores, base_score, walk.site, mmu_pixels=mmu)):
        out[p] = walk.step(m, ndvi[p], n_clear[p])
    return out


def canopy_metrics(scores: xr.DataArray, ndvi: xr.DataArray, n_clear: xr.DataArray,
                   base_score: xr.DataArray, base_red: xr.DataArray, base_nir: xr.DataArray,
                   base_ndvi: xr.DataArray, base_ndwi: xr.DataArray, site_mask: xr.DataArray, *,
                   habitat: str, pixel_area_ha: float, mmu_ha: float = 0.1) -> xr.Dataset:
    """Per month: canopy class areas (ha, NaN for seagrass), mean NDVI of intact habitat and of
    the restoration zone. ``ndvi`` and ``n_clear`` are the monthly composites' ``(period, y,
    x)``, ``base_*`` the baseline composite's red, NIR, NDVI and NDWI; lazy when the inputs
    are."""
    period_core, core = ["period", "y", "x"], ["y", "x"]
    inputs = [scores, ndvi, n_clear, base_score, base_red, base_nir, base_ndvi, base_ndwi,
              site_mask]
    inputs = [a.chunk(-1) if a.chunks else a for a in inputs]  # whole maps per month walk
    table = xr.apply_ufunc(
        _canopy_kernel, *inputs,
        input_core_dims=[period_core] * 3 + [core] * 6,
        output_core_dims=[["period", "metric"]],
        kwargs={"pixel_area_ha": pixel_area_ha, "mmu": mmu_pixels(mmu_ha, pixel_area_ha),
                "habitat": habitat},
        dask="parallelized", output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"metric": len(CANOPY_METRICS)}},
    )
    return table.assign_coords(metric=list(CANOPY_METRICS)).to_dataset(dim="metric")
