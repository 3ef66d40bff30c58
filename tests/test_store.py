"""flows.results.store: the Parquet store of the results folder (design.md, "Parquet outputs")."""

from __future__ import annotations

import datetime as dt
import os
import stat
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.results import StoreError, store
from flows.results.files import temp_path

try:
    import duckdb
except ImportError:  # the DuckDB checks skip, everything else runs
    duckdb = None

needs_duckdb = pytest.mark.skipif(duckdb is None, reason="duckdb not installed")

UTC_US = pa.timestamp("us", tz="UTC")
OBS_FLOATS = [
    "valid_fraction",
    "cloud_fraction",
    "ndvi_mean",
    "ndwi_mean",
    "mndwi_mean",
    "mvi_mean",
    "habitat_area_ha",
]
CHANGE_FLOATS = [
    "valid_fraction",
    "extent_ha",
    "baseline_extent_ha",
    "gain_ha",
    "loss_ha",
    "net_change_ha",
    "extent_ci_low_ha",
    "extent_ci_high_ha",
]


# ----------------------------------------------------------------------------- helpers


def obs_frame(site_id="selangor-01", scenes=range(4), *, value=0.0, run_id="run-1"):
    """Observations for ``site_id``: scene i is acquired on day i of 2024, 03:04:05.678901 UTC."""
    scenes = list(scenes)
    n = len(scenes)
    base = pd.Timestamp("2024-01-01 03:04:05.678901", tz="UTC")
    return pd.DataFrame(
        {
            "site_id": [site_id] * n,
            "scene_id": [f"S2A_MSIL2A_{i:04d}" for i in scenes],
            "datetime": [base + pd.Timedelta(days=i) for i in scenes],
            "source": ["demo"] * n,
            **{c: [value + 0.01 * i + k for i in scenes] for k, c in enumerate(OBS_FLOATS)},
            "processing_version": ["0.1.0"] * n,
            "run_id": [run_id] * n,
        }
    )


def change_frame(site_id="selangor-01", months=range(1, 4), *, value=0.0, run_id="run-1"):
    months = list(months)
    n = len(months)
    return pd.DataFrame(
        {
            "site_id": [site_id] * n,
            "habitat": ["mangrove"] * n,
            "period": [dt.date(2024, m, 1) for m in months],
            "n_observations": [m * 2 for m in months],
            **{c: [value + m + k / 10 for m in months] for k, c in enumerate(CHANGE_FLOATS)},
            "processing_version": ["0.1.0"] * n,
            "run_id": [run_id] * n,
        }
    )


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (hidden ones included) with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(Path(root).rglob("*"))
        if p.is_file()
    }


def parquet_files(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(root).items() if k.endswith(".parquet")}


def duck_read(root: Path, table: str, extra: str = "") -> str:
    return f"read_parquet('{root}/{table}/*/*.parquet', hive_partitioning=true{extra})"


# ----------------------------------------------------------------------------- contract


def test_tables_match_the_contract():
    obs = store.TABLES["observations"]
    assert obs.key == ("site_id", "scene_id")
    assert obs.schema.names == [
        "site_id", "scene_id", "datetime", "source", *OBS_FLOATS, "processing_version", "run_id",
    ]  # fmt: skip
    assert obs.schema.field("datetime").type == UTC_US
    assert all(obs.schema.field(c).type == pa.float64() for c in OBS_FLOATS)
    for c in ("site_id", "scene_id", "source", "processing_version", "run_id"):
        assert obs.schema.field(c).type == pa.string()

    change = store.TABLES["change"]
    assert change.key == ("site_id", "period")
    contract = ["site_id", "habitat", "period", "n_observations", *CHANGE_FLOATS,
                "processing_version", "run_id"]
    # the contract's columns, in order, plus documented additions that writers may omit
    assert [c for c in change.schema.names if c in contract] == contract
    added = [c for c in change.schema.names if c not in contract]
    assert tuple(added) == change.optional == store.CHANGE_ADDED_COLUMNS
    assert change.schema.field("period").type == pa.date32()
    assert change.schema.field("n_observations").type == pa.int32()
    assert all(change.schema.field(c).type == pa.float64() for c in CHANGE_FLOATS)
    for spec in store.TABLES.values():
        assert set(spec.key) <= set(spec.sort_by)
        assert "site_id" not in spec.file_schema.names


