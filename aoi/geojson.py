"""GeoJSON decoding and geometry validation shared by sites and calibration polygons.

Every function raises through the caller's error class (or ``fail`` callback) with one line;
geometries are WGS84 longitude/latitude, valid, of non-zero area.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping

import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

__all__ = ["decode", "geodesic_area_m2", "kind", "parse_geometry", "short"]

_GEOD = Geod(ellps="WGS84")

Fail = Callable[[str], Exception]
"""Builds the error for one feature from a problem description (file and feature prefixed)."""


def decode(data: object, source: str, error: Callable[[str], Exception]) -> object:
    """JSON from bytes (UTF-8), text or an already parsed mapping."""
    if isinstance(data, Mapping):
        return data
    if isinstance(data, bytes | bytearray):
        if not data.strip():
            raise error(f"{source}: empty file")
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise error(
                f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
    if not isinstance(data, str):
        raise error(f"{source}: expected GeoJSON bytes, text or a mapping, got {kind(data)}")
    if not data.strip():
        raise error(f"{source}: empty file")
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise error(
            f"{source}: bad JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except (RecursionError, ValueError) as exc:  # nesting too deep, huge integer literals
        raise error(f"{source}: bad JSON: {type(exc).__name__}") from None



def parse_geometry(geometry: object, fail: Fail) -> Polygon | MultiPolygon:
    """A GeoJSON Polygon or MultiPolygon mapping as a valid shapely geometry of non-zero area."""
    if geometry is None:
        raise fail("missing geometry")
    if not isinstance(geometry, Mapping):
        raise fail(f"geometry must be an object, got {kind(geometry)}")
    gtype = geometry.get("type")
    coords = geometry.get("coordinates")
    if gtype == "Polygon":
        parts = [_polygon_rings(coords, fail, "")]
    elif gtype == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise fail("MultiPolygon coordinates must be a non-empty list of polygons")
        parts = [_polygon_rings(part, fail, f"polygon {i} ") for i, part in enumerate(coords)]
    else:
        got = short(gtype) if isinstance(gtype, str) else kind(gtype)
        raise fail(f"geometry type {got} is not supported (expected Polygon or MultiPolygon)")
    try:
        polygons = [Polygon(rings[0], rings[1:]) for rings in parts]
        shape: Polygon | MultiPolygon = polygons[0] if gtype == "Polygon" else MultiPolygon(polygons)
    except (shapely.errors.GEOSException, ValueError) as exc:
        raise fail(f"invalid polygon: {exc}") from None
    _check_valid(shape, fail)
    return shape


def _polygon_rings(coords: object, fail: Fail, where: str) -> list[list[tuple[float, float]]]:
    if not isinstance(coords, list) or not coords:
        raise fail(f"{where}coordinates must be a non-empty list of linear rings")
    return [_ring(ring, fail, f"{where}ring {i}") for i, ring in enumerate(coords)]


def _ring(ring: object, fail: Fail, where: str) -> list[tuple[float, float]]:
    if not isinstance(ring, list):
        raise fail(f"{where}: a linear ring must be a list of positions, got {kind(ring)}")
    points = [_position(p, fail, f"{where} position {i}") for i, p in enumerate(ring)]
    if len(points) < 4:
        raise fail(f"{where}: a linear ring needs at least 4 positions, got {len(points)}")
    if points[0] != points[-1]:
        raise fail(f"{where}: unclosed ring (first position {points[0]} != last {points[-1]})")
    for (lon0, _), (lon1, _) in zip(points, points[1:], strict=False):
        if abs(lon1 - lon0) > 180.0:  # an edge the long way round: the ring crosses 180 deg
            raise fail(f"{where}: crosses the antimeridian (longitude {lon0} to {lon1}); "
                       "split it at 180 deg into a MultiPolygon (RFC 7946, section 3.1.9)")
    return points


def _position(position: object, fail: Fail, where: str) -> tuple[float, float]:
    if not isinstance(position, list) or len(position) not in (2, 3):
        raise fail(f"{where}: a position must be [lon, lat] or [lon, lat, z]")
    values: list[float] = []
    for v in position:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise fail(f"{where}: coordinates must be numbers, got {kind(v)}")
        try:
            values.append(float(v))
        except OverflowError:
            values.append(math.inf)
    lon, lat = values[0], values[1]
    if not all(math.isfinite(v) for v in values):
        raise fail(f"{where}: non-finite coordinate {short(str(values))}")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise fail(
            f"{where}: coordinate ({lon}, {lat}) outside lon [-180, 180] / lat [-90, 90]; "
            "sites must be WGS84 longitude/latitude"
        )
    return (lon, lat)


def _check_valid(shape: Polygon | MultiPolygon, fail: Fail) -> None:
    if not shape.is_valid:
        raise fail(f"invalid polygon: {shapely.is_valid_reason(shape)}")
    if shape.area <= 0.0:
        raise fail("polygon has zero area")



def geodesic_area_m2(shape: Polygon | MultiPolygon) -> float:
    """Geodesic area in m²: |exterior| minus |holes| for each part, orientation-proof."""
    parts: Iterable[Polygon] = shape.geoms if isinstance(shape, MultiPolygon) else [shape]
    total = 0.0
    for part in parts:
        area, _ = _GEOD.geometry_area_perimeter(orient(part, sign=1.0))
        total += abs(area)
    return total



def short(value: str, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def kind(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    for typ, label in names.items():
        if isinstance(value, typ):
            return label
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__
