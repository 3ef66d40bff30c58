"""The tables of the results folder: schemas, keys and row order, and where a site's rows live.

Each table is a :class:`TableSpec` of :data:`TABLES` (the contract: design.md, "Parquet
outputs"); one site's rows of a table are ``<root>/<table>/site_id=<id>/part-0.parquet``
(:func:`partition_path`), ``site_id`` in the directory name only (:mod:`flows.results.store`
says why, and how readers pin its type: :func:`hive_partitioning`). :func:`read_partition`
conforms one stored file to its table's schema, for the writer and the readers alike.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from aoi.sites import SITE_ID_PATTERN
from flows.results.files import StoreError, first_line

__all__ = ["ACCURACY_IGNORE", "CARBON_ADDED_COLUMNS", "CHANGE_ADDED_COLUMNS", "PARTITION_COLUMN",
           "PART_FILE", "SCHEMA_VERSION", "SITE_ID_PATTERN", "TABLES", "TableSpec",
           "check_site_id", "hive_partitioning", "partition_path", "read_partition",
           "table_spec"]

SCHEMA_VERSION = "1"
PARTITION_COLUMN = "site_id"
PART_FILE = "part-0.parquet"
SITE_ID_RE = re.compile(SITE_ID_PATTERN)
_META_TABLE = b"bluecarbon.table"
_META_VERSION = b"bluecarbon.schema_version"


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
    "canopy_closure_period", "assessable_fraction", "rule_id", "baseline_filled_fraction",
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
                # added column (issue 17, mangrove rule v17): the baseline's filled share
                ("baseline_filled_fraction", _F64),
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


# --------------------------------------------------------------------------- paths


def check_site_id(site_id: object) -> str:
    """Return ``site_id`` if it is a safe slug, else raise :class:`StoreError`."""
    if not isinstance(site_id, str) or SITE_ID_RE.fullmatch(site_id) is None:
        shown = repr(site_id)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise StoreError(f"unsafe site id {shown}: expected a slug matching ^{SITE_ID_PATTERN}$")
    return site_id


def table_spec(table: str) -> TableSpec:
    """The :class:`TableSpec` named ``table``, or :class:`StoreError` naming the tables."""
    try:
        return TABLES[table]
    except (KeyError, TypeError):
        raise StoreError(f"unknown table {table!r}; expected one of {sorted(TABLES)}") from None


def partition_path(root: str | os.PathLike[str], table: str, site_id: str) -> Path:
    """``<root>/<table>/site_id=<id>/part-0.parquet`` (validated; the file may not exist)."""
    spec = table_spec(table)
    return Path(root) / spec.name / f"{PARTITION_COLUMN}={check_site_id(site_id)}" / PART_FILE


def hive_partitioning() -> ds.Partitioning:
    """The store's partitioning with ``site_id`` pinned to string, for pandas/pyarrow readers:
    ``pd.read_parquet(root / "change", partitioning=hive_partitioning())``."""
    return ds.partitioning(pa.schema([(PARTITION_COLUMN, pa.string())]), flavor="hive")


# --------------------------------------------------------------------------- stored files


def read_partition(spec: TableSpec, path: Path) -> pa.Table:
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
