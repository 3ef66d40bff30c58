"""Rebuild the bundled vector layers of ``aoi/data/`` from Natural Earth (public domain).

Not imported by the package; run by hand when the layers are to be rebuilt::

    python aoi/data/build_layers.py NE_DIR

where ``NE_DIR`` holds the Natural Earth 1:10m GeoJSON files ``ne_10m_land.json``,
``ne_10m_minor_islands.json`` and ``ne_10m_geography_marine_polys.json`` (see
``aoi/data/SOURCE.md`` for where they come from). Writes ``land.geojson.gz`` and
``mediterranean.geojson`` next to this script. Deterministic: the same inputs give the
same bytes.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np
import shapely

LAND_TOLERANCE_DEG = 0.01
"""Douglas-Peucker tolerance of the land polygons (~1.1 km at the equator)."""
GRID_DEG = 1e-3
"""Coordinate grid of the stored layers (~110 m); islets smaller than that vanish."""
MEDITERRANEAN_NAMES = (
    "Mediterranean Sea", "Alboran Sea", "Strait of Gibraltar", "Balearic Sea",
    "Golfe du Lion", "Ligurian Sea", "Tyrrhenian Sea", "Adriatic Sea", "Ionian Sea",
    "Gulf of Gabès", "Gulf of Sidra", "Sea of Crete", "Aegean Sea", "Dardanelles",
    "Sea of Marmara",
)
"""Natural Earth marine areas that make up the Mediterranean (the Black Sea, the Bay of
Biscay and the Red Sea are not among them). The Sea of Marmara is included: Posidonia
oceanica grows there too (Meinesz et al. 2009, Aquat. Bot. 90:18-22)."""
MEDITERRANEAN_BUFFER_DEG = 0.2
"""The marine areas stop short of the shore in places, and a site may include beach:
the region is the areas grown by 0.2 deg (~22 km north-south, ~17 km east-west at 40 N)."""


def _polygons(path: Path) -> list[shapely.Polygon]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    out: list[shapely.Polygon] = []
    for feature in doc["features"]:
        geom = shapely.geometry.shape(feature["geometry"])
        out.extend(getattr(geom, "geoms", [geom]))
    return out


def _feature_collection(geoms: np.ndarray) -> str:
    features = [
        f'{{"type":"Feature","properties":{{}},"geometry":{shapely.to_geojson(g)}}}'
        for g in geoms
    ]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(features) + "\n]}\n"


def build_land(ne_dir: Path) -> np.ndarray:
    polys = _polygons(ne_dir / "ne_10m_land.json") + _polygons(ne_dir / "ne_10m_minor_islands.json")
    geoms = shapely.simplify(np.array(polys, dtype=object), LAND_TOLERANCE_DEG, preserve_topology=True)
    geoms = shapely.set_precision(geoms, GRID_DEG)
    parts: list[shapely.Polygon] = []
    for g in geoms[~shapely.is_empty(geoms)]:
        parts.extend(getattr(g, "geoms", [g]))
    out = np.array(parts, dtype=object)
    assert shapely.is_valid(out).all()
    order = np.lexsort((shapely.bounds(out)[:, 1], shapely.bounds(out)[:, 0]))
    return out[order]


def build_mediterranean(ne_dir: Path) -> shapely.Geometry:
    doc = json.loads((ne_dir / "ne_10m_geography_marine_polys.json").read_text(encoding="utf-8"))
    chosen = [
        shapely.geometry.shape(f["geometry"])
        for f in doc["features"]
        if f["properties"]["name"] in MEDITERRANEAN_NAMES
    ]
    found = {f["properties"]["name"] for f in doc["features"]} & set(MEDITERRANEAN_NAMES)
    assert found == set(MEDITERRANEAN_NAMES), set(MEDITERRANEAN_NAMES) - found
    region = shapely.union_all(chosen).buffer(MEDITERRANEAN_BUFFER_DEG)
    region = shapely.simplify(region, 0.02, preserve_topology=True)
    return shapely.set_precision(region, GRID_DEG)


def main(ne_dir: Path) -> None:
    here = Path(__file__).resolve().parent
    land = build_land(ne_dir)
    text = _feature_collection(land)
    with gzip.GzipFile(here / "land.geojson.gz", "wb", compresslevel=9, mtime=0) as out:
        out.write(text.encode())
    med = build_mediterranean(ne_dir)
    (here / "mediterranean.geojson").write_text(_feature_collection(np.array([med], dtype=object)))
    print(f"land: {len(land)} polygons, {shapely.get_num_coordinates(land).sum()} vertices; "
          f"mediterranean: {shapely.get_num_coordinates(med)} vertices")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
