"""Reading a results folder from notebooks and scripts: whole tables and site outlines.

The notebooks in ``notebooks/`` start from these, so that each shows its science rather than
the plumbing, and a missing folder reads the same everywhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from flows.config import SEEN_MIN
from flows.results import store
from flows.results.alerts import read_alerts

__all__ = ["SEEN_MIN", "read_table", "site_features"]


def read_table(results: str | os.PathLike[str], name: str) -> pd.DataFrame:
    """Every row of table ``name`` (``change``, ``observations``, ``alerts`` ...) under the
    results folder, ``site_id`` as text; FileNotFoundError (one line, saying what to set) if
    the folder holds no such table."""
    path = Path(results) / name
    if not path.is_dir():
        raise FileNotFoundError(f"{path} not found: set RESULTS (or BLUECARBON_RESULTS) to "
                                "the folder that `bluecarbon run --out` wrote")
    if name == "alerts":
        return read_alerts(results)
    return store.read_table(results, name)


def site_features(path: str | os.PathLike[str] | None = None) -> dict[str, dict]:
    """GeoJSON features by site id from a sites file or folder (default: the bundled sites),
    as written: properties and WGS84 geometry, for maps."""
    if path is None:
        from aoi import bundled_sites_path

        path = bundled_sites_path()
    path = Path(path)
    files = sorted(path.glob("*.geojson")) if path.is_dir() else [path]
    features = {}
    for file in files:
        for feature in json.loads(file.read_text(encoding="utf-8"))["features"]:
            features[feature["properties"]["id"]] = feature
    return features
