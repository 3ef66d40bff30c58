"""Calibration input of a site: labelled polygons (habitat / not habitat) a partner drew.

**How a site points at it**: the site property ``calibration`` holds a path, relative to the
folder of the sites file (or absolute). :func:`calibration_input` says what it is:

- a raster (``.tif``, ``.tiff``, ``.vrt``, ``.img``, ``.jp2``), e.g. a Global Mangrove Watch
  v3 tile: read by ``flows/`` (aoi/ does no raster work);
- anything else is a vector file of labelled polygons, read by
  :func:`load_calibration_polygons`: GeoJSON, GeoPackage, shapefile (``.shp`` with its
  sidecars, or ``.zip``), KML or KMZ, in any CRS (reprojected to WGS84 lon/lat).

**Labels**: each polygon has a property ``class``: ``habitat`` or ``1`` (also ``true``) for
habitat, ``not_habitat`` or ``0`` (also ``false``, ``not habitat``, ``not-habitat``) for
anything else; text in any case. In KML, ``class`` may be ExtendedData, a ``class: habitat``
line of the description, or else the placemark's name (``habitat`` / ``not_habitat``).

**Checks** (:class:`CalibrationError`, one line naming the file and the feature): a readable
file with at least one polygon; every feature a valid Polygon/MultiPolygon with a known
class; no place labelled both ways (overlap of more than :data:`OVERLAP_TOLERANCE_M2`);
some polygon overlapping the site (else the message says where the polygons are and how far,
which catches a wrong CRS); both classes present, each covering at least
:data:`MIN_CLASS_AREA_HA` of the site. Polygons entirely outside the site are kept and noted.
``flows/`` rasterises the polygons on the site's grid (``aoi.grid``) and checks the pixel
counts it gets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon

from aoi import files
from aoi.errors import CalibrationError
from aoi.geojson import geodesic_area_m2, parse_geometry, short
from aoi.ogr import read_layers
from aoi.properties import description_lines
from aoi.sites import Site

__all__ = [
    "MIN_CLASS_AREA_HA",
    "OVERLAP_TOLERANCE_M2",
    "RASTER_SUFFIXES",
    "CalibrationError",
    "CalibrationInput",
    "CalibrationPolygons",
    "LabelledPolygon",
    "calibration_input",
    "load_calibration_polygons",
]

RASTER_SUFFIXES: tuple[str, ...] = (".tif", ".tiff", ".vrt", ".img", ".jp2")
"""Calibration paths with these suffixes are reference rasters, read by flows/."""
MIN_CLASS_AREA_HA: float = 0.2
"""Least area of each class inside the site: 20 Sentinel-2 pixels of 10 m. A floor against
fitting a threshold to a handful of pixels, not a number from the literature."""
OVERLAP_TOLERANCE_M2: float = 1.0
"""Habitat and not-habitat polygons may overlap by digitising slivers up to this area (1 % of
a 10 m pixel); more is a place labelled both ways."""

_GEOD = Geod(ellps="WGS84")
_HABITAT = frozenset({"habitat", "1", "true"})
_NOT_HABITAT = frozenset({"not_habitat", "not habitat", "not-habitat", "0", "false"})


@dataclass(frozen=True)
class CalibrationInput:
    """Where a site's calibration comes from."""

    kind: str
    """``"polygons"`` (vector file, :func:`load_calibration_polygons`) or ``"raster"``."""
    path: Path


@dataclass(frozen=True)
class LabelledPolygon:
    """One labelled polygon, WGS84 lon/lat."""

    geometry: Polygon | MultiPolygon
    habitat: bool
    """True: the site's habitat grows here; False: it does not."""
    feature: str
    """Where it was read: ``"feature 3"`` or ``"layer 'x' feature 3"``."""


@dataclass(frozen=True)
class CalibrationPolygons:
    """A site's validated calibration polygons."""

    site_id: str
    source: Path
    polygons: tuple[LabelledPolygon, ...]
    notes: tuple[str, ...] = ()
    """One-line notes (polygons entirely outside the site, a layer without CRS)."""

    def geometries(self, habitat: bool) -> list[Polygon | MultiPolygon]:
        """The polygons of one class."""
        return [p.geometry for p in self.polygons if p.habitat is habitat]


def calibration_input(site: Site) -> CalibrationInput | None:
    """The site's ``calibration`` property resolved against its sites file's folder; ``None``
    when the site has none. Whether the file exists is left to the reader."""
    value = site.properties.get("calibration")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CalibrationError(f"site {site.id!r}: 'calibration' must be a path, got {value!r}")
    path = Path(value).expanduser()
    if not path.is_absolute() and site.source is not None:
        path = site.source.parent / path
    kind = "raster" if path.suffix.lower() in RASTER_SUFFIXES else "polygons"
    return CalibrationInput(kind=kind, path=path)


