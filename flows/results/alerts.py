"""Habitat-loss alerts in the results folder: the ``alerts/`` Parquet table and GeoJSON.

The rows are computed by :mod:`flows.site.alerts`.

Layout under the results root::

    <root>/alerts/site_id=<id>/part-0.parquet      one row per alert (GeoParquet, WKB polygons)
    <root>/alerts/.write.lock                      writers' lock (readers never lock)
    <root>/alerts_geojson/<id>.geojson             the same rows as a FeatureCollection (WGS84)

The alerts are recomputed from the whole record after the baseline on every run (the flow
loads it anyway for the change table), so a run is *authoritative for its window*: the scenes
it scanned, from the first after the baseline to the last. Writing upserts by ``alert_id`` and
drops the stored alerts first seen inside that window that the run no longer finds (a
candidate reset by a clear look at intact habitat, or an id superseded when two patches grew
into one); alerts first seen after the window (a later run's) are kept. Reruns therefore
replace, never duplicate. Both files are replaced atomically (temp file, fsync,
``os.replace``, directory fsync) under the table lock, the GeoJSON rebuilt from the merged
table so the two always agree.

``alert_id`` = ``<first_seen YYYYMMDD>-<12 hex>``, the hex a digest of site id, first_seen and
the patch's seed pixel (see :func:`indices.alerts.alert_patches`): stable from night to night
while a patch grows.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from aoi import SITE_ID_PATTERN
from flows.results.files import StoreError, atomic_path, check_inside, ensure_dir, writer_lock
from flows.results.store import PARTITION_COLUMN, check_site_id

__all__ = ["ALERT_SCHEMA", "AlertWrite", "SiteAlerts", "alerts_geojson", "read_alerts",
           "write_alerts"]

TABLE, GEOJSON_DIR, PART_FILE = "alerts", "alerts_geojson", "part-0.parquet"
_TS = pa.timestamp("us", tz="UTC")
ALERT_SCHEMA = pa.schema([
    ("site_id", pa.string()), ("alert_id", pa.string()), ("habitat", pa.string()),
    ("status", pa.string()), ("score", pa.int32()), ("first_seen", _TS), ("last_seen", _TS),
    ("confirmed_at", _TS), ("area_ha", pa.float64()), ("confirmed_ha", pa.float64()),
    ("centroid_lon", pa.float64()), ("centroid_lat", pa.float64()),
    ("confirm_threshold", pa.int32()), ("geometry", pa.binary()),
    ("processing_version", pa.string()), ("run_id", pa.string()),
])
"""``site_id`` (from the directory) and the columns of the files. ``geometry``: WKB polygon in
WGS84 lon/lat (GeoParquet 1.1 metadata, CRS84); ``confirmed_at`` null for candidates."""
_GEO_META = {b"geo": json.dumps({
    "version": "1.1.0", "primary_column": "geometry",
    "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Polygon", "MultiPolygon"]}},
}).encode()}
_FILE_SCHEMA = pa.schema([f for f in ALERT_SCHEMA if f.name != PARTITION_COLUMN],
                         metadata={**_GEO_META, b"bluecarbon.table": TABLE.encode()})


@dataclass(frozen=True)
class SiteAlerts:
    """What one run found for one site."""

    site_id: str
    rows: pd.DataFrame
    """One row per alert, columns of :data:`ALERT_SCHEMA`."""
    window: tuple[pd.Timestamp, pd.Timestamp] | None
    """First and last scene scanned (UTC); None: no scene after the baseline, nothing to say."""


@dataclass(frozen=True)
class AlertWrite:
    inserted: int
    replaced: int
    removed: int
    parquet: Path
    geojson: Path


def _partition(root: Path, site_id: str) -> Path:
    return root / TABLE / f"{PARTITION_COLUMN}={check_site_id(site_id)}" / PART_FILE


def _to_arrow(alerts: SiteAlerts) -> pa.Table:
    rows = alerts.rows
    if list(rows.columns) != ALERT_SCHEMA.names:
        raise StoreError(f"alerts: expected columns {ALERT_SCHEMA.names}, got {list(rows.columns)}")
    if len(rows) and (rows["site_id"] != alerts.site_id).any():
        raise StoreError(f"alerts: rows of another site than {alerts.site_id!r}")
    if rows["alert_id"].isna().any() or rows["alert_id"].duplicated().any():
        raise StoreError(f"alerts of {alerts.site_id}: missing or duplicate alert_id")
    try:
        table = pa.Table.from_pandas(rows, schema=ALERT_SCHEMA, preserve_index=False, safe=True)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise StoreError(f"alerts of {alerts.site_id}: {str(exc).splitlines()[0]}") from None
    return table.drop_columns([PARTITION_COLUMN]).cast(_FILE_SCHEMA)


def write_alerts(root: str | os.PathLike[str], alerts: SiteAlerts) -> AlertWrite | None:
    """Upsert a run's alerts of one site (see the module docstring); None if the run scanned no
    scene after the baseline. Raises :class:`flows.results.StoreError`, writing nothing, on a
    malformed frame or an unsafe site id."""
    root = Path(root)
    path = _partition(root, alerts.site_id)
    geojson = root / GEOJSON_DIR / f"{alerts.site_id}.geojson"
    new = _to_arrow(alerts)
    if alerts.window is None:
        return None
    lo, hi = (pd.Timestamp(t) for t in alerts.window)
    try:
        with writer_lock(root / TABLE, geojson.parent, root=root):
            check_inside(path, root)
            old = _read_file(path) if path.is_file() else _FILE_SCHEMA.empty_table()
            old_ids = old.column("alert_id").to_pylist()
            first = pd.to_datetime(old.column("first_seen").to_pandas(), utc=True)
            new_ids = set(new.column("alert_id").to_pylist())
            in_window = ((first >= lo) & (first <= hi)).to_numpy()
            keep = [a not in new_ids and not w for a, w in zip(old_ids, in_window, strict=True)]
            merged = pa.concat_tables([old.filter(pa.array(keep, pa.bool_())), new])
            merged = merged.sort_by([("first_seen", "ascending"), ("alert_id", "ascending")])
            ensure_dir(path.parent, root)
            with atomic_path(path, root) as tmp:
                pq.write_table(merged.combine_chunks(), tmp, compression="zstd")
            ensure_dir(geojson.parent, root)
            with atomic_path(geojson, root) as tmp:
                frame = merged.to_pandas()
                frame.insert(0, PARTITION_COLUMN, alerts.site_id)
                tmp.write_text(json.dumps(alerts_geojson(frame), separators=(",", ":")))
    except OSError as exc:
        raise StoreError(f"{path}: write failed: {str(exc).splitlines()[0]}") from exc
    replaced = sum(1 for a in old_ids if a in new_ids)
    return AlertWrite(inserted=new.num_rows - replaced, replaced=replaced,
                      removed=len(old_ids) - sum(keep) - replaced, parquet=path, geojson=geojson)


def _read_file(path: Path) -> pa.Table:
    try:
        table = pq.read_table(path)
        return table.select(_FILE_SCHEMA.names).cast(_FILE_SCHEMA)
    except (OSError, pa.ArrowException, KeyError) as exc:
        raise StoreError(f"{path}: unreadable alerts file: {str(exc).splitlines()[0]}") from None


def read_alerts(root: str | os.PathLike[str], site_id: str | None = None) -> pd.DataFrame:
    """Stored alerts (of one site, or all) with ``site_id`` as strings; empty frame if none."""
    table_dir = Path(root) / TABLE
    if site_id is not None:
        sites = [check_site_id(site_id)]
    else:
        prefix = f"{PARTITION_COLUMN}="  # foreign folders with unsafe names are not ours: skip
        sites = sorted(p.name[len(prefix):] for p in table_dir.glob(f"{prefix}*")
                       if p.is_dir() and re.fullmatch(SITE_ID_PATTERN, p.name[len(prefix):]))
    parts = []
    for sid in sites:
        path = _partition(Path(root), sid)
        if path.is_file():
            t = _read_file(path)
            parts.append(t.add_column(0, ALERT_SCHEMA.field(0),
                                     pa.array([sid] * t.num_rows, pa.string())))
    table = pa.concat_tables(parts) if parts else ALERT_SCHEMA.empty_table()
    return table.cast(ALERT_SCHEMA).to_pandas()


def alerts_geojson(rows: pd.DataFrame) -> dict:
    """RFC 7946 FeatureCollection of alert rows: the polygon, every other column a property
    (timestamps ISO 8601 UTC, null where missing)."""
    feats = []
    for rec in rows.to_dict("records"):
        geom = shapely.from_wkb(rec.pop("geometry"))
        props = {k: _json_value(v) for k, v in rec.items()}
        feats.append({"type": "Feature", "id": rec["alert_id"], "properties": props,
                      "geometry": _rounded(shapely.geometry.mapping(geom))})
    return {"type": "FeatureCollection", "features": feats}


def _json_value(v):
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return None
    return v.item() if isinstance(v, np.generic) else v


def _rounded(obj, ndigits: int = 7):
    """Coordinates to 1 cm (RFC 7946 advises against needless precision)."""
    if isinstance(obj, dict):
        return {k: _rounded(v, ndigits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_rounded(v, ndigits) for v in obj]
    return round(obj, ndigits) if isinstance(obj, float) else obj
