"""The Parquet tables of the results folder (see docs: design.md, "Parquet outputs").

Layout, one hive-partitioned dataset per table under the results root::

    <root>/<table>/site_id=<id>/part-0.parquet     one file per site, sorted, zstd
    <root>/<table>/.write.lock                     writers' lock (ignored by readers)

``site_id`` is stored only in the directory name, never inside the files: a column that is
both in the file and in the path makes ``pandas.read_parquet(dir)`` fail to merge the
dictionary-typed partition field with the string column, and DuckDB lets the path win anyway.
Readers that get ``site_id`` from the path infer its type from the directory names. For
realistic ids (``selangor-mangrove-01``) every reader gets strings, but ids that look like
numbers or dates (``0123``, ``0x1f``, ``2024-01-01``, ``inf``) are re-typed by pyarrow/pandas
(int32) or DuckDB (BIGINT/DATE) unless the reader pins the type:

* :func:`read_table` (this module) always returns ``site_id`` as strings;
* pandas / pyarrow: ``partitioning=store.hive_partitioning()``;
* DuckDB: ``read_parquet('<root>/<table>/*/*.parquet', hive_partitioning=true,
  hive_types={'site_id': VARCHAR})``.

Writes are upserts by key: a rerun replaces its rows, never duplicates them. Each site's file
is rewritten as a whole into a hidden temp file in the same directory (``.part-0.parquet.*.tmp``:
pyarrow and pandas skip names starting with ``.``; the DuckDB glob ``*/*.parquet`` does not match
``.tmp``), flushed, fsynced and ``os.replace``d over ``part-0.parquet``, and the directory is
fsynced: a reader or a crash sees the old file or the new one, never a partial one. Temp files left
by a killed writer are removed by the next write of that table (writers hold the table lock, so
no temp file they see can still be in use). Output is deterministic: the same rows give the same
bytes (rows sorted by each table's total sort order, no time-varying metadata).

This module is the store's face and its readers (:func:`read_table`, :func:`latest_datetime`);
the tables' schemas and paths are in :mod:`flows.results.schema`, the writer
(:func:`write_rows`) in :mod:`flows.results.upsert`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flows.results.files import StoreError, first_line
from flows.results.schema import (
    ACCURACY_IGNORE,
    CARBON_ADDED_COLUMNS,
    CHANGE_ADDED_COLUMNS,
    PART_FILE,
    PARTITION_COLUMN,
    SCHEMA_VERSION,
    SITE_ID_PATTERN,
    SITE_ID_RE,
    TABLES,
    TableSpec,
    check_site_id,
    hive_partitioning,
    partition_path,
    read_partition,
    table_spec,
)
from flows.results.upsert import WriteSummary, write_rows
from flows.results.upsert import _atomic_write as _atomic_write  # tests/test_crash_safety.py

__all__ = ["ACCURACY_IGNORE", "CARBON_ADDED_COLUMNS", "CHANGE_ADDED_COLUMNS", "PARTITION_COLUMN",
           "SCHEMA_VERSION", "SITE_ID_PATTERN", "TABLES", "StoreError", "TableSpec",
           "WriteSummary", "check_site_id", "hive_partitioning", "latest_datetime",
           "partition_path", "read_table", "write_rows"]


# --------------------------------------------------------------------------- readers


def _stored_sites(table_dir: Path) -> list[str]:
    if not table_dir.is_dir():
        return []
    prefix = f"{PARTITION_COLUMN}="
    sites = []
    for entry in os.scandir(table_dir):
        if entry.is_dir() and entry.name.startswith(prefix):
            site_id = entry.name[len(prefix) :]
            if SITE_ID_RE.fullmatch(site_id) and os.path.isfile(
                os.path.join(entry.path, PART_FILE)
            ):
                sites.append(site_id)
    return sorted(sites)


def read_table(
    root: str | os.PathLike[str], table: str, site_id: str | None = None, *,
    unreadable: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The stored rows (of one site, or all), in the table's column order and sort order, with
    ``site_id`` as strings; an empty frame with the table's columns and dtypes if none.

    A partition that cannot be read raises :class:`StoreError`, unless ``unreadable`` is
    given: then it is left out and named there (``{site_id: message}``), so that one broken
    site does not take every other site's rows with it (summaries, reports)."""
    spec = table_spec(table)
    table_dir = Path(root) / spec.name
    sites = [check_site_id(site_id)] if site_id is not None else _stored_sites(table_dir)
    parts = []
    for sid in sites:
        path = partition_path(root, spec.name, sid)
        if not path.is_file():
            continue
        try:
            stored = read_partition(spec, path)
        except StoreError as exc:
            if unreadable is None:
                raise
            unreadable[sid] = str(exc)
            continue
        ids = pa.array([sid] * stored.num_rows, pa.string())
        parts.append(stored.add_column(0, spec.schema.field(PARTITION_COLUMN), ids))
    if not parts:
        return spec.schema.empty_table().to_pandas()
    return pa.concat_tables(parts).cast(spec.schema).to_pandas()


def latest_datetime(root: str | os.PathLike[str], site_id: str) -> pd.Timestamp | None:
    """Newest observation ``datetime`` stored for ``site_id`` (UTC), or None if there is none."""
    path = partition_path(root, "observations", site_id)
    if not path.is_file():
        return None
    try:
        column = pq.ParquetFile(path).read(columns=["datetime"]).column("datetime")
        newest = pc.max(column.cast(pa.timestamp("us", tz="UTC"))).as_py()
    except (OSError, pa.ArrowException, KeyError) as exc:
        raise StoreError(f"{path}: unreadable datetime column: {first_line(exc)}") from None
    return None if newest is None else pd.Timestamp(newest)
