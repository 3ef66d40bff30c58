"""Per-site aggregates of a scene cube: the numbers the Parquet tables hold, still lazy.

``scene_statistics`` gives one value per scene (the ``observations`` table), ``monthly_change``
one row per month (the ``change`` table). Both reduce inside the site polygon only, and both
return lazy datasets: the flow computes them together, once.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import xarray as xr

from indices.canopy import canopy_metrics
from indices.change import change_metrics
from indices.composite import composite, monthly_composite
from indices.habitat import habitat_score, scene_reflectance, turbid_scenes
from indices.masks import clear_mask, cloud_mask
from indices.spectral import compute_indices

__all__ = ["scene_statistics", "monthly_change", "OBSERVATION_INDICES"]

OBSERVATION_INDICES = ("ndvi", "ndwi", "mndwi", "mvi")


def scene_statistics(cube: xr.Dataset, site_mask: xr.DataArray, habitat: str,
                     *, pixel_area_ha: float) -> xr.Dataset:
    """Per scene: valid and cloud fractions of the site, index means, habitat area (ha)."""
    mask = site_mask
    n_site = mask.sum()
    clear = clear_mask(cube) & mask
    stats = {
        "valid_fraction": clear.sum(("y", "x")) / n_site,
        "cloud_fraction": (cloud_mask(cube) & mask).sum(("y", "x")) / n_site,
    }
    ix = compute_indices(cube, list(OBSERVATION_INDICES))
    for name in OBSERVATION_INDICES:
        stats[f"{name}_mean"] = ix[name].where(mask).mean(("y", "x"), skipna=True)
    score = habitat_score(scene_reflectance(cube), habitat)
    stats["habitat_area_ha"] = ((score > 0) & mask).sum(("y", "x")) * pixel_area_ha
    return xr.Dataset(stats)


def monthly_change(cube: xr.Dataset, site_mask: xr.DataArray, habitat: str, *,
                   baseline: tuple[dt.date, dt.date], pixel_area_ha: float,
                   mmu_ha: float = 0.1) -> xr.Dataset:
    """Per calendar month: extent, gain, loss, net change and interval against the baseline."""
    if habitat == "seagrass":
        # the bottom is not seen through a sediment plume: drop turbid scenes' water from the
        # composites as if it were defective (SCL 1), and flag months that were mostly turbid
        turbid, water = turbid_scenes(cube)
        cube = cube.assign(SCL=cube["SCL"].where(~((turbid > 0) & water), np.uint8(1)))
    months = monthly_composite(cube)
    scores = habitat_score(months, habitat)
    base = composite(cube, *baseline)
    base_score = habitat_score(base, habitat)
    if habitat == "seagrass":
        month_of = xr.DataArray(turbid["time"].values.astype("datetime64[M]")
                                .astype("datetime64[ns]"), dims="time", name="period")
        share = turbid.groupby(month_of).mean(skipna=True)
        turbid_month = (share >= 0.5).reindex(period=months["period"].values, fill_value=False)
        # a month mostly under a plume says nothing reliable about the bottom, even in the
        # scenes too cloudy to be judged turbid themselves: carry the last classes forward
        scores = scores.where(~turbid_month)
    else:
        turbid_month = xr.zeros_like(months["period"], dtype=bool)
    table = change_metrics(scores, base_score, site_mask, pixel_area_ha=pixel_area_ha,
                           mmu_ha=mmu_ha)
    table["baseline_observed_fraction"] = (base_score.notnull() & site_mask).sum() / site_mask.sum()
    ix_names = ["ndvi", "ndwi"]
    canopy = canopy_metrics(scores, months, compute_indices(months, ix_names), base_score, base,
                            compute_indices(base, ix_names), site_mask, habitat=habitat,
                            pixel_area_ha=pixel_area_ha, mmu_ha=mmu_ha)
    table = table.merge(canopy)
    table["turbid"] = turbid_month.astype(np.float64).drop_vars(
        [c for c in turbid_month.coords if c != "period"])
    return table.astype({k: np.float64 for k in table.data_vars})
