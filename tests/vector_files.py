"""Writers for the vector files of the aoi tests: the same features as GeoJSON, GeoPackage,
shapefile (plain and zipped), KML and KMZ, written in the test (no network, no fixtures).

GeoPackage and shapefile go through pyogrio (GDAL), as QGIS would write them; KML is written
as Google Earth writes it (Document, Folder, Placemark, name, description, ExtendedData).
"""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyogrio import raw
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

Feature = tuple[dict[str, Any], BaseGeometry]


def write_geojson(path: Path, features: Sequence[Feature]) -> Path:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": props, "geometry": json.loads(shapely.to_geojson(g))}
            for props, g in features
        ],
    }
    path.write_text(json.dumps(doc))
    return path


def write_ogr(
    path: Path,
    features: Sequence[Feature],
    *,
    driver: str,
    crs: str | None = "EPSG:4326",
    layer: str | None = None,
    append: bool = False,
    dtypes: dict[str, Any] | None = None,
) -> Path:
    """Write with GDAL (``driver`` "GPKG" or "ESRI Shapefile"); geometries in ``crs`` units.

    Fields are the union of the features' property names; a missing value is null. Values of
    a field are stored as strings unless ``dtypes`` names a numpy dtype for it.
    """
    keys: list[str] = []
    for props, _ in features:
        keys += [k for k in props if k not in keys]
    dtypes = dtypes or {}
    columns = []
    for key in keys:
        values = [props.get(key) for props, _ in features]
        columns.append(np.array(values, dtype=dtypes.get(key, object)))
    geoms = np.array([shapely.to_wkb(g) for _, g in features], dtype=object)
    kinds = {g.geom_type for _, g in features}
    gtype = kinds.pop() if len(kinds) == 1 else "Unknown"
    with warnings.catch_warnings():  # GDAL: "names cut to 10 characters", "no crs"
        warnings.simplefilter("ignore")
        raw.write(
            str(path), geoms, columns, fields=keys, driver=driver, crs=crs,
            geometry_type=gtype, layer=layer, append=append,
        )
    return path


def zip_files(path: Path, members: Sequence[Path]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            archive.write(member, member.name)
    return path


def shapefile_parts(shp: Path) -> list[Path]:
    return sorted(p for p in shp.parent.iterdir() if p.stem == shp.stem and p.suffix != ".zip")


def kml_text(
    placemarks: Sequence[tuple[str, str | None, dict[str, str], BaseGeometry]],
) -> str:
    """A Google Earth style KML: ``(name, description, extended_data, geometry)`` each."""
    body = []
    for name, description, extended, geom in placemarks:
        parts = [f"<Placemark id=\"ID_{len(body):05d}\"><name>{escape(name)}</name>"]
        if description is not None:
            parts.append(f"<description><![CDATA[{description}]]></description>")
        if extended:
            data = "".join(
                f'<Data name="{escape(k)}"><value>{escape(v)}</value></Data>'
                for k, v in extended.items()
            )
            parts.append(f"<ExtendedData>{data}</ExtendedData>")
        parts.append("<styleUrl>#site</styleUrl>" + _kml_geometry(geom) + "</Placemark>")
        body.append("".join(parts))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">'
        "<Document><name>sites.kml</name>"
        '<Style id="site"><PolyStyle><color>7f00ff00</color></PolyStyle></Style>'
        "<Folder><name>My sites</name>" + "\n".join(body) + "</Folder></Document></kml>\n"
    )


def _kml_geometry(geom: BaseGeometry) -> str:
    if geom.geom_type == "Point":
        return f"<Point><coordinates>{_kml_coords(geom.coords)}</coordinates></Point>"
    if geom.geom_type == "MultiPolygon":
        return "<MultiGeometry>" + "".join(_kml_geometry(p) for p in geom.geoms) + "</MultiGeometry>"
    rings = [f"<outerBoundaryIs><LinearRing><coordinates>{_kml_coords(geom.exterior.coords)}"
             "</coordinates></LinearRing></outerBoundaryIs>"]
    rings += [f"<innerBoundaryIs><LinearRing><coordinates>{_kml_coords(r.coords)}"
              "</coordinates></LinearRing></innerBoundaryIs>" for r in geom.interiors]
    return "<Polygon><tessellate>1</tessellate>" + "".join(rings) + "</Polygon>"


def _kml_coords(coords: Any) -> str:
    return " ".join(f"{x!r},{y!r},0" for x, y in coords)


def to_crs(geom: BaseGeometry, crs: str) -> BaseGeometry:
    """``geom`` (WGS84 lon/lat) in another CRS, vertex by vertex."""
    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
