"""Sites: the Site model, and the loader that validates GeoJSON before any work starts.

A sites file is a GeoJSON FeatureCollection in WGS84 lon/lat with one Polygon or
MultiPolygon feature a site (see ``design.md``, "Sites (aoi/)"). Loading is all or
nothing: the first problem found raises :class:`SitesError` with one line naming the
file, the feature (index, and id when known) and the problem; no partial list is
ever returned. Every check lives in its own ``_check_*`` / ``_parse_*`` function.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

__all__ = [
    "DEFAULT_MAX_AREA_HA",
    "HABITATS",
    "SITE_ID_PATTERN",
    "Site",
    "SitesError",
    "bundled_sites_path",
    "load_sites",
    "parse_sites",
]

HABITATS: tuple[str, ...] = ("mangrove", "seagrass")
"""Habitats a site may monitor; ``indices.habitat`` has a classifier for each."""

DEFAULT_MAX_AREA_HA: float = 100_000.0
"""Largest site accepted by default (1000 km²). Guards against a unit or CRS mistake
(e.g. projected metres read as degrees) turning a nightly run into a continental one;
raise it with ``max_area_ha=`` for genuinely large protected areas."""

SITE_ID_PATTERN = r"[a-z0-9](?:[a-z0-9-]{0,63})"
"""A site id: a slug ``[a-z0-9-]{1,64}`` starting with a letter or digit (safe in paths and keys)."""
_ID_RE = re.compile(SITE_ID_PATTERN)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_GEOD = Geod(ellps="WGS84")
_WGS84_CRS_NAMES = frozenset(
    {
        "urn:ogc:def:crs:OGC:1.3:CRS84",
        "urn:ogc:def:crs:OGC::CRS84",
        "urn:ogc:def:crs:EPSG::4326",
        "urn:ogc:def:crs:EPSG:4326",
        "EPSG:4326",
    }
)
_OPTIONAL_TEXT = ("partner", "country", "notes")

SitesInput = bytes | str | Mapping[str, Any]


class SitesError(ValueError):
    """A sites file was refused; the message is one line naming file, feature and problem."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).splitlines()))


_Fail = Callable[[str], SitesError]
"""Builds the error for one feature from a problem description (file and feature prefixed)."""


@dataclass(frozen=True)
class Site:
    """One monitored site: a polygon in WGS84 lon/lat, its habitat and its baseline period."""

    id: str
    """Slug ``[a-z0-9-]{1,64}``, starting with a letter or digit; safe in paths and keys."""
    name: str
    """Human-readable name."""
    habitat: str
    """One of :data:`HABITATS`."""
    geometry: Polygon | MultiPolygon
    """Site boundary, WGS84 longitude/latitude, valid and of non-zero area."""
    baseline_start: dt.date
    """First day of the baseline period (inclusive)."""
    baseline_end: dt.date
    """Last day of the baseline period (inclusive)."""
    partner: str | None = None
    """Partner organisation the site reports to."""
    country: str | None = None
    """ISO 3166-1 alpha-2 country code, when given."""
    notes: str | None = None
    """Free text, e.g. where the boundary comes from."""
    properties: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), hash=False, compare=False
    )
    """All properties of the GeoJSON feature as read (read-only), e.g. ``reference_site``."""

    def __post_init__(self) -> None:
        if not isinstance(self.properties, MappingProxyType):
            frozen = MappingProxyType(copy.deepcopy(dict(self.properties)))
            object.__setattr__(self, "properties", frozen)

    @property
    def area_ha(self) -> float:
        """Geodesic area on the WGS84 ellipsoid, in hectares."""
        return _geodesic_area_m2(self.geometry) / 10_000.0

    @property
    def centroid_lonlat(self) -> tuple[float, float]:
        """Planar centroid of the lon/lat polygon (fine at site scale), as ``(lon, lat)``."""
        c = self.geometry.centroid
        return (float(c.x), float(c.y))


def bundled_sites_path() -> Path:
    """The directory of site files shipped with the package (``aoi/sites/``)."""
    return Path(__file__).resolve().parent / "sites"