def test_layout_site_id_only_in_directory_names(tmp_path):
    store.write_rows(tmp_path, "observations", obs_frame())
    path = tmp_path / "observations" / "site_id=selangor-01" / "part-0.parquet"
    assert path.is_file()
    assert path == store.partition_path(tmp_path, "observations", "selangor-01")
    schema = pq.read_schema(path)
    assert "site_id" not in schema.names
    meta = pq.ParquetFile(path).metadata
    assert schema.metadata[b"bluecarbon.table"] == b"observations"
    assert schema.metadata[b"bluecarbon.schema_version"] == store.SCHEMA_VERSION.encode()
    # nothing time-varying: only the Arrow schema and our two keys
    assert set(meta.metadata) == {
        b"ARROW:schema",
        b"bluecarbon.table",
        b"bluecarbon.schema_version",
    }
    rg = meta.row_group(0)
    assert all(rg.column(i).compression == "ZSTD" for i in range(rg.num_columns))


# ----------------------------------------------------------------------------- round trips


def test_round_trip_read_table_observations(tmp_path):
    df = obs_frame(scenes=[3, 1, 2, 0])  # written out of order
    df.loc[1, "ndvi_mean"] = np.nan  # a scene with no valid pixel
    summary = store.write_rows(tmp_path, "observations", df)
    assert summary.inserted == {"selangor-01": 4} and summary.n_replaced == 0

    got = store.read_table(tmp_path, "observations")
    assert list(got.columns) == list(store.TABLES["observations"].columns)
    assert str(got["datetime"].dtype) == "datetime64[us, UTC]"
    assert got["valid_fraction"].dtype == np.float64
    for col in ("site_id", "scene_id", "source", "run_id"):  # plain strings, not categoricals
        assert pd.api.types.is_string_dtype(got[col])
        assert not isinstance(got[col].dtype, pd.CategoricalDtype)
    # sorted by datetime, microseconds kept
    expected = df.sort_values("datetime").reset_index(drop=True)
    assert got["scene_id"].tolist() == expected["scene_id"].tolist()
    assert got["datetime"].tolist() == expected["datetime"].tolist()
    assert got["datetime"].iloc[0].microsecond == 678901
    pd.testing.assert_frame_equal(
        got[OBS_FLOATS], expected[OBS_FLOATS], check_dtype=True, check_exact=True
    )
    assert got["ndvi_mean"].isna().sum() == 1


def test_round_trip_read_table_change(tmp_path):
    df = change_frame(months=[3, 1, 2])
    store.write_rows(tmp_path, "change", df)
    got = store.read_table(tmp_path, "change")
    assert got["period"].tolist() == [dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)]
    assert got["n_observations"].dtype == np.int32
    assert got["n_observations"].tolist() == [2, 4, 6]
    assert got["extent_ha"].tolist() == [1.1, 2.1, 3.1]
    assert got["site_id"].tolist() == ["selangor-01"] * 3


def test_round_trip_plain_pandas(tmp_path):
    store.write_rows(tmp_path, "observations", obs_frame())
    store.write_rows(tmp_path, "observations", obs_frame("posidonia-malaga", scenes=[7]))
    store.write_rows(tmp_path, "change", change_frame())

    obs = pd.read_parquet(tmp_path / "observations")
    assert list(obs.columns).count("site_id") == 1
    assert sorted(obs["site_id"].astype(str).unique()) == ["posidonia-malaga", "selangor-01"]
    assert str(obs["datetime"].dtype) == "datetime64[us, UTC]"
    assert len(obs) == 5
    row = obs[obs["scene_id"] == "S2A_MSIL2A_0007"].iloc[0]
    assert row["site_id"] == "posidonia-malaga"
    assert row["datetime"] == pd.Timestamp("2024-01-08 03:04:05.678901", tz="UTC")

    change = pd.read_parquet(tmp_path / "change")
    assert list(change.columns).count("site_id") == 1
    assert change["period"].tolist() == [dt.date(2024, m, 1) for m in (1, 2, 3)]
    assert change["n_observations"].dtype == np.int32


