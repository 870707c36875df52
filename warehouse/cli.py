"""The ``tradewh`` command: load, serve, sql, sources, status, rollback."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import duckdb

from warehouse.catalogue import CatalogueError, load_catalogue
from warehouse.lock import LoadRunning
from warehouse.settings import Settings, configure_prefect, load_settings


def _open_read_only(settings: Settings) -> duckdb.DuckDBPyConnection:
    path = settings.warehouse_path
    if not path.exists():
        raise SystemExit(f"tradewh: no warehouse at {path} yet: run `tradewh load` first")
    return duckdb.connect(str(path), read_only=True)


def format_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows as an aligned text table (numbers right-aligned)."""

    def cell(value: object) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, float):
            return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in text]) for i, c in enumerate(columns)]
    numeric = [
        bool(rows) and all(r[i] is None or (isinstance(r[i], int | float) and not isinstance(r[i], bool)) for r in rows)
        for i in range(len(columns))
    ]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for r in text:
        lines.append(
            "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
        )
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.lock import writer_lock

    try:
        # taken before Prefect starts, so a second load is refused (or queued) at once
        with writer_lock(settings.home, wait=args.wait):
            configure_prefect(settings)
            from flows.nightly import nightly

            result = nightly(lock_held=True)
    except LoadRunning as exc:
        print(f"tradewh: {exc}", file=sys.stderr)
        return 75
    print("\n".join(result["summary"]))
    print(f"warehouse: {settings.warehouse_path}")
    return {"succeeded": 0, "partial": 2}.get(str(result["status"]), 1)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    configure_prefect(settings)
    from flows.nightly import nightly

    print(f"tradewh: serving the nightly load on cron '{args.cron}' (Ctrl-C to stop)")
    nightly.serve(name="tradewh-nightly", cron=args.cron)
    return 0


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    con = _open_read_only(settings)
    try:
        cursor = con.execute(args.query)
    except duckdb.Error as exc:
        print(f"tradewh sql: {exc}", file=sys.stderr)
        return 1
    if cursor is None or not cursor.description:
        print("(no result)")
        return 0
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    if args.format == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif args.format == "json":
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=2))
    else:
        print(format_table(columns, rows))
    return 0


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    sources = load_catalogue(settings.catalogue_path)
    rows = [(s.id, s.dataset, s.vintage, s.location_kind, s.location, s.publisher, s.licence) for s in sources]
    print(format_table(["id", "dataset", "vintage", "kind", "location", "publisher", "licence"], rows))
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    con = _open_read_only(settings)
    runs = con.execute(
        "select run_id, started_at, status, sources_loaded, sources_skipped, sources_failed, rows_rejected, message "
        "from audit.load_runs order by started_at desc limit ?",
        [args.last],
    )
    print(format_table([d[0] for d in runs.description], runs.fetchall()))
    latest = con.execute("select max(run_id) from audit.load_runs").fetchall()[0][0]
    per_source = con.execute(
        "select source_id, status, vintages, rows_read, rows_valid, rows_rejected, rows_loaded, message "
        "from audit.source_runs where run_id = ? order by source_id",
        [latest],
    )
    print(f"\nlast run {latest}:")
    print(format_table([d[0] for d in per_source.description], per_source.fetchall()))
    return 0


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.build import rollback
    from warehouse.lock import writer_lock

    with writer_lock(settings.home):
        try:
            rollback(settings.warehouse_path)
        except FileNotFoundError as exc:
            print(f"tradewh rollback: {exc}", file=sys.stderr)
            return 1
    print(f"tradewh: {settings.warehouse_path} is the previous publish again; the next load rebuilds from the lake")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradewh", description="A trade-figures data warehouse on DuckDB.")
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load", help="run the nightly load now and publish the warehouse")
    load.add_argument("--wait", action="store_true", help="queue behind a running load instead of exiting")
    load.set_defaults(func=cmd_load)
    serve = sub.add_parser("serve", help="run the nightly load on its schedule (Prefect serve)")
    serve.add_argument("--cron", default=None, help="cron expression (default: TRADEWH_CRON or 0 2 * * *)")
    serve.set_defaults(func=cmd_serve)
    sql = sub.add_parser("sql", help="run a query against the published warehouse (read-only)")
    sql.add_argument("query", help='SQL, e.g. "select * from marts.trade_balance limit 5"')
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.set_defaults(func=cmd_sql)
    sources = sub.add_parser("sources", help="list the source catalogue")
    sources.set_defaults(func=cmd_sources)
    status = sub.add_parser("status", help="the last load runs, from the audit table")
    status.add_argument("--last", type=int, default=10, help="how many runs to show")
    status.set_defaults(func=cmd_status)
    rollback = sub.add_parser("rollback", help="put the previously published warehouse back")
    rollback.set_defaults(func=cmd_rollback)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    if getattr(args, "cron", None) is None and args.command == "serve":
        args.cron = settings.cron
    try:
        return int(args.func(args, settings))
    except (CatalogueError, LoadRunning) as exc:
        print(f"tradewh: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
