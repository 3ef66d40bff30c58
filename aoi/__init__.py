"""Sites: load and validate site polygons, and lay out each site's analysis grid.

``load_sites`` -> ``[Site]`` (``warnings=[]``: ``plausibility``) -> ``site_grid(site)`` ->
``site_mask(site, grid)``; ``calibration_input(site)`` -> ``load_calibration_polygons``.
Vector work only; no rasters are read or written here.
"""

from aoi.calibration import (
    CalibrationInput,
    CalibrationPolygons,
    LabelledPolygon,
    calibration_input,
    load_calibration_polygons,
)
from aoi.errors import CalibrationError, SitesError
from aoi.grid import (
    SiteGrid,
    geometry_ids,
    geometry_mask,
    site_grid,
    site_mask,
    to_grid_crs,
    utm_epsg,
)
from aoi.plausibility import plausibility
from aoi.sites import (
    DEFAULT_MAX_AREA_HA,
    HABITATS,
    SENTINEL2_FIRST_DAY,
    SITE_ID_PATTERN,
    Site,
    bundled_sites_path,
    load_sites,
    parse_sites,
)

__all__ = [
    "DEFAULT_MAX_AREA_HA",
    "HABITATS",
    "SITE_ID_PATTERN",
    "SENTINEL2_FIRST_DAY",
    "CalibrationError",
    "CalibrationInput",
    "CalibrationPolygons",
    "LabelledPolygon",
    "Site",
    "SiteGrid",
    "SitesError",
    "bundled_sites_path",
    "calibration_input",
    "geometry_ids",
    "geometry_mask",
    "load_calibration_polygons",
    "load_sites",
    "parse_sites",
    "plausibility",
    "site_grid",
    "site_mask",
    "to_grid_crs",
    "utm_epsg",
]