def test_round_trip_pyarrow_dataset(tmp_path):
    store.write_rows(tmp_path, "observations", obs_frame())
    store.write_rows(tmp_path, "change", change_frame("posidonia-malaga"))

    obs = ds.dataset(tmp_path / "observations", format="parquet", partitioning="hive").to_table()
    assert obs.schema.names.count("site_id") == 1
    assert obs.schema.field("site_id").type == pa.string()
    assert obs.schema.field("datetime").type == UTC_US
    assert set(obs.column("site_id").to_pylist()) == {"selangor-01"}
    assert obs.num_rows == 4

    change = ds.dataset(tmp_path / "change", format="parquet", partitioning="hive").to_table()
    assert change.schema.field("period").type == pa.date32()
    assert change.schema.field("n_observations").type == pa.int32()
    assert set(change.column("site_id").to_pylist()) == {"posidonia-malaga"}


@needs_duckdb
def test_round_trip_duckdb(tmp_path):
    store.write_rows(tmp_path, "observations", obs_frame())
    store.write_rows(tmp_path, "observations", obs_frame("posidonia-malaga", scenes=[7]))
    store.write_rows(tmp_path, "change", change_frame())

    con = duckdb.connect()
    types = dict(
        (r[0], r[1])
        for r in con.execute(
            f"DESCRIBE SELECT * FROM {duck_read(tmp_path, 'observations')}"
        ).fetchall()
    )
    assert types["site_id"] == "VARCHAR"
    assert types["datetime"] == "TIMESTAMP WITH TIME ZONE"
    assert types["ndvi_mean"] == "DOUBLE"
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        f"SELECT site_id, scene_id, epoch_us(datetime) FROM {duck_read(tmp_path, 'observations')} "
        "ORDER BY site_id, scene_id"
    ).fetchall()
    assert len(rows) == 5
    assert rows[0] == (
        "posidonia-malaga",
        "S2A_MSIL2A_0007",
        pd.Timestamp("2024-01-08 03:04:05.678901", tz="UTC").value // 1000,
    )
    assert {r[0] for r in rows[1:]} == {"selangor-01"}

    ctypes = dict(
        (r[0], r[1])
        for r in con.execute(f"DESCRIBE SELECT * FROM {duck_read(tmp_path, 'change')}").fetchall()
    )
    assert ctypes["period"] == "DATE"
    assert ctypes["n_observations"] == "INTEGER"
    periods = con.execute(
        f"SELECT period FROM {duck_read(tmp_path, 'change')} ORDER BY period"
    ).fetchall()
    assert [p[0] for p in periods] == [dt.date(2024, m, 1) for m in (1, 2, 3)]


@pytest.mark.parametrize("site_id", ["0123", "2024-01-01", "0x1f", "inf"])
def test_number_or_date_like_site_ids_with_pinned_partition_type(tmp_path, site_id):
    """Plain readers infer the partition type from directory names (0123 -> 123 in pyarrow,
    2024-01-01 -> DATE in DuckDB); read_table and the documented pinned readers keep strings."""
    store.write_rows(tmp_path, "observations", obs_frame(site_id, scenes=[0, 1]))
    assert store.read_table(tmp_path, "observations")["site_id"].tolist() == [site_id] * 2
    assert store.read_table(tmp_path, "observations", site_id)["site_id"].tolist() == [site_id] * 2

    part = store.hive_partitioning()
    got = pd.read_parquet(tmp_path / "observations", partitioning=part)
    assert got["site_id"].astype(str).tolist() == [site_id] * 2
    table = ds.dataset(tmp_path / "observations", partitioning=part).to_table()
    assert table.column("site_id").to_pylist() == [site_id] * 2
    if duckdb is not None:
        sql = duck_read(tmp_path, "observations", ", hive_types={'site_id': VARCHAR}")
        assert duckdb.connect().execute(f"SELECT site_id FROM {sql}").fetchall() == [(site_id,)] * 2


# ----------------------------------------------------------------------------- upserts


def test_rerun_replaces_rows(tmp_path):
    store.write_rows(tmp_path, "observations", obs_frame(run_id="run-1"))
    before = parquet_files(tmp_path)
    summary = store.write_rows(tmp_path, "observations", obs_frame(value=10.0, run_id="run-2"))
    assert summary.inserted == {"selangor-01": 0}
    assert summary.replaced == {"selangor-01": 4}

    got = store.read_table(tmp_path, "observations")
    assert len(got) == 4
    assert got["run_id"].tolist() == ["run-2"] * 4
    assert got["valid_fraction"].tolist() == pytest.approx([10.0, 10.01, 10.02, 10.03])
    assert parquet_files(tmp_path).keys() == before.keys()
    assert parquet_files(tmp_path) != before

    store.write_rows(tmp_path, "change", change_frame(run_id="run-1"))
    store.write_rows(tmp_path, "change", change_frame(value=5.0, run_id="run-2"))
    got = store.read_table(tmp_path, "change")
    assert len(got) == 3 and got["run_id"].tolist() == ["run-2"] * 3
    assert got["extent_ha"].tolist() == [6.1, 7.1, 8.1]


