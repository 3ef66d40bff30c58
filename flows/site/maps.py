"""Monthly ``class`` and ``change`` maps of one site, as :mod:`flows.results.maps` writes them.

The arrays share the change table's month walk (:func:`indices.maps.monthly_maps`, or the walks
of :mod:`flows.site.walks`), so the maps' areas are the table's.
"""

from __future__ import annotations

import xarray as xr

from aoi import Site
from indices.maps import monthly_maps
from indices.patches import MMU_HA
from indices.summary import monthly_inputs

__all__ = ["maps_dataset", "site_maps"]


def site_maps(site: Site, cube: xr.Dataset, mask: xr.DataArray, *, pixel_area_ha: float,
              mmu_ha: float = MMU_HA, evidence=None) -> xr.Dataset:
    """Lazy ``class`` and ``change`` maps ``(period, y, x)`` of ``site`` from its scene cube,
    from the inputs of the change table (:func:`indices.summary.monthly_inputs`: turbid water
    masked at seagrass sites, monthly and baseline composites, habitat score; ``evidence``:
    the site's, :mod:`indices.evidence`, default the default rule's from the baseline)."""
    inputs = monthly_inputs(cube, mask, site.habitat,
                            baseline=(site.baseline_start, site.baseline_end), evidence=evidence)
    classes, change = monthly_maps(inputs.map_scores, inputs.base_score, mask,
                                   pixel_area_ha=pixel_area_ha, mmu_ha=mmu_ha,
                                   habitat=site.habitat)
    return maps_dataset(classes, change, mmu_ha)


def maps_dataset(classes, change, mmu_ha: float) -> xr.Dataset:
    """The maps as :func:`site_maps` gives them, from ``(period, y, x)`` class and change
    arrays (DataArrays, or numpy with ``coords`` set by the caller)."""
    return xr.Dataset({"class": classes, "change": change}, attrs={"mmu_ha": float(mmu_ha)})
