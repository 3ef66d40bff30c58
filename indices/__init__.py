"""Pure compute on xarray/dask, in the order of the data flow.

masks -> spectral indices -> composites -> habitat -> change -> per-site summaries.
No I/O, no Prefect, no dask configuration; everything returned is lazy when its input is.
"""

from indices.masks import INVALID_SCL, clear_mask, cloud_mask, nodata_mask, reflectance
from indices.spectral import INDICES, IndexSpec, compute_indices
from indices.composite import composite, monthly_composite
from indices.habitat import RULES, MangroveRule, SeagrassRule, habitat_score
from indices.change import CHANGE_METRICS, change_metrics
from indices.summary import monthly_change, scene_statistics

__all__ = [
    "INVALID_SCL", "clear_mask", "cloud_mask", "nodata_mask", "reflectance",
    "INDICES", "IndexSpec", "compute_indices",
    "composite", "monthly_composite",
    "RULES", "MangroveRule", "SeagrassRule", "habitat_score",
    "CHANGE_METRICS", "change_metrics",
    "monthly_change", "scene_statistics",
]