def test_partial_overlap_upsert(tmp_path):
    store.write_rows(tmp_path, "observations", obs_frame(scenes=range(0, 5), run_id="old"))
    summary = store.write_rows(
        tmp_path, "observations", obs_frame(scenes=range(3, 8), value=100.0, run_id="new")
    )
    assert summary.inserted == {"selangor-01": 3}
    assert summary.replaced == {"selangor-01": 2}
    assert (summary.n_inserted, summary.n_replaced) == (3, 2)

    got = store.read_table(tmp_path, "observations")
    assert got["scene_id"].tolist() == [f"S2A_MSIL2A_{i:04d}" for i in range(8)]
    assert got["datetime"].is_monotonic_increasing
    assert got["run_id"].tolist() == ["old"] * 3 + ["new"] * 5
    assert got["valid_fraction"].iloc[3] == pytest.approx(100.03)
    assert got["valid_fraction"].iloc[2] == pytest.approx(0.02)

    store.write_rows(tmp_path, "change", change_frame(months=[1, 2, 3], run_id="old"))
    store.write_rows(tmp_path, "change", change_frame(months=[3, 4], value=50.0, run_id="new"))
    got = store.read_table(tmp_path, "change")
    assert got["period"].tolist() == [dt.date(2024, m, 1) for m in (1, 2, 3, 4)]
    assert got["run_id"].tolist() == ["old", "old", "new", "new"]
    assert got["extent_ha"].tolist() == [1.1, 2.1, 53.1, 54.1]


def test_two_sites_in_separate_partitions(tmp_path):
    frame = pd.concat([obs_frame("selangor-01", [0, 1, 2]), obs_frame("posidonia-malaga", [0, 1])])
    summary = store.write_rows(tmp_path, "observations", frame)
    assert summary.inserted == {"selangor-01": 3, "posidonia-malaga": 2}
    assert summary.sites == ("posidonia-malaga", "selangor-01")

    table_dir = tmp_path / "observations"
    assert sorted(p.name for p in table_dir.iterdir() if p.is_dir()) == [
        "site_id=posidonia-malaga",
        "site_id=selangor-01",
    ]
    assert pq.read_metadata(table_dir / "site_id=selangor-01" / "part-0.parquet").num_rows == 3
    assert pq.read_metadata(table_dir / "site_id=posidonia-malaga" / "part-0.parquet").num_rows == 2
    # the same scene id at two sites is two rows (key is site_id + scene_id)
    assert len(store.read_table(tmp_path, "observations")) == 5
    assert len(store.read_table(tmp_path, "observations", "posidonia-malaga")) == 2
    assert store.read_table(tmp_path, "observations", "selangor-01")[
        "site_id"
    ].unique().tolist() == ["selangor-01"]

    # writing one site never rewrites the other
    other = (table_dir / "site_id=selangor-01" / "part-0.parquet").read_bytes()
    store.write_rows(tmp_path, "observations", obs_frame("posidonia-malaga", [5], value=3.0))
    assert (table_dir / "site_id=selangor-01" / "part-0.parquet").read_bytes() == other
    assert len(store.read_table(tmp_path, "observations", "posidonia-malaga")) == 3


def test_timezones_are_converted_to_utc(tmp_path):
    df = obs_frame(scenes=[0])
    df["datetime"] = pd.Series([pd.Timestamp("2024-06-01 12:00", tz="Europe/Madrid")])
    store.write_rows(tmp_path, "observations", df)
    got = store.read_table(tmp_path, "observations")["datetime"].iloc[0]
    assert got == pd.Timestamp("2024-06-01 10:00", tz="UTC")
    assert str(got.tz) == "UTC"


