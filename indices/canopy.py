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

from indices.change import mmu_pixels, monthly_states

__all__ = ["CANOPY_CLASSES", "CANOPY_METRICS", "MIN_GAIN", "canopy_metrics", "unmix_cover"]

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


def _canopy_kernel(scores, ndvi, n_clear, base_score, red_base, nir_base, ndvi_base, ndwi_base, site, *,
                   pixel_area_ha: float, mmu: int, habitat: str):
    site = site.astype(bool)
    n = scores.shape[0]
    out = np.full((n, len(CANOPY_METRICS)), np.nan)
    bare, canopy = _endmembers(red_base, nir_base, ndvi_base, ndwi_base, base_score, site)
    cover_base = unmix_cover(ndvi_base, bare, canopy)
    cover = np.where(np.isfinite(cover_base), cover_base, 0.0)
    last_ndvi = np.where(np.isfinite(ndvi_base), ndvi_base, np.nan)
    for p, m in enumerate(monthly_states(scores, base_score, site, mmu_pixels=mmu)):
        seen = m.seen & np.isfinite(ndvi[p])
        # a clear view can be hazy at a cloud's unflagged edge and a median of two averages it in:
        # cover moves on three or more views
        steady = seen & (n_clear[p] >= MIN_VIEWS)
        cover = np.where(steady, unmix_cover(ndvi[p], bare, canopy), cover)
        last_ndvi = np.where(seen, ndvi[p], last_ndvi)
        stable = m.habitat & m.baseline
        out[p, 3] = np.nanmean(last_ndvi[stable]) if stable.any() else np.nan
        if habitat == "mangrove":
            gained = np.nan_to_num(cover - cover_base, nan=0.0) >= MIN_GAIN
            restoring = site & ~m.baseline & (gained | m.habitat)
            counted = m.habitat | restoring
            for i, (a, b) in enumerate(CANOPY_CLASSES.values()):
                out[p, i] = (counted & (cover >= a) & (cover < b)).sum() * pixel_area_ha
            zone_ok = restoring.sum() * pixel_area_ha >= MIN_ZONE_HA
            out[p, 4] = np.nanmean(last_ndvi[restoring]) if zone_ok else np.nan
    return out


def canopy_metrics(scores: xr.DataArray, months: xr.Dataset, month_ix: xr.Dataset,
                   base_score: xr.DataArray, base: xr.Dataset, base_ix: xr.Dataset,
                   site_mask: xr.DataArray, *, habitat: str, pixel_area_ha: float,
                   mmu_ha: float = 0.1) -> xr.Dataset:
    """Per month: canopy class areas (ha, NaN for seagrass), mean NDVI of intact habitat and of
    the restoration zone. ``months``/``base`` are reflectance composites, ``month_ix``/``base_ix``
    their ``ndvi`` and ``ndwi``; lazy when the inputs are."""
    core = ["y", "x"]
    whole = {"period": -1, "y": -1, "x": -1}

    def _one(a):
        return a.chunk(whole) if a.chunks else a

    period_core, core = ["period", "y", "x"], ["y", "x"]
    inputs = [scores, month_ix["ndvi"], months["n_clear"], base_score, base["B04"], base["B08"],
              base_ix["ndvi"], base_ix["ndwi"], site_mask]
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
