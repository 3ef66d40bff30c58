"""Sites: the bundled files load, and every kind of bad input is refused in one line."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon

from aoi import (
    DEFAULT_MAX_AREA_HA,
    HABITATS,
    Site,
    SitesError,
    bundled_sites_path,
    load_sites,
    parse_sites,
)

# A small, valid site ~1.1 km x 1.1 km on the Selangor coast (122.9 ha).
SQUARE = [[101.24, 3.32], [101.25, 3.32], [101.25, 3.33], [101.24, 3.33], [101.24, 3.32]]


def feature(**overrides: Any) -> dict[str, Any]:
    """A valid feature; ``overrides`` replace properties (``geometry=`` the geometry)."""
    props: dict[str, Any] = {
        "id": "test-site",
        "name": "Test site",
        "habitat": "mangrove",
        "baseline_start": "2023-01-01",
        "baseline_end": "2023-12-31",
        "partner": "Test partner",
        "country": "MY",
        "notes": "made up",
    }
    geometry = overrides.pop("geometry", {"type": "Polygon", "coordinates": [SQUARE]})
    props.update(overrides)
    return {"type": "Feature", "properties": props, "geometry": geometry}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features) or [feature()]}


def write(tmp_path: Path, doc: Any, name: str = "sites.geojson") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def refused(path_or_data: Any, *, max_area_ha: float = DEFAULT_MAX_AREA_HA) -> str:
    """The SitesError message for a file path or raw data; asserts it is one line."""
    with pytest.raises(SitesError) as info:
        if isinstance(path_or_data, Path):
            load_sites(path_or_data, max_area_ha=max_area_ha)
        else:
            parse_sites(path_or_data, max_area_ha=max_area_ha)
    message = str(info.value)
    assert message.splitlines() == [message], f"not one line: {message!r}"
    assert message.strip()
    return message


# --- the bundled sites -------------------------------------------------------------------


def test_bundled_sites_load_and_validate() -> None:
    sites = load_sites()
    assert [s.id for s in sites] == [s.id for s in load_sites(bundled_sites_path())]
    ids = [s.id for s in sites]
    assert len(ids) == len(set(ids))
    assert {
        "selangor-kuala-selangor",
        "andalusia-cabo-de-gata-genoveses",
        "kenya-mida-creek",
        "mexico-puerto-morelos",
        "brazil-guapimirim",
        "china-futian",
        "turkey-gokova-sedir",
    } <= set(ids)
    # every pilot country of the programme has a bundled site (issue 19)
    assert {"BR", "KE", "TR", "MX", "CN"} <= {s.country for s in sites}
    pilots = [s for s in sites if s.country in {"BR", "KE", "TR", "MX", "CN"}]
    assert all(s.properties.get("protected_area") for s in pilots)
    assert {s.habitat for s in sites} == set(HABITATS)
    for site in sites:
        assert isinstance(site.geometry, Polygon | MultiPolygon)
        assert site.geometry.is_valid
        assert 50 < site.area_ha < 1_000, (site.id, site.area_ha)
        assert site.baseline_start <= site.baseline_end
        assert site.baseline_start.year == 2023
        assert site.notes and "approximate" in site.notes.lower()
        assert site.partner and site.country
        n_vertices = len(site.geometry.exterior.coords) - 1
        assert 5 <= n_vertices <= 20
        assert site.geometry.minimum_rotated_rectangle.area > site.geometry.area * 1.01


@pytest.mark.parametrize(
    ("site_id", "lon_range", "lat_range"),
    [
        ("selangor-kuala-selangor", (101.2, 101.3), (3.3, 3.4)),
        ("andalusia-cabo-de-gata-genoveses", (-2.2, -2.0), (36.7, 36.8)),
        ("kenya-mida-creek", (39.9, 40.05), (-3.4, -3.3)),
        ("mexico-puerto-morelos", (-86.95, -86.8), (20.75, 20.9)),
        ("brazil-guapimirim", (-43.06, -43.0), (-22.74, -22.70)),     # Guanabara Bay, NE shore
        ("china-futian", (113.99, 114.05), (22.50, 22.54)),         # Shenzhen Bay, north shore
        ("turkey-gokova-sedir", (28.20, 28.26), (36.93, 36.97)),     # Gulf of Gokova, Sedir Isl.
    ],
)
def test_bundled_sites_are_where_they_say(site_id, lon_range, lat_range) -> None:
    site = {s.id: s for s in load_sites()}[site_id]
    lon, lat = site.centroid_lonlat
    assert lon_range[0] < lon < lon_range[1]
    assert lat_range[0] < lat < lat_range[1]


def test_site_fields_and_readonly_properties() -> None:
    (site,) = parse_sites(collection(feature(reference_site=True)))
    assert site.id == "test-site" and site.name == "Test site" and site.habitat == "mangrove"
    assert site.baseline_start == dt.date(2023, 1, 1)
    assert site.baseline_end == dt.date(2023, 12, 31)
    assert (site.partner, site.country, site.notes) == ("Test partner", "MY", "made up")
    assert site.properties["reference_site"] is True
    with pytest.raises(TypeError):
        site.properties["id"] = "other"  # type: ignore[index]
    with pytest.raises(AttributeError):
        site.id = "other"  # type: ignore[misc]
    lon, lat = site.centroid_lonlat
    assert lon == pytest.approx(101.245) and lat == pytest.approx(3.325)
    # 0.01 deg x 0.01 deg at 3.3 N on WGS84: 1111.4 m (lon) x 1105.8 m (lat)
    assert site.area_ha == pytest.approx(122.9, rel=0.002)
    assert hash(site) == hash(parse_sites(collection(feature(reference_site=True)))[0])


def test_optional_properties_may_be_absent() -> None:
    doc = collection(feature())
    for key in ("partner", "country", "notes"):
        del doc["features"][0]["properties"][key]
    (site,) = parse_sites(json.dumps(doc))
    assert site.partner is None and site.country is None and site.notes is None


def test_parse_accepts_bytes_text_and_mapping() -> None:
    doc = collection()
    as_text = parse_sites(json.dumps(doc))
    as_bytes = parse_sites(json.dumps(doc).encode())
    as_mapping = parse_sites(doc)
    assert as_text == as_bytes == as_mapping


def test_area_of_polygon_with_hole_is_orientation_proof() -> None:
    hole = [
        [101.243, 3.323],
        [101.247, 3.323],
        [101.247, 3.327],
        [101.243, 3.327],
        [101.243, 3.323],
    ]
    for shell, inner in [(SQUARE, hole), (SQUARE[::-1], hole[::-1]), (SQUARE, hole[::-1])]:
        (site,) = parse_sites(
            collection(feature(geometry={"type": "Polygon", "coordinates": [shell, inner]}))
        )
        assert site.area_ha == pytest.approx(122.9 * (1 - 0.16), rel=0.002)


def test_multipolygon_accepted() -> None:
    other = [[x + 0.02, y] for x, y in SQUARE]
    geom = {"type": "MultiPolygon", "coordinates": [[SQUARE], [other]]}
    (site,) = parse_sites(collection(feature(geometry=geom)))
    assert isinstance(site.geometry, MultiPolygon)
    assert site.area_ha == pytest.approx(2 * 122.9, rel=0.002)


def test_directory_loads_every_geojson_sorted(tmp_path: Path) -> None:
    write(tmp_path, collection(feature(id="b-site")), "b.geojson")
    write(tmp_path, collection(feature(id="a-site")), "a.geojson")
    write(tmp_path, "not json at all", "ignored.txt")
    assert [s.id for s in load_sites(tmp_path)] == ["a-site", "b-site"]


# --- refusals: files and documents -------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    message = refused(tmp_path / "nope.geojson")
    assert "nope.geojson" in message and "no such file" in message


def test_directory_without_geojson(tmp_path: Path) -> None:
    assert "no *.geojson" in refused(tmp_path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, collection())

    def deny(self: Path) -> bytes:  # chmod 000 does not stop root, so fake the OS refusal
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", deny)
    message = refused(path)
    assert str(path) in message and "cannot read file: Permission denied" in message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.geojson"
    path.write_bytes(b"")
    message = refused(path)
    assert "empty.geojson" in message and "empty file" in message


def test_bad_json(tmp_path: Path) -> None:
    path = write(tmp_path, '{"type": "FeatureCollection", "features": [}')
    message = refused(path)
    assert str(path) in message and "bad JSON" in message and "line 1" in message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.geojson"
    path.write_bytes('{"name": "Níjar"}'.encode("latin-1"))
    assert "not UTF-8" in refused(path)


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ([], "not a GeoJSON FeatureCollection"),
        ({"type": "Feature"}, "not a GeoJSON FeatureCollection"),
        ({"type": "FeatureCollection"}, "'features' must be a list"),
        ({"type": "FeatureCollection", "features": []}, "no features"),
        ({"type": "FeatureCollection", "features": [42]}, "feature 0: not a GeoJSON Feature"),
    ],
)
def test_not_a_usable_feature_collection(tmp_path: Path, doc: Any, needle: str) -> None:
    path = write(tmp_path, doc)
    message = refused(path)
    assert needle in message and str(path) in message


def test_non_wgs84_crs_refused() -> None:
    doc = collection()
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32647"}}
    assert "WGS84" in refused(doc)
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    assert parse_sites(doc)


# --- refusals: geometry ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("geometry", "needle"),
    [
        (None, "missing geometry"),
        ({"type": "Point", "coordinates": [101.2, 3.3]}, "geometry type 'Point' is not supported"),
        (
            {"type": "LineString", "coordinates": SQUARE},
            "geometry type 'LineString' is not supported",
        ),
        ({"type": "Polygon", "coordinates": []}, "non-empty list of linear rings"),
        ({"type": "Polygon", "coordinates": [SQUARE[:3]]}, "at least 4 positions"),
        ({"type": "Polygon", "coordinates": [SQUARE[:-1] + [[101.241, 3.32]]]}, "unclosed ring"),
        ({"type": "Polygon", "coordinates": [[[101.24, "3.32"]] + SQUARE[1:]]}, "must be numbers"),
        ({"type": "Polygon", "coordinates": [[[101.24]] + SQUARE[1:]]}, "[lon, lat]"),
        ({"type": "MultiPolygon", "coordinates": []}, "non-empty list of polygons"),
    ],
)
def test_bad_geometry(tmp_path: Path, geometry: Any, needle: str) -> None:
    message = refused(write(tmp_path, collection(feature(geometry=geometry))))
    assert needle in message
    assert "feature 0 (id 'test-site')" in message


def test_self_intersecting_bowtie(tmp_path: Path) -> None:
    bowtie = [[101.24, 3.32], [101.25, 3.33], [101.25, 3.32], [101.24, 3.33], [101.24, 3.32]]
    message = refused(write(tmp_path, collection(feature(geometry=_poly(bowtie)))))
    assert "invalid polygon" in message and "Self-intersection" in message


def test_overlapping_multipolygon_parts_refused() -> None:
    shifted = [[x + 0.005, y] for x, y in SQUARE]
    geom = {"type": "MultiPolygon", "coordinates": [[SQUARE], [shifted]]}
    assert "invalid polygon" in refused(collection(feature(geometry=geom)))


def test_zero_area_polygon_refused() -> None:
    flat = [[101.24, 3.32], [101.25, 3.32], [101.26, 3.32], [101.24, 3.32]]
    message = refused(collection(feature(geometry=_poly(flat))))
    assert "invalid polygon" in message or "zero area" in message


@pytest.mark.parametrize("bad", [[200.0, 3.32], [101.24, 95.0], [-180.5, 0.0], [0.0, -90.01]])
def test_coordinates_out_of_range(tmp_path: Path, bad: list[float]) -> None:
    ring = [bad, *SQUARE[1:-1], bad]
    message = refused(write(tmp_path, collection(feature(geometry=_poly(ring)))))
    assert "outside lon [-180, 180] / lat [-90, 90]" in message


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "1" + "0" * 400])
def test_non_finite_coordinates(tmp_path: Path, literal: str) -> None:
    text = json.dumps(collection()).replace("101.25", literal, 1)
    assert "non-finite" in refused(write(tmp_path, text))


def test_area_above_configurable_cap(tmp_path: Path) -> None:
    path = write(tmp_path, collection())
    message = refused(path, max_area_ha=50.0)
    assert "exceeds the cap of 50.0 ha" in message
    assert "122.9 ha" in message and "configurable" in message and "max_area_ha" in message
    assert load_sites(path, max_area_ha=200.0)


def test_default_cap_refuses_continent_sized_site() -> None:
    huge = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [0.0, 0.0]]
    assert "exceeds the cap" in refused(collection(feature(geometry=_poly(huge))))


@pytest.mark.parametrize("cap", [0, -1.0, float("nan"), "100"])
def test_bad_cap_itself_refused(cap: Any) -> None:
    assert "max_area_ha" in refused(collection(), max_area_ha=cap)


# --- refusals: properties ----------------------------------------------------------------


def test_duplicate_ids_in_one_file(tmp_path: Path) -> None:
    other = feature(geometry=_poly([[x + 0.02, y] for x, y in SQUARE]))
    message = refused(write(tmp_path, collection(feature(), other)))
    assert "feature 1 (id 'test-site')" in message and "duplicate id" in message


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, collection(feature()), "a.geojson")
    b = write(tmp_path, collection(feature()), "b.geojson")
    message = refused(tmp_path)
    assert str(b) in message and "duplicate id" in message and "a.geojson" in message


def test_missing_id(tmp_path: Path) -> None:
    doc = collection()
    del doc["features"][0]["properties"]["id"]
    assert "feature 0: missing 'id'" in refused(write(tmp_path, doc))


@pytest.mark.parametrize(
    "bad_id", ["../etc", "Site A", "a" * 65, "", "A", "a/b", "-lead", "x\n", "é", "a_b"]
)
def test_unsafe_ids(tmp_path: Path, bad_id: str) -> None:
    message = refused(write(tmp_path, collection(feature(id=bad_id))))
    assert "unsafe id" in message


def test_longest_safe_id_accepted() -> None:
    assert parse_sites(collection(feature(id="a" * 64)))[0].id == "a" * 64


def test_unknown_habitat(tmp_path: Path) -> None:
    message = refused(write(tmp_path, collection(feature(habitat="coral"))))
    assert "unknown habitat 'coral'" in message and "mangrove" in message


def test_missing_name_and_habitat() -> None:
    doc = collection()
    del doc["features"][0]["properties"]["name"]
    assert "missing 'name'" in refused(doc)
    assert "'name' is empty" in refused(collection(feature(name="   ")))
    doc = collection()
    del doc["features"][0]["properties"]["habitat"]
    assert "missing 'habitat'" in refused(doc)


def test_reversed_baseline(tmp_path: Path) -> None:
    doc = collection(feature(baseline_start="2023-12-31", baseline_end="2023-01-01"))
    message = refused(write(tmp_path, doc))
    assert "reversed" in message and "2023-01-01" in message and "2023-12-31" in message


def test_baseline_in_the_future_refused(tmp_path: Path) -> None:
    """The issue's example: a baseline in 2027 validated "ok". A baseline still running would
    change under months already compared with it, and a future year is usually a typo."""
    doc = collection(feature(baseline_start="2027-01-01", baseline_end="2027-12-31"))
    message = refused(write(tmp_path, doc))
    assert "baseline_end 2027-12-31 is in the future" in message
    today = dt.date(2024, 6, 30)
    late = collection(feature(baseline_end="2024-07-01"))
    with pytest.raises(SitesError, match=r"in the future \(today is 2024-06-30\)"):
        parse_sites(late, today=today)
    assert parse_sites(collection(feature(baseline_end="2024-06-30")), today=today)
    assert load_sites(write(tmp_path, late, "late.geojson"), today=dt.date(2024, 7, 1))


def test_baseline_before_sentinel2_refused() -> None:
    doc = collection(feature(baseline_start="2014-01-01", baseline_end="2015-06-22"))
    message = refused(doc)
    assert "before Sentinel-2A's launch (2015-06-23)" in message and "no scenes" in message
    assert parse_sites(collection(feature(baseline_start="2014-01-01", baseline_end="2015-06-23")))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("baseline_start", "2023-13-01"),
        ("baseline_start", "yesterday"),
        ("baseline_end", "2023-02-30"),
        ("baseline_end", "20231231"),
        ("baseline_end", "2023-12-31T00:00:00"),
    ],
)
def test_malformed_dates(tmp_path: Path, key: str, value: str) -> None:
    message = refused(write(tmp_path, collection(feature(**{key: value}))))
    assert f"malformed date {key}=" in message


def test_missing_date() -> None:
    doc = collection()
    del doc["features"][0]["properties"]["baseline_end"]
    assert "missing 'baseline_end'" in refused(doc)


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("id", 7, "'id' must be a string, got number"),
        ("id", ["a"], "'id' must be a string, got array"),
        ("name", 3.5, "'name' must be a string"),
        ("habitat", ["mangrove"], "'habitat' must be a string, got array"),
        ("habitat", {"kind": "mangrove"}, "'habitat' must be a string, got object"),
        ("baseline_start", 20230101, "'baseline_start' must be an ISO date string"),
        ("baseline_end", None, "missing 'baseline_end'"),
        ("partner", 1, "'partner' must be a string or null"),
        ("notes", {"a": 1}, "'notes' must be a string or null"),
        ("country", True, "'country' must be a string or null, got boolean"),
    ],
)
def test_wrong_property_types(tmp_path: Path, key: str, value: Any, needle: str) -> None:
    assert needle in refused(write(tmp_path, collection(feature(**{key: value}))))


@pytest.mark.parametrize("props", [None, [], "id=x", 3])
def test_properties_not_an_object(props: Any) -> None:
    doc = collection()
    doc["features"][0]["properties"] = props
    assert "'properties' must be an object" in refused(doc)


def test_nothing_partial_is_returned(tmp_path: Path) -> None:
    good = feature(id="good-site")
    bad = feature(id="bad-site", habitat="coral")
    message = refused(write(tmp_path, collection(good, bad)))
    assert "feature 1 (id 'bad-site')" in message


# --- property test: anything in, sites or SitesError out ---------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["mangrove", "seagrass", "2023-01-01", "Polygon", "Feature", "test-site"])
    | st.sampled_from([10**400, -(10**400), 1e-320, "", "../etc"])
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
_KEYS = [
    "type",
    "features",
    "properties",
    "geometry",
    "coordinates",
    "id",
    "name",
    "habitat",
    "baseline_start",
    "baseline_end",
    "partner",
]


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key/index path inside a nested JSON value."""
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out += _paths(value, (*prefix, index))
    return out