def test_accepts_usual_pandas_spellings(tmp_path):
    """int64 counts, monthly Periods / midnight datetimes as periods, categorical strings."""
    df = change_frame(months=[1, 2])
    df["n_observations"] = df["n_observations"].astype("int64")
    df["period"] = pd.Series(pd.period_range("2024-01", periods=2, freq="M"))
    df["habitat"] = df["habitat"].astype("category")
    store.write_rows(tmp_path, "change", df)
    df2 = change_frame(months=[3])
    df2["period"] = pd.to_datetime(["2024-03-01"])
    store.write_rows(tmp_path, "change", df2)
    got = store.read_table(tmp_path, "change")
    assert got["period"].tolist() == [dt.date(2024, m, 1) for m in (1, 2, 3)]
    assert got["habitat"].tolist() == ["mangrove"] * 3


def test_empty_frame_writes_nothing(tmp_path):
    summary = store.write_rows(tmp_path, "observations", obs_frame(scenes=[]))
    assert summary.n_inserted == 0 and summary.sites == ()
    assert snapshot(tmp_path) == {}


# ----------------------------------------------------------------------------- refusals


def _missing_column(df):
    return df.drop(columns=["cloud_fraction"])


def _unknown_column(df):
    return df.assign(ndvi_maen=0.1)


def _null_scene_id(df):
    df["scene_id"] = df["scene_id"].astype(object)
    df.loc[1, "scene_id"] = None
    return df


def _null_site_id(df):
    df["site_id"] = df["site_id"].astype(object)
    df.loc[0, "site_id"] = None
    return df


def _duplicate_key(df):
    return pd.concat([df, df.iloc[[2]]], ignore_index=True)


def _text_in_float(df):
    df["ndvi_mean"] = df["ndvi_mean"].astype(object)
    df.loc[0, "ndvi_mean"] = "0.5"
    return df


def _number_as_string(df):
    return df.assign(run_id=7)


def _naive_datetime(df):
    return df.assign(datetime=df["datetime"].dt.tz_localize(None))


def _lossy_nanoseconds(df):
    return df.assign(datetime=df["datetime"].astype("datetime64[ns, UTC]") + pd.Timedelta(1, "ns"))


def _date_instead_of_datetime(df):
    return df.assign(datetime=[d.date() for d in df["datetime"]])


def _null_datetime(df):
    df = df.copy()
    df.loc[0, "datetime"] = pd.NaT
    return df


def _unsafe_site_in_frame(df):
    return df.assign(site_id="../../etc")


def _second_site_bad(df):
    return pd.concat([obs_frame("aaa-good", [9]), df.assign(site_id="Bad Site")], ignore_index=True)


BAD_OBSERVATIONS = {
    "missing column": _missing_column,
    "unknown column": _unknown_column,
    "null scene_id": _null_scene_id,
    "null site_id": _null_site_id,
    "duplicate key": _duplicate_key,
    "text in float column": _text_in_float,
    "number in string column": _number_as_string,
    "naive datetime": _naive_datetime,
    "lossy nanoseconds": _lossy_nanoseconds,
    "date instead of datetime": _date_instead_of_datetime,
    "null datetime": _null_datetime,
    "unsafe site id": _unsafe_site_in_frame,
    "second site bad": _second_site_bad,
}


@pytest.mark.parametrize("case", BAD_OBSERVATIONS, ids=list(BAD_OBSERVATIONS))
def test_bad_observation_frames_refused_and_nothing_written(tmp_path, case):
    store.write_rows(tmp_path, "observations", obs_frame(scenes=range(3)))
    before = snapshot(tmp_path)
    bad = BAD_OBSERVATIONS[case](obs_frame(scenes=range(2, 6), value=9.0, run_id="bad"))
    with pytest.raises(StoreError) as err:
        store.write_rows(tmp_path, "observations", bad)
    assert "\n" not in str(err.value) and str(err.value)
    assert snapshot(tmp_path) == before
    assert store.read_table(tmp_path, "observations")["run_id"].tolist() == ["run-1"] * 3


def _period_mid_month(df):
    return df.assign(period=[dt.date(2024, 1, 15), dt.date(2024, 2, 1)])


def _period_with_time(df):
    return df.assign(period=[pd.Timestamp("2024-01-01 06:00"), pd.Timestamp("2024-02-01")])


def _fractional_count(df):
    return df.assign(n_observations=[1.5, 2.0])


def _count_overflow(df):
    return df.assign(n_observations=[2**40, 1])


