"""What the carbon step reads from the results folder besides the change table: the accuracy
assessments of a site (where that table exists) and the class maps its extent account is
counted on. The step itself: :mod:`flows.monitor` (``update_carbon``); the computation:
:mod:`flows.site.carbon`; the tables written: ``carbon`` and ``accounts``
(:mod:`flows.results.store`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import rasterio

from flows.results.files import StoreError, first_line
from flows.results.maps import map_path
from flows.results.store import PART_FILE, PARTITION_COLUMN, TABLES, check_site_id, read_table
from indices.accounts import baseline_class_map

__all__ = ["ACCURACY_TABLE", "YearMaps", "read_accuracy", "read_year_maps", "same_rows"]

ACCURACY_TABLE = "accuracy"
"""The accuracy assessments' table (``bluecarbon accuracy assess``): ``site_id, period,
class, estimated_area_ha, ci_low_ha, ci_high_ha, ...``."""


def read_accuracy(root: str | os.PathLike[str], site_id: str) -> pd.DataFrame | None:
    """The site's rows of the ``accuracy`` table, or None where it has none. Read through the
    store when this version knows the table, else straight from its hive file (the columns the
    ledger needs are the contract's: design.md, second round)."""
    if ACCURACY_TABLE in TABLES:
        rows = read_table(root, ACCURACY_TABLE, site_id)
        return rows if len(rows) else None
    path = Path(root) / ACCURACY_TABLE / f"{PARTITION_COLUMN}={check_site_id(site_id)}" / PART_FILE
    if not path.is_file():
        return None
    try:
        rows = pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"{path}: unreadable Parquet file: {first_line(exc)}") from None
    rows[PARTITION_COLUMN] = site_id
    return rows if len(rows) else None


@dataclass(frozen=True)
class YearMaps:
    """The class maps an extent account is counted on (:func:`flows.site.carbon.account_rows`)."""

    opening: np.ndarray
    """The baseline's class map (0/1/255): :func:`indices.accounts.baseline_class_map`."""
    year_end: Mapping[int, np.ndarray]
    """Class map of the last stored month of each calendar year."""
    pixel_size_m: float


def _read_band(path: Path) -> tuple[np.ndarray, float]:
    with rasterio.open(path) as src:
        return src.read(1), float(abs(src.res[0]))


def read_year_maps(root: str | os.PathLike[str], site_id: str,
                   closing: Mapping[int, dt.date | pd.Timestamp]) -> YearMaps | None:
    """The class maps of ``closing`` (the last stored month of each year: year -> month), and
    the baseline's class map (from the latest month's change map, where the most pixels
    have been observed: :func:`indices.accounts.baseline_class_map`). None when a map is
    missing, unreadable or on another grid: the account then comes from the change table."""
    if not closing:
        return None
    try:
        latest = max(closing.values())
        change_map, pixel = _read_band(map_path(root, site_id, latest, "change"))
        year_end = {}
        for year, period in closing.items():
            year_end[year], size = _read_band(map_path(root, site_id, period, "class"))
            if year_end[year].shape != change_map.shape or size != pixel:
                return None
    except (OSError, rasterio.errors.RasterioError):
        return None
    return YearMaps(baseline_class_map(change_map), year_end, pixel)


def same_rows(stored: pd.DataFrame, new: pd.DataFrame, ignore: tuple[str, ...] = ("run_id",)
              ) -> bool:
    """True when ``new`` (rows about to be written) holds exactly the ``stored`` rows (as
    :func:`flows.results.store.read_table` returns them, in the table's order) but for the
    ``ignore`` columns: a recomputation that changes nothing keeps the file's bytes, as reruns
    do for the other tables and the maps."""
    if len(stored) != len(new) or not set(new.columns) <= set(stored.columns):
        return False
    for col in (c for c in new.columns if c not in ignore):
        a, b = stored[col].reset_index(drop=True), new[col].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            same = np.array_equal(a.to_numpy(float), b.to_numpy(float), equal_nan=True)
        else:
            same = [None if pd.isna(v) else str(v) for v in a] == \
                   [None if pd.isna(v) else str(v) for v in b]
        if not same:
            return False
    return True