def load_sites(
    path: str | Path | None = None, *, max_area_ha: float = DEFAULT_MAX_AREA_HA
) -> list[Site]:
    """Load and validate sites from a GeoJSON file or a directory of ``*.geojson`` files.

    Parameters
    ----------
    path
        A GeoJSON file, or a directory whose ``*.geojson`` files are read in sorted
        order. ``None`` reads the bundled sites (:func:`bundled_sites_path`).
    max_area_ha
        Refuse any site larger than this many hectares (geodesic area).

    Returns
    -------
    Every site, in file then feature order. Ids are unique across all files.

    Raises
    ------
    SitesError
        On the first problem found; nothing partial is returned.
    """
    root = bundled_sites_path() if path is None else Path(path)
    sites: list[Site] = []
    seen: dict[str, str] = {}
    for file in _site_files(root):
        data = _read_bytes(file)
        file_sites = parse_sites(data, source=str(file), max_area_ha=max_area_ha)
        for index, site in enumerate(file_sites):
            if site.id in seen:
                raise SitesError(
                    f"{file}: {_feature_label(index, site.id)}: duplicate id, "
                    f"already used in {seen[site.id]}"
                )
            seen[site.id] = str(file)
        sites.extend(file_sites)
    return sites


def parse_sites(
    data: SitesInput, *, source: str = "<sites>", max_area_ha: float = DEFAULT_MAX_AREA_HA
) -> list[Site]:
    """Validate a GeoJSON FeatureCollection given as bytes, JSON text or a parsed mapping.

    ``source`` names the input in error messages (a file path, usually).
    Raises :class:`SitesError` on the first problem; see :func:`load_sites`.
    """
    cap = _check_max_area(max_area_ha)
    collection = _decode(data, source)
    features = _features(collection, source)
    sites: list[Site] = []
    seen: set[str] = set()
    for index, feature in enumerate(features):
        site = _parse_feature(feature, index, source, cap)
        if site.id in seen:
            raise SitesError(f"{source}: {_feature_label(index, site.id)}: duplicate id")
        seen.add(site.id)
        sites.append(site)
    return sites


# --- files -----------------------------------------------------------------------------


def _site_files(root: Path) -> list[Path]:
    if root.is_dir():
        files = sorted(p for p in root.glob("*.geojson") if p.is_file())
        if not files:
            raise SitesError(f"{root}: no *.geojson files in this directory")
        return files
    if not root.exists():
        raise SitesError(f"{root}: no such file or directory")
    return [root]


