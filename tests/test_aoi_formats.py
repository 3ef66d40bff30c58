"""Sites from GeoPackage, shapefile (plain and zipped), KML and KMZ, in any CRS: the same site
as from GeoJSON, and every bad file refused in one line with nothing on stderr."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
import shapely.affinity
from shapely.geometry import MultiPolygon, Polygon
from vector_files import (
    kml_text,
    shapefile_parts,
    to_crs,
    write_geojson,
    write_ogr,
    zip_files,
)

from aoi import SitesError, load_sites
from aoi import files as aoi_files

# Selangor coast, a polygon with a hole (~130 ha); counter-clockwise outside as RFC 7946 asks
OUTER = [(101.2400, 3.3200), (101.2510, 3.3205), (101.2520, 3.3310), (101.2405, 3.3300)]
HOLE = [(101.2440, 3.3240), (101.2440, 3.3260), (101.2460, 3.3260), (101.2460, 3.3240)]
POLYGON = Polygon(OUTER, [HOLE])
PROPS = {
    "id": "selangor-plot-1",
    "name": "Plot 1, Kuala Selangor",
    "habitat": "mangrove",
    "baseline_start": "2023-01-01",
    "baseline_end": "2023-12-31",
    "partner": "Selangor partners",
    "country": "MY",
    "notes": "drawn in QGIS",
    "calibration": "calibration/plot1.gpkg",
}
SHAPEFILE_FIELDS = ("baseline_s", "baseline_e", "calibratio")  # GDAL cuts names to 10 chars


def google_earth_kml(props: dict[str, str], geom=POLYGON) -> str:
    """As a Google Earth user writes it: the properties as description lines."""
    lines = "<br>".join(f"{k}: {v}" for k, v in props.items() if k != "name")
    return kml_text([(props["name"], lines, {}, geom)])


def all_formats(folder: Path, props=PROPS, geom=POLYGON) -> dict[str, Path]:
    """The same site as every format the loader reads."""
    (folder / "shp").mkdir(parents=True)
    shp = write_ogr(folder / "shp" / "plot.shp", [(props, geom)], driver="ESRI Shapefile")
    kml = folder / "plot.kml"
    kml.write_text(google_earth_kml(props, geom))
    kmz = folder / "plot.kmz"
    with zipfile.ZipFile(kmz, "w") as archive:
        archive.writestr("doc.kml", google_earth_kml(props, geom))
    return {
        "geojson": write_geojson(folder / "plot.geojson", [(props, geom)]),
        "gpkg": write_ogr(folder / "plot.gpkg", [(props, geom)], driver="GPKG"),
        "shp": shp,
        "zip": zip_files(folder / "plot.zip", shapefile_parts(shp)),
        "kml": kml,
        "kmz": kmz,
    }


def one_line_refusal(path: Path, capfd: pytest.CaptureFixture[str], **kwargs) -> str:
    """The SitesError message; asserts one line, and nothing (GDAL noise) on stdout/stderr."""
    capfd.readouterr()
    with pytest.raises(SitesError) as info:
        load_sites(path, **kwargs)
    out, err = capfd.readouterr()
    assert (out, err) == ("", ""), (out, err)
    message = str(info.value)
    assert message.splitlines() == [message] and message.strip()
    return message


# --- the same site from every format --------------------------------------------------------


def test_same_site_from_every_format(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    paths = all_formats(tmp_path)
    (reference,) = load_sites(paths["geojson"])
    assert reference.geometry.equals_exact(POLYGON, 0.0)
    for kind, path in paths.items():
        warnings: list[str] = []
        (site,) = load_sites(path, warnings=warnings)
        assert site == reference, kind  # id, name, habitat, dates, partner, country, notes
        assert dict(site.properties) == PROPS, kind  # shapefile short names mapped back
        assert site.geometry.equals_exact(reference.geometry, 1e-9), kind
        assert site.area_ha == pytest.approx(reference.area_ha, rel=1e-12), kind
        assert site.source == path
        assert warnings == [], (kind, warnings)
    assert capfd.readouterr() == ("", "")


def test_shapefile_really_has_short_field_names(tmp_path: Path) -> None:
    from pyogrio import read_info

    paths = all_formats(tmp_path)
    fields = set(read_info(paths["shp"])["fields"])
    assert set(SHAPEFILE_FIELDS) <= fields and "baseline_start" not in fields


def test_multipolygon_and_shapefile_ring_order(tmp_path: Path) -> None:
    other = shapely.affinity.translate(Polygon(OUTER), xoff=0.02)
    multi = MultiPolygon([POLYGON, other])
    paths = all_formats(tmp_path, geom=multi)
    (reference,) = load_sites(paths["geojson"])
    for kind, path in paths.items():
        (site,) = load_sites(path)
        assert isinstance(site.geometry, MultiPolygon), kind
        assert site.geometry.equals_exact(reference.geometry, 1e-9), kind


@pytest.mark.parametrize("crs", ["EPSG:32647", "EPSG:3857", "EPSG:3375"])  # UTM 47N, Web Mercator, GDM2000 Peninsular RSO
def test_projected_input_equals_wgs84(tmp_path: Path, crs: str) -> None:
    """The polygon written in metres of a projected CRS reads back as the WGS84 one: within
    1e-8 deg (~1 mm) at the vertices (pyproj both ways), the same area within 1e-6."""
    projected = to_crs(POLYGON, crs)
    assert max(map(abs, projected.bounds)) > 1000.0  # really metres, not degrees
    (wgs84,) = load_sites(write_geojson(tmp_path / "w.geojson", [(PROPS, POLYGON)]))
    for driver, name in (("GPKG", "p.gpkg"), ("ESRI Shapefile", "p.shp")):
        (site,) = load_sites(write_ogr(tmp_path / name, [(PROPS, projected)], driver=driver, crs=crs))
        assert site.geometry.equals_exact(wgs84.geometry, 1e-8), (crs, driver)
        assert site.area_ha == pytest.approx(wgs84.area_ha, rel=1e-6)


def test_shapefile_without_prj_is_read_as_wgs84_with_a_warning(tmp_path: Path) -> None:
    shp = write_ogr(tmp_path / "noprj.shp", [(PROPS, POLYGON)], driver="ESRI Shapefile", crs=None)
    assert not shp.with_suffix(".prj").exists()
    warnings: list[str] = []
    (site,) = load_sites(shp, warnings=warnings)
    assert site.geometry.equals_exact(POLYGON, 1e-9)
    assert len(warnings) == 1 and "no CRS" in warnings[0] and "WGS84" in warnings[0]


def test_utm_shapefile_without_prj_is_refused_as_not_lonlat(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    shp = write_ogr(tmp_path / "utm.shp", [(PROPS, to_crs(POLYGON, "EPSG:32647"))],
                    driver="ESRI Shapefile", crs=None)
    message = one_line_refusal(shp, capfd)
    assert "outside lon [-180, 180] / lat [-90, 90]" in message and "feature 0" in message


def test_typed_fields_dates_and_numbers(tmp_path: Path) -> None:
    """Date fields (QGIS's Date type) read as ISO dates; integers stay integers."""
    props = {**PROPS, "baseline_start": np.datetime64("2023-01-01"),
             "baseline_end": np.datetime64("2023-12-31"), "seedlings": 12000}
    types = {"baseline_start": "datetime64[D]", "baseline_end": "datetime64[D]",
             "seedlings": np.int64}
    for driver, name in (("GPKG", "d.gpkg"), ("ESRI Shapefile", "d.shp")):
        (site,) = load_sites(write_ogr(tmp_path / name, [(props, POLYGON)], driver=driver,
                                       dtypes=types))
        assert (site.baseline_start, site.baseline_end) == (dt.date(2023, 1, 1),
                                                            dt.date(2023, 12, 31))
        assert site.properties["seedlings"] == 12000 and type(site.properties["seedlings"]) is int


def test_kml_extended_data_wins_over_description(tmp_path: Path) -> None:
    extended = {"id": "ext-id", "habitat": "seagrass"}
    description = "id: desc-id<br>habitat: mangrove<br>baseline_start: 2023-01-01<br>" \
                  "baseline_end: 2023-06-30<br>Drawn on a tablet &amp; checked"
    path = tmp_path / "x.kml"
    path.write_text(kml_text([("Bay <north>", description, extended, POLYGON)]))
    (site,) = load_sites(path)
    assert (site.id, site.habitat, site.baseline_end) == ("ext-id", "seagrass", dt.date(2023, 6, 30))
    assert site.name == "Bay <north>" and site.notes == "Drawn on a tablet & checked"
    assert set(site.properties) == {"id", "name", "habitat", "baseline_start", "baseline_end",
                                    "notes"}  # no KML noise (visibility, tessellate, ids...)


def test_kml_pins_are_skipped_with_a_warning(tmp_path: Path) -> None:
    text = kml_text([
        ("Pin", None, {}, shapely.Point(101.24, 3.32)),
        (PROPS["name"], "<br>".join(f"{k}: {v}" for k, v in PROPS.items()), {}, POLYGON),
    ])
    path = tmp_path / "pins.kml"
    path.write_text(text)
    warnings: list[str] = []
    (site,) = load_sites(path, warnings=warnings)
    assert site.id == PROPS["id"]
    assert len(warnings) == 1 and "skipped 1 placemark" in warnings[0]


def test_geopackage_layers_all_read(tmp_path: Path) -> None:
    path = tmp_path / "two.gpkg"
    write_ogr(path, [(PROPS, POLYGON)], driver="GPKG", layer="restoration")
    other = {**PROPS, "id": "plot-2"}
    write_ogr(path, [(other, shapely.affinity.translate(POLYGON, 0.02))], driver="GPKG",
              layer="reference", append=True)
    assert sorted(s.id for s in load_sites(path)) == ["plot-2", "selangor-plot-1"]


def test_folder_of_mixed_files(tmp_path: Path) -> None:
    def shifted(i: int) -> Polygon:
        return shapely.affinity.translate(POLYGON, xoff=0.02 * i)

    folder = tmp_path / "sites"
    folder.mkdir()
    ids = [f"site-{c}" for c in "abcdef"]
    write_geojson(folder / "a.geojson", [({**PROPS, "id": ids[0]}, shifted(0))])
    write_ogr(folder / "b.gpkg", [({**PROPS, "id": ids[1]}, shifted(1))], driver="GPKG")
    work = tmp_path / "work"
    work.mkdir()
    write_ogr(folder / "c.shp", [({**PROPS, "id": ids[2]}, shifted(2))], driver="ESRI Shapefile")
    shp = write_ogr(work / "d.shp", [({**PROPS, "id": ids[3]}, shifted(3))],
                    driver="ESRI Shapefile")
    zip_files(folder / "d.zip", shapefile_parts(shp))
    (folder / "e.kml").write_text(google_earth_kml({**PROPS, "id": ids[4]}, shifted(4)))
    with zipfile.ZipFile(folder / "f.kmz", "w") as archive:
        archive.writestr("doc.kml", google_earth_kml({**PROPS, "id": ids[5]}, shifted(5)))
    (folder / "readme.txt").write_text("not a site")
    sites = load_sites(folder)
    assert [s.id for s in sites] == ids
    assert [s.source.name for s in sites] == ["a.geojson", "b.gpkg", "c.shp", "d.zip", "e.kml",
                                              "f.kmz"]


def test_duplicate_id_across_formats_in_a_folder(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    write_geojson(tmp_path / "a.geojson", [(PROPS, POLYGON)])
    write_ogr(tmp_path / "b.gpkg", [(PROPS, POLYGON)], driver="GPKG")
    message = one_line_refusal(tmp_path, capfd)
    assert "b.gpkg" in message and "duplicate id" in message and "a.geojson" in message


def test_geopackage_saved_as_geojson_is_read(tmp_path: Path) -> None:
    path = tmp_path / "sites.geojson"
    write_ogr(tmp_path / "real.gpkg", [(PROPS, POLYGON)], driver="GPKG")
    shutil.copy(tmp_path / "real.gpkg", path)
    assert load_sites(path)[0].id == PROPS["id"]


# --- refusals: one line, no GDAL noise ------------------------------------------------------


def _bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Every class of bad input in the new formats, with a phrase its message must contain."""
    good = all_formats(folder / "good")
    cases: dict[str, tuple[Path, str]] = {}

    def case(name: str, path: Path, needle: str) -> None:
        cases[name] = (path, needle)

    (folder / "random.gpkg").write_bytes(np.random.default_rng(7).bytes(4096))
    case("random bytes as GeoPackage", folder / "random.gpkg", "cannot read as GeoPackage")
    (folder / "cut.gpkg").write_bytes(good["gpkg"].read_bytes()[:5000])
    case("truncated GeoPackage", folder / "cut.gpkg", "cannot read as GeoPackage")
    (folder / "zeros.shp").write_bytes(b"\0" * 200)
    for suffix in (".shx", ".dbf"):
        (folder / f"zeros{suffix}").write_bytes(b"\0" * 200)
    case("garbage shapefile", folder / "zeros.shp", "cannot read as shapefile")
    for missing in (".dbf", ".shx"):
        sub = folder / f"no{missing[1:]}"
        sub.mkdir()
        for part in shapefile_parts(good["shp"]):
            if part.suffix != missing:
                shutil.copy(part, sub / part.name)
        case(f"shapefile without {missing}", sub / "plot.shp", f"without its {missing}")
    (folder / "notzip.zip").write_bytes(b"hello, not a zip")
    case("not a zip", folder / "notzip.zip", "not a readable zip file")
    with zipfile.ZipFile(folder / "nothing.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    case("zip without a shapefile", folder / "nothing.zip", "zip holds no .shp")
    (folder / "broken.kml").write_text("<kml><Document><Placemark>")
    case("malformed KML", folder / "broken.kml", "cannot read as KML")
    unclosed = kml_text([("Bay", "id: bay", {}, POLYGON)]).replace(
        "101.24,3.32,0</coordinates>", "101.2401,3.32,0</coordinates>")
    (folder / "unclosed.kml").write_text(unclosed)
    case("KML polygon with an unclosed ring", folder / "unclosed.kml",
         "feature 0: invalid geometry: Points of LinearRing do not form a closed linestring")
    (folder / "pins.kml").write_text(kml_text([("Pin", None, {}, shapely.Point(101.2, 3.3))]))
    case("KML with only a pin", folder / "pins.kml", "no polygon placemarks")
    (folder / "noid.kml").write_text(kml_text([("Bay", "habitat: mangrove", {}, POLYGON)]))
    case("KML without id and dates", folder / "noid.kml",
         "missing 'id', 'baseline_start', 'baseline_end': add one line per property")
    bare = {k: v for k, v in PROPS.items() if not k.startswith("baseline")}
    case("shapefile without dates",
         write_ogr(folder / "nodates.shp", [(bare, POLYGON)], driver="ESRI Shapefile"),
         "add the shapefile field(s) 'baseline_s', 'baseline_e'")
    case("GeoPackage of points",
         write_ogr(folder / "points.gpkg", [(PROPS, shapely.Point(101.2, 3.3))], driver="GPKG"),
         "geometry type 'Point' is not supported")
    bowtie = Polygon([(101.24, 3.32), (101.25, 3.33), (101.25, 3.32), (101.24, 3.33)])
    case("self-intersecting polygon in a shapefile",
         write_ogr(folder / "bowtie.shp", [(PROPS, bowtie)], driver="ESRI Shapefile"),
         "invalid polygon")
    case("unknown habitat in a GeoPackage",
         write_ogr(folder / "coral.gpkg", [({**PROPS, "habitat": "coral"}, POLYGON)],
                   driver="GPKG"), "unknown habitat 'coral'")
    huge = folder / "huge.gpkg"
    with huge.open("wb") as fh:  # sparse: 300 MB never read
        fh.truncate(300 * 2**20)
    case("huge file", huge, "files over 256 MB are refused")
    fifo = folder / "pipe.gpkg"
    os.mkfifo(fifo)
    case("FIFO", fifo, "not a regular file")
    sub = folder / "fifo-dbf"
    sub.mkdir()
    for part in shapefile_parts(good["shp"]):
        if part.suffix != ".dbf":
            shutil.copy(part, sub / part.name)
    os.mkfifo(sub / "plot.dbf")
    case("shapefile whose .dbf is a FIFO", sub / "plot.shp", "plot.dbf: it is not a regular file")
    return cases


def test_every_bad_file_is_refused_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    for name, (path, needle) in _bad_files(tmp_path).items():
        message = one_line_refusal(path, capfd)
        assert needle in message, (name, message)
        assert str(path.parent) in message, (name, message)  # names the file (or its sidecar)
        assert "Traceback" not in message and "SHAPE_RESTORE_SHX" not in message


def test_zip_that_unpacks_too_large_is_refused(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zip small on disk that would unpack past the cap (a zip bomb) is refused unread."""
    shp = write_ogr(tmp_path / "plot.shp", [(PROPS, POLYGON)], driver="ESRI Shapefile")
    archive = zip_files(tmp_path / "plot.zip", shapefile_parts(shp))
    with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("padding.bin", b"\0" * 200_000)  # deflates to a few hundred bytes
    assert archive.stat().st_size < 50_000
    monkeypatch.setattr(aoi_files, "MAX_FILE_BYTES", 50_000)
    message = one_line_refusal(archive, capfd)
    assert "zip unpacks to" in message and "refused" in message


def test_folder_without_site_files(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("x")
    message = one_line_refusal(tmp_path, capfd)
    assert "no *.geojson files" in message and "*.gpkg" in message and "*.kml" in message


def test_kmz_renamed_zip_is_read_as_kml(tmp_path: Path) -> None:
    path = tmp_path / "from-google-earth.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("doc.kml", google_earth_kml(PROPS))
    (site,) = load_sites(path)
    assert site.id == PROPS["id"] and "tessellate" not in site.properties


def test_upper_case_field_names_as_arcgis_writes_them(tmp_path: Path) -> None:
    upper = {key.upper(): value for key, value in PROPS.items()}
    shp = write_ogr(tmp_path / "arc.shp", [(upper, POLYGON)], driver="ESRI Shapefile")
    (site,) = load_sites(shp)
    assert dict(site.properties) == PROPS  # BASELINE_S -> baseline_start, ID -> id, ...
