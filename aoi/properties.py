"""Site properties from formats that cannot spell them: shapefile field names and KML placemarks.

**Shapefile** field names are cut to 10 characters. These short names are read as the full
property when the full name is absent (:data:`SHAPEFILE_NAMES`): ``baseline_s`` ->
``baseline_start``, ``baseline_e`` -> ``baseline_end``, ``calibratio`` -> ``calibration``,
``reference_`` -> ``reference_site``, ``partner_em`` -> ``partner_email``. Other long names
stay cut (``seedlings_planned`` is read as ``seedlings_``), and a shapefile text field holds at
most 254 characters: long notes need a GeoPackage.

In every format but GeoJSON, the names above and the site properties are also read in any
case (``ID``, ``HABITAT``, ``BASELINE_S``: ArcGIS writes upper case).

**KML** (Google Earth) placemarks carry a name, a description and optionally ExtendedData.
Each property is taken from, in order:

1. an ExtendedData field of that name (``<Data name="habitat"><value>mangrove</value></Data>``,
   or ``SimpleData`` under ``SchemaData``, as QGIS writes);
2. a ``key: value`` (or ``key = value``) line of the description, for the keys of
   :data:`KML_KEYS`, e.g. typed in Google Earth's description box::

       id: mida-creek
       habitat: mangrove
       baseline_start: 2023-01-01
       baseline_end: 2023-12-31

3. for ``name`` only, the placemark's name; for ``notes`` only, the description's other lines.

KML's own fields (visibility, style, timestamps...) are not site properties and are dropped,
as are empty values. ExtendedData values are text in KML: numbers arrive as strings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aoi.errors import SitesError
from aoi.ogr import read_layers

__all__ = [
    "KML_KEYS",
    "REQUIRED",
    "SHAPEFILE_NAMES",
    "description_lines",
    "kml_properties",
    "missing_hint",
    "shapefile_properties",
    "site_layers",
]

REQUIRED: tuple[str, ...] = ("id", "name", "habitat", "baseline_start", "baseline_end")
"""Properties every site needs (``aoi.sites`` validates their values)."""
SHAPEFILE_NAMES: dict[str, str] = {
    "baseline_s": "baseline_start",
    "baseline_e": "baseline_end",
    "calibratio": "calibration",
    "reference_": "reference_site",
    "partner_em": "partner_email",
}
"""Shapefile field names (10 characters at most) read as the full property names."""
KML_KEYS: tuple[str, ...] = (
    *REQUIRED,
    "partner",
    "country",
    "notes",
    "species",
    "calibration",
    "reference_site",
    "role",
    "partner_email",
)
"""Keys read from ``key: value`` lines of a KML description."""

_KML_OWN_FIELDS = frozenset(
    {
        "__kml_placemark_id",
        "name",
        "description",
        "timestamp",
        "begin",
        "end",
        "altitudemode",
        "tessellate",
        "extrude",
        "visibility",
        "draworder",
        "icon",
        "snippet",
    }
)
_LINE_BREAK = re.compile(r"<br\s*/?>|</p\s*>|</div\s*>|</li\s*>|\r?\n", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_KEY_LINE = re.compile(r"([A-Za-z_]+)\s*[:=]\s*(.*)")


def site_layers(path: Path, kind: str, notes: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The layers of a GeoPackage, shapefile, zip, KML or KMZ file as ``(source, GeoJSON
    FeatureCollection)`` pairs for ``aoi.sites.parse_sites``; ``source`` names the file, and
    the layer when there are several. Shapefile and KML properties are mapped to site
    properties (see the module docstring), and a feature missing a required one is refused
    here with how to add it in that format. KML placemarks that are not polygons (pins,
    paths) are skipped, noted in ``notes``; so is a layer without CRS, read as WGS84."""
    layers = [layer for layer in read_layers(path, kind, SitesError) if layer.features]
    kml = kind in ("KML", "KMZ")
    out: list[tuple[str, dict[str, Any]]] = []
    skipped = 0
    for layer in layers:
        source = f"{path} layer {layer.name!r}" if len(layers) > 1 else str(path)
        features = []
        for feature in layer.features:
            props = _known_names_lowercase(feature["properties"])
            if kml:
                gtype = (feature["geometry"] or {}).get("type")
                if gtype not in ("Polygon", "MultiPolygon"):
                    skipped += 1
                    continue
                props = kml_properties(props)
            elif kind in ("shapefile", "zipped shapefile"):
                props = shapefile_properties(props)
            hint = missing_hint(props, kind) if kml or "shapefile" in kind else None
            if hint:
                label = f" (placemark {props.get('name')!r})" if kml else (
                    f" (id {props['id']!r})" if props.get("id") else ""
                )
                raise SitesError(f"{source}: feature {len(features)}{label}: {hint}")
            features.append({**feature, "properties": props})
        if features:
            out.append((source, {"type": "FeatureCollection", "features": features}))
            if layer.crs is None:
                notes.append(f"{source}: no CRS (no .prj file?); read as WGS84 longitude/latitude")
    if skipped:
        notes.append(
            f"{path}: skipped {skipped} placemark(s) that are not polygons (pins, paths); "
            "only polygons are sites"
        )
    if not out:
        what = "polygon placemarks (draw the site as a polygon)" if kml else "features"
        raise SitesError(f"{path}: no {what}; a sites file needs at least one site")
    return out


