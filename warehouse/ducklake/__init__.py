"""DuckLake: the warehouse published as snapshots of a DuckLake (Parquet files and a SQL catalog, SQLite for one
machine, Postgres for several), beside the default single DuckDB file. Runs in its own environment (DuckDB 1.5.5
with the PyPI-packaged extensions: ``make lake-env``; docs/decisions/0002-ducklake-environment.md). Readers (a
SQLAlchemy engine, the DuckDB CLI's init file, a BI tool's URI) are in ``warehouse.ducklake.readers``, which needs
duckdb-engine and SQLAlchemy (the dev extra). Parallel ingestion (flows/lake_nightly.py) writes each source's vintages
into ``lake.ingest.<dataset>`` through ``warehouse.ducklake.ingest``."""

from warehouse.ducklake.connect import LakeTarget, LakeUnavailable, connect, load_extensions, packaged_file, target_from
from warehouse.ducklake.ingest import Partition, PartitionChanged, Written, replace_partition
from warehouse.ducklake.maintenance import MaintenanceReport, maintain
from warehouse.ducklake.publish import (
    LakePublishError,
    Snapshot,
    history,
    publish_to_lake,
    rollback_lake,
    snapshot_of,
)

__all__ = [
    "LakePublishError", "LakeTarget", "LakeUnavailable", "MaintenanceReport", "Partition", "PartitionChanged",
    "Snapshot", "Written", "connect", "history", "load_extensions", "maintain", "packaged_file", "publish_to_lake",
    "replace_partition", "rollback_lake", "snapshot_of", "target_from",
]  # fmt: skip
