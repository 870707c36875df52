"""A built warehouse published into a DuckLake as ONE transaction, one snapshot whose commit message is the run id;
the history of those snapshots, reads as of one, and a rollback that publishes an earlier run's snapshot again.

What a publish writes: everything the built DuckDB file holds, taken from the file alone: every table (the lake
zone's rows as ``raw.*``, the reference lists, the stored marts ``store.*``, the audit) copied as it is, every view
with the SQL the file keeps for it (DuckDB's rendering of the ``sql/`` file the build ran: DuckDB 1.5.5 creates all
28 unchanged; the checkout's ``sql/`` may have changed since the build, the file's views cannot), in the order they
read each other, and the comments. What the lake no longer holds is dropped in the same transaction. Readers see
the snapshot before the publish or the one after it, never half (DuckLake commits the catalog's rows in one
database transaction; Parquet files written before a crash are referenced by no snapshot).

DuckLake 1.5.5 takes ``comment on view`` and ``comment on column`` of a table, but refuses ``comment on column`` of
a view ("Cannot comment on columns for entry ... it is not a table"): those comments go into the table
``store.view_column_comments`` of the same snapshot, one row per view column.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.build.statements import SCHEMAS, references
from warehouse.common.failpoints import failpoint
from warehouse.ducklake.connect import ALIAS, LakeTarget, connect

AUTHOR = "tradewh"
# schemas a publish neither copies nor drops: the landing tables parallel ingestion writes (warehouse.ducklake.ingest)
KEPT_SCHEMAS = ("ingest",)
COLUMN_COMMENTS = "store.view_column_comments"
_COLUMN_COMMENTS_DDL = f"""create or replace table {COLUMN_COMMENTS} (
    schema_name varchar, view_name varchar, column_name varchar, comment varchar
)"""


class LakePublishError(RuntimeError):
    """The publish was refused; the lake's latest snapshot is unchanged."""


@dataclass(frozen=True)
class Snapshot:
    """One DuckLake snapshot a publish made: its id, when, the run id (the commit message) and what it published."""

    snapshot_id: int
    committed_at: dt.datetime
    run_id: str
    kind: str  # "publish" or "rollback"
    extra: dict[str, object]


def _q(text: object) -> str:
    return str(text).replace("'", "''")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _objects(con: duckdb.DuckDBPyConnection, database: str, kind: str) -> set[tuple[str, str]]:
    """The (schema, name) of every table or view of an attached database, DuckDB's own and ``KEPT_SCHEMAS`` left
    out."""
    rows = con.execute(
        f"select schema_name, {kind}_name from duckdb_{kind}s() where database_name = ? and not internal", [database]
    ).fetchall()
    return {(s, n) for s, n in rows if s not in KEPT_SCHEMAS}


def built_run_id(con: duckdb.DuckDBPyConnection, database: str = "wh") -> str:
    """The run that built (or last republished) an attached warehouse file: the newest ``audit.builds`` row."""
    row = con.execute(
        f"select run_id from {database}.audit.builds order by published_at desc, run_id desc limit 1"
    ).fetchone()
    if row is None:
        raise LakePublishError("the warehouse file records no build (audit.builds is empty): build it first")
    return row[0]


def _copy_tables(con: duckdb.DuckDBPyConnection, source: str) -> set[tuple[str, str]]:
    """Every table of ``source`` into the lake, rows and comments; returns what was copied."""
    tables = _objects(con, source, "table")
    comments = dict(
        ((s, t), c)
        for s, t, c in con.execute(
            "select schema_name, table_name, comment from duckdb_tables() where database_name = ?", [source]
        ).fetchall()
    )
    column_comments = con.execute(
        "select c.schema_name, c.table_name, c.column_name, c.comment from duckdb_columns() c join duckdb_tables() t "
        "using (database_name, schema_name, table_name) where c.database_name = ? and c.comment is not null",
        [source],
    ).fetchall()
    for schema, table in sorted(tables):
        name = f"{_ident(schema)}.{_ident(table)}"
        con.execute(f"create or replace table {ALIAS}.{name} as select * from {source}.{name}")
        if comments.get((schema, table)):
            con.execute(f"comment on table {ALIAS}.{name} is '{_q(comments[(schema, table)])}'")
    for schema, table, column, comment in column_comments:
        if (schema, table) in tables and comment:
            con.execute(
                f"comment on column {ALIAS}.{_ident(schema)}.{_ident(table)}.{_ident(column)} is '{_q(comment)}'"
            )
    return tables


def _ordered(views: dict[str, str]) -> list[str]:
    """View names (``schema.view``) so that each comes after the views it reads (DuckDB binds a view when it is
    created, and an error inside the publish's transaction would abort it)."""
    deps = {name: references(sql)[0] & views.keys() - {name} for name, sql in views.items()}
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in path:
            raise LakePublishError(f"views read each other in a cycle: {' -> '.join((*path, name))}")
        for dep in sorted(deps[name]):
            visit(dep, (*path, name))
        ordered.append(name)

    for name in sorted(views):
        visit(name, ())
    return ordered


