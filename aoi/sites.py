"""Sites: the Site model, and the loader that validates sites files before any work starts.

A sites file holds one Polygon or MultiPolygon feature a site (see ``design.md``, "Sites
(aoi/)"): a GeoJSON FeatureCollection in WGS84 lon/lat, or a GeoPackage, shapefile (plain or
zipped), KML or KMZ in any CRS, read by ``aoi.ogr`` and validated here the same way. Loading
is all or nothing: the first problem found raises :class:`SitesError` with one line naming
the file, the feature (index, and id when known) and the problem; no partial list is ever
returned. Every check lives in its own ``_check_*`` / ``_parse_*`` function.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from shapely.geometry import MultiPolygon, Polygon

from aoi import files
from aoi.antimeridian import real_centroid_lonlat
from aoi.errors import SitesError
from aoi.geojson import decode, geodesic_area_m2, parse_geometry
from aoi.geojson import kind as _kind
from aoi.geojson import short as _short
from aoi.plausibility import SENTINEL2_FIRST_DAY, plausibility

__all__ = [
    "DEFAULT_MAX_AREA_HA",
    "HABITATS",
    "SITE_ID_PATTERN",
    "SENTINEL2_FIRST_DAY",
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
    """All properties of the feature as read (read-only), e.g. ``reference_site``; for
    shapefiles and KML after the mapping of ``aoi.properties``."""
    source: Path | None = field(default=None, compare=False, hash=False, repr=False)
    """The file the site was read from (``load_sites``); ``None`` from :func:`parse_sites`.
    Relative paths in properties (``calibration``) are relative to its folder."""

    def __post_init__(self) -> None:
        if not isinstance(self.properties, MappingProxyType):
            frozen = MappingProxyType(copy.deepcopy(dict(self.properties)))
            object.__setattr__(self, "properties", frozen)

    @property
    def area_ha(self) -> float:
        """Geodesic area on the WGS84 ellipsoid, in hectares."""
        return geodesic_area_m2(self.geometry) / 10_000.0

    @property
    def centroid_lonlat(self) -> tuple[float, float]:
        """Planar centroid of the lon/lat polygon (fine at site scale), as ``(lon, lat)``;
        for a site split at the antimeridian, the centroid where it is
        (:func:`aoi.antimeridian.real_centroid_lonlat`), not near longitude 0."""
        return real_centroid_lonlat(self.geometry)


def bundled_sites_path() -> Path:
    """The directory of site files shipped with the package (``aoi/sites/``)."""
    return Path(__file__).resolve().parent / "sites"


def load_sites(
    path: str | Path | None = None,
    *,
    max_area_ha: float = DEFAULT_MAX_AREA_HA,
    warnings: list[str] | None = None,
    today: dt.date | None = None,
) -> list[Site]:
    """Load and validate sites from a sites file or a folder of them.

    Parameters
    ----------
    path
        A GeoJSON (WGS84), GeoPackage, shapefile (``.shp`` with its sidecars, or a ``.zip``),
        KML or KMZ file in any CRS; or a folder whose files of these kinds
        (``aoi.files.FOLDER_SUFFIXES``) are read in sorted order. ``None`` reads the bundled
        sites (:func:`bundled_sites_path`).
    max_area_ha
        Refuse any site larger than this many hectares (geodesic area).
    warnings
        When given, one-line warnings are appended to it, each starting with the file and
        the feature: the plausibility of every site (``aoi.plausibility``: a habitat unlikely
        where the site lies, swapped coordinates) and what the reader did (placemarks that
        are not polygons skipped, a layer without CRS taken as WGS84). Not computed otherwise.
    today
        The date a baseline may not end after (default: the machine's local date).

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
    notes: list[str] = []
    options: dict[str, Any] = {"max_area_ha": max_area_ha, "today": today}
    for file in files.vector_files(root, SitesError):
        files.check_file(file, SitesError)
        kind = files.kind_of(file, SitesError)
        if kind == "GeoJSON":
            data = files.read_bytes(file, SitesError)
            chunks = [(str(file), parse_sites(data, source=str(file), **options))]
        else:
            from aoi.properties import site_layers

            chunks = [
                (source, parse_sites(doc, source=source, **options))
                for source, doc in site_layers(file, kind, notes)
            ]
        for source, chunk in chunks:
            for index, site in enumerate(chunk):
                if site.id in seen:
                    raise SitesError(
                        f"{source}: {_feature_label(index, site.id)}: duplicate id, "
                        f"already used in {seen[site.id]}"
                    )
                seen[site.id] = source
                chunk[index] = dataclasses.replace(site, source=file)
                if warnings is not None:
                    notes.extend(_plausibility(site, f"{source}: {_feature_label(index, site.id)}"))
            sites.extend(chunk)
    if warnings is not None:
        warnings.extend(notes)
    return sites


def parse_sites(
    data: SitesInput,
    *,
    source: str = "<sites>",
    max_area_ha: float = DEFAULT_MAX_AREA_HA,
    today: dt.date | None = None,
) -> list[Site]:
    """Validate a GeoJSON FeatureCollection given as bytes, JSON text or a parsed mapping.

    ``source`` names the input in error messages (a file path, usually); ``today`` is the
    date a baseline may not end after (default: the machine's local date).
    Raises :class:`SitesError` on the first problem; see :func:`load_sites`.
    """
    cap = _check_max_area(max_area_ha)
    day = dt.date.today() if today is None else today
    collection = decode(data, source, SitesError)
    features = _features(collection, source)
    sites: list[Site] = []
    seen: set[str] = set()
    for index, feature in enumerate(features):
        site = _parse_feature(feature, index, source, cap, day)
        if site.id in seen:
            raise SitesError(f"{source}: {_feature_label(index, site.id)}: duplicate id")
        seen.add(site.id)
        sites.append(site)
    return sites


def _plausibility(site: Site, where: str) -> list[str]:

    return [f"{where}: {message}" for message in plausibility(site)]


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
            "supported; GeoJSON sites must be in WGS84 longitude/latitude (CRS84); a GeoPackage "
            "or shapefile may be in any CRS"
        )


