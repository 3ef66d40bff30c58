"""The writer of the results folder's tables: a frame checked against its table, then upserted.

:func:`write_rows` refuses a frame that does not fit its :class:`~flows.results.schema.TableSpec`
(columns, types that cast safely, nulls, month starts, duplicate keys, unsafe site ids) before
anything is written, then merges each site's rows into its file by key and replaces the file
atomically under the table's writers' lock (:mod:`flows.results.files`). The same rows give the
same bytes: rows sorted by the table's total order, no time-varying metadata.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flows.results.files import (
    StoreError,
    atomic_path,
    check_inside,
    ensure_dir,
    first_line,
    writer_lock,
)
from flows.results.schema import (
    PARTITION_COLUMN,
    TableSpec,
    check_site_id,
    partition_path,
    read_partition,
    table_spec,
)

__all__ = ["WriteSummary", "write_rows"]

_WRITE_OPTIONS = {"compression": "zstd"}


@dataclass(frozen=True)
class WriteSummary:
    """What one :func:`write_rows` call did, per site: rows newly inserted and rows replaced."""

    table: str
    inserted: Mapping[str, int] = field(default_factory=dict)
    replaced: Mapping[str, int] = field(default_factory=dict)
    files: Mapping[str, Path] = field(default_factory=dict)

    @property
    def sites(self) -> tuple[str, ...]:
        return tuple(sorted(self.files))

    @property
    def n_inserted(self) -> int:
        return sum(self.inserted.values())

    @property
    def n_replaced(self) -> int:
        return sum(self.replaced.values())


# --------------------------------------------------------------------------- validation


def _convert_column(table: str, name: str, series: pd.Series, target: pa.DataType) -> pa.Array:
    where = f"{table}.{name}"
    if isinstance(series.dtype, pd.PeriodDtype):
        series = series.dt.to_timestamp()  # a monthly Period means its first day
    try:
        arr = pa.array(series, from_pandas=True)  # NaN -> null
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        raise StoreError(f"{where}: cannot convert to Arrow: {first_line(exc)}") from None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):  # pandas categorical
        arr = arr.dictionary_decode()
    src = arr.type
    t = pa.types
    if arr.null_count == len(arr):  # no value to misread (empty or all-null column)
        return pa.nulls(len(arr), target)
    if t.is_string(target):
        ok = t.is_string(src) or t.is_large_string(src) or t.is_string_view(src)
    elif t.is_floating(target) or t.is_integer(target):
        ok = t.is_integer(src) or t.is_floating(src)
    elif t.is_timestamp(target):
        if t.is_timestamp(src) and src.tz is None:
            raise StoreError(
                f"{where}: timezone-naive datetimes are refused; localize them "
                "(Series.dt.tz_localize('UTC'))"
            )
        ok = t.is_timestamp(src)
    elif t.is_date(target):
        if t.is_timestamp(src):
            if src.tz is not None:
                raise StoreError(f"{where}: expected dates, got timezone-aware datetimes")
            midnight = pc.equal(arr, pc.floor_temporal(arr, unit="day"))
            if pc.all(midnight).as_py() is False:
                raise StoreError(f"{where}: expected dates, got datetimes with a time of day")
            ok = True
        else:
            ok = t.is_date(src)
    else:  # pragma: no cover - no such column type in TABLES
        ok = src == target
    if not ok:
        raise StoreError(f"{where}: expected {target}, got {src} (dtype {series.dtype})")
    try:
        return arr.cast(target, safe=True)
    except (pa.ArrowException, OverflowError) as exc:
        raise StoreError(
            f"{where}: cannot be cast safely to {target}: {first_line(exc)}"
        ) from None


def _key_tuples(table: pa.Table, columns: tuple[str, ...]) -> list[tuple]:
    return list(zip(*(table.column(c).to_pylist() for c in columns), strict=True))


def _validate(spec: TableSpec, df: pd.DataFrame) -> pa.Table:
    """The frame as an Arrow table of ``spec.schema``, or :class:`StoreError`."""
    if not isinstance(df, pd.DataFrame):
        raise StoreError(f"{spec.name}: expected a pandas DataFrame, got {type(df).__name__}")
    given = list(df.columns)
    dup_cols = sorted({str(c) for c in given if given.count(c) > 1})
    if dup_cols:
        raise StoreError(f"{spec.name}: duplicate columns {dup_cols}")
    missing = [c for c in spec.columns if c not in given and c not in spec.optional]
    unknown = [str(c) for c in given if c not in spec.columns]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if unknown:
            parts.append(f"unknown columns {unknown}")
        raise StoreError(f"{spec.name}: " + "; ".join(parts))

    arrays = [_convert_column(spec.name, f.name, df[f.name], f.type) if f.name in given
              else pa.nulls(len(df), f.type) for f in spec.schema]
    data = pa.Table.from_arrays(arrays, schema=spec.schema)

    for col in spec.not_null:
        nulls = data.column(col).null_count
        if nulls:
            raise StoreError(f"{spec.name}.{col}: {nulls} null value(s) in a required column")
    for site_id in pc.unique(data.column(PARTITION_COLUMN)).to_pylist():
        check_site_id(site_id)
    for col in spec.month_start:
        days = pc.day(data.column(col))
        bad = pc.filter(data.column(col), pc.not_equal(days, 1))
        if len(bad):
            raise StoreError(
                f"{spec.name}.{col}: must be the first day of a month, got {bad[0].as_py()}"
            )
    seen: set[tuple] = set()
    for key in _key_tuples(data, spec.key):
        if key in seen:
            shown = ", ".join(f"{c}={v}" for c, v in zip(spec.key, key, strict=True))
            raise StoreError(f"{spec.name}: duplicate key in the frame ({shown})")
        seen.add(key)
    return data


# --------------------------------------------------------------------------- file I/O


def _atomic_write(table: pa.Table, path: Path, root: Path | None = None) -> None:
    try:
        with atomic_path(path, root) as tmp, open(tmp, "xb") as fh:
            pq.write_table(table, fh, **_WRITE_OPTIONS)
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"{path}: write failed: {first_line(exc)}") from exc


def _merge(spec: TableSpec, existing: pa.Table | None, new: pa.Table) -> tuple[pa.Table, int]:
    """Upsert ``new`` into ``existing`` (both in file schema); returns (sorted table, replaced)."""
    replaced = 0
    if existing is not None and existing.num_rows:
        key = tuple(c for c in spec.key if c != PARTITION_COLUMN)
        new_keys = set(_key_tuples(new, key))
        keep = [k not in new_keys for k in _key_tuples(existing, key)]
        replaced = len(keep) - sum(keep)
        merged = pa.concat_tables([existing.filter(pa.array(keep, pa.bool_())), new])
    else:
        merged = new
    order = [(c, "ascending") for c in spec.sort_by if c != PARTITION_COLUMN]
    merged = merged.sort_by(order).combine_chunks()
    return merged.cast(spec.file_schema), replaced


# --------------------------------------------------------------------------- public API


def write_rows(root: str | os.PathLike[str], table: str, df: pd.DataFrame) -> WriteSummary:
    """Upsert ``df`` into ``<root>/<table>``: rows whose key is stored are replaced, the others
    inserted. The frame must have exactly the table's columns, types that cast safely, no null
    or duplicate keys, and safe site ids; otherwise :class:`StoreError` and nothing is written.
    Each site's file is replaced atomically (all files are read and merged before any is
    written, so only an I/O failure can leave some sites written and others not; a rerun fixes
    it)."""
    spec = table_spec(table)
    data = _validate(spec, df)
    if data.num_rows == 0:
        return WriteSummary(spec.name)
    table_dir = Path(root) / spec.name
    try:
        return _upsert(spec, Path(root), table_dir, data)
    except OSError as exc:  # disk full, permissions, a file where a directory should be ...
        raise StoreError(f"{table_dir}: {first_line(exc)}") from exc


def _upsert(spec: TableSpec, root: Path, table_dir: Path, data: pa.Table) -> WriteSummary:
    site_ids = sorted(pc.unique(data.column(PARTITION_COLUMN)).to_pylist())
    inserted: dict[str, int] = {}
    replaced: dict[str, int] = {}
    files: dict[str, Path] = {}
    with writer_lock(table_dir, root=root):  # also removes the temp files of killed writers
        merged: dict[str, pa.Table] = {}
        for site_id in site_ids:
            path = partition_path(root, spec.name, site_id)
            rows = data.filter(pc.equal(data.column(PARTITION_COLUMN), site_id))
            rows = rows.drop_columns([PARTITION_COLUMN])
            check_inside(path, root)  # never read (nor replace) through a link
            existing = read_partition(spec, path) if path.is_file() else None
            merged[site_id], n_replaced = _merge(spec, existing, rows)
            replaced[site_id] = n_replaced
            inserted[site_id] = rows.num_rows - n_replaced
            files[site_id] = path
        for site_id in site_ids:
            path = files[site_id]
            ensure_dir(path.parent, root)
            _atomic_write(merged[site_id], path, root)
    return WriteSummary(spec.name, inserted, replaced, files)
