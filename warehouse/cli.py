"""The ``tradewh`` command: load, serve, sql, sources, status, rollback, export, dictionary, report."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

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


def _prefetch(settings: Settings) -> None:
    """Start keeping the catalogue's local files in the raw zone (``warehouse.fetch.prefetch_local``)."""
    from warehouse import fetch
    from warehouse.catalogue import load_catalogue

    try:
        catalogue = load_catalogue(settings.catalogue_path)
    except Exception:  # noqa: BLE001 (the flow reads the catalogue again and reports what is wrong with it)
        return
    fetch.prefetch_local(
        catalogue,
        seeds_dir=settings.seeds_dir,
        project_root=settings.project_root,
        roots=settings.allowed_roots,
        raw_dir=settings.raw_dir,
    )


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse import fetch, freshness, prefect_server
    from warehouse.lock import writer_lock

    try:
        # taken before Prefect starts, so a second load is refused (or queued) at once
        with writer_lock(settings.home, wait=args.wait):
            # while Prefect's server starts: the copy a run that changes nothing publishes (a build drops it), and
            # the local files kept in the raw zone (the flow's fetch then finds them kept)
            freshness.carry_over(settings.warehouse_path)
            _prefetch(settings)
            try:
                configure_prefect(settings)
                server_started = prefect_server.start_early()  # comes up while the flow's modules import
                from flows.nightly import nightly

                server_started()
                result = nightly(lock_held=True)
            finally:
                fetch.wait_prefetched()
                freshness.drop_carried()
    except LoadRunning as exc:
        print(f"tradewh: {exc}", file=sys.stderr)
        return 75
    print("\n".join(result["summary"]))
    print(f"warehouse: {settings.warehouse_path}")
    return {"succeeded": 0, "partial": 2}.get(str(result["status"]), 1)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    configure_prefect(settings)
    from prefect.schedules import Cron

    from flows.nightly import nightly

    print(f"tradewh: serving the nightly load on cron '{args.cron}' ({args.timezone}); Ctrl-C to stop")
    nightly.serve(name="tradewh-nightly", schedules=[Cron(args.cron, timezone=args.timezone)])
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


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.export import ExportError, export_views

    try:
        exported = export_views(settings.warehouse_path, args.views, fmt=args.format, out_dir=args.out)
    except ExportError as exc:
        print(f"tradewh export: {exc}", file=sys.stderr)
        return 1
    print(format_table(["view", "rows", "file"], [(e.view.qualified, e.rows, str(e.path)) for e in exported]))
    return 0


def cmd_dictionary(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.dictionary import generate_dictionary

    with _open_read_only(settings) as con:
        page = generate_dictionary(con, settings.sql_dir)
    out = args.out if args.out is not None else settings.project_root / "docs" / "data-dictionary.md"
    if args.check:
        if not out.exists() or out.read_text(encoding="utf-8") != page:
            print(f"tradewh dictionary: {out} is out of date: run `tradewh dictionary --out {out}`", file=sys.stderr)
            return 1
        print(f"{out} is up to date")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"wrote {out}")
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.report import ReportError, write_report

    out = args.out if args.out is not None else settings.home / "report" / "tradewh-report.html"
    try:
        written = write_report(settings.warehouse_path, out)
    except ReportError as exc:
        print(f"tradewh report: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {written}")
    return 0


def _command(sub: argparse._SubParsersAction, name: str, summary: str, example: str) -> argparse.ArgumentParser:
    """A subcommand whose help says what it does and shows one example."""
    return sub.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=f"example: {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the example stays on one line
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tradewh",
        description="A trade-figures data warehouse on DuckDB.",
        epilog='example: tradewh sql "select * from marts.trade_balance limit 5"',
    )
    sub = parser.add_subparsers(dest="command", required=True)
    load = _command(sub, "load", "run the nightly load now and publish the warehouse", "tradewh load --wait")
    load.add_argument("--wait", action="store_true", help="queue behind a running load instead of exiting")
    load.set_defaults(func=cmd_load)
    serve = _command(
        sub, "serve", "run the nightly load on its schedule (Prefect serve)", "tradewh serve --cron '0 2 * * *'"
    )
    serve.add_argument("--cron", default=None, help="cron expression (default: TRADEWH_CRON or 0 2 * * *)")
    serve.add_argument("--timezone", default=None, help="time zone of the cron (default: TRADEWH_TIMEZONE or UTC)")
    serve.set_defaults(func=cmd_serve)
    sql = _command(
        sub,
        "sql",
        "run a query against the published warehouse (read-only)",
        'tradewh sql "select * from marts.claim_checks" --format csv',
    )
    sql.add_argument("query", help='SQL, e.g. "select * from marts.trade_balance limit 5"')
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.set_defaults(func=cmd_sql)
    sources = _command(sub, "sources", "list the source catalogue", "tradewh sources")
    sources.set_defaults(func=cmd_sources)
    status = _command(sub, "status", "the last load runs, from the audit table", "tradewh status --last 3")
    status.add_argument("--last", type=int, default=10, help="how many runs to show")
    status.set_defaults(func=cmd_status)
    rollback = _command(sub, "rollback", "put the previously published warehouse back", "tradewh rollback")
    rollback.set_defaults(func=cmd_rollback)
    export = _command(
        sub,
        "export",
        "write public views to Parquet or CSV files (<schema>.<view>.<ext>), read-only",
        "tradewh export marts.trade_balance marts.claim_checks --format csv --out exports",
    )
    export.add_argument("views", nargs="*", metavar="VIEW", help="schema.view (default: every marts view)")
    export.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="file format (parquet)")
    export.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="folder to write into (created if missing)"
    )
    export.set_defaults(func=cmd_export)
    dictionary = _command(
        sub,
        "dictionary",
        "write the data dictionary (Markdown) from the warehouse's own comments",
        "tradewh dictionary --out docs/data-dictionary.md",
    )
    dictionary.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="the page to write (default: docs/data-dictionary.md in the project)",
    )
    dictionary.add_argument("--check", action="store_true", help="exit 1 if the page differs, write nothing")
    dictionary.set_defaults(func=cmd_dictionary)
    report = _command(
        sub,
        "report",
        "write one self-contained HTML page with charts and tables from the marts (read-only, viewable offline)",
        "tradewh report --out tradewh-report.html",
    )
    report.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="the page to write (default: <TRADEWH_HOME>/report/tradewh-report.html)",
    )
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    if args.command == "serve":
        args.cron = args.cron or settings.cron
        args.timezone = args.timezone or settings.timezone
    try:
        return int(args.func(args, settings))
    except (CatalogueError, LoadRunning) as exc:
        print(f"tradewh: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
