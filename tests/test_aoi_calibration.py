"""Calibration polygons: read from every format in any CRS, labelled, validated in one line."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
import shapely.affinity
from shapely.geometry import Polygon
from vector_files import kml_text, shapefile_parts, to_crs, write_geojson, write_ogr, zip_files

from aoi import (
    CalibrationError,
    calibration_input,
    geometry_mask,
    load_calibration_polygons,
    load_sites,
    site_grid,
)

# the site: ~1.1 km square on the Selangor coast; habitat in its west, other land in its east
SITE = shapely.box(101.24, 3.32, 101.25, 3.33)
WEST = shapely.box(101.241, 3.321, 101.244, 3.329)  # ~29 ha
EAST = shapely.box(101.246, 3.321, 101.249, 3.329)
SITE_PROPS = {"id": "plot", "name": "Plot", "habitat": "mangrove",
              "baseline_start": "2023-01-01", "baseline_end": "2023-12-31",
              "calibration": "calibration/labels.gpkg"}


@pytest.fixture
def site(tmp_path: Path):
    (loaded,) = load_sites(write_geojson(tmp_path / "sites.geojson", [(SITE_PROPS, SITE)]))
    return loaded


def refused(path: Path, site, capfd: pytest.CaptureFixture[str]) -> str:
    capfd.readouterr()
    with pytest.raises(CalibrationError) as info:
        load_calibration_polygons(path, site)
    assert capfd.readouterr() == ("", "")
    message = str(info.value)
    assert message.splitlines() == [message] and str(path) in message
    return message


def test_site_points_at_its_calibration(tmp_path: Path, site) -> None:
    found = calibration_input(site)
    assert found is not None and found.kind == "polygons"
    assert found.path == tmp_path / "calibration" / "labels.gpkg"
    raster = {**SITE_PROPS, "id": "r", "calibration": "/data/gmw/GMW_N26W082_2020_v3.tif"}
    (other,) = load_sites(write_geojson(tmp_path / "r.geojson", [(raster, SITE)]))
    assert calibration_input(other).kind == "raster"
    assert calibration_input(other).path == Path("/data/gmw/GMW_N26W082_2020_v3.tif")
    bare = {k: v for k, v in SITE_PROPS.items() if k != "calibration"}
    (none,) = load_sites(write_geojson(tmp_path / "n.geojson", [({**bare, "id": "n"}, SITE)]))
    assert calibration_input(none) is None


def test_shapefile_site_calibration_field_is_mapped(tmp_path: Path) -> None:
    shp = write_ogr(tmp_path / "s.shp", [(SITE_PROPS, SITE)], driver="ESRI Shapefile")
    (site,) = load_sites(shp)
    assert calibration_input(site).path == tmp_path / "calibration" / "labels.gpkg"


@pytest.mark.parametrize(
    ("fmt", "labels"),
    [("gpkg", (1, 0)), ("geojson", ("habitat", "not_habitat")), ("shp", ("1", "0")),
     ("zip", ("Habitat", "NOT HABITAT")), ("kml", ("habitat", "not_habitat")),
     ("kmz", (True, False)), ("utm", (1, 0))],
)
def test_labelled_polygons_from_every_format(tmp_path: Path, site, fmt: str, labels) -> None:
    features = [({"class": labels[0]}, WEST), ({"class": labels[1]}, EAST)]
    if fmt == "gpkg":
        path = write_ogr(tmp_path / "c.gpkg", features, driver="GPKG",
                         dtypes={"class": int})
    elif fmt == "geojson":
        path = write_geojson(tmp_path / "c.geojson", features)
    elif fmt in ("shp", "zip"):
        path = write_ogr(tmp_path / "c.shp", features, driver="ESRI Shapefile")
        if fmt == "zip":
            path = zip_files(tmp_path / "c.zip", shapefile_parts(path))
    elif fmt == "kml":  # as a Google Earth user draws them: the class is the placemark's name
        path = tmp_path / "c.kml"
        path.write_text(kml_text([(str(labels[0]), None, {}, WEST), (str(labels[1]), None, {},
                                                                     EAST)]))
    elif fmt == "kmz":  # class in the description
        path = tmp_path / "c.kmz"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("doc.kml", kml_text([("a", f"class: {labels[0]}", {}, WEST),
                                                  ("b", f"class = {labels[1]}", {}, EAST)]))
    else:
        utm = [(props, to_crs(g, "EPSG:32647")) for props, g in features]
        path = write_ogr(tmp_path / "c.gpkg", utm, driver="GPKG", crs="EPSG:32647")
    result = load_calibration_polygons(path, site)
    assert result.site_id == "plot" and result.source == path
    assert [p.habitat for p in result.polygons] == [True, False]
    tolerance = 1e-8 if fmt == "utm" else 1e-12
    (habitat,) = result.geometries(True)
    (other,) = result.geometries(False)
    assert shapely.normalize(habitat).equals_exact(shapely.normalize(WEST), tolerance)
    assert shapely.normalize(other).equals_exact(shapely.normalize(EAST), tolerance)
    assert result.notes == ()


def test_polygons_outside_the_site_are_noted(tmp_path: Path, site) -> None:
    away = shapely.affinity.translate(EAST, xoff=0.05)
    path = write_geojson(tmp_path / "c.geojson", [({"class": 1}, WEST), ({"class": 0}, EAST),
                                                  ({"class": 0}, away)])
    result = load_calibration_polygons(path, site)
    assert len(result.polygons) == 3
    assert len(result.notes) == 1 and "1 polygon(s) entirely outside site 'plot'" in result.notes[0]


def test_every_bad_calibration_is_refused_in_one_line(
    tmp_path: Path, site, capfd: pytest.CaptureFixture[str]
) -> None:
    def gj(name: str, features) -> Path:
        return write_geojson(tmp_path / name, features)

    bowtie = Polygon([(101.241, 3.321), (101.244, 3.329), (101.244, 3.321), (101.241, 3.329)])
    far = shapely.affinity.translate(WEST, xoff=1.0)
    cases = {
        "one class only": (gj("one.geojson", [({"class": 1}, WEST), ({"class": 1}, EAST)]),
                           "only habitat polygons overlap site 'plot'"),
        "classes overlap": (gj("overlap.geojson", [({"class": 1}, WEST),
                                                   ({"class": 0}, WEST.buffer(-0.001))]),
                            "feature 1 (not_habitat) overlaps feature 0 (habitat)"),
        "no overlap with the site": (
            gj("far.geojson", [({"class": 1}, far),
                               ({"class": 0}, shapely.affinity.translate(EAST, xoff=1.0))]),
            "none of the 2 polygon(s) overlaps site 'plot'"),
        "invalid geometry": (gj("bowtie.geojson", [({"class": 1}, bowtie), ({"class": 0}, EAST)]),
                             "feature 0: invalid polygon: Self-intersection"),
        "missing class": (gj("noclass.geojson", [({"kind": 1}, WEST), ({"class": 0}, EAST)]),
                          "feature 0: missing 'class' property"),
        "unknown class": (gj("maybe.geojson", [({"class": "maybe"}, WEST), ({"class": 0}, EAST)]),
                          "class 'maybe' is not habitat / not_habitat"),
        "too small": (gj("tiny.geojson", [({"class": 1}, WEST),
                                          ({"class": 0}, shapely.box(101.246, 3.321, 101.2463,
                                                                     3.3213))]),
                      "not_habitat polygons cover 0.11 ha"),
        "points": (gj("points.geojson", [({"class": 1}, shapely.Point(101.245, 3.325))]),
                   "geometry type 'Point' is not supported"),
        "not a GeoPackage": (tmp_path / "junk.gpkg", "cannot read as GeoPackage"),
        "empty": (gj("empty.geojson", []), "no polygons"),
        "bad JSON": (tmp_path / "bad.geojson", "cannot read as GeoJSON"),
        "UTM without CRS": (write_ogr(tmp_path / "utm.shp",
                                      [({"class": 1}, to_crs(WEST, "EPSG:32647"))],
                                      driver="ESRI Shapefile", crs=None),
                            "outside lon [-180, 180] / lat [-90, 90]"),
    }
    (tmp_path / "junk.gpkg").write_bytes(b"\0" * 4096)
    (tmp_path / "bad.geojson").write_text('{"type": "FeatureCollection", "features": [}')
    for name, (path, needle) in cases.items():
        message = refused(path, site, capfd)
        assert needle in message, (name, message)


def test_far_polygons_say_where_they_are(tmp_path: Path, site, capfd) -> None:
    """Polygons in the wrong place (e.g. a CRS declared wrong) say where they lie and how far."""
    far = shapely.affinity.translate(WEST, xoff=1.0)
    path = write_geojson(tmp_path / "far.geojson", [({"class": 1}, far)])
    message = refused(path, site, capfd)
    assert "lon 102.2425, lat 3.3250" in message and "km from the site" in message
    km = float(message.split("lat 3.3250, ")[1].split(" km")[0])
    # centroids 0.9975 deg of longitude apart at 3.325 N: 111.32 km x cos(3.325 deg) a degree
    assert km == pytest.approx(0.9975 * 111.32 * math.cos(math.radians(3.325)), abs=0.2)


def test_classes_on_the_site_grid(site) -> None:
    """flows/ rasterises each class on the site's grid: pixel centres inside, the same as
    shapely's predicate at every centre, and about area / 100 m2 pixels."""
    grid = site_grid(site)
    mask = geometry_mask(WEST, grid)
    xs, ys = np.meshgrid(grid.x_coords(), grid.y_coords())
    truth = shapely.contains_xy(to_crs(WEST, f"EPSG:{grid.epsg}"), xs, ys)
    assert mask.shape == (grid.height, grid.width) and (mask == truth).all()
    area_m2 = to_crs(WEST, f"EPSG:{grid.epsg}").area
    assert mask.sum() == pytest.approx(area_m2 / 100.0, rel=0.02)