def _read_bytes(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise SitesError(f"{file}: cannot read file: {exc.strerror or exc}") from None


# --- document level --------------------------------------------------------------------


def _check_max_area(max_area_ha: object) -> float:
    if (
        isinstance(max_area_ha, bool)
        or not isinstance(max_area_ha, int | float)
        or not math.isfinite(max_area_ha)
        or max_area_ha <= 0
    ):
        raise SitesError(f"max_area_ha must be a positive number of hectares, got {max_area_ha!r}")
    return float(max_area_ha)


def _decode(data: object, source: str) -> object:
    if isinstance(data, Mapping):
        return data
    if isinstance(data, bytes | bytearray):
        if not data.strip():
            raise SitesError(f"{source}: empty file")
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SitesError(
                f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
    if not isinstance(data, str):
        raise SitesError(f"{source}: expected GeoJSON bytes, text or a mapping, got {_kind(data)}")
    if not data.strip():
        raise SitesError(f"{source}: empty file")
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise SitesError(
            f"{source}: bad JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except (RecursionError, ValueError) as exc:  # nesting too deep, huge integer literals
        raise SitesError(f"{source}: bad JSON: {type(exc).__name__}") from None


def _features(collection: object, source: str) -> list[object]:
    if not isinstance(collection, Mapping) or collection.get("type") != "FeatureCollection":
        got = collection.get("type") if isinstance(collection, Mapping) else None
        what = f"type {got!r}" if isinstance(got, str) else _kind(collection)
        raise SitesError(f"{source}: not a GeoJSON FeatureCollection (got {what})")
    _check_crs(collection.get("crs"), source)
    features = collection.get("features")
    if not isinstance(features, list):
        raise SitesError(f"{source}: 'features' must be a list, got {_kind(features)}")
    if not features:
        raise SitesError(f"{source}: no features (a sites file needs at least one site)")
    return features


def _check_crs(crs: object, source: str) -> None:
    """Accept a legacy GeoJSON 2008 ``crs`` member only when it names WGS84 lon/lat."""
    if crs is None:
        return
    name = None
    if isinstance(crs, Mapping) and isinstance(crs.get("properties"), Mapping):
        name = crs["properties"].get("name")
    if name not in _WGS84_CRS_NAMES:
        raise SitesError(
            f"{source}: crs {name if isinstance(name, str) else _kind(crs)!r} is not "
            "supported; sites must be in WGS84 longitude/latitude (CRS84)"
        )


# --- feature level ---------------------------------------------------------------------


def _parse_feature(feature: object, index: int, source: str, max_area_ha: float) -> Site:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise SitesError(f"{source}: feature {index}: not a GeoJSON Feature ({_kind(feature)})")
    props = feature.get("properties")
    if not isinstance(props, Mapping):
        raise SitesError(
            f"{source}: feature {index}: 'properties' must be an object, got {_kind(props)}"
        )
    site_id = _parse_id(props.get("id"), index, source)

    def fail(problem: str) -> SitesError:
        return SitesError(f"{source}: {_feature_label(index, site_id)}: {problem}")

    name = _parse_name(props.get("name"), fail)
    habitat = _parse_habitat(props.get("habitat"), fail)
    start = _parse_date(props.get("baseline_start"), "baseline_start", fail)
    end = _parse_date(props.get("baseline_end"), "baseline_end", fail)
    _check_baseline_order(start, end, fail)
    optional = {key: _parse_optional_text(props.get(key), key, fail) for key in _OPTIONAL_TEXT}
    geometry = _parse_geometry(feature.get("geometry"), fail)
    _check_area(geometry, max_area_ha, fail)
    return Site(
        id=site_id,
        name=name,
        habitat=habitat,
        geometry=geometry,
        baseline_start=start,
        baseline_end=end,
        properties=_freeze_properties(props, fail),
        **optional,
    )


def _freeze_properties(props: Mapping[str, Any], fail: _Fail) -> Mapping[str, Any]:
    try:
        return MappingProxyType(copy.deepcopy(dict(props)))
    except Exception as exc:  # only reachable with a non-JSON mapping passed to parse_sites
        raise fail(f"properties are not plain JSON values ({type(exc).__name__})") from None


def _parse_id(value: object, index: int, source: str) -> str:
    where = f"{source}: feature {index}"
    if value is None:
        raise SitesError(f"{where}: missing 'id' property")
    if not isinstance(value, str):
        raise SitesError(f"{where}: 'id' must be a string, got {_kind(value)}")
    if _ID_RE.fullmatch(value) is None:
        raise SitesError(
            f"{where}: unsafe id {_short(value)}: ids must be 1-64 characters of "
            "a-z, 0-9 and '-', starting with a letter or digit"
        )
    return value


def _parse_name(value: object, fail: _Fail) -> str:
    if value is None:
        raise fail("missing 'name' property")
    if not isinstance(value, str):
        raise fail(f"'name' must be a string, got {_kind(value)}")
    if not value.strip():
        raise fail("'name' is empty")
    return value.strip()


def _parse_habitat(value: object, fail: _Fail) -> str:
    if value is None:
        raise fail(f"missing 'habitat' property (one of {', '.join(HABITATS)})")
    if not isinstance(value, str):
        raise fail(f"'habitat' must be a string, got {_kind(value)}")
    if value not in HABITATS:
        raise fail(f"unknown habitat {_short(value)} (expected one of {', '.join(HABITATS)})")
    return value


def _parse_date(value: object, key: str, fail: _Fail) -> dt.date:
    if value is None:
        raise fail(f"missing '{key}' property (an ISO date, YYYY-MM-DD)")
    if not isinstance(value, str):
        raise fail(f"'{key}' must be an ISO date string YYYY-MM-DD, got {_kind(value)}")
    if _DATE_RE.fullmatch(value) is None:
        raise fail(f"malformed date {key}={_short(value)} (expected YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"malformed date {key}={_short(value)} ({exc})") from None


def _check_baseline_order(start: dt.date, end: dt.date, fail: _Fail) -> None:
    if end < start:
        raise fail(f"baseline dates reversed: baseline_end {end} is before baseline_start {start}")


def _parse_optional_text(value: object, key: str, fail: _Fail) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise fail(f"'{key}' must be a string or null, got {_kind(value)}")


# --- geometry --------------------------------------------------------------------------


def _parse_geometry(geometry: object, fail: _Fail) -> Polygon | MultiPolygon:
    if geometry is None:
        raise fail("missing geometry")
    if not isinstance(geometry, Mapping):
        raise fail(f"geometry must be an object, got {_kind(geometry)}")
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Polygon":
        parts = [_polygon_rings(coords, fail, "")]
    elif kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise fail("MultiPolygon coordinates must be a non-empty list of polygons")
        parts = [_polygon_rings(part, fail, f"polygon {i} ") for i, part in enumerate(coords)]
    else:
        got = _short(kind) if isinstance(kind, str) else _kind(kind)
        raise fail(f"geometry type {got} is not supported (expected Polygon or MultiPolygon)")
    try:
        polygons = [Polygon(rings[0], rings[1:]) for rings in parts]
        shape: Polygon | MultiPolygon = polygons[0] if kind == "Polygon" else MultiPolygon(polygons)
    except (shapely.errors.GEOSException, ValueError) as exc:
        raise fail(f"invalid polygon: {exc}") from None
    _check_valid(shape, fail)
    return shape


def _polygon_rings(coords: object, fail: _Fail, where: str) -> list[list[tuple[float, float]]]:
    if not isinstance(coords, list) or not coords:
        raise fail(f"{where}coordinates must be a non-empty list of linear rings")
    return [_ring(ring, fail, f"{where}ring {i}") for i, ring in enumerate(coords)]


def _ring(ring: object, fail: _Fail, where: str) -> list[tuple[float, float]]:
    if not isinstance(ring, list):
        raise fail(f"{where}: a linear ring must be a list of positions, got {_kind(ring)}")
    points = [_position(p, fail, f"{where} position {i}") for i, p in enumerate(ring)]
    if len(points) < 4:
        raise fail(f"{where}: a linear ring needs at least 4 positions, got {len(points)}")
    if points[0] != points[-1]:
        raise fail(f"{where}: unclosed ring (first position {points[0]} != last {points[-1]})")
    return points


def _position(position: object, fail: _Fail, where: str) -> tuple[float, float]:
    if not isinstance(position, list) or len(position) not in (2, 3):
        raise fail(f"{where}: a position must be [lon, lat] or [lon, lat, z]")
    values: list[float] = []
    for v in position:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise fail(f"{where}: coordinates must be numbers, got {_kind(v)}")
        try:
            values.append(float(v))
        except OverflowError:
            values.append(math.inf)
    lon, lat = values[0], values[1]
    if not all(math.isfinite(v) for v in values):
        raise fail(f"{where}: non-finite coordinate {_short(str(values))}")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise fail(
            f"{where}: coordinate ({lon}, {lat}) outside lon [-180, 180] / lat [-90, 90]; "
            "sites must be WGS84 longitude/latitude"
        )
    return (lon, lat)


def _check_valid(shape: Polygon | MultiPolygon, fail: _Fail) -> None:
    if not shape.is_valid:
        raise fail(f"invalid polygon: {shapely.is_valid_reason(shape)}")
    if shape.area <= 0.0:
        raise fail("polygon has zero area")


def _check_area(shape: Polygon | MultiPolygon, max_area_ha: float, fail: _Fail) -> None:
    area_ha = _geodesic_area_m2(shape) / 10_000.0
    if not area_ha > 0.0:
        raise fail("polygon has zero area")
    if area_ha > max_area_ha:
        raise fail(
            f"area {area_ha:,.1f} ha exceeds the cap of {max_area_ha:,.1f} ha "
            "(configurable: max_area_ha)"
        )


def _geodesic_area_m2(shape: Polygon | MultiPolygon) -> float:
    """Geodesic area in m²: |exterior| minus |holes| for each part, orientation-proof."""
    parts: Iterable[Polygon] = shape.geoms if isinstance(shape, MultiPolygon) else [shape]
    total = 0.0
    for part in parts:
        area, _ = _GEOD.geometry_area_perimeter(orient(part, sign=1.0))
        total += abs(area)
    return total


# --- messages --------------------------------------------------------------------------


def _feature_label(index: int, site_id: str | None) -> str:
    return f"feature {index} (id {site_id!r})" if site_id else f"feature {index}"


def _short(value: str, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _kind(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    for typ, label in names.items():
        if isinstance(value, typ):
            return label
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__
