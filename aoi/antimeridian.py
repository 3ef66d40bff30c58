"""Sites on both sides of the antimeridian (180 deg E = 180 deg W), e.g. Fiji's mangroves.

GeoJSON (RFC 7946, section 3.1.9) describes such a site as a MultiPolygon split at 180 deg:
parts reaching 180 and parts reaching -180. Read naively its bounding box spans the whole
world and its planar centroid lies near longitude 0, which would put the site in UTM zone 31
and make its search polygon circle the earth. These helpers give its real extent: longitudes
west of 0 are taken as east of 180 (+360) when the site reaches both edges, so its centroid
and UTM zone are those of where it is (zone 60 or 1). A single ring jumping across 180 deg
(not split) is ambiguous and refused by the sites validator (:mod:`aoi.geojson`).

Pure geometry: no raster work, no I/O.
"""

from __future__ import annotations

import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["crosses_antimeridian", "real_centroid_lonlat", "unwrapped"]

_EDGE = 170.0
"""A site reaching both beyond +170 and below -170 deg longitude lies across the antimeridian
(a valid site is far smaller than the 340 deg between them)."""


def crosses_antimeridian(geometry: BaseGeometry) -> bool:
    """Whether a lon/lat geometry lies on both sides of 180 deg (split per RFC 7946)."""
    minx, _, maxx, _ = geometry.bounds
    return minx < -_EDGE and maxx > _EDGE


def unwrapped(geometry: BaseGeometry) -> BaseGeometry:
    """The geometry with longitudes below 0 moved by +360 when it crosses the antimeridian
    (continuous longitudes, 0..360), else unchanged."""
    if not crosses_antimeridian(geometry):
        return geometry
    return shapely.transform(geometry, lambda xy: _shift(xy))


def _shift(xy):
    out = xy.copy()
    out[:, 0] = out[:, 0] + 360.0 * (out[:, 0] < 0)
    return out


def real_centroid_lonlat(geometry: BaseGeometry) -> tuple[float, float]:
    """Planar centroid of the site where it is, longitude in [-180, 180)."""
    c = unwrapped(geometry).centroid
    lon = float(c.x)
    if lon >= 180.0:
        lon -= 360.0
    return lon, float(c.y)