def load_calibration_polygons(path: str | Path, site: Site) -> CalibrationPolygons:
    """Read and validate labelled polygons for ``site`` (see the module docstring)."""
    path = Path(path)
    files.check_file(path, CalibrationError)
    kind = files.kind_of(path, CalibrationError)
    layers = [layer for layer in read_layers(path, kind, CalibrationError) if layer.features]
    notes: list[str] = []
    polygons: list[LabelledPolygon] = []
    for layer in layers:
        prefix = f"layer {layer.name!r} " if len(layers) > 1 else ""
        if layer.crs is None:
            notes.append(f"{path}: {prefix}no CRS (no .prj file?); read as WGS84 lon/lat")
        for index, feature in enumerate(layer.features):
            where = f"{prefix}feature {index}"

            def fail(problem: str, where: str = where) -> CalibrationError:
                return CalibrationError(f"{path}: {where}: {problem}")

            habitat = _label(feature["properties"], kind, fail)
            geometry = parse_geometry(feature["geometry"], fail)
            polygons.append(LabelledPolygon(geometry, habitat, where))
    if not polygons:
        raise CalibrationError(f"{path}: no polygons (calibration needs labelled polygons)")
    _check_no_contradiction(path, polygons)
    inside = _check_overlaps_site(path, polygons, site, notes)
    _check_classes(path, inside, site)
    return CalibrationPolygons(site.id, path, tuple(polygons), tuple(notes))


def _label(props: dict[str, Any], kind: str, fail: Callable[[str], CalibrationError]) -> bool:
    value = props.get("class")
    if value is None and kind in ("KML", "KMZ"):
        lower = {key.lower(): key for key in props}
        description = props.get(lower.get("description", ""))
        found, _ = description_lines(description or "", keys=("class",))
        value = found.get("class", props.get(lower.get("name", "")))
    if value is None:
        raise fail("missing 'class' property (habitat / not_habitat, or 1 / 0)")
    text = str(value).strip().lower() if not isinstance(value, float) else f"{value:g}"
    if text in _HABITAT:
        return True
    if text in _NOT_HABITAT:
        return False
    raise fail(f"class {short(str(value))} is not habitat / not_habitat (or 1 / 0)")


def _check_no_contradiction(path: Path, polygons: list[LabelledPolygon]) -> None:
    others = [p for p in polygons if not p.habitat]
    tree = shapely.STRtree([p.geometry for p in others])
    for polygon in (p for p in polygons if p.habitat):
        for j in tree.query(polygon.geometry, predicate="intersects"):
            area = _polygonal_area_m2(polygon.geometry.intersection(others[j].geometry))
            if area > OVERLAP_TOLERANCE_M2:
                raise CalibrationError(
                    f"{path}: {others[j].feature} (not_habitat) overlaps {polygon.feature} "
                    f"(habitat) by {area:,.0f} m2: a place cannot be both"
                )


def _check_overlaps_site(
    path: Path, polygons: list[LabelledPolygon], site: Site, notes: list[str]
) -> list[LabelledPolygon]:
    inside = [p for p in polygons if p.geometry.intersection(site.geometry).area > 0.0]
    if not inside:
        merged = shapely.union_all([p.geometry for p in polygons])
        (x, y), (sx, sy) = merged.centroid.coords[0], site.geometry.centroid.coords[0]
        _, _, metres = _GEOD.inv(sx, sy, x, y)
        raise CalibrationError(
            f"{path}: none of the {len(polygons)} polygon(s) overlaps site {site.id!r}; they lie "
            f"around lon {x:.4f}, lat {y:.4f}, {metres / 1000:,.1f} km from the site "
            "(another site's polygons, or a wrong CRS?)"
        )
    outside = len(polygons) - len(inside)
    if outside:
        notes.append(f"{path}: {outside} polygon(s) entirely outside site {site.id!r}, not used")
    return inside


def _check_classes(path: Path, inside: list[LabelledPolygon], site: Site) -> None:
    for habitat, name in ((True, "habitat"), (False, "not_habitat")):
        parts = [p.geometry for p in inside if p.habitat is habitat]
        if not parts:
            only = "not_habitat" if habitat else "habitat"
            raise CalibrationError(
                f"{path}: only {only} polygons overlap site {site.id!r}: calibration needs "
                "both habitat and not_habitat polygons"
            )
        covered = shapely.union_all(parts).intersection(site.geometry)
        area_ha = _polygonal_area_m2(covered) / 10_000.0
        if area_ha < MIN_CLASS_AREA_HA:
            raise CalibrationError(
                f"{path}: {name} polygons cover {area_ha:.2f} ha of site {site.id!r}; at least "
                f"{MIN_CLASS_AREA_HA} ha (20 pixels of 10 m) is needed"
            )


def _polygonal_area_m2(geometry: shapely.Geometry) -> float:
    """Geodesic area of the polygons in any geometry (lines and points of a collection: 0)."""
    parts = shapely.get_parts(geometry)
    return sum(geodesic_area_m2(g) for g in parts if g.geom_type == "Polygon")
