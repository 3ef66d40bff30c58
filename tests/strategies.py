"""Test data for the robustness tests: generated sites files, and Hypothesis strategies that
throw plausible-looking and hostile GeoJSON at the sites validator.

``coastal_sites(n)``
    ``n`` small valid sites (30-60 ha, mangrove and seagrass alternating) tiled along a
    coastline, as a GeoJSON FeatureCollection: the load test, crash and concurrency tests.
``sites_documents()``
    GeoJSON-shaped documents, valid or not in every way the validator must catch: geometry
    types and nesting, rings open or too short, self-intersections, coordinates out of range,
    NaN and infinities, huge numbers, booleans and strings where numbers belong; properties
    with unsafe ids, HTML, control characters, path traversal, very long text, wrong types.
``sites_payloads()``
    What a file can hold: those documents as JSON text (with ``NaN``/``Infinity`` literals
    that Python's JSON parser accepts), as bytes in odd encodings, or plain garbage.
``seeded_rng(seed)``, ``random_shape(rng, max_side)``, ``random_mask(rng, ...)``
    The seeded random cases of the kernel-against-definition tests (test_patches,
    test_morphology, test_canopy_step): the seed printed first, so that a failure names it
    and can be replayed.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import numpy as np
from hypothesis import strategies as st
from scipy import ndimage

__all__ = ["HOSTILE_TEXT", "coastal_sites", "random_mask", "random_shape", "seeded_rng",
           "sites_documents", "sites_payloads"]

# -- seeded random cases ------------------------------------------------------------------


def seeded_rng(seed: int) -> np.random.Generator:
    """NumPy's generator of ``seed``, the seed printed first: pytest shows a failing test's
    output, so the failure names the seed that replays it."""
    print("seed", seed)
    return np.random.default_rng(seed)


def random_shape(rng: np.random.Generator, max_side: int) -> tuple[int, int]:
    """A (y, x) shape of 1 to ``max_side - 1`` pixels a side (one row or column included)."""
    return tuple(int(v) for v in rng.integers(1, max_side, 2))


def random_mask(rng: np.random.Generator, max_side: int, *,
                density: tuple[float, float], smooth: tuple[int, int],
                level: float) -> np.ndarray:
    """A boolean map of :func:`random_shape`: speckle of a density drawn from ``density``,
    half the time made into patches (a uniform filter of a size drawn from ``smooth``, the
    upper bound excluded, thresholded at ``level``)."""
    shape = random_shape(rng, max_side)
    mask = rng.random(shape) < rng.uniform(*density)
    if rng.random() < 0.5:  # patches rather than speckle
        mask = ndimage.uniform_filter(mask.astype(float), int(rng.integers(*smooth))) > level
    return mask


# -- generated valid sites ----------------------------------------------------------------

_M_PER_DEG = 111_320.0


def coastal_sites(n: int, *, seed: int = 0, lon0: float = 101.05, lat0: float = 3.05,
                  baseline: tuple[str, str] = ("2025-01-01", "2025-01-31"),
                  min_ha: float = 30.0, max_ha: float = 60.0,
                  prefix: str = "coast", one_zone_each: bool = False) -> dict[str, Any]:
    """``n`` valid sites as a FeatureCollection, ids ``<prefix>-0000`` ..., laid along a coast
    running north-west from (lon0, lat0), ~1 km apart, each a slightly rotated rectangle of
    ``min_ha``..``max_ha`` hectares; even indices mangrove, odd ones seagrass.

    ``one_zone_each``: site i moved 6 degrees east per index instead, into its own UTM zone
    (``stac_fixtures.build_demo_catalog`` names items by zone and day, so sites sharing a zone
    and a pass day would share item ids)."""
    rng = random.Random(seed)
    features = []
    for i in range(n):
        area_m2 = rng.uniform(min_ha, max_ha) * 10_000
        aspect = rng.uniform(0.6, 1.6)
        w, h = math.sqrt(area_m2 * aspect), math.sqrt(area_m2 / aspect)
        angle = math.radians(rng.uniform(-20, 20))
        # centres along a coastline heading 300 degrees, 1 km apart, with a little wobble
        along = 0.0 if one_zone_each else i * 1000.0
        lon0_i = lon0 + 6.0 * i if one_zone_each else lon0
        cx = lon0_i + (-along * 0.866 + rng.uniform(-80, 80)) / (_M_PER_DEG * math.cos(
            math.radians(lat0)))
        cy = lat0 + (along * 0.5 + rng.uniform(-80, 80)) / _M_PER_DEG
        kx = _M_PER_DEG * math.cos(math.radians(cy))
        ring = []
        for dx, dy in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)):
            rx = dx * math.cos(angle) - dy * math.sin(angle)
            ry = dx * math.sin(angle) + dy * math.cos(angle)
            ring.append([round(cx + rx / kx, 7), round(cy + ry / _M_PER_DEG, 7)])
        ring.append(ring[0])
        features.append({
            "type": "Feature",
            "properties": {"id": f"{prefix}-{i:04d}", "name": f"Coast plot {i}",
                           "habitat": "mangrove" if i % 2 == 0 else "seagrass",
                           "baseline_start": baseline[0], "baseline_end": baseline[1],
                           "partner": "Coast partners"},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        })
    return {"type": "FeatureCollection", "features": features}


# -- hostile text ---------------------------------------------------------------------------

HOSTILE_TEXT: tuple[str, ...] = (
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\" onmouseover=\"x",
    "'; DROP TABLE sites; --", "../../etc/passwd", "..", ".", "/", "C:\\Windows\\x",
    "a/b", "site\x00id", "line\nbreak", "tab\there", "\r\n", "\u202eevil", "ѕite",
    "ＳＩＴＥ", "🌊🌱", "{{ 7*7 }}", "${HOME}", "%s%s%n", "[red]markup[/]", "[/]", "=cmd|' /C calc'!A0",
    "x" * 65, "x" * 5000, "", " ", "-leading", "UPPER", "café",
)
"""Strings that have broken renderers, paths, templates and consoles elsewhere."""

_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(min_value=-10**30, max_value=10**30),
    st.floats(min_value=-181, max_value=181),
    st.sampled_from([0, -0.0, 180, -180, 90, -90, 180.0000001, 90.0000001, 1e308, -1e308]),
)
_lonlat = st.tuples(st.floats(min_value=-180, max_value=180), st.floats(min_value=-90, max_value=90))
_scalars = st.one_of(st.none(), st.booleans(), _numbers, st.text(max_size=20),
                     st.sampled_from(HOSTILE_TEXT))
_json = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


@st.composite
def _ring(draw: st.DrawFn) -> list:
    """A ring near a valid one: small and closed by default, then maybe broken."""
    lon, lat = draw(_lonlat)
    size = draw(st.sampled_from([1e-9, 1e-4, 0.005, 0.02, 0.5, 5, 400]))
    n = draw(st.integers(min_value=3, max_value=8))
    angles = sorted(draw(st.lists(st.floats(0, 2 * math.pi), min_size=n, max_size=n)))
    if draw(st.booleans()):  # shuffled vertices: self-intersections more often than not
        angles = draw(st.permutations(angles))
    ring: list = [[lon + size * math.cos(a), lat + size * math.sin(a)] for a in angles]
    ring.append(list(ring[0]))
    breakage = draw(st.sampled_from(["none", "none", "none", "open", "short", "value", "3d",
                                     "drop", "nest", "duplicate"]))
    if breakage == "open":
        ring = ring[:-1]
    elif breakage == "short":
        ring = ring[:draw(st.integers(0, 3))]
    elif breakage == "value":
        i = draw(st.integers(0, len(ring) - 1))
        ring[i][draw(st.integers(0, 1))] = draw(st.one_of(_numbers, _scalars))
    elif breakage == "3d":
        ring = [[*p, draw(_numbers)] for p in ring]
    elif breakage == "drop":
        ring[draw(st.integers(0, len(ring) - 1))] = draw(_json)
    elif breakage == "nest":
        ring = [ring]
    elif breakage == "duplicate":
        ring = [ring[0]] * len(ring)
    return ring


@st.composite
def _geometry(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["Polygon", "Polygon", "MultiPolygon", "Point", "LineString",
                                 "GeometryCollection", "polygon", None, "Feature"]))
    rings = draw(st.lists(_ring(), min_size=0, max_size=3))
    if kind == "MultiPolygon":
        coords: Any = [rings, *draw(st.lists(st.lists(_ring(), min_size=1, max_size=2),
                                             max_size=2))]
    elif kind == "Point":
        coords = list(draw(_lonlat))
    elif kind == "LineString":
        coords = rings[0] if rings else []
    else:
        coords = rings
    geom: Any = {"type": kind, "coordinates": coords}
    if kind == "GeometryCollection":
        geom = {"type": kind, "geometries": [{"type": "Polygon", "coordinates": rings}]}
    return draw(st.one_of(st.just(geom), st.just(geom), st.just(geom), _json))


_ids = st.one_of(st.from_regex(r"[a-z0-9][a-z0-9-]{0,63}", fullmatch=True),
                 st.sampled_from(HOSTILE_TEXT), st.text(max_size=70), _scalars)
_dates = st.one_of(st.dates().map(str), st.sampled_from(["2023-02-30", "2023-13-01", "0000-01-01",
                                                         "9999-12-31", "2023-1-1", "20230101",
                                                         "2023-01-01T00:00:00"]), _scalars)


@st.composite
def _feature(draw: st.DrawFn) -> Any:
    props: dict[str, Any] = {
        "id": draw(_ids), "name": draw(st.one_of(st.sampled_from(HOSTILE_TEXT), _scalars)),
        "habitat": draw(st.one_of(st.sampled_from(["mangrove", "seagrass", "coral", "Mangrove"]),
                                  _scalars)),
        "baseline_start": draw(_dates), "baseline_end": draw(_dates),
    }
    for key in draw(st.lists(st.sampled_from(["partner", "country", "notes", "partner_email",
                                              "reference_site", "__proto__"]), max_size=3)):
        props[key] = draw(st.one_of(st.sampled_from(HOSTILE_TEXT), _json))
    for key in draw(st.lists(st.sampled_from(sorted(props)), max_size=2)):
        props.pop(key, None)  # missing required properties
    feature: Any = {"type": draw(st.sampled_from(["Feature", "Feature", "Feature", "feature",
                                                  None])),
                    "properties": draw(st.one_of(st.just(props), st.just(props), _json)),
                    "geometry": draw(_geometry())}
    return draw(st.one_of(st.just(feature), st.just(feature), st.just(feature), _json))


@st.composite
def sites_documents(draw: st.DrawFn) -> Any:
    """A parsed sites document (dicts and lists), valid or broken (see the module doc)."""
    features = draw(st.lists(_feature(), min_size=0, max_size=4))
    if features and draw(st.booleans()):  # the same id twice
        features.append(json.loads(json.dumps(features[0], allow_nan=True)))
    doc: Any = {"type": draw(st.sampled_from(["FeatureCollection"] * 4 + ["Feature", None])),
                "features": features}
    if draw(st.integers(0, 5)) == 0:
        doc["crs"] = draw(st.one_of(st.just({"type": "name", "properties": {
            "name": "urn:ogc:def:crs:EPSG::3857"}}), _json))
    return draw(st.one_of(st.just(doc), st.just(doc), st.just(doc), st.just(doc), _json))


def sites_payloads() -> st.SearchStrategy[bytes]:
    """Bytes a sites file may hold: generated documents as JSON (NaN and Infinity written as
    the literals Python accepts), in UTF-8 with or without BOM, UTF-16, Latin-1, or garbage."""
    text = sites_documents().map(lambda d: json.dumps(d, allow_nan=True))
    encoded = st.one_of(
        text.map(lambda t: t.encode("utf-8")),
        text.map(lambda t: b"\xef\xbb\xbf" + t.encode("utf-8")),
        text.map(lambda t: t.encode("utf-16")),
        text.map(lambda t: t.encode("latin-1", errors="replace")),
        text.map(lambda t: t.encode("utf-8")[: max(1, len(t) // 2)]),  # truncated file
        st.binary(max_size=200),
        st.just(b"[" * 100_000),  # nesting deeper than the recursion limit
        st.just(b'{"type": "FeatureCollection", "features": [' + b"1" * 5000 + b"]}"),
    )
    return encoded
