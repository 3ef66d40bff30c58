"""Change against the baseline: monthly extent, gain, loss, net change and an extent interval.

The monthly habitat map is carried forward: a pixel observed in a month takes that month's
class, a pixel not observed keeps its last known class (the baseline's before anything was
seen). Gain is habitat now that was not habitat in the baseline, loss the reverse; both are
cumulative since the baseline and cleaned with a minimum mapping unit (connected patches of
8-neighbours smaller than ``mmu_ha`` are dropped, so sensor noise does not add up to hectares).
The extent is then ``baseline + gain - loss``, so the table always adds up.

The interval counts every pixel whose class is uncertain (``|score| < 1``: within the rule's
tolerance of its threshold, see :mod:`indices.habitat`) as possibly either class.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import ndimage

__all__ = ["change_metrics", "CHANGE_METRICS", "drop_small_patches"]

CHANGE_METRICS = (
    "extent_ha", "baseline_extent_ha", "gain_ha", "loss_ha", "net_change_ha",
    "extent_ci_low_ha", "extent_ci_high_ha", "valid_fraction",
)
_EIGHT = np.ones((3, 3), dtype=bool)


def drop_small_patches(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """Remove 8-connected patches of fewer than ``min_pixels`` pixels from a boolean map."""
    if min_pixels <= 1 or not mask.any():
        return mask
    labels, n = ndimage.label(mask, structure=_EIGHT)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= min_pixels
    keep[0] = False
    return keep[labels]


def _change_kernel(scores: np.ndarray, baseline: np.ndarray, site: np.ndarray,
                   pixel_area_ha: float, mmu_pixels: int) -> np.ndarray:
    """(period, y, x) scores + (y, x) baseline score + site mask -> (period, metric)."""
    n_site = max(int(site.sum()), 1)
    base = (baseline > 0) & site
    base_extent = base.sum() * pixel_area_ha
    state = base.copy()
    last_score = np.where(np.isnan(baseline), 0.0, baseline)
    out = np.empty((scores.shape[0], len(CHANGE_METRICS)), dtype=np.float64)
    for p in range(scores.shape[0]):
        seen = ~np.isnan(scores[p]) & site
        state = np.where(seen, scores[p] > 0, state) & site
        last_score = np.where(seen, scores[p], last_score)
        gain = drop_small_patches(state & ~base, mmu_pixels)
        loss = drop_small_patches(base & ~state, mmu_pixels)
        habitat = (base | gain) & ~loss
        uncertain = (np.abs(last_score) < 1) & site
        extent = habitat.sum() * pixel_area_ha
        out[p] = (
            extent,
            base_extent,
            gain.sum() * pixel_area_ha,
            loss.sum() * pixel_area_ha,
            (gain.sum() - loss.sum()) * pixel_area_ha,
            extent - (uncertain & habitat).sum() * pixel_area_ha,
            extent + (uncertain & ~habitat).sum() * pixel_area_ha,
            seen.sum() / n_site,
        )
    return out


def change_metrics(scores: xr.DataArray, baseline_score: xr.DataArray, site_mask: xr.DataArray,
                   *, pixel_area_ha: float, mmu_ha: float = 0.1) -> xr.Dataset:
    """Per-period change metrics of one site (lazy when the inputs are).

    Parameters
    ----------
    scores
        Habitat score per period, dims ``(period, y, x)``, NaN where not observed.
    baseline_score
        Score of the baseline composite, dims ``(y, x)``.
    site_mask
        Boolean ``(y, x)``: pixel centre inside the site polygon.
    pixel_area_ha
        Area of one pixel in hectares (0.01 at 10 m).
    mmu_ha
        Minimum mapping unit for gain and loss patches, hectares.

    Returns
    -------
    Dataset over ``period`` with the variables of ``CHANGE_METRICS`` (hectares; valid_fraction
    is the share of the site's pixels observed clear in that period).
    """
    mmu_pixels = max(1, int(np.ceil(mmu_ha / pixel_area_ha - 1e-9)))
    core = ["y", "x"]
    table = xr.apply_ufunc(
        _change_kernel,
        scores.chunk({"period": -1, "y": -1, "x": -1}) if scores.chunks else scores,
        baseline_score, site_mask,
        input_core_dims=[["period", *core], core, core],
        output_core_dims=[["period", "metric"]],
        kwargs={"pixel_area_ha": pixel_area_ha, "mmu_pixels": mmu_pixels},
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"metric": len(CHANGE_METRICS)}},
    )
    table = table.assign_coords(metric=list(CHANGE_METRICS))
    return table.to_dataset(dim="metric")