def _copy_views(con: duckdb.DuckDBPyConnection, source: str) -> set[tuple[str, str]]:
    """Every view of ``source`` created in the lake with its SQL as ``source`` keeps it (DuckDB's rendering of the
    ``sql/`` file the build ran) and its comment; the comments of its columns, which DuckLake keeps only for tables,
    into ``store.view_column_comments`` (a lake ``source`` has them in that table already, copied with its tables)."""
    rows = con.execute(
        "select schema_name, view_name, sql, comment from duckdb_views() where database_name = ? and not internal",
        [source],
    ).fetchall()
    views = {f"{schema}.{view}": (schema, view, sql, comment) for schema, view, sql, comment in rows}
    for name in _ordered({name: row[2] for name, row in views.items()}):
        schema, view, sql, comment = views[name]
        con.execute(f"use {ALIAS}.{_ident(schema)}")  # a lake's rendering names the view without its schema
        con.execute(re.sub(r"^\s*create\s+view\b", "create or replace view", sql, count=1, flags=re.I))
        if comment:
            con.execute(f"comment on view {ALIAS}.{_ident(schema)}.{_ident(view)} is '{_q(comment)}'")
    con.execute(f"use {ALIAS}")
    column_comments = con.execute(
        "select c.schema_name, c.table_name, c.column_name, c.comment from duckdb_columns() c join duckdb_views() v "
        "on v.database_name = c.database_name and v.schema_name = c.schema_name and v.view_name = c.table_name "
        "where c.database_name = ? and c.comment is not null order by all",
        [source],
    ).fetchall()
    if column_comments:
        con.execute(_COLUMN_COMMENTS_DDL)
        con.executemany(f"insert into {COLUMN_COMMENTS} values (?, ?, ?, ?)", column_comments)
    return {(schema, view) for schema, view, _, _ in rows}


def _drop_stale(con: duckdb.DuckDBPyConnection, keep_tables: set, keep_views: set) -> list[str]:
    dropped = []
    for kind, keep in (("view", keep_views), ("table", keep_tables)):
        for schema, name in sorted(_objects(con, ALIAS, kind) - keep):
            con.execute(f"drop {kind} {ALIAS}.{_ident(schema)}.{_ident(name)}")
            dropped.append(f"{schema}.{name}")
    return dropped


def _commit(con: duckdb.DuckDBPyConnection, run_id: str, extra: dict[str, object]) -> int:
    con.execute(f"call {ALIAS}.set_commit_message('{AUTHOR}', '{_q(run_id)}', extra_info => '{_q(json.dumps(extra))}')")
    failpoint("lake_commit")  # everything written, nothing committed: a crash here must leave the lake as it was
    con.execute("commit")
    return con.execute(f"select id from {ALIAS}.last_committed_snapshot()").fetchone()[0]


def _republish(con: duckdb.DuckDBPyConnection, source: str, message: str, extra: dict[str, object]) -> int:
    """Make the lake hold exactly what the attached ``source`` holds (its tables' rows, its views, the comments),
    in the transaction the caller began, and commit it as one snapshot; returns the snapshot's id."""
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {ALIAS}.{schema}")
    tables = _copy_tables(con, source)
    views = _copy_views(con, source)
    tables.add(tuple(COLUMN_COMMENTS.split(".")))
    dropped = _drop_stale(con, tables, views)
    return _commit(con, message, {**extra, "tables": len(tables), "views": len(views), "dropped": dropped})


def publish_to_lake(warehouse_file: Path, target: LakeTarget, *, run_id: str | None = None) -> int:
    """Publish a built warehouse file into the lake as one snapshot; returns the snapshot's id.

    The lake takes everything from the file: its tables' rows, its views as the file keeps them (the ``sql/`` the
    file was built from, not the checkout's, which may have changed since) and the comments.

    Args:
        warehouse_file: the DuckDB file the nightly built (opened read-only).
        target: the lake.
        run_id: the commit message; the file's own build run (``audit.builds``) when None.
    """
    con = connect(target)
    try:
        con.execute(f"attach '{_q(warehouse_file)}' as wh (read_only)")
        run_id = run_id or built_run_id(con)
        con.execute("begin")
        return _republish(con, "wh", run_id, {"kind": "publish"})
    finally:
        con.close()  # an uncommitted transaction is rolled back: the latest snapshot stays the one before


def history(target: LakeTarget) -> list[Snapshot]:
    """The snapshots tradewh committed (publishes and rollbacks), oldest first."""
    con = connect(target, read_only=True)
    try:
        rows = con.execute(
            f"select snapshot_id, snapshot_time, commit_message, commit_extra_info from {ALIAS}.snapshots() "
            "where author = ? order by snapshot_id",
            [AUTHOR],
        ).fetchall()
    finally:
        con.close()
    out = []
    for snapshot_id, at, message, extra in rows:
        info = json.loads(extra) if extra else {}
        out.append(Snapshot(snapshot_id, at, message, str(info.get("kind", "publish")), info))
    return out


def snapshot_of(target: LakeTarget, run_id: str) -> int:
    """The snapshot a run published (its latest, if it was published twice)."""
    found = [s.snapshot_id for s in history(target) if s.run_id == run_id and s.kind == "publish"]
    if not found:
        known = ", ".join(s.run_id for s in history(target) if s.kind == "publish") or "none"
        raise LakePublishError(f"no publish of run {run_id!r} in the lake (runs published: {known})")
    return found[-1]


def rollback_lake(target: LakeTarget, run_id: str, *, message: str | None = None) -> int:
    """Publish again, as a new snapshot, what run ``run_id`` published: its tables' rows and its views, read from
    the lake attached at that snapshot. History is kept: the snapshots after it stay readable as of their ids.

    Returns:
        The new snapshot's id.
    """
    old = snapshot_of(target, run_id)
    con = connect(target)
    try:
        con.execute(
            f"attach 'ducklake:{_q(target.catalog)}' as was (data_path '{_q(target.data_path)}', read_only, "
            f"snapshot_version {old})"
        )
        con.execute("begin")
        return _republish(con, "was", message or run_id, {"kind": "rollback", "to_run": run_id, "to_snapshot": old})
    finally:
        con.close()