def _period_as_text(df):
    return df.assign(period=["2024-01-01", "2024-02-01"])


BAD_CHANGE = {
    "period not first of month": _period_mid_month,
    "period with time of day": _period_with_time,
    "fractional count": _fractional_count,
    "int32 overflow": _count_overflow,
    "period as text": _period_as_text,
    "duplicate period": lambda df: df.assign(period=[dt.date(2024, 1, 1)] * 2),
}


@pytest.mark.parametrize("case", BAD_CHANGE, ids=list(BAD_CHANGE))
def test_bad_change_frames_refused_and_nothing_written(tmp_path, case):
    store.write_rows(tmp_path, "change", change_frame(months=[1, 2]))
    before = snapshot(tmp_path)
    bad = BAD_CHANGE[case](change_frame(months=[1, 2], value=9.0, run_id="bad"))
    with pytest.raises(StoreError) as err:
        store.write_rows(tmp_path, "change", bad)
    assert "\n" not in str(err.value)
    assert snapshot(tmp_path) == before


def test_io_errors_are_store_errors(tmp_path):
    (tmp_path / "results").write_text("a file where the results directory should be")
    with pytest.raises(StoreError, match="results"):
        store.write_rows(tmp_path / "results", "observations", obs_frame())


def test_bad_frame_on_empty_root_creates_nothing(tmp_path):
    with pytest.raises(StoreError):
        store.write_rows(tmp_path, "observations", _unknown_column(obs_frame()))
    with pytest.raises(StoreError, match="DataFrame"):
        store.write_rows(tmp_path, "observations", obs_frame().to_dict())
    with pytest.raises(StoreError, match="unknown table"):
        store.write_rows(tmp_path, "../observations", obs_frame())
    assert list(tmp_path.iterdir()) == []


def test_stored_file_with_unknown_columns_is_not_silently_dropped(tmp_path):
    """A file written by a newer version (an added column this version lacks) is refused."""
    store.write_rows(tmp_path, "observations", obs_frame(scenes=[0]))
    path = store.partition_path(tmp_path, "observations", "selangor-01")
    newer = pq.read_table(path).append_column("future_metric", pa.array([1.0]))
    pq.write_table(newer, path)
    before = snapshot(tmp_path)
    with pytest.raises(StoreError, match="future_metric"):
        store.write_rows(tmp_path, "observations", obs_frame(scenes=[1]))
    assert snapshot(tmp_path) == before


def test_added_columns_read_as_null_from_older_files(tmp_path):
    """Columns may be added later: files written before then read (and upsert) with nulls."""
    store.write_rows(tmp_path, "observations", obs_frame(scenes=[0, 1]))
    path = store.partition_path(tmp_path, "observations", "selangor-01")
    pq.write_table(pq.read_table(path).drop_columns(["mvi_mean"]), path)  # an "older" file
    got = store.read_table(tmp_path, "observations")
    assert got["mvi_mean"].isna().all() and len(got) == 2
    store.write_rows(tmp_path, "observations", obs_frame(scenes=[1, 2]))
    got = store.read_table(tmp_path, "observations")
    assert got["mvi_mean"].isna().tolist() == [True, False, False]
    assert "mvi_mean" in pq.read_schema(path).names


# ----------------------------------------------------------------------------- site ids


UNSAFE_IDS = ["../escape", "a/b", "..", ".", "", "Selangor", "-lead", "a b", "abc\n", "a" * 65,
              "a\x00b", "site_id=x", "é", 12]  # fmt: skip


@pytest.mark.parametrize("site_id", UNSAFE_IDS, ids=[repr(s) for s in UNSAFE_IDS])
def test_unsafe_site_id_refused_everywhere(tmp_path, site_id):
    root = tmp_path / "results"
    # (a non-string id in a frame is refused as a wrong type or a null key)
    match = "unsafe site id" if isinstance(site_id, str) else "site_id"
    with pytest.raises(StoreError, match=match) as err:
        store.write_rows(root, "observations", obs_frame().assign(site_id=[site_id] * 4))
    assert "\n" not in str(err.value)
    with pytest.raises(StoreError, match="unsafe site id"):
        store.read_table(root, "observations", site_id)
    with pytest.raises(StoreError, match="unsafe site id"):
        store.latest_datetime(root, site_id)
    with pytest.raises(StoreError, match="unsafe site id"):
        store.partition_path(root, "observations", site_id)
    assert list(tmp_path.iterdir()) == []


