"""Pure compute on xarray/dask, in the order of the data flow.

masks -> spectral indices -> composites -> habitat -> change -> per-site summaries
-> carbon ledger and extent accounts (on the change rows and class maps).
No I/O, no Prefect, no dask configuration; everything returned is lazy when its input is.
"""

# ruff: noqa: I001  (imports follow the data flow, not the alphabet)
from indices.masks import INVALID_SCL, VALID_SCL, clear_mask, cloud_mask, nodata_mask, reflectance
from indices.spectral import INDICES, IndexSpec, compute_indices
from indices.sums import index_sums
from indices.composite import composite, median_over_time, monthly_composite
from indices.habitat import RULES, MangroveRule, SeagrassRule, habitat_score
from indices.change import CHANGE_METRICS, change_metrics
from indices.summary import monthly_change, scene_statistics
from indices.carbon import carbon_ledger
from indices.carbon_factors import site_factors
from indices.accounts import extent_account, extent_account_from_maps, fragmentation

__all__ = [
    "INVALID_SCL", "VALID_SCL", "clear_mask", "cloud_mask", "nodata_mask", "reflectance",
    "INDICES", "IndexSpec", "compute_indices", "index_sums",
    "composite", "median_over_time", "monthly_composite",
    "RULES", "MangroveRule", "SeagrassRule", "habitat_score",
    "CHANGE_METRICS", "change_metrics",
    "monthly_change", "scene_statistics",
    "carbon_ledger", "site_factors",
    "extent_account", "extent_account_from_maps", "fragmentation",
]
