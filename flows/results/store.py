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
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from aoi.sites import SITE_ID_PATTERN
from flows.results.files import (
    StoreError,
    atomic_path,
    check_inside,
    ensure_dir,
    first_line,
    writer_lock,
)

__all__ = ["ACCURACY_IGNORE", "PARTITION_COLUMN", "SCHEMA_VERSION", "SITE_ID_PATTERN", "TABLES",
           "StoreError", "TableSpec", "WriteSummary", "check_site_id", "hive_partitioning",
           "latest_datetime", "partition_path", "read_table", "write_rows"]

SCHEMA_VERSION = "1"
PARTITION_COLUMN = "site_id"
PART_FILE = "part-0.parquet"
_SITE_ID_RE = re.compile(SITE_ID_PATTERN)
_META_TABLE = b"bluecarbon.table"
_META_VERSION = b"bluecarbon.schema_version"
_WRITE_OPTIONS = {"compression": "zstd"}


@dataclass(frozen=True)
class TableSpec:
    """One table of the store.

    ``schema`` includes ``site_id`` (first); the files hold every other column.
    ``key`` identifies a row (upserts replace rows with the same key); ``sort_by`` is the row
    order inside a file and must contain the key, so that it is a total order.
    ``not_null`` columns (the key, at least) refuse nulls; ``month_start`` date columns must be
    the first day of a month.
    """

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    sort_by: tuple[str, ...]
    not_null: tuple[str, ...] = ()
    month_start: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    """Columns added after the contract: a frame may leave them out (they are stored as null),
    so writers of the contract's columns keep working."""

    def __post_init__(self) -> None:
        names = self.schema.names
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate column names")
        if not names or names[0] != PARTITION_COLUMN or self.key[:1] != (PARTITION_COLUMN,):
            raise ValueError(f"{self.name}: {PARTITION_COLUMN} must be the first column and key")
        for group in ("key", "sort_by", "not_null", "month_start", "optional"):
            missing = [c for c in getattr(self, group) if c not in names]
            if missing:
                raise ValueError(f"{self.name}: {group} names unknown columns {missing}")
        if not set(self.key) <= set(self.sort_by):
            raise ValueError(f"{self.name}: sort_by must contain the key (total order)")
        if not set(self.key) <= set(self.not_null):
            raise ValueError(f"{self.name}: key columns must be in not_null")

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema.names)

    @property
    def file_schema(self) -> pa.Schema:
        """Schema of the Parquet files: every column but ``site_id``, with the table metadata."""
        fields = [f for f in self.schema if f.name != PARTITION_COLUMN]
        return pa.schema(
            fields,
            metadata={_META_TABLE: self.name.encode(), _META_VERSION: SCHEMA_VERSION.encode()},
        )


def _spec_schema(fields: list[tuple[str, pa.DataType]], table: str) -> pa.Schema:
    return pa.schema(
        fields, metadata={_META_TABLE: table.encode(), _META_VERSION: SCHEMA_VERSION.encode()}
    )


CHANGE_ADDED_COLUMNS = (
    "gain_ci_low_ha", "gain_ci_high_ha", "loss_ci_low_ha", "loss_ci_high_ha",
    "baseline_observed_fraction", "canopy_20_50_ha", "canopy_50_80_ha", "canopy_80_100_ha",
    "turbid", "habitat_ndvi_mean", "restored_ndvi_mean", "recovery_ratio",
    "canopy_closure_period", "assessable_fraction", "rule_id",
)
"""Columns of ``change`` beyond the contract in design.md (issue 6: science; issue 17: the
share of the site the habitat could be judged on, and the rule that judged it)."""
CARBON_ADDED_COLUMNS = (
    "change_conservative_tco2e", "change_uncertainty_90_pct", "baseline_stock_tco2e",
    "baseline_stock_ci_low_tco2e", "baseline_stock_ci_high_tco2e", "area_source",
    "processing_version", "run_id",
)
"""Columns of ``carbon`` after the contract's (issue 19): the VM0033-conservative change and
its uncertainty, the baseline stock and its interval, where the areas came from."""

_F64 = pa.float64()
_STR = pa.string()

