"""Staged rows written into the DuckLake, one table per dataset in the schema ``ingest`` (``lake.ingest.comtrade``),
one partition at a time: a source's vintage, replaced in ONE DuckLake transaction (delete its rows, insert the
vintage's Parquet file of the local lake zone, record the file's SHA-256 in ``ingest.partitions``), so a reader
sees a vintage's old rows or its new ones, never both or half.

Why the partition is (source, vintage): it is what the lake zone commits (``warehouse.stage.commit_lake`` writes one
file per vintage and names it in the source's manifest) and what a publisher revises; a batch range would need
several transactions per vintage (readers would see half of one) and a payload file is merged into its vintage's
file before the write. A source is staged whole by one task (its cross-batch rules, the unique key among them, see
all its rows at once), so the parallelism is across sources and across their vintages.

Two writers replacing the same partition at once conflict in DuckLake ("Transaction conflict"); the flow serialises
the writes of one dataset with a Prefect concurrency limit, and ``replace_partition`` retries a conflict with
backoff, so both succeed whichever way they meet, and the partition holds one copy of its rows. A SQLite catalog
(one machine) also refuses a second writer while one commits ("database is locked"): retried the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.ducklake.connect import ALIAS, LakeTarget, connect
from warehouse.extract.catalogue import Source
from warehouse.lake.manifest import manifest, sha256_file, source_dir

SCHEMA = "ingest"  # the landing tables; a publish neither copies nor drops them (publish.KEPT_SCHEMAS)
PARTITIONS = f"{SCHEMA}.partitions"
AUTHOR = "tradewh-ingest"  # apart from the publishes' author, so ``publish.history`` lists publishes only
_PARTITIONS_DDL = f"""create table if not exists {ALIAS}.{PARTITIONS} (
    dataset varchar, source_id varchar, vintage varchar, file_sha256 varchar, row_count bigint, run_id varchar,
    written_at timestamp with time zone
)"""


class PartitionChanged(RuntimeError):
    """The lake zone's file of a partition is not the one its manifest names (a later run replaced it)."""


@dataclass(frozen=True)
class Partition:
    """One source's vintage in the local lake zone, as its manifest names it.

    Attributes:
        dataset: the dataset family; its DuckLake table is ``ingest.<dataset>``.
        source_id, vintage: what the partition replaces.
        file: the vintage's Parquet file in the lake zone.
        file_sha256: the digest the manifest recorded for it.
    """

    dataset: str
    source_id: str
    vintage: str
    file: Path
    file_sha256: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.source_id, self.vintage)

    @property
    def table(self) -> str:
        return f"{SCHEMA}.{self.dataset}"


@dataclass(frozen=True)
class Written:
    """What one ``replace_partition`` did: rows now in the partition, attempts it took, the snapshot it made."""

    source_id: str
    vintage: str
    rows: int
    attempts: int
    snapshot_id: int
    seconds: float


def partitions(source: Source, lake_dir: Path) -> list[Partition]:
    """The source's vintages committed in the local lake zone (its manifest), one partition each."""
    base = source_dir(lake_dir, source)
    state = manifest(base)
    digests = state.get("file_sha256") or {}
    return [
        Partition(source.dataset, source.id, vintage, base / vintage / name, digests.get(vintage) or "")
        for vintage, name in sorted((state.get("files") or {}).items())
    ]


def recorded(target: LakeTarget) -> dict[tuple[str, str], str]:
    """(source id, vintage) -> the file SHA-256 the DuckLake's ``ingest.partitions`` holds (empty for a new lake).

    Attaches for writing, so a lake that does not exist yet is created here, by one process, before the writers
    start (two writers creating its catalog at once would conflict)."""
    con = connect(target)
    try:
        found = con.execute(
            "select count(*) from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?",
            [ALIAS, SCHEMA, PARTITIONS.split(".")[1]],
        ).fetchone()[0]
        if not found:
            return {}
        rows = con.execute(f"select source_id, vintage, file_sha256 from {ALIAS}.{PARTITIONS}").fetchall()
    finally:
        con.close()
    return {(s, v): d for s, v, d in rows}


def pending(parts: list[Partition], known: dict[tuple[str, str], str]) -> list[Partition]:
    """The partitions whose file the DuckLake does not hold yet (new, revised, or never written there)."""
    return [p for p in parts if known.get(p.key) != p.file_sha256 or not p.file_sha256]


