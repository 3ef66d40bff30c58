"""Sites: load and validate site polygons, and lay out each site's analysis grid.

``load_sites`` -> ``[Site]`` -> ``site_grid(site)`` -> ``site_mask(site, grid)``.
Vector work only; no rasters are read or written here.
"""

from aoi.grid import SiteGrid, site_grid, site_mask, to_grid_crs, utm_epsg
from aoi.sites import (
    DEFAULT_MAX_AREA_HA,
    HABITATS,
    SITE_ID_PATTERN,
    Site,
    SitesError,
    bundled_sites_path,
    load_sites,
    parse_sites,
)

__all__ = [
    "DEFAULT_MAX_AREA_HA",
    "HABITATS",
    "SITE_ID_PATTERN",
    "Site",
    "SiteGrid",
    "SitesError",
    "bundled_sites_path",
    "load_sites",
    "parse_sites",
    "site_grid",
    "site_mask",
    "to_grid_crs",
    "utm_epsg",
]