TABLES: dict[str, TableSpec] = {
    "observations": TableSpec(
        name="observations",
        schema=_spec_schema(
            [
                ("site_id", _STR),
                ("scene_id", _STR),
                ("datetime", pa.timestamp("us", tz="UTC")),
                ("source", _STR),
                ("valid_fraction", _F64),
                ("cloud_fraction", _F64),
                ("ndvi_mean", _F64),
                ("ndwi_mean", _F64),
                ("mndwi_mean", _F64),
                ("mvi_mean", _F64),
                ("habitat_area_ha", _F64),
                ("processing_version", _STR),
                ("run_id", _STR),
            ],
            "observations",
        ),
        key=("site_id", "scene_id"),
        sort_by=("site_id", "datetime", "scene_id"),
        not_null=("site_id", "scene_id", "datetime"),
    ),
    "change": TableSpec(
        name="change",
        schema=_spec_schema(
            [
                ("site_id", _STR),
                ("habitat", _STR),
                ("period", pa.date32()),
                ("n_observations", pa.int32()),
                ("valid_fraction", _F64),
                ("extent_ha", _F64),
                ("baseline_extent_ha", _F64),
                ("gain_ha", _F64),
                ("loss_ha", _F64),
                ("net_change_ha", _F64),
                ("extent_ci_low_ha", _F64),
                ("extent_ci_high_ha", _F64),
                # added columns (issue 6): intervals of gain and loss, canopy density classes
                # (mangrove), turbid months (seagrass), restoration trajectory
                ("gain_ci_low_ha", _F64),
                ("gain_ci_high_ha", _F64),
                ("loss_ci_low_ha", _F64),
                ("loss_ci_high_ha", _F64),
                ("baseline_observed_fraction", _F64),
                ("canopy_20_50_ha", _F64),
                ("canopy_50_80_ha", _F64),
                ("canopy_80_100_ha", _F64),
                ("turbid", pa.bool_()),
                ("habitat_ndvi_mean", _F64),
                ("restored_ndvi_mean", _F64),
                ("recovery_ratio", _F64),
                ("canopy_closure_period", pa.date32()),
                ("processing_version", _STR),
                ("run_id", _STR),
                # added columns (issue 17): assessable share of the site, the rule's id
                ("assessable_fraction", _F64),
                ("rule_id", _STR),
            ],
            "change",
        ),
        key=("site_id", "period"),
        sort_by=("site_id", "period"),
        not_null=("site_id", "period"),
        month_start=("period",),
        optional=CHANGE_ADDED_COLUMNS,
    ),
    # issue 18: error-adjusted areas and accuracies from a labelled sample (flows.accuracy);
    # <out>/accuracy/ also holds the designs' folders <site>/<YYYY-MM>/ (see ACCURACY_IGNORE)
    "accuracy": TableSpec(
        name="accuracy",
        schema=_spec_schema(
            [("site_id", _STR), ("period", pa.date32()), ("class", _STR),
             ("n_samples", pa.int32())]
            + [(c, _F64) for c in (
                "map_area_ha", "estimated_area_ha", "ci_low_ha", "ci_high_ha",
                "users_accuracy", "producers_accuracy", "overall_accuracy",
                "estimated_area_se_ha", "users_accuracy_se", "producers_accuracy_se",
                "overall_accuracy_se")]
            + [("method", _STR), ("source", _STR), ("sample_size", pa.int32()),
               ("design_seed", pa.int64()), ("map_changed", pa.bool_()),
               ("assessed_on", pa.date32()), ("assessment_id", _STR),
               ("processing_version", _STR)],
            "accuracy",
        ),
        key=("site_id", "period", "class"),
        sort_by=("site_id", "period", "class"),
        not_null=("site_id", "period", "class", "n_samples", "method", "assessed_on"),
        month_start=("period",),
    ),
    # issue 19: carbon ledger and extent accounts, recomputed by every run over a site's whole
    # series (flows.site.carbon); columns after the contract's are optional
    "carbon": TableSpec(
        name="carbon",
        schema=_spec_schema(
            [("site_id", _STR), ("period", pa.date32()), ("habitat", _STR)]
            + [(c, _F64) for c in ("extent_ha", "stock_tco2e", "stock_ci_low_tco2e",
                                   "stock_ci_high_tco2e", "change_tco2e", "change_ci_low_tco2e",
                                   "change_ci_high_tco2e")]
            + [("method", _STR), ("factors_id", _STR)]
            + [(c, _F64) for c in CARBON_ADDED_COLUMNS[:5]]
            + [("area_source", _STR), ("processing_version", _STR), ("run_id", _STR)],
            "carbon",
        ),
        key=("site_id", "period"),
        sort_by=("site_id", "period"),
        not_null=("site_id", "period", "method", "factors_id"),
        month_start=("period",),
        optional=CARBON_ADDED_COLUMNS,
    ),
    "accounts": TableSpec(
        name="accounts",
        schema=_spec_schema(
            [("site_id", _STR), ("year", pa.int32()), ("habitat", _STR)]
            + [(c, _F64) for c in ("opening_ha", "additions_ha", "reductions_ha",
                                   "net_change_ha", "closing_ha")]
            + [("n_patches", pa.int32()), ("mean_patch_ha", _F64),
               ("edge_density_m_per_ha", _F64), ("closing_period", pa.date32()),
               ("flows_from", _STR), ("processing_version", _STR), ("run_id", _STR)],
            "accounts",
        ),
        key=("site_id", "year"),
        sort_by=("site_id", "year"),
        not_null=("site_id", "year", "opening_ha", "closing_ha"),
        month_start=("closing_period",),
        optional=("closing_period", "flows_from", "processing_version", "run_id"),
    ),
}