# --- feature level ---------------------------------------------------------------------


def _parse_feature(
    feature: object, index: int, source: str, max_area_ha: float, today: dt.date
) -> Site:
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
    _check_baseline_possible(end, today, fail)
    optional = {key: _parse_optional_text(props.get(key), key, fail) for key in _OPTIONAL_TEXT}
    geometry = parse_geometry(feature.get("geometry"), fail)
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


def _check_baseline_possible(end: dt.date, today: dt.date, fail: _Fail) -> None:
    """A baseline still running would change under the months already compared with it (and
    a future year is usually a typo); one that ended before Sentinel-2 has no scenes."""
    if end > today:
        raise fail(
            f"baseline_end {end} is in the future (today is {today}): the baseline must be "
            "over before months can be compared with it"
        )
    if end < SENTINEL2_FIRST_DAY:
        raise fail(
            f"baseline_end {end} is before Sentinel-2A's launch ({SENTINEL2_FIRST_DAY}): "
            "the baseline would have no scenes"
        )


def _parse_optional_text(value: object, key: str, fail: _Fail) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise fail(f"'{key}' must be a string or null, got {_kind(value)}")


# --- geometry --------------------------------------------------------------------------


def _check_area(shape: Polygon | MultiPolygon, max_area_ha: float, fail: _Fail) -> None:
    area_ha = geodesic_area_m2(shape) / 10_000.0
    if not area_ha > 0.0:
        raise fail("polygon has zero area")
    if area_ha > max_area_ha:
        raise fail(
            f"area {area_ha:,.1f} ha exceeds the cap of {max_area_ha:,.1f} ha "
            "(configurable: max_area_ha)"
        )


# --- messages --------------------------------------------------------------------------


def _feature_label(index: int, site_id: str | None) -> str:
    return f"feature {index} (id {site_id!r})" if site_id else f"feature {index}"
