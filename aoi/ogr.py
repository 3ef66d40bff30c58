"""Read GeoPackage, shapefile (plain or zipped), KML and KMZ with pyogrio into GeoJSON-like
features in WGS84 longitude/latitude, whatever the file's CRS.

The features then go through the same validation as a GeoJSON file (``aoi.sites``,
``aoi.calibration``), so every format gets the same one-line messages. Here:

- every layer of the file is read (a GeoPackage's tables, a KML's folders); layers without
  geometry are skipped;
- geometries are reprojected from the layer's CRS to WGS84 lon/lat with pyproj (vertices
  only: edges stay straight lines between the reprojected vertices), flattened to 2D and
  oriented counter-clockwise outside (RFC 7946), so the same polygon gives the same site from
  any format; a layer without a CRS (a shapefile without .prj) is taken as WGS84;
- property values become plain Python values: numbers, strings, booleans, ``None`` for nulls
  (NaN, NaT), dates as ``YYYY-MM-DD`` strings (datetimes at midnight too);
- GDAL's warnings and errors never reach stderr; a file GDAL cannot read raises the caller's
  error class with one line.

Format-specific property names (shapefile's 10-character field names, KML's name and
description) are mapped by ``aoi.properties``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

__all__ = ["Layer", "read_layers"]

_Error = Callable[[str], Exception]
_WGS84 = CRS.from_epsg(4326)
_KML_ID_FIELD = "__kml_placemark_id"
"""LIBKML names the Placemark's XML ``id`` attribute ``id`` by default, colliding with an
ExtendedData ``id``; it is renamed while reading and dropped."""


@dataclass(frozen=True)
class Layer:
    """One layer of a vector file, as GeoJSON-like features in WGS84 lon/lat."""

    name: str
    crs: str | None
    """The layer's CRS as read (``None`` when the file has none), before reprojection."""
    features: list[dict[str, Any]] = field(default_factory=list)
    """``{"type": "Feature", "properties": {...}, "geometry": {...} | None}`` in file order."""


def read_layers(path: Path, kind: str, error: _Error) -> list[Layer]:
    """Every layer with geometry of a GeoPackage, shapefile, zip, KML or KMZ file (or of a
    GeoJSON file, for calibration polygons). pyogrio is imported here, not with aoi: it brings
    pandas (~1 s)."""
    import pyogrio

    try:  # GDAL errors pyogrio does not map to its own classes (private module, may move)
        from pyogrio._err import CPLE_BaseError as unmapped
    except ImportError:  # pragma: no cover
        unmapped = RuntimeError
    # pyogrio's DataSourceError, DataLayerError (CRS, feature, field, geometry) are RuntimeErrors
    gdal_errors = (RuntimeError, OSError, UnicodeDecodeError, unmapped)
    with _quiet_gdal(kind):
        try:
            names = [str(name) for name, gtype in pyogrio.list_layers(path) if gtype is not None]
            layers = [_read_layer(path, name, error) for name in names]
        except gdal_errors as exc:
            raise error(f"{path}: cannot read as {kind}: {_gdal_message(exc, path, kind)}") from None
    return layers


def _read_layer(path: Path, name: str, error: _Error) -> Layer:
    from pyogrio import raw

    meta, _, wkbs, values = raw.read(path, layer=name)
    crs = meta.get("crs")
    to_wgs84 = _transformer(crs, path, name, error)
    fields = [str(f) for f in meta["fields"]]
    features = []
    for i, wkb in enumerate(wkbs):
        props = {key: _plain(column[i]) for key, column in zip(fields, values, strict=True)}
        try:
            geometry = None if wkb is None else _geometry(shapely.from_wkb(wkb), to_wgs84)
        except (shapely.errors.GEOSException, ValueError) as exc:  # e.g. an unclosed ring
            problem = " ".join(str(exc).split()).removeprefix("IllegalArgumentException: ")
            raise error(f"{path}: layer {name!r} feature {i}: invalid geometry: {problem}") from None
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    return Layer(name=name, crs=crs, features=features)


def _transformer(
    crs: str | None, path: Path, layer: str, error: _Error
) -> Callable[[np.ndarray], np.ndarray] | None:
    if crs is None:
        return None
    try:
        source = CRS.from_user_input(crs)
    except CRSError:
        raise error(f"{path}: layer {layer!r}: unknown CRS {crs[:80]!r}") from None
    if source.equals(_WGS84, ignore_axis_order=True):
        return None
    try:
        transformer = Transformer.from_crs(source, _WGS84, always_xy=True)
    except ProjError as exc:
        raise error(f"{path}: layer {layer!r}: cannot reproject {source.name} to WGS84 ({exc})") from None

    def to_wgs84(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(transformer.transform(xy[:, 0], xy[:, 1], errcheck=False))

    return to_wgs84


def _geometry(
    geom: BaseGeometry | None, to_wgs84: Callable[[np.ndarray], np.ndarray] | None
) -> dict[str, Any] | None:
    """A GeoJSON geometry mapping: 2D, in WGS84, polygons counter-clockwise outside; a
    collection of polygons only (KML MultiGeometry) becomes a MultiPolygon."""
    if geom is None or geom.is_empty:
        return None
    geom = shapely.force_2d(geom)
    if to_wgs84 is not None:
        geom = shapely.transform(geom, to_wgs84)
    if geom.geom_type == "GeometryCollection":
        parts = list(geom.geoms)
        if parts and all(p.geom_type == "Polygon" for p in parts):
            geom = shapely.MultiPolygon(parts)
    if geom.geom_type == "Polygon":
        geom = orient(geom, sign=1.0)
    elif geom.geom_type == "MultiPolygon":
        geom = shapely.MultiPolygon([orient(p, sign=1.0) for p in geom.geoms])
    # non-finite coordinates (a failed reprojection) are kept: the validator names them
    return _lists(shapely.geometry.mapping(geom))


def _lists(value: Any) -> Any:
    """GeoJSON as parsed from text: tuples become lists (the validator wants lists)."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """A plain JSON-like Python value from what pyogrio returns for one field."""
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        day = value.astype("datetime64[D]")
        if value == day:
            return str(day)
        return str(value.astype("datetime64[s]"))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _gdal_message(exc: Exception, path: Path, kind: str) -> str:
    """GDAL's message in one short line, without the path, SQL or driver hints."""
    text = " ".join(str(exc).split())
    if "not recognized as" in text or "not recognised as" in text:
        return f"not a valid {kind}"
    if "failed: " in text:  # sqlite3_prepare_v2(SELECT ...) failed: database disk image is...
        text = text.rsplit("failed: ", 1)[1]
    if text.lower().startswith("error parsing kml"):
        text = "bad XML: " + text.split(":", 1)[-1]
    for p in (f"/vsizip/{path}", str(path), path.name):
        text = text.replace(f"'{p}'", "the file").replace(p, "the file")
    text = "; ".join(dict.fromkeys(t.strip(" .;:") for t in text.split("; ")))  # no repeats
    return (text[:117] + "...") if len(text) > 120 else (text or type(exc).__name__)


@contextlib.contextmanager
def _quiet_gdal(kind: str) -> Iterator[None]:
    """pyogrio's warnings silenced; for KML, LIBKML's placemark-id field renamed (GDAL config
    options are process-wide: not for concurrent use from several threads)."""
    import pyogrio

    options = {"LIBKML_ID_FIELD": _KML_ID_FIELD} if kind in ("KML", "KMZ") else {}
    saved = {key: pyogrio.get_gdal_config_option(key) for key in options}
    pyogrio.set_gdal_config_options(options)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        pyogrio.set_gdal_config_options(saved)
