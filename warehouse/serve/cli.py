"""The ``tradewh`` command: load, serve, sql, sources, status, rollback, export, dictionary, report."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb

from warehouse.common.settings import Settings, load_settings
from warehouse.common.startup import imports_done
from warehouse.extract.catalogue import CatalogueError, load_catalogue
from warehouse.publish.lock import LoadRunning
from warehouse.serve.operations import cmd_load, cmd_rollback, cmd_serve, cmd_server, cmd_verify
from warehouse.serve.output import _open_read_only, format_table
from warehouse.serve.status import cmd_freshness, cmd_status


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.serve.sql_shell import DEFAULT_LIMIT, SqlInputError, read_query, run_sql, table_width

    try:
        query = read_query(args.query, args.file, sys.stdin)
    except SqlInputError as exc:
        print(f"tradewh sql: {exc}", file=sys.stderr)
        return 2
    negative = [f"--{name}" for name in ("limit", "width", "timeout") if (getattr(args, name) or 0) < 0]
    if negative:
        print(f"tradewh sql: {', '.join(negative)} must be 0 or more", file=sys.stderr)
        return 2
    if args.all:
        limit = None
    elif args.limit is not None:
        limit = args.limit
    else:
        limit = DEFAULT_LIMIT if args.format == "table" else None  # csv and json stream every row
    con = _open_read_only(settings)
    try:
        return run_sql(
            con,
            query,
            fmt=args.format,
            limit=limit,
            width=table_width(args.width, sys.stdout) if args.format == "table" else None,
            timeout=args.timeout,
            format_table=format_table,
        )
    except KeyboardInterrupt:
        print("tradewh sql: interrupted", file=sys.stderr)
        return 130
    finally:
        con.close()


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    sources = load_catalogue(settings.catalogue_path)
    rows = [(s.id, s.dataset, s.vintage, s.location_kind, s.location, s.publisher, s.licence) for s in sources]
    print(format_table(["id", "dataset", "vintage", "kind", "location", "publisher", "licence"], rows))
    return 0


def cmd_check_source(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.serve.check_source import check_source

    path = (args.catalogue or settings.catalogue_path).resolve()
    sources = {s.id: s for s in load_catalogue(path)}
    if args.source_id not in sources:
        known = ", ".join(sorted(sources)) or "none"
        print(f"tradewh check-source: no source '{args.source_id}' in {path} (its sources: {known})", file=sys.stderr)
        return 2
    return check_source(sources[args.source_id], settings, path)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.serve.export import ExportError, export_views

    try:
        exported = export_views(settings.warehouse_path, args.views, fmt=args.format, out_dir=args.out)
    except ExportError as exc:
        print(f"tradewh export: {exc}", file=sys.stderr)
        return 1
    print(format_table(["view", "rows", "file"], [(e.view.qualified, e.rows, str(e.path)) for e in exported]))
    return 0


def cmd_dictionary(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.serve.dictionary import generate_dictionary

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
    from warehouse.serve.report import ReportError, write_report

    out = args.out if args.out is not None else settings.home / "report" / "tradewh-report.html"
    try:
        written = write_report(settings.warehouse_path, out, reporter=args.reporter, partner=args.partner)
    except ReportError as exc:
        print(f"tradewh report: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {written}")
    return 0


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.serve.docs_site import DocsError, write_docs

    out = args.out if args.out is not None else settings.home / "docs" / "index.html"
    try:
        written = write_docs(settings.warehouse_path, out, settings.sql_dir, project_root=settings.project_root)
    except DocsError as exc:
        print(f"tradewh docs: {exc}", file=sys.stderr)
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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "?"

    return f"tradewh {of('tradewh')} (Prefect {of('prefect')}, DuckDB {duckdb.__version__}, pandera {of('pandera')})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tradewh",
        description="A trade-figures data warehouse on DuckDB.",
        epilog='example: tradewh sql "select * from marts.trade_balance limit 5"',
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    load = _command(sub, "load", "run the nightly load now and publish the warehouse", "tradewh load --wait")
    load.add_argument("--wait", action="store_true", help="queue behind a running load instead of exiting")
    load.add_argument(
        "--repair", action="store_true", help="first drop raw payloads whose bytes are wrong, so they are fetched anew"
    )
    load.set_defaults(func=cmd_load)
    serve = _command(
        sub, "serve", "run the nightly load on its schedule (Prefect serve)", "tradewh serve --cron '0 2 * * *'"
    )
    serve.add_argument("--cron", default=None, help="cron expression (default: TRADEWH_CRON or 0 2 * * *)")
    serve.add_argument("--timezone", default=None, help="time zone of the cron (default: TRADEWH_TIMEZONE or UTC)")
    serve.add_argument("--interval", type=int, default=None, metavar="SECONDS", help="run every N seconds instead")
    serve.add_argument(
        "--start-server", action="store_true", help="start the project's Prefect server first if it is not running"
    )
    serve.set_defaults(func=cmd_serve)
    server = _command(
        sub,
        "server",
        "start, stop or check the project's Prefect server (scheduler, run history, UI) on 127.0.0.1",
        "tradewh server start",
    )
    server.add_argument("action", choices=["start", "stop", "status"])
    server.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    server.add_argument("--port", type=int, default=None, help="port (default: TRADEWH_SERVER_PORT or 4200)")
    server.set_defaults(func=cmd_server)
    sql = _command(
        sub,
        "sql",
        "run a query against the published warehouse (read-only). The table format shows the first 100 rows and "
        "how many were left out, fitted to the terminal's width; csv and json stream every row. The query comes "
        "from the argument, --file, or standard input ('-', or no argument on a pipe)",
        'tradewh sql "select * from marts.claim_checks" --format csv',
    )
    sql.add_argument(
        "query", nargs="?", default=None, help='SQL, e.g. "select * from marts.trade_balance"; - reads standard input'
    )
    sql.add_argument("--file", type=Path, default=None, metavar="PATH", help="read the query from this file")
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    rows = sql.add_mutually_exclusive_group()
    rows.add_argument(
        "--limit",
        type=int,
        default=None,
        metavar="N",
        help="print at most N rows, in every format (default: 100 in the table format, all in csv and json)",
    )
    rows.add_argument("--all", action="store_true", help="print every row in the table format too")
    sql.add_argument(
        "--width",
        type=int,
        default=None,
        metavar="COLUMNS",
        help="fit the table to this many characters, cutting text columns (default: the terminal's; 0 never cuts; "
        "piped output is not cut)",
    )
    sql.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop the query after this long (default: no limit; 0 is none either)",
    )
    sql.set_defaults(func=cmd_sql)
    sources = _command(sub, "sources", "list the source catalogue", "tradewh sources")
    sources.set_defaults(func=cmd_sources)
    check = _command(
        sub,
        "check-source",
        "fetch, parse, validate and build one source in a temporary folder, publishing nothing: the layout of each "
        "file, its columns mapped, the rejections by rule, the catalogue lines for what nothing maps yet, and what "
        "it would add to the marts; exit 0 when it would load",
        "tradewh check-source my_wdi_travel --catalogue my-catalogue.toml",
    )
    check.add_argument("source_id", metavar="ID", help="the catalogue entry's id")
    check.add_argument(
        "--catalogue", type=Path, default=None, metavar="FILE", help="the catalogue (default: TRADEWH_CATALOGUE)"
    )
    check.set_defaults(func=cmd_check_source)
    status = _command(sub, "status", "the last load runs, from the audit table", "tradewh status --last 3")
    status.add_argument("--last", type=int, default=10, help="how many runs to show")
    status.add_argument("--run", default=None, metavar="RUN_ID", help="one run in detail: each source, the log")
    status.add_argument("--width", type=int, default=None, help="fit tables to this many columns (default 100)")
    status.set_defaults(func=cmd_status)
    freshness = _command(
        sub,
        "freshness",
        "how old each source's last successful fetch (or newest vintage) is against the catalogue's thresholds; "
        "exit 1 when one is past error_after",
        "tradewh freshness",
    )
    freshness.add_argument("--width", type=int, default=None, help="fit the table to this many columns (100)")
    freshness.set_defaults(func=cmd_freshness)
    rollback = _command(
        sub,
        "rollback",
        "put an earlier publish back, once it is checked (opens, carries a build stamp, passes the build's checks)",
        "tradewh rollback --to 20261204T021500-a1b2c3",
    )
    rollback.add_argument(
        "--to", dest="to_run", default=None, metavar="RUN_ID", help="the run whose publish to restore"
    )
    rollback.set_defaults(func=cmd_rollback)
    verify = _command(
        sub,
        "verify",
        "check raw payloads, lake files and the published file against their SHA-256 and build stamps",
        "tradewh verify",
    )
    verify.set_defaults(func=cmd_verify)
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
        "tradewh report --reporter CHN --partner USA --out tradewh-report.html",
    )
    report.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="the page to write (default: <TRADEWH_HOME>/report/tradewh-report.html)",
    )
    report.add_argument(
        "--reporter",
        default=None,
        metavar="ISO3",
        help="the economy the page is about (default: the one the printed claims are about, else the reporter "
        "with the most figures)",
    )
    report.add_argument(
        "--partner",
        default=None,
        metavar="ISO3",
        help="the partner of its goods trade (default: the partner with the most customs figures)",
    )
    report.set_defaults(func=cmd_report)
    docs = _command(
        sub,
        "docs",
        "write one self-contained HTML page of every public view and column, with search and the lineage between "
        "views (read-only, viewable offline)",
        "tradewh docs --out docs/index.html",
    )
    docs.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="the page to write (default: <TRADEWH_HOME>/docs/index.html)",
    )
    docs.set_defaults(func=cmd_docs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    if args.command == "serve":
        args.cron = args.cron or settings.cron
        args.timezone = args.timezone or settings.timezone
    if args.command != "load":
        imports_done()  # a load calls it once its flow's modules are imported
    try:
        code = int(args.func(args, settings))
        sys.stdout.flush()
        return code
    except (CatalogueError, LoadRunning) as exc:
        print(f"tradewh: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader went away (`tradewh status | head`): stop writing, no traceback; Python's own flush at exit
        # would fail again, so stdout is pointed at /dev/null first
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (OSError, duckdb.Error) as exc:
        # a full disk, a read-only or unwritable data folder: one line naming the path and the fix
        from warehouse.common.errors import StorageError, storage_error

        problem = exc if isinstance(exc, StorageError) else storage_error(exc, settings.home)
        if problem is None:
            raise
        print(problem, file=sys.stderr)
        return 74


if __name__ == "__main__":
    sys.exit(main())
