"""`tradewh status` (the last runs, one run in detail, the rollbacks) and `tradewh freshness`."""

from __future__ import annotations

import argparse
import sys

import duckdb

from warehouse.common.settings import Settings
from warehouse.serve.output import STATUS_WIDTH, _open_read_only, format_table


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    width = args.width or STATUS_WIDTH
    if args.last <= 0 and not args.run:
        return 0
    con = _open_read_only(settings)
    if args.run:
        return _run_detail(con, args.run, settings, width)
    runs = con.execute(
        "select run_id, status, strftime(started_at::timestamp, '%Y-%m-%d %H:%M') as started_utc, "
        "round(epoch(finished_at - started_at), 1) as seconds, "
        "printf('%d/%d/%d', sources_loaded, sources_skipped, sources_failed) as \"load/skip/fail\", "
        "rows_rejected as rejected, message "
        "from audit.load_runs order by started_at desc, run_id desc limit ?",
        [args.last],
    )
    print(format_table([d[0] for d in runs.description], runs.fetchall(), width=width))
    _print_rollbacks(settings, args.last, width)
    latest = con.execute("select max(run_id) from audit.load_runs").fetchall()[0][0]
    if latest is not None:
        kind = _build_kind(con, latest)
        print(f"\nlast run {latest}" + (f", {kind}" if kind else "") + f" (`tradewh status --run {latest}` for more):")
        _print_sources(con, latest, width)
        _print_losses(con, latest, width)
    return 0


BUILD_KINDS = {
    "full": "published a full build",
    "incremental": "published a build on the previous file (only changed sources replaced)",
    "republish": "nothing changed: published the previous file again",
}


def _build_kind(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    """How a run's publish made the file (``audit.builds.build_kind``), in words; '' for a run that published
    nothing, one before the file's last build (``audit.builds`` starts again at each build), or a file that predates
    the column."""
    has = con.execute(
        "select count(*) from duckdb_columns() where schema_name = 'audit' and table_name = 'builds' "
        "and column_name = 'build_kind'"
    ).fetchone()[0]
    row = con.execute("select build_kind from audit.builds where run_id = ?", [run_id]).fetchone() if has else None
    return BUILD_KINDS.get(row[0], row[0]) if row and row[0] else ""


def _print_losses(con: duckdb.DuckDBPyConnection, run_id: str, width: int) -> None:
    """The run's partial losses (``audit.partial_losses``): a warning even when every source loaded. A file built
    before they were recorded has no such table: nothing to print."""
    try:
        cursor = con.execute(
            "select source_id, file_name as file, dimension, column_name as column, value, rows_rejected as rows, "
            "rules from audit.partial_losses where run_id = ? order by source_id, file_name, dimension, value",
            [run_id],
        )
    except duckdb.CatalogException:
        return
    rows = cursor.fetchall()
    if not rows:
        return
    print(
        f"\nWARNING: {len(rows)} partial loss(es) in run {run_id}: every row of these was rejected, so every sum "
        "over them lacks them (audit.partial_losses; the rows in audit.rejected_rows):"
    )
    print(format_table([d[0] for d in cursor.description], rows, width=width))


def _print_rollbacks(settings: Settings, last: int, width: int) -> None:
    """The last rollbacks, done or refused, from the lake's audit (the file a rollback restores predates it)."""
    from warehouse.lake.audit import rollback_events

    events = rollback_events(settings.lake_dir, last=last)
    if not events:
        return
    columns = ["requested_at", "status", "from_run_id", "to_run_id", "message"]
    rows = [[str(e.get(c))[:19] if c == "requested_at" else e.get(c) for c in columns] for e in events]
    print("\nrollbacks:")
    print(format_table(columns, rows, width=width))


def _print_sources(con: duckdb.DuckDBPyConnection, run_id: str, width: int) -> None:
    per_source = con.execute(
        "select source_id, status, rows_read as read, rows_loaded as loaded, rows_rejected as rejected, message "
        "from audit.source_runs where run_id = ? order by source_id",
        [run_id],
    )
    print(format_table([d[0] for d in per_source.description], per_source.fetchall(), width=width))


def _run_detail(con: duckdb.DuckDBPyConnection, run_id: str, settings: Settings, width: int) -> int:
    from warehouse.common.runlog import log_path

    row = con.execute(
        "select run_id, status, started_at, finished_at, round(epoch(finished_at - started_at), 1), message "
        "from audit.load_runs where run_id = ?",
        [run_id],
    ).fetchone()
    if row is None:
        print(f"tradewh status: no run {run_id} in the published warehouse (see `tradewh status`)", file=sys.stderr)
        return 1
    run, status, started, finished, seconds, message = row
    print(f"run {run}: {status}, {seconds} s, {started} -> {finished}")
    kind = _build_kind(con, run)
    if kind:
        print(f"publish: {kind}")
    if message:
        print(f"message: {message}")
    log = log_path(settings.logs_dir, run)
    print(f"log: {log}" + ("" if log.exists() else " (removed or not written)"))
    sources = con.execute(
        "select source_id, status, vintages, rows_read as read, rows_valid as valid, rows_rejected as rejected, "
        "rows_loaded as loaded, files, bytes, message from audit.source_runs where run_id = ? order by source_id",
        [run],
    )
    print(format_table([d[0] for d in sources.description], sources.fetchall(), width=width))
    _print_losses(con, run, width)
    return 0


FRESHNESS = (
    "select source_id, freshness_status as status, freshness_of as of, round(age_hours)::bigint as age_h, "
    "round(warn_after_hours)::bigint as warn_h, round(error_after_hours)::bigint as error_h, "
    "last_fetched_at::date as fetched, newest_vintage as vintage from audit.source_freshness order by source_id"
)


def cmd_freshness(args: argparse.Namespace, settings: Settings) -> int:
    con = _open_read_only(settings)
    try:
        cursor = con.execute(FRESHNESS)
    except duckdb.CatalogException:
        print("tradewh freshness: this warehouse was built before freshness was recorded: run `tradewh load`")
        return 1
    rows = cursor.fetchall()
    print(format_table([d[0] for d in cursor.description], rows, width=args.width or STATUS_WIDTH))
    errors = [r[0] for r in rows if r[1] == "error"]
    if errors:
        print(
            f"tradewh freshness: {len(errors)} source(s) older than error_after: {', '.join(errors)}", file=sys.stderr
        )
    return 1 if errors else 0