def _known_names_lowercase(props: Mapping[str, Any]) -> dict[str, Any]:
    """``ID``, ``Habitat``... (ArcGIS writes upper-case field names) read as the lower-case
    property, for the names of :data:`KML_KEYS` and :data:`SHAPEFILE_NAMES`, unless the
    lower-case name is there too."""
    known = set(KML_KEYS) | set(SHAPEFILE_NAMES)
    out: dict[str, Any] = {}
    for key, value in props.items():
        lower = key.lower()
        out[lower if lower in known and lower not in props else key] = value
    return out


def shapefile_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """Properties of a shapefile feature with the short names of :data:`SHAPEFILE_NAMES`
    read as full names (unless the full name is there too)."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        full = SHAPEFILE_NAMES.get(key.lower())
        out[full if full and full not in props else key] = value
    return out


def kml_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """Site properties of a KML placemark as read by GDAL (LIBKML or KML driver)."""
    lower = {key.lower(): key for key in props}
    name = props.get(lower.get("name", ""))
    description = props.get(lower.get("description", ""))
    lines, free = description_lines(description if isinstance(description, str) else "")
    out: dict[str, Any] = {
        key: value
        for key, value in props.items()
        if key.lower() not in _KML_OWN_FIELDS and value not in (None, "")
    }
    for key, value in lines.items():
        out.setdefault(key, value)
    if isinstance(name, str) and name.strip():
        out.setdefault("name", name.strip())
    if free:
        out.setdefault("notes", " ".join(free))
    return out


def missing_hint(props: Mapping[str, Any], kind: str) -> str | None:
    """For a KML or shapefile feature missing required properties: what is missing and how to
    add it in that format, in one line; ``None`` when nothing required is missing."""
    missing = [key for key in REQUIRED if props.get(key) in (None, "")]
    if not missing:
        return None
    names = ", ".join(repr(key) for key in missing)
    if kind in ("KML", "KMZ"):
        example = "; ".join(f"{key}: {_EXAMPLES[key]}" for key in missing)
        return (
            f"missing {names}: add one line per property to the placemark's description "
            f"({example}), or ExtendedData fields of these names"
        )
    short = {full: cut for cut, full in SHAPEFILE_NAMES.items()}
    fields = ", ".join(repr(short.get(key, key)) for key in missing)
    return f"missing {names}: add the shapefile field(s) {fields} (names are cut to 10 characters)"


_EXAMPLES = {
    "id": "my-site-id",
    "name": "Site name",
    "habitat": "mangrove or seagrass",
    "baseline_start": "2023-01-01",
    "baseline_end": "2023-12-31",
}


def description_lines(
    description: str, keys: tuple[str, ...] = KML_KEYS
) -> tuple[dict[str, str], list[str]]:
    """``key: value`` (or ``key = value``) lines of a KML description for ``keys`` (first one
    wins, keys in any case), and its other non-empty lines; HTML line breaks and tags are
    understood, entities decoded."""
    found: dict[str, str] = {}
    free: list[str] = []
    for chunk in _LINE_BREAK.split(description):
        text = html.unescape(_TAG.sub(" ", chunk)).strip()
        if not text:
            continue
        match = _KEY_LINE.fullmatch(text)
        key = match.group(1).lower() if match else ""
        if match and key in keys and key not in found:
            found[key] = match.group(2).strip()
        else:
            free.append(text)
    return found, free