RETRYABLE = ("transaction conflict", "database is locked")


def is_conflict(exc: BaseException) -> bool:
    """A commit another writer's got in the way of, which a retry can fix: DuckLake's "Transaction conflict" (another
    transaction changed what this one changes), or a SQLite catalog's "database is locked" (another writer holds
    the catalog file: measured with two writers into two datasets on one SQLite catalog)."""
    return isinstance(exc, duckdb.Error) and any(text in str(exc).lower() for text in RETRYABLE)


def _q(text: object) -> str:
    return str(text).replace("'", "''")


def _replace_once(
    con: duckdb.DuckDBPyConnection, part: Partition, run_id: str, before_commit: Callable[[], None] | None
) -> tuple[int, int]:
    table = f"{ALIAS}.{part.table}"
    scan = f"read_parquet('{_q(part.file)}')"
    con.execute("begin")
    con.execute(f"create schema if not exists {ALIAS}.{SCHEMA}")
    con.execute(f"create table if not exists {table} as select * from {scan} limit 0")
    con.execute(_PARTITIONS_DDL)
    con.execute(f"delete from {table} where source_id = ? and vintage = ?", [part.source_id, part.vintage])
    con.execute(f"insert into {table} by name select * from {scan}")
    rows = con.execute(
        f"select count(*) from {table} where source_id = ? and vintage = ?", [part.source_id, part.vintage]
    ).fetchone()[0]
    con.execute(f"delete from {ALIAS}.{PARTITIONS} where source_id = ? and vintage = ?", [part.source_id, part.vintage])
    con.execute(
        f"insert into {ALIAS}.{PARTITIONS} values (?, ?, ?, ?, ?, ?, ?)",
        [part.dataset, part.source_id, part.vintage, part.file_sha256, rows, run_id, dt.datetime.now(dt.UTC)],
    )
    extra = json.dumps({"kind": "ingest", "source_id": part.source_id, "vintage": part.vintage, "rows": rows})
    con.execute(f"call {ALIAS}.set_commit_message('{AUTHOR}', '{_q(run_id)}', extra_info => '{_q(extra)}')")
    if before_commit is not None:
        before_commit()
    con.execute("commit")
    snapshot = con.execute(f"select id from {ALIAS}.last_committed_snapshot()").fetchone()[0]
    return rows, snapshot


def replace_partition(
    target: LakeTarget,
    part: Partition,
    run_id: str,
    *,
    attempts: int = 10,
    backoff_s: float = 0.2,
    before_commit: Callable[[], None] | None = None,
) -> Written:
    """Replace a partition's rows in ``ingest.<dataset>`` with its lake-zone file, in one DuckLake transaction
    (commit message: the run id, author ``tradewh-ingest``); on a transaction conflict, roll back and take it again
    after an exponential backoff with jitter.

    Args:
        target: the lake.
        part: the partition; its file is checked against the manifest's SHA-256 first.
        run_id: the commit message.
        attempts: how many times a conflict is taken again before it is raised.
        backoff_s: the first wait; doubled each time, with up to as much again at random.
        before_commit: called inside the transaction just before its commit (a test holds two writers there).

    Raises:
        PartitionChanged: the file is not the one the manifest recorded.
        duckdb.Error: an error other than a conflict, or a conflict on the last attempt.
    """
    started = time.monotonic()
    if part.file_sha256 and sha256_file(part.file) != part.file_sha256:
        raise PartitionChanged(f"{part.file} is not the file its manifest recorded: a later run replaced it")
    con = connect(target)
    try:
        for attempt in range(1, attempts + 1):
            try:
                rows, snapshot = _replace_once(con, part, run_id, before_commit)
            except duckdb.Error as exc:
                with contextlib.suppress(duckdb.Error):  # a failed commit has ended the transaction already
                    con.execute("rollback")
                if not is_conflict(exc) or attempt == attempts:
                    raise
                time.sleep(backoff_s * 2 ** (attempt - 1) * (1 + random.random()))  # noqa: S311 (jitter)
                continue
            return Written(part.source_id, part.vintage, rows, attempt, snapshot, time.monotonic() - started)
    finally:
        con.close()
    raise AssertionError("unreachable")  # pragma: no cover


def concurrency_name(dataset: str) -> str:
    """The Prefect global concurrency limit that serialises the writes into one dataset's table."""
    return f"tradewh-lake-{dataset}"
