"""Everything under the results folder (``--out``): what a run writes and what readers read.

    <out>/observations/, change/        Parquet tables (:mod:`flows.results.store`)
    <out>/alerts/, alerts_geojson/      loss alerts (:mod:`flows.results.alerts`)
    <out>/maps/<site>/<YYYY-MM>_*.tif   class and change COGs (:mod:`flows.results.maps`)
    <out>/runs/<run_id>.json            run records (:mod:`flows.results.runs`)
    <out>/accuracy/                     accuracy table and designs (:mod:`flows.accuracy`)
    <out>/rules/<site_id>.json          a calibrated site's fitted rule (:mod:`flows.results.rules`)
    <out>/.run.lock                     one run at a time (:mod:`flows.results.lock`)

Every writer goes through :mod:`flows.results.files` (atomic replace, writers' lock);
notebooks read through :mod:`flows.results.read`.
"""

from flows.results.files import StoreError
from flows.results.lock import RunLocked, run_lock
from flows.results.runs import RunRecord, write_run_record
from flows.results.store import (
    TABLES,
    TableSpec,
    check_site_id,
    hive_partitioning,
    read_table,
    write_rows,
)

__all__ = ["TABLES", "RunLocked", "RunRecord", "StoreError", "TableSpec", "check_site_id",
           "hive_partitioning", "read_table", "run_lock", "write_rows", "write_run_record"]
