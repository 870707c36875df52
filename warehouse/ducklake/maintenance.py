"""The lake's maintenance: expire old snapshots, merge small files, delete the files nothing references any more.

DuckLake never deletes by itself: every publish replaces the lake's tables with new Parquet files and keeps the old
ones for the snapshots before it; the parallel ingestion appends one file per partition write; a writer killed
before its commit leaves files no snapshot references. Four DuckLake 1.5 functions, in the order DuckLake's own
``CHECKPOINT`` runs them:

1. ``ducklake_expire_snapshots(versions => [...])``: the snapshots older than ``older_than_days``, but never one of
   the latest ``keep`` publishes (tradewh's commits that are not rollbacks: what ``rollback --to RUN`` can put back)
   nor the current snapshot. Their time travel goes; the files only they referenced are scheduled for deletion.
   ``CHECKPOINT`` expires by age alone (the ``expire_older_than`` option): it would expire the publishes a
   rollback needs, hence the explicit list.
2. ``ducklake_merge_adjacent_files``: a table's small files merged into larger ones (up to DuckLake's target file
   size), transparently: every kept snapshot reads the same rows; the files merged are scheduled for deletion.
3. ``ducklake_cleanup_old_files(older_than => now - grace)``: the files scheduled for deletion more than
   ``files_older_than_hours`` ago deleted (a reader that began before they were scheduled may still scan them).
4. ``ducklake_delete_orphaned_files(older_than => now - grace)``: files under the data path that the catalog does
   not know, older than the same grace (a publish in progress has written files it has not committed yet: the
   grace must be longer than the longest publish).

Rows never change: each step keeps what every kept snapshot reads (tests/test_ducklake_maintenance.py compares
every public view with EXCEPT ALL both ways).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import duckdb

from warehouse.ducklake.connect import ALIAS, LakeTarget, connect
from warehouse.ducklake.publish import AUTHOR

METADATA = f"__ducklake_metadata_{ALIAS}"  # the catalog's own tables, as DuckLake attaches them
RETRYABLE = ("transaction conflict", "database is locked")  # a writer committing meanwhile: take the step again


@dataclass
class MaintenanceReport:
    """What a maintenance run did (or, dry, would do)."""

    expired: list[int] = field(default_factory=list)  # snapshot ids
    kept_publishes: list[int] = field(default_factory=list)  # the latest publishes, never expired
    current: int = 0  # the current snapshot, never expired
    data_files_before: int = 0  # the catalog's data files, live or kept for older snapshots
    data_files_after: int = 0
    merged: int = 0  # small files merged (DuckLake's files_processed)
    merged_into: int = 0  # the files they were merged into (files_created)
    files_deleted: list[str] = field(default_factory=list)  # scheduled for deletion, then deleted
    orphans_deleted: list[str] = field(default_factory=list)  # unknown to the catalog, deleted
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would expire" if self.dry_run else "expired"
        return (
            f"{verb} {len(self.expired)} snapshot(s) {self.expired}; kept the latest publishes {self.kept_publishes} "
            f"and the current snapshot {self.current}; data files {self.data_files_before} -> "
            f"{self.data_files_after}; merged {self.merged} small file(s) into {self.merged_into}; deleted "
            f"{len(self.files_deleted)} unreferenced and {len(self.orphans_deleted)} orphaned file(s)"
        )


def _retrying(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None, *, attempts: int = 5) -> list:
    for attempt in range(attempts):
        try:
            return con.execute(sql, params or []).fetchall()
        except duckdb.Error as exc:
            if attempt == attempts - 1 or not any(r in str(exc).lower() for r in RETRYABLE):
                raise
            time.sleep(0.5 * 2**attempt)
    return []


def _data_files(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(f"select count(*) from {METADATA}.ducklake_data_file").fetchone()[0]


def expirable(
    con: duckdb.DuckDBPyConnection, *, older_than: dt.datetime, keep: int
) -> tuple[list[int], list[int], int]:
    """The snapshots to expire (older than ``older_than``, not among the latest ``keep`` publishes, not the current
    one), the publishes kept, and the current snapshot's id."""
    rows = con.execute(
        f"select snapshot_id, snapshot_time, author, commit_extra_info from {ALIAS}.snapshots() order by snapshot_id"
    ).fetchall()
    current = con.execute(f"select id from {ALIAS}.current_snapshot()").fetchone()[0]
    publishes = [
        sid for sid, _, author, extra in rows if author == AUTHOR and '"kind": "rollback"' not in (extra or "")
    ]
    kept = publishes[-keep:] if keep > 0 else []
    expire = [sid for sid, at, _, _ in rows if at < older_than and sid not in kept and sid != current]
    return expire, kept, current


def maintain(
    target: LakeTarget,
    *,
    older_than_days: float = 30,
    keep: int = 7,
    files_older_than_hours: float = 24,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> MaintenanceReport:
    """Expire old snapshots, merge small files, delete unreferenced and orphaned files (the module's four steps).

    Args:
        target: the lake.
        older_than_days: expire the snapshots committed more than this long ago.
        keep: never expire the latest ``keep`` publishes (nor the current snapshot).
        files_older_than_hours: delete files scheduled for deletion, or unknown to the catalog, only when older.
        dry_run: only report what would be expired and deleted (no merge).
        now: the time to count from (default: the catalog's clock, DuckDB's ``now()``).
    """
    con = connect(target)
    try:
        now = now or con.execute("select now()").fetchone()[0]
        report = MaintenanceReport(dry_run=dry_run, data_files_before=_data_files(con))
        report.expired, report.kept_publishes, report.current = expirable(
            con, older_than=now - dt.timedelta(days=older_than_days), keep=keep
        )
        grace = now - dt.timedelta(hours=files_older_than_hours)
        dry = "true" if dry_run else "false"
        if report.expired:
            sql = f"call ducklake_expire_snapshots('{ALIAS}', dry_run => {dry}, versions => ?)"
            _retrying(con, sql, [report.expired])
        if not dry_run:
            merged = _retrying(con, f"call ducklake_merge_adjacent_files('{ALIAS}')")  # schema, table, in, out
            report.merged = sum(int(r[2] or 0) for r in merged)
            report.merged_into = sum(int(r[3] or 0) for r in merged)
        report.files_deleted = [
            str(r[0])
            for r in _retrying(
                con, f"call ducklake_cleanup_old_files('{ALIAS}', dry_run => {dry}, older_than => ?)", [grace]
            )
        ]
        report.orphans_deleted = [
            str(r[0])
            for r in _retrying(
                con, f"call ducklake_delete_orphaned_files('{ALIAS}', dry_run => {dry}, older_than => ?)", [grace]
            )
        ]
        report.data_files_after = _data_files(con)
    finally:
        con.close()
    return report
