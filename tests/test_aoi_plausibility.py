"""Plausibility warnings: mangroves out of their latitudes, Posidonia oceanica outside the
Mediterranean, sites over open ocean or far inland, and swapped coordinates."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Geod
from seeding import drawn
from vector_files import write_geojson

from aoi import Site, load_sites, parse_sites, plausibility
from aoi.land import _land, in_mediterranean, shore

GEOD = Geod(ellps="WGS84")


def square(lon: float, lat: float, half: float = 0.005) -> shapely.Polygon:
    return shapely.box(lon - half, lat - half, lon + half, lat + half)


def site_at(lon: float, lat: float, habitat: str = "mangrove", **props: Any) -> Site:
    properties = {"id": "s", "name": "A site", "habitat": habitat,
                  "baseline_start": "2023-01-01", "baseline_end": "2023-12-31", **props}
    geometry = shapely.geometry.mapping(square(lon, lat))
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": properties,
         "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in geometry["coordinates"][0]]]}}]}
    return parse_sites(doc)[0]


def test_bundled_sites_give_no_warnings() -> None:
    warnings: list[str] = []
    sites = load_sites(warnings=warnings)
    assert len(sites) >= 5 and warnings == []


def test_swapped_brazilian_mangrove_warns_and_suggests_the_swap() -> None:
    """The issue's example: a mangrove of Braganca, Para (0.95 S, 46.75 W) with latitude and
    longitude swapped lands at 46.75 S in the South Atlantic."""
    assert plausibility(site_at(-46.75, -0.95)) == []
    (message,) = plausibility(site_at(-0.95, -46.75))
    assert "mangroves grow only between about 39 S and 32.5 N" in message
    assert "open ocean, about" in message
    assert "did you swap latitude and longitude? Swapped, it would lie at 0.95 S, 46.75 W" in message
    assert message.splitlines() == [message]


def test_warnings_name_the_file_and_feature(tmp_path: Path) -> None:
    props = {"id": "braganca", "name": "Braganca", "habitat": "mangrove",
             "baseline_start": "2023-01-01", "baseline_end": "2023-12-31"}
    path = write_geojson(tmp_path / "s.geojson", [(props, square(-0.95, -46.75))])
    warnings: list[str] = []
    load_sites(path, warnings=warnings)
    assert len(warnings) == 1 and warnings[0].startswith(f"{path}: feature 0 (id 'braganca'): ")
    assert load_sites(path)  # a warning, never an error


@pytest.mark.parametrize(
    ("lon", "lat", "texts", "warns"),
    [
        (-81.0, 24.7, {"name": "Posidonia oceanica meadow"}, True),  # Florida Keys
        (-81.0, 24.7, {"species": "P. oceanica"}, True),
        (31.0, 41.3, {"notes": "posidonia OCEANICA restoration"}, True),  # Black Sea
        (-81.0, 24.7, {"species": "Thalassia testudinum"}, False),
        (113.75, -26.0, {"name": "Posidonia australis, Shark Bay"}, False),  # not oceanica
        (2.65, 39.5, {"name": "Posidonia oceanica meadow, Mallorca"}, False),
        (-2.11, 36.74, {"species": "Posidonia oceanica"}, False),  # Cabo de Gata
    ],
)
def test_posidonia_oceanica_only_in_the_mediterranean(
    lon: float, lat: float, texts: dict[str, str], warns: bool
) -> None:
    messages = plausibility(site_at(lon, lat, "seagrass", **texts))
    assert any("grows only in the Mediterranean" in m for m in messages) is warns, messages


def test_site_in_the_middle_of_the_ocean_warns() -> None:
    (message,) = plausibility(site_at(-140.0, 10.0, "seagrass"))  # eastern Pacific
    assert "over open ocean, about" in message and "did you swap" not in message
    km = float(message.split("about ")[1].split(" km")[0].replace(",", ""))
    assert km > 1000


def test_site_far_inland_warns() -> None:
    (message,) = plausibility(site_at(20.0, 0.0))  # central Congo basin
    assert "lies inland, about" in message and "did you swap" not in message
    assert "mangroves grow only" not in message


def test_mangrove_too_far_north_on_a_real_coast() -> None:
    (message,) = plausibility(site_at(-4.08, 52.42))  # Aberystwyth, Wales
    assert "mangroves grow only between" in message
    assert "open ocean" not in message and "inland" not in message
    assert plausibility(site_at(-4.08, 52.42, "seagrass")) == []


@pytest.mark.parametrize(
    ("name", "lon", "lat", "habitat"),
    [
        ("Bermuda, northernmost mangroves", -64.75, 32.33, "mangrove"),
        ("Corner Inlet, southernmost mangroves", 146.35, -38.75, "mangrove"),
        ("Gambia river, 38 km from the mapped coast", -15.0, 13.7, "mangrove"),
        ("Sundarbans interior", 89.2, 22.3, "mangrove"),
        ("Great Bahama Bank", -78.3, 24.2, "seagrass"),
        ("Belize cays", -87.8, 17.0, "seagrass"),
        ("Tarawa atoll", 173.0, 1.4, "mangrove"),
        ("Fiji across the antimeridian", -179.97, -16.85, "mangrove"),
    ],
)
def test_real_places_at_the_limits_do_not_warn(name: str, lon: float, lat: float,
                                               habitat: str) -> None:
    assert plausibility(site_at(lon, lat, habitat)) == [], name


def test_remote_bank_warns_with_the_reason() -> None:
    """Saya de Malha bank (Indian Ocean) has seagrass ~480 km from land: a true exception,
    which the warning names."""
    (message,) = plausibility(site_at(61.0, -10.5, "seagrass"))
    assert "unless it is a remote shallow bank" in message


def test_baseline_before_sentinel2_warns() -> None:
    site = site_at(-46.75, -0.95, baseline_start="2015-01-01", baseline_end="2016-12-31")
    (message,) = plausibility(site)
    assert "before Sentinel-2A's launch (2015-06-23)" in message


@pytest.mark.parametrize(
    ("lon", "lat", "inside"),
    [(14.4, 35.9, True), (34.8, 32.1, True), (28.0, 40.6, True), (12.3, 45.4, True),
     (-5.3, 35.9, True), (-6.28, 36.5, False), (-1.5, 43.5, False), (27.95, 43.2, False),
     (33.8, 27.25, False), (32.55, 29.95, False), (-6.85, 34.0, False)],
)
def test_mediterranean_region(lon: float, lat: float, inside: bool) -> None:
    """Malta, Tel Aviv, Marmara, Venice, Ceuta in; Cadiz, Biscay, Varna (Black Sea), Hurghada
    (Red Sea), Suez, Rabat (Atlantic) out."""
    assert in_mediterranean(square(lon, lat)) is inside


def _brute_force_km(lon: float, lat: float, deg: float = 3.0) -> float:
    """Distance from a point to the layer's coastline: geodesic distances to every vertex of
    the coastlines within ``deg``, densified to 0.002 deg (~220 m)."""
    parts, tree = _land()
    window = shapely.box(lon - deg, lat - deg, lon + deg, lat + deg)
    coast = [shapely.segmentize(shapely.clip_by_rect(parts[i].boundary, *window.bounds), 0.002)
             for i in tree.query(window)]
    xy = np.concatenate([shapely.get_coordinates(c) for c in coast] + [np.empty((0, 2))])
    xy = xy[np.abs(np.abs(xy[:, 0]) - 180.0) > 1e-6]  # antimeridian seams are not coast
    _, _, metres = GEOD.inv(np.full(len(xy), lon), np.full(len(xy), lat), xy[:, 0], xy[:, 1])
    return float(metres.min()) / 1000.0


def test_shore_distance_against_brute_force() -> None:
    """Random points near real coasts (seed printed): the projected distance agrees with a
    brute-force geodesic one within 0.3 km up to the search radius, the far estimate within 5 %."""
    seed = int(os.environ.get("AOI_SHORE_SEED", drawn(0, 2**32, "aoi-shore")))
    print(f"AOI_SHORE_SEED={seed}")
    rng = np.random.default_rng(seed)
    parts, _ = _land()
    big = [p for p in parts if p.area > 1.0 and abs(p.centroid.y) < 60]
    checked = 0
    while checked < 12:
        polygon = big[rng.integers(len(big))]
        coords = shapely.get_coordinates(polygon.exterior)
        x, y = coords[rng.integers(len(coords))] + rng.uniform(-1.2, 1.2, 2)
        if abs(x) > 176 or abs(y) > 62:
            continue
        got = shore(square(x, y, half=1e-5), radius_km=100.0)
        truth = _brute_force_km(x, y)
        if truth > 150:  # the 3 deg brute-force window spans >= 156 km below 62 deg
            continue
        checked += 1
        if got.side == "coast":
            assert truth < 0.3, (seed, x, y)
        elif truth <= 95:
            assert got.distance_km == pytest.approx(truth, abs=0.3), (seed, x, y, got)
        else:
            assert got.distance_km == pytest.approx(truth, rel=0.05), (seed, x, y, got)


@pytest.mark.parametrize(
    ("lon", "lat", "side", "deg"),
    [(-90.0, 25.5, "sea", 6.0), (88.0, 17.0, "sea", 6.0), (134.0, -24.0, "land", 12.0)],
)
def test_far_distances_against_brute_force(lon: float, lat: float, side: str, deg: float) -> None:
    """Beyond the search radius the distance is an estimate: within 5 % of brute force (Gulf
    of Mexico, Bay of Bengal, central Australia; the windows span more than the distance)."""
    got = shore(square(lon, lat, half=1e-5), radius_km=100.0)
    truth = _brute_force_km(lon, lat, deg)
    assert 100 < truth < deg * 111 * np.cos(np.radians(abs(lat) + deg))
    assert got.side == side
    assert got.distance_km == pytest.approx(truth, rel=0.05)
