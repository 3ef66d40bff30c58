"""Land and sea from a small bundled layer: which side of the coast a site lies on, and how far.

The layer is Natural Earth 1:10m land plus minor islands (public domain, v4.0.0),
simplified to 0.01 deg (~1.1 km) on a 0.001 deg grid; ``aoi/data/SOURCE.md`` says where it
comes from and ``aoi/data/build_layers.py`` rebuilds it. Its coastline is good to a few
kilometres at best: Natural Earth 1:10m is drawn for maps at 1:10,000,000, it leaves out
narrow estuaries, lagoons and creeks, and the simplification moves it by up to ~1.1 km.
Use it for gross plausibility (a site hundreds of kilometres off), never to clip a site.
Vector work only; loaded once per process (~0.1 s).
"""

from __future__ import annotations

import functools
import gzip
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

__all__ = ["LAYER_ACCURACY_KM", "Shore", "in_mediterranean", "land_within", "shore"]

LAYER_ACCURACY_KM: float = 5.0
"""Rough accuracy of the bundled coastline: 1:10,000,000 map accuracy (0.5 mm at scale is
5 km) with the ~1.1 km simplification inside it. Distances to the coast under this are noise."""

_DATA = Path(__file__).resolve().parent / "data"
_GEOD = Geod(ellps="WGS84")
_KM_PER_DEG = 111.32
"""Kilometres per degree of latitude (and of longitude at the equator), for search windows."""


@dataclass(frozen=True)
class Shore:
    """Where a site lies against the bundled coastline."""

    side: str
    """``"coast"`` (the site crosses the coastline), ``"land"`` or ``"sea"`` (entirely on one side)."""
    distance_km: float
    """Distance from the site to the nearest coastline, km (0 for ``"coast"``); beyond the
    search radius asked for, an estimate good to a few per cent."""


@functools.cache
def _land() -> tuple[np.ndarray, shapely.STRtree]:
    text = gzip.decompress((_DATA / "land.geojson.gz").read_bytes()).decode("utf-8")
    parts = shapely.get_parts(shapely.from_geojson(text))
    return parts, shapely.STRtree(parts)


@functools.cache
def _mediterranean() -> BaseGeometry:
    region = shapely.from_geojson((_DATA / "mediterranean.geojson").read_text(encoding="utf-8"))
    shapely.prepare(region)
    return region


def land_within(bounds: tuple[float, float, float, float]) -> list[BaseGeometry]:
    """The bundled land polygons clipped to a lon/lat box ``(west, south, east, north)``, for
    locator maps (the coastline is good to a few km: :data:`LAYER_ACCURACY_KM`)."""
    parts, tree = _land()
    clipped = (shapely.clip_by_rect(parts[i], *bounds) for i in tree.query(shapely.box(*bounds)))
    return [g for g in clipped if not g.is_empty]


def in_mediterranean(geometry: BaseGeometry) -> bool:
    """True when the lon/lat geometry touches the Mediterranean (its marine areas in Natural
    Earth, the Sea of Marmara included, grown by ~20 km; the Black Sea, the Atlantic past the
    Strait of Gibraltar and the Red Sea are outside)."""
    return bool(_mediterranean().intersects(geometry))


def shore(geometry: BaseGeometry, radius_km: float = 50.0) -> Shore:
    """Which side of the bundled coastline a lon/lat polygon lies on, and its distance to it.

    Distances up to ``radius_km`` are exact for the layer (measured in an azimuthal
    equidistant projection centred on the site); beyond it the distance is estimated from the
    nearest land polygon in degrees, then measured on the ellipsoid.
    """
    parts, tree = _land()
    hits = tree.query(geometry, predicate="intersects")
    if hits.size and not any(parts[i].contains(geometry) for i in hits):
        return Shore("coast", 0.0)
    side = "land" if hits.size else "sea"
    lines = _coast_near(geometry, radius_km)
    if lines:
        km = _projected_km(geometry, lines)
        if km <= radius_km:
            return Shore(side, km)
    return Shore(side, max(_far_km(geometry), radius_km))


def _window(geometry: BaseGeometry, radius_km: float) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = geometry.bounds
    dlat = radius_km / _KM_PER_DEG
    widest = min(max(abs(y0), abs(y1)) + dlat, 89.0)
    dlon = min(radius_km / (_KM_PER_DEG * math.cos(math.radians(widest))), 180.0)
    return (x0 - dlon, y0 - dlat, x1 + dlon, y1 + dlat)


def _coast_near(geometry: BaseGeometry, radius_km: float) -> list[BaseGeometry]:
    """Coastlines within the search window, shifted by 360 deg where the window crosses the
    antimeridian; the seams of land polygons cut at +-180 deg are not coastline."""
    parts, tree = _land()
    x0, y0, x1, y1 = _window(geometry, radius_km)
    lines: list[BaseGeometry] = []
    for shift in (-360.0, 0.0, 360.0):
        a, b = max(x0 + shift, -180.0), min(x1 + shift, 180.0)
        if a >= b:
            continue
        for i in tree.query(shapely.box(a, y0, b, y1)):
            coast = shapely.clip_by_rect(parts[i].boundary, -179.9999, -90.0, 179.9999, 90.0)
            coast = shapely.clip_by_rect(coast, a, y0, b, y1)
            if not coast.is_empty:
                lines.append(shapely.transform(coast, lambda xy, s=shift: xy - [s, 0.0]))
    return lines


def _projected_km(geometry: BaseGeometry, lines: list[BaseGeometry]) -> float:
    lon, lat = geometry.centroid.coords[0]
    aeqd = Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m", always_xy=True
    )

    def project(g: BaseGeometry) -> BaseGeometry:
        return shapely.transform(g, lambda xy: np.column_stack(aeqd.transform(xy[:, 0], xy[:, 1])))

    site = project(geometry)
    return min(site.distance(project(line)) for line in lines) / 1000.0


def _far_km(geometry: BaseGeometry) -> float:
    parts, tree = _land()
    nearest = tree.query_nearest(geometry, all_matches=False)
    if not nearest.size:
        return math.inf
    a, b = nearest_points(geometry, parts[nearest[0]].boundary)
    _, _, metres = _GEOD.inv(a.x, a.y, b.x, b.y)
    return metres / 1000.0