ACCURACY_IGNORE = [".", "_", "samples", "design", "compare"]
"""``ignore_prefixes`` for pandas/pyarrow readers of ``<out>/accuracy/``, whose design folders
(``<site>/<YYYY-MM>/samples.csv`` ...) are no Parquet files: ``pd.read_parquet(root /
"accuracy", ignore_prefixes=ACCURACY_IGNORE)``. :func:`read_table` and the DuckDB glob
``accuracy/*/*.parquet`` need nothing."""


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


# --------------------------------------------------------------------------- paths


def check_site_id(site_id: object) -> str:
    """Return ``site_id`` if it is a safe slug, else raise :class:`StoreError`."""
    if not isinstance(site_id, str) or _SITE_ID_RE.fullmatch(site_id) is None:
        shown = repr(site_id)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise StoreError(f"unsafe site id {shown}: expected a slug matching ^{SITE_ID_PATTERN}$")
    return site_id


def _spec(table: str) -> TableSpec:
    try:
        return TABLES[table]
    except (KeyError, TypeError):
        raise StoreError(f"unknown table {table!r}; expected one of {sorted(TABLES)}") from None


def partition_path(root: str | os.PathLike[str], table: str, site_id: str) -> Path:
    """``<root>/<table>/site_id=<id>/part-0.parquet`` (validated; the file may not exist)."""
    spec = _spec(table)
    return Path(root) / spec.name / f"{PARTITION_COLUMN}={check_site_id(site_id)}" / PART_FILE


def hive_partitioning() -> ds.Partitioning:
    """The store's partitioning with ``site_id`` pinned to string, for pandas/pyarrow readers:
    ``pd.read_parquet(root / "change", partitioning=hive_partitioning())``."""
    return ds.partitioning(pa.schema([(PARTITION_COLUMN, pa.string())]), flavor="hive")


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


def _read_partition(spec: TableSpec, path: Path) -> pa.Table:
    """A stored partition file conformed to ``spec.file_schema`` (added columns -> nulls)."""
    try:
        stored = pq.ParquetFile(path).read()
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"{path}: unreadable Parquet file: {first_line(exc)}") from None
    meta = stored.schema.metadata or {}
    owner = meta.get(_META_TABLE)
    if owner is not None and owner.decode(errors="replace") != spec.name:
        raise StoreError(f"{path}: belongs to table {owner.decode(errors='replace')!r}")
    fschema = spec.file_schema
    unknown = [n for n in stored.column_names if fschema.get_field_index(n) < 0]
    if unknown:
        raise StoreError(
            f"{path}: columns {unknown} are unknown to this bluecarbon version; refusing to drop them"
        )
    columns = []
    for f in fschema:
        if f.name in stored.column_names:
            try:
                columns.append(stored.column(f.name).cast(f.type, safe=True))
            except (pa.ArrowException, OverflowError) as exc:
                raise StoreError(f"{path}: column {f.name!r}: {first_line(exc)}") from None
        else:
            columns.append(pa.nulls(stored.num_rows, f.type))
    return pa.Table.from_arrays(columns, schema=fschema)


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
    spec = _spec(table)
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
            existing = _read_partition(spec, path) if path.is_file() else None
            merged[site_id], n_replaced = _merge(spec, existing, rows)
            replaced[site_id] = n_replaced
            inserted[site_id] = rows.num_rows - n_replaced
            files[site_id] = path
        for site_id in site_ids:
            path = files[site_id]
            ensure_dir(path.parent, root)
            _atomic_write(merged[site_id], path, root)
    return WriteSummary(spec.name, inserted, replaced, files)


def _stored_sites(table_dir: Path) -> list[str]:
    if not table_dir.is_dir():
        return []
    prefix = f"{PARTITION_COLUMN}="
    sites = []
    for entry in os.scandir(table_dir):
        if entry.is_dir() and entry.name.startswith(prefix):
            site_id = entry.name[len(prefix) :]
            if _SITE_ID_RE.fullmatch(site_id) and os.path.isfile(
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
    spec = _spec(table)
    table_dir = Path(root) / spec.name
    sites = [check_site_id(site_id)] if site_id is not None else _stored_sites(table_dir)
    parts = []
    for sid in sites:
        path = partition_path(root, spec.name, sid)
        if not path.is_file():
            continue
        try:
            stored = _read_partition(spec, path)
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
