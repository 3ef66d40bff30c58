"""Reading a results folder from notebooks and scripts: whole tables, site outlines, the maps.

The notebooks in ``notebooks/`` start from these, so that each shows its science rather than
the plumbing, and a missing folder reads the same everywhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from flows.config import SEEN_MIN
from flows.results import store
from flows.results.alerts import read_alerts
from flows.results.maps import MAPS_DIR
from flows.results.runs import recorded_sites

__all__ = ["SEEN_MIN", "SiteMap", "read_map", "read_table", "results_path", "site_features",
           "site_maps"]


def results_path(results: str | os.PathLike[str]) -> Path:
    """The results folder a notebook was pointed at, absolute. A relative path is taken from
    the working directory, else from ``$PWD``: where the command that started Jupyter was
    typed (``BLUECARBON_RESULTS=results jupyter lab`` from the repository root, while the
    kernel runs in ``notebooks/``). Returned as given from the working directory when
    neither holds it, for the error to name."""
    path = Path(results).expanduser()
    if path.is_absolute() or path.exists():
        return path.resolve()
    started = os.environ.get("PWD")
    if started and (Path(started) / path).exists():
        return (Path(started) / path).resolve()
    return path.absolute()


def read_table(results: str | os.PathLike[str], name: str) -> pd.DataFrame:
    """Every row of table ``name`` (``change``, ``observations``, ``alerts`` ...) under the
    results folder, ``site_id`` as text; FileNotFoundError (one line, saying what to set) if
    the folder holds no such table."""
    results = results_path(results)
    path = results / name
    if not path.is_dir():
        raise FileNotFoundError(f"{path} not found: set RESULTS (or BLUECARBON_RESULTS) to "
                                "the folder that `bluecarbon run --out` wrote")
    if name == "alerts":
        return read_alerts(results)
    return store.read_table(results, name)


def site_features(path: str | os.PathLike[str] | None = None,
                  results: str | os.PathLike[str] | None = None) -> dict[str, dict]:
    """GeoJSON-like features by site id (properties and WGS84 geometry, for maps) from a
    sites file or folder in any format ``bluecarbon run`` reads. ``path`` None: the sites the
    runs into ``results`` read (their run records), else the bundled sites."""
    from shapely.geometry import mapping

    from aoi import load_sites

    paths: list[str | os.PathLike[str] | None] = [path]
    if path is None and results is not None:
        paths = [p for p in recorded_sites(results_path(results))
                 if p is None or Path(p).exists()] or [None]
    features: dict[str, dict] = {}
    for one in paths:
        for site in load_sites(one):
            features.setdefault(site.id, {"type": "Feature", "properties": dict(site.properties),
                                          "geometry": mapping(site.geometry)})
    return features


def site_maps(results: str | os.PathLike[str], site_id: str) -> pd.DataFrame:
    """The class and change maps (COGs) of a site: columns ``period`` (first day of the
    month), ``product`` (``class``, ``change``) and ``path``, oldest first; empty when the
    runs wrote none."""
    folder = results_path(results) / MAPS_DIR / store.check_site_id(site_id)
    rows = []
    for path in sorted(folder.glob("*_*.tif")):
        month, _, product = path.stem.partition("_")
        try:
            period = pd.Timestamp(f"{month}-01")
        except ValueError:
            continue
        rows.append({"period": period, "product": product, "path": path})
    return pd.DataFrame(rows, columns=["period", "product", "path"])


@dataclass(frozen=True)
class SiteMap:
    """One map read for display: codes (masked where nodata), where they lie, what they mean."""

    codes: np.ma.MaskedArray
    extent: tuple[float, float, float, float]
    """``(left, right, bottom, top)`` in the map's CRS (metres of the site's UTM zone)."""
    crs: str
    colours: dict[int, tuple[float, float, float, float]]
    """RGBA 0..1 of each code, from the file's colour table."""
    legend: dict[int, str]
    """Meaning of each code, from the file's ``legend`` tag."""
    period: str
    product: str


def read_map(path: str | os.PathLike[str], max_px: int = 800) -> SiteMap:
    """A map COG at most ``max_px`` on its longer side (its overviews serve the read)."""
    import rasterio

    with rasterio.open(path) as src:
        scale = max(1.0, max(src.width, src.height) / max_px)
        shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
        codes = src.read(1, out_shape=shape, masked=True)
        bounds, tags = src.bounds, src.tags()
        colours = {int(k): tuple(c / 255 for c in v) for k, v in src.colormap(1).items()}
        crs = src.crs.to_string()
    legend = {int(k): str(v) for k, v in json.loads(tags.get("legend", "{}")).items()}
    return SiteMap(codes=codes, extent=(bounds.left, bounds.right, bounds.bottom, bounds.top),
                   crs=crs, colours={k: colours[k] for k in legend if k in colours},
                   legend=legend, period=tags.get("period", ""), product=tags.get("product", ""))