def test_safe_site_id_limits():
    assert store.check_site_id("a") == "a"
    assert store.check_site_id("0" + "-" * 63) == "0" + "-" * 63
    with pytest.raises(StoreError):
        store.check_site_id("0" + "-" * 64)


# ----------------------------------------------------------------------------- atomicity


def _readers_agree(root: Path, expected_rows: int) -> None:
    assert len(store.read_table(root, "observations")) == expected_rows
    assert len(pd.read_parquet(root / "observations")) == expected_rows
    dataset = ds.dataset(root / "observations", format="parquet", partitioning="hive")
    assert dataset.count_rows() == expected_rows
    assert all(Path(f).name == "part-0.parquet" for f in dataset.files)
    if duckdb is not None:
        (n,) = (
            duckdb.connect()
            .execute(f"SELECT count(*) FROM {duck_read(root, 'observations')}")
            .fetchone()
        )
        assert n == expected_rows


def test_leftover_temp_files_ignored_by_readers_and_cleaned(tmp_path):
    store.write_rows(tmp_path, "observations", obs_frame(scenes=range(3)))
    site_dir = tmp_path / "observations" / "site_id=selangor-01"
    # a killed writer's complete-but-unrenamed temp (a valid Parquet file with other rows) ...
    complete = temp_path(site_dir / store.PART_FILE)
    pq.write_table(pq.read_table(site_dir / "part-0.parquet").slice(0, 2), complete)
    # ... and a truncated one in a partition that never got its part-0 file
    new_dir = tmp_path / "observations" / "site_id=other-site"
    new_dir.mkdir()
    truncated = temp_path(new_dir / store.PART_FILE)
    truncated.write_bytes((site_dir / "part-0.parquet").read_bytes()[:500])
    assert complete.name.startswith(".") and not complete.name.endswith(".parquet")

    _readers_agree(tmp_path, 3)
    assert store.latest_datetime(tmp_path, "other-site") is None

    # the next write of the table (of any site) removes them
    store.write_rows(tmp_path, "observations", obs_frame("posidonia-malaga", scenes=[0]))
    assert not complete.exists() and not truncated.exists()
    _readers_agree(tmp_path, 4)


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    store.write_rows(tmp_path, "observations", obs_frame(scenes=range(3)))
    before = snapshot(tmp_path)
    real_write = pq.write_table

    def write_then_fail(table, where, **kwargs):
        real_write(table.slice(0, 1), where, **kwargs)  # some bytes reach the temp file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.pq, "write_table", write_then_fail)
    with pytest.raises(StoreError, match="No space left"):
        store.write_rows(tmp_path, "observations", obs_frame(scenes=range(2, 6), value=7.0))
    assert snapshot(tmp_path) == before

    def fail_replace(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.undo()
    monkeypatch.setattr(store.os, "replace", fail_replace)
    with pytest.raises(StoreError, match="Input/output error"):
        store.write_rows(tmp_path, "observations", obs_frame(scenes=range(2, 6), value=7.0))
    assert snapshot(tmp_path) == before


def test_write_is_fsynced_and_replaced_atomically(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append("fsync-file" if stat.S_ISREG(os.fstat(fd).st_mode) else "fsync-dir")
        return real_fsync(fd)

    def replace(src, dst):
        calls.append(("replace", Path(src), Path(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(store.os, "fsync", fsync)
    monkeypatch.setattr(store.os, "replace", replace)
    store.write_rows(tmp_path, "observations", obs_frame())
    replaces = [c for c in calls if isinstance(c, tuple)]
    assert len(replaces) == 1
    _, src, dst = replaces[0]
    assert src.parent == dst.parent and src.name.startswith(".") and dst.name == "part-0.parquet"
    i = calls.index(replaces[0])
    assert calls[i - 1] == "fsync-file"  # the temp file's data, right before the rename
    assert calls[i + 1 :] == ["fsync-dir"]  # then the directory entry


def test_concurrent_writers_do_not_lose_rows(tmp_path):
    errors = []

    def writer(k):
        try:
            for j in range(5):
                store.write_rows(tmp_path, "observations", obs_frame(scenes=[k * 100 + j]))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.read_table(tmp_path, "observations")) == 30


# ----------------------------------------------------------------------------- determinism


def test_identical_writes_give_identical_bytes(tmp_path):
    frame = pd.concat([obs_frame("selangor-01", range(6)), obs_frame("posidonia-malaga", [1, 2])])
    store.write_rows(tmp_path / "a", "observations", frame)
    store.write_rows(tmp_path / "a", "change", change_frame())
    time.sleep(1.1)  # a wall-clock timestamp in the file would now differ
    shuffled = frame.sample(frac=1.0, random_state=3)[list(reversed(frame.columns))]
    store.write_rows(tmp_path / "b", "observations", shuffled)
    store.write_rows(tmp_path / "b", "change", change_frame().iloc[::-1])
    a, b = parquet_files(tmp_path / "a"), parquet_files(tmp_path / "b")
    assert len(a) == 3 and a == b

    # a rerun of the same rows leaves the bytes unchanged
    store.write_rows(tmp_path / "a", "observations", frame)
    assert parquet_files(tmp_path / "a") == a
    # and writing in two batches gives the same file as writing once
    store.write_rows(tmp_path / "c", "observations", frame.iloc[:4])
    store.write_rows(tmp_path / "c", "observations", frame.iloc[4:])
    store.write_rows(tmp_path / "c", "change", change_frame())
    assert parquet_files(tmp_path / "c") == a


# ----------------------------------------------------------------------------- reads


def test_read_table_empty_has_schema_columns_and_dtypes(tmp_path):
    for table in ("observations", "change"):
        got = store.read_table(tmp_path / "nowhere", table)
        assert got.empty
        assert list(got.columns) == list(store.TABLES[table].columns)
    obs = store.read_table(tmp_path, "observations")
    assert str(obs["datetime"].dtype) == "datetime64[us, UTC]"
    assert obs["ndvi_mean"].dtype == np.float64
    assert store.read_table(tmp_path, "change")["n_observations"].dtype == np.int32
    store.write_rows(tmp_path, "observations", obs_frame())
    assert store.read_table(tmp_path, "observations", "not-stored").empty
    with pytest.raises(StoreError, match="unknown table"):
        store.read_table(tmp_path, "observation")


def test_latest_datetime(tmp_path):
    assert store.latest_datetime(tmp_path, "selangor-01") is None
    store.write_rows(tmp_path, "observations", obs_frame(scenes=[2, 0, 5, 1]))
    store.write_rows(tmp_path, "observations", obs_frame("posidonia-malaga", scenes=[40]))
    got = store.latest_datetime(tmp_path, "selangor-01")
    assert isinstance(got, pd.Timestamp)
    assert got == pd.Timestamp("2024-01-06 03:04:05.678901", tz="UTC")
    assert str(got.tz) == "UTC"
    assert store.latest_datetime(tmp_path, "posidonia-malaga") == pd.Timestamp(
        "2024-02-10 03:04:05.678901", tz="UTC"
    )
    assert store.latest_datetime(tmp_path, "never-seen") is None
    store.write_rows(tmp_path, "observations", obs_frame(scenes=[9]))
    assert store.latest_datetime(tmp_path, "selangor-01") == pd.Timestamp(
        "2024-01-10 03:04:05.678901", tz="UTC"
    )


# ----------------------------------------------------------------------------- property


batches = st.lists(
    st.lists(
        st.tuples(st.sampled_from(["site-a", "site-b"]), st.integers(0, 6), st.floats(0, 1)),
        max_size=6,
        unique_by=lambda r: (r[0], r[1]),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches)
def test_upserts_behave_like_last_write_wins(batch_list):
    model: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as root:
        for batch in batch_list:
            frames = [obs_frame(site, [scene]).assign(ndvi_mean=v) for site, scene, v in batch]
            frame = pd.concat(frames, ignore_index=True) if frames else obs_frame(scenes=[])
            summary = store.write_rows(root, "observations", frame)
            new = {(s, f"S2A_MSIL2A_{i:04d}") for s, i, _ in batch}
            assert summary.n_replaced == len(new & model.keys())
            assert summary.n_inserted == len(new - model.keys())
            model.update({(s, f"S2A_MSIL2A_{i:04d}"): v for s, i, v in batch})
        got = store.read_table(root, "observations")
        keys = zip(got["site_id"], got["scene_id"], strict=True)
        assert dict(zip(keys, got["ndvi_mean"], strict=True)) == model
        assert len(got) == len(model)