def _first_properties(doc: dict[str, Any]) -> Any:
    features = doc.get("features")
    if isinstance(features, list) and features and isinstance(features[0], dict):
        return features[0].get("properties")
    return None


@st.composite
def _mutated_collections(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(
        collection(
            feature(), feature(id="second", geometry=_poly([[x + 0.02, y] for x, y in SQUARE]))
        )
    )
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(doc)[1:]
        if not paths:  # everything already deleted: nothing left to mutate
            break
        structure = [p for p in paths if "coordinates" not in p[:-1]]  # not single vertices
        path = draw(st.sampled_from(structure if structure and draw(st.booleans()) else paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add", "drop_key"]))
        props = _first_properties(doc)
        if action == "drop_key" and isinstance(props, dict) and props:
            del props[draw(st.sampled_from(sorted(props)))]
        elif action == "replace":
            parent[path[-1]] = draw(_json_values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(_KEYS))] = draw(_json_values)
        else:
            parent.append(draw(_json_values))
    return doc


def _sites_or_sites_error(data: Any) -> None:
    try:
        sites = parse_sites(data)
    except SitesError as exc:
        assert str(exc).splitlines() == [str(exc)]
        return
    assert sites and all(isinstance(site, Site) for site in sites)
    assert all(site.geometry.is_valid and site.area_ha > 0 for site in sites)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_mutated_collections(), _mutated_collections().map(json.dumps)))
def test_mutated_geojson_gives_sites_or_sites_error(data: Any) -> None:
    _sites_or_sites_error(data)


@settings(max_examples=100, deadline=None)
@given(st.one_of(_json_values, st.binary(max_size=64), st.text(max_size=64)))
def test_arbitrary_input_gives_sites_or_sites_error(data: Any) -> None:
    _sites_or_sites_error(data)


def _poly(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}
