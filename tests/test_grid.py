"""Site grids: UTM zone, 60 m snapping, pixel-centre coordinates and the site mask."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from aoi import Site, SiteGrid, load_sites, parse_sites, site_grid, site_mask, to_grid_crs, utm_epsg
from aoi.grid import centres_inside


@pytest.fixture(scope="module")
def sites() -> dict[str, Site]:
    return {site.id: site for site in load_sites()}


def square_site(lon: float, lat: float, size: float = 0.01) -> Site:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "id": "square",
                    "name": "Square",
                    "habitat": "seagrass",
                    "baseline_start": "2023-01-01",
                    "baseline_end": "2023-06-30",
                },
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    return parse_sites(doc)[0]


# --- UTM zone ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site_id", "epsg"),
    [
        ("selangor-kuala-selangor", 32647),
        ("kenya-mida-creek", 32737),
        ("andalusia-cabo-de-gata-genoveses", 32630),
        ("mexico-puerto-morelos", 32616),
        ("brazil-guapimirim", 32723),
        ("china-futian", 32650),
        ("turkey-gokova-sedir", 32635),
    ],
)
def test_bundled_site_zones(sites: dict[str, Site], site_id: str, epsg: int) -> None:
    assert site_grid(sites[site_id]).epsg == epsg


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (101.25, 3.33, 32647),  # Selangor
        (39.97, -3.35, 32737),  # Mida Creek, south
        (-2.11, 36.74, 32630),  # Almería
        (-0.001, 0.0, 32630),  # equator counts as north
        (0.0, -0.001, 32731),
        (-180.0, 10.0, 32601),
        (180.0, 10.0, 32660),  # the antimeridian belongs to zone 60
        (5.3, 60.4, 32632),  # Bergen: Norway exception, 32V not 31V
        (2.0, 60.4, 32631),
        (15.6, 78.2, 32633),  # Longyearbyen: Svalbard exception
        (28.0, -33.0, 32735),
    ],
)
def test_utm_epsg(lon: float, lat: float, epsg: int) -> None:
    assert utm_epsg(lon, lat) == epsg


@pytest.mark.parametrize(("lon", "lat"), [(200.0, 0.0), (0.0, 91.0), (math.nan, 0.0)])
def test_utm_epsg_rejects_non_lonlat(lon: float, lat: float) -> None:
    with pytest.raises(ValueError):
        utm_epsg(lon, lat)


# --- snapping and layout -------------------------------------------------------------------


def test_grid_snapped_outward_to_60m_and_covers_site(sites: dict[str, Site]) -> None:
    for site in sites.values():
        grid = site_grid(site)
        left, bottom, right, top = grid.bounds
        for edge in (left, bottom, right, top):
            assert edge % 60.0 == 0.0, (site.id, edge)
        minx, miny, maxx, maxy = to_grid_crs(site, grid).bounds
        assert left <= minx < left + 60 and right - 60 < maxx <= right
        assert bottom <= miny < bottom + 60 and top - 60 < maxy <= top
        assert grid.width * grid.res == right - left and grid.height * grid.res == top - bottom
        assert 0 < grid.width <= 300 and 0 < grid.height <= 300, (site.id, grid.shape)


@pytest.mark.parametrize("res", [10.0, 20.0, 60.0])
def test_grids_at_s2_resolutions_share_edges(sites: dict[str, Site], res: float) -> None:
    site = sites["selangor-kuala-selangor"]
    assert site_grid(site, res=res).bounds == site_grid(site, res=10.0).bounds


def test_padding_adds_pixels_then_snaps(sites: dict[str, Site]) -> None:
    site = sites["kenya-mida-creek"]
    plain, padded = site_grid(site), site_grid(site, pad_px=7)
    minx, miny, maxx, maxy = to_grid_crs(site, plain).bounds
    left, bottom, right, top = padded.bounds
    assert left % 60 == 0 and bottom % 60 == 0 and right % 60 == 0 and top % 60 == 0
    assert left <= minx - 70 < left + 60 and right - 60 < maxx + 70 <= right
    assert bottom <= miny - 70 < bottom + 60 and top - 60 < maxy + 70 <= top
    assert padded.width > plain.width and padded.height > plain.height


@pytest.mark.parametrize("res", [7.0, 0.0, -10.0, math.inf])
def test_resolution_must_nest_in_60m(sites: dict[str, Site], res: float) -> None:
    with pytest.raises(ValueError):
        site_grid(sites["selangor-kuala-selangor"], res=res)


def test_negative_padding_refused(sites: dict[str, Site]) -> None:
    with pytest.raises(ValueError):
        site_grid(sites["selangor-kuala-selangor"], pad_px=-1)


def test_grid_geometry_consistent() -> None:
    grid = SiteGrid(epsg=32647, left=411_000.0, top=369_060.0, width=4, height=3)
    assert grid.transform == (10.0, 0.0, 411_000.0, 0.0, -10.0, 369_060.0)
    assert grid.bounds == (411_000.0, 369_030.0, 411_040.0, 369_060.0)
    np.testing.assert_array_equal(grid.x_coords(), [411_005.0, 411_015.0, 411_025.0, 411_035.0])
    np.testing.assert_array_equal(grid.y_coords(), [369_055.0, 369_045.0, 369_035.0])
    assert grid.x_coords().dtype == np.float64 and grid.y_coords().dtype == np.float64
    assert grid.pixel_area_ha == pytest.approx(0.01)
    assert grid.shape == (3, 4) and grid.crs == "EPSG:32647"


@pytest.mark.parametrize(("width", "height"), [(0, 3), (3, -1), (2.5, 3)])
def test_grid_rejects_bad_shape(width: int, height: int) -> None:
    with pytest.raises(ValueError):
        SiteGrid(epsg=32647, left=0.0, top=0.0, width=width, height=height)


def test_transform_maps_pixel_centres_to_coords(sites: dict[str, Site]) -> None:
    for site in sites.values():
        grid = site_grid(site)
        a, b, c, d, e, f = grid.transform
        cols = np.arange(grid.width) + 0.5
        rows = np.arange(grid.height) + 0.5
        np.testing.assert_allclose(a * cols + b * 0.5 + c, grid.x_coords())
        np.testing.assert_allclose(d * 0.5 + e * rows + f, grid.y_coords())
        assert np.all(np.diff(grid.y_coords()) < 0) and np.all(np.diff(grid.x_coords()) > 0)
        assert len(grid.x_coords()) == grid.width and len(grid.y_coords()) == grid.height


# --- mask -------------------------------------------------------------------------------------


def test_mask_area_matches_geodesic_area(sites: dict[str, Site]) -> None:
    for site in sites.values():
        grid = site_grid(site)
        mask = site_mask(site, grid)
        assert mask.dtype == np.bool_ and mask.shape == (grid.height, grid.width)
        mask_ha = mask.sum() * grid.pixel_area_ha
        assert mask_ha == pytest.approx(site.area_ha, rel=0.02), site.id
        # a straddling site's bbox is never entirely inside it
        assert 0 < mask.sum() < mask.size


def test_mask_is_pixel_centre_inside_polygon(sites: dict[str, Site]) -> None:
    site = sites["andalusia-cabo-de-gata-genoveses"]
    grid = site_grid(site)
    mask = site_mask(site, grid)
    polygon = to_grid_crs(site, grid)
    rng = np.random.default_rng(0)
    for row, col in zip(
        rng.integers(0, grid.height, 300), rng.integers(0, grid.width, 300), strict=True
    ):
        centre = shapely.Point(grid.x_coords()[col], grid.y_coords()[row])
        assert mask[row, col] == polygon.contains(centre)


def test_mask_orientation_north_up() -> None:
    # A triangle whose long edge is the south side: the widest mask row is the bottom one.
    doc_site = square_site(101.24, 3.32)
    geom = shapely.Polygon([(101.24, 3.32), (101.26, 3.32), (101.25, 3.335), (101.24, 3.32)])
    site = Site(
        id=doc_site.id,
        name=doc_site.name,
        habitat=doc_site.habitat,
        geometry=geom,
        baseline_start=doc_site.baseline_start,
        baseline_end=doc_site.baseline_end,
    )
    mask = site_mask(site, site_grid(site))
    counts = mask.sum(axis=1)
    filled = counts[counts > 0]
    assert filled[-1] > 10 * filled[0]  # rows run north to south


def test_to_grid_crs_round_trip(sites: dict[str, Site]) -> None:
    from pyproj import Transformer

    site = sites["kenya-mida-creek"]
    grid = site_grid(site)
    projected = to_grid_crs(site, grid)
    back = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    lon, lat = back.transform(*np.asarray(projected.exterior.coords).T)
    np.testing.assert_allclose(
        np.column_stack([lon, lat]), np.asarray(site.geometry.exterior.coords), atol=1e-9
    )
    assert projected.bounds[1] > 9_000_000  # southern hemisphere false northing


@settings(max_examples=40, deadline=None)
@given(
    lon=st.floats(min_value=-179.0, max_value=178.9),
    lat=st.floats(min_value=-70.0, max_value=70.0),
    size=st.floats(min_value=0.003, max_value=0.02),
)
def test_square_sites_anywhere(lon: float, lat: float, size: float) -> None:
    site = square_site(lon, lat, size)
    grid = site_grid(site)
    assert grid.epsg == utm_epsg(*site.centroid_lonlat)
    assert grid.left % 60 == 0 and grid.top % 60 == 0
    mask = site_mask(site, grid)
    # sampling pixel centres errs by at most about one pixel per boundary pixel
    boundary_ha = 2 * (grid.width + grid.height) * grid.pixel_area_ha
    assert abs(mask.sum() * grid.pixel_area_ha - site.area_ha) <= 0.02 * site.area_ha + boundary_ha


# --------------------------------------------------------------------------- scanline mask

def _reference(polygon, xs, ys) -> np.ndarray:
    return shapely.contains_xy(polygon, xs[np.newaxis, :], ys[:, np.newaxis])


def test_scanline_mask_equals_contains_xy_on_every_bundled_site(sites: dict[str, Site]) -> None:
    for site in sites.values():
        grid = site_grid(site, pad_px=3)
        polygon = to_grid_crs(site, grid)
        want = _reference(polygon, grid.x_coords(), grid.y_coords())
        got = site_mask(site, grid)
        assert got.flags.c_contiguous and got.dtype == np.bool_
        np.testing.assert_array_equal(got, want, err_msg=site.id)


def test_scanline_mask_is_exact_where_the_boundary_runs_through_centres() -> None:
    """Edges along centre rows and columns, vertices on centres, a hole, a second part, a
    spike: every case where a scanline fill could disagree with the exact predicate."""
    xs = np.arange(20) + 0.5
    ys = 20 - (np.arange(20) + 0.5)
    shapes = [
        shapely.box(2.5, 2.5, 10.5, 8.5),  # every edge through centres
        shapely.box(2.0, 2.0, 10.0, 8.0),  # every edge between centres
        shapely.Polygon([(0.5, 0.5), (15.5, 0.5), (8.5, 12.5)]),  # vertices on centres
        shapely.Polygon([(1, 1), (18, 1), (18, 18), (1, 18)], [[(4.5, 4.5), (9.5, 4.5),
                                                               (9.5, 9.5), (4.5, 9.5)]]),
        shapely.MultiPolygon([shapely.box(1, 1, 5.5, 5.5), shapely.box(7.5, 7.5, 12, 15.5)]),
        shapely.Polygon([(3, 3), (17.5, 10.5), (3, 4.5), (10.5, 17.5)]).buffer(0),
        shapely.Polygon([(0.5, 10.5), (19.5, 10.5), (19.5, 10.5 + 1e-12), (0.5, 11.5)]),
    ]
    for polygon in shapes:
        assert polygon.is_valid, polygon
        np.testing.assert_array_equal(centres_inside(polygon, xs, ys),
                                      _reference(polygon, xs, ys), err_msg=polygon.wkt)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 40), holes=st.booleans())
def test_scanline_mask_equals_contains_xy_on_random_polygons(seed: int, n: int,
                                                             holes: bool) -> None:
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(3, 30, n)
    centre = rng.uniform(30, 70, 2)
    ring = np.column_stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)])
    scale = rng.choice([1.0, 2.0, 1e6])  # vertices on centres, edges, or anywhere
    ring = np.round(ring * scale) / scale
    polygon = shapely.Polygon(ring).buffer(0)
    if holes and not polygon.is_empty:
        polygon = polygon.difference(shapely.Point(*centre).buffer(2.5, quad_segs=3))
    xs = np.arange(100) + 0.5
    ys = 100 - (np.arange(100) + 0.5)
    if polygon.is_empty or polygon.geom_type not in ("Polygon", "MultiPolygon"):
        return
    np.testing.assert_array_equal(centres_inside(polygon, xs, ys), _reference(polygon, xs, ys))
