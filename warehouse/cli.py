"""The ``tradewh`` command: load, serve, sql, sources, status, rollback, export, dictionary, report."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb

from warehouse.catalogue import CatalogueError, load_catalogue
from warehouse.lock import LoadRunning
from warehouse.settings import Settings, configure_prefect, load_settings


def _open_read_only(settings: Settings) -> duckdb.DuckDBPyConnection:
    """The published file, read-only, with external access off and the configuration locked."""
    from warehouse.readonly import connect_read_only

    try:
        return connect_read_only(settings.warehouse_path)
    except FileNotFoundError as exc:
        raise SystemExit(f"tradewh: {exc}") from None


def _fit(widths: list[int], numeric: list[bool], width: int | None) -> list[int]:
    """Column widths narrowed until the table fits ``width`` characters: the widest text columns first, none
    below 8 characters (numbers and the first column, the row's id, are never cut)."""
    if width is None:
        return widths
    widths = list(widths)
    while sum(widths) + 2 * (len(widths) - 1) > width:
        cuttable = [i for i, w in enumerate(widths) if i > 0 and not numeric[i] and w > 8]  # ids stay whole
        if not cuttable:
            break
        widest = max(cuttable, key=lambda i: widths[i])
        excess = sum(widths) + 2 * (len(widths) - 1) - width
        widths[widest] = max(8, widths[widest] - excess)
    return widths


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(columns: Sequence[str], rows: Sequence[Sequence[object]], *, width: int | None = None) -> str:
    """Rows as an aligned text table (numbers right-aligned), cut to ``width`` characters when given."""

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
    widths = _fit(widths, numeric, width)
    lines = ["  ".join(_cut(c, w).ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in text:
        cells = (_cut(v, w) for v, w in zip(r, widths, strict=True))
        lines.append(
            "  ".join(
                v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
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
    started = dt.datetime.now(dt.UTC)
    print(f"tradewh load: started at {started:%Y-%m-%d %H:%M:%S} UTC, data folder {settings.home}", flush=True)
    from warehouse import fetch, freshness, prefect_server
    from warehouse.errors import require_free_space
    from warehouse.lock import writer_lock

    require_free_space(settings.home)  # a full disk is said at once, in one line, not by Prefect's tracebacks
    try:
        # taken before Prefect starts, so a second load is refused (or queued) at once
        with writer_lock(settings.home, wait=args.wait):
            # while Prefect's server starts: the copy a run that changes nothing publishes (a build drops it), and
            # the local files kept in the raw zone (the flow's fetch then finds them kept)
            if args.repair:
                _repair(settings)
            freshness.carry_over(settings.warehouse_path)
            _prefetch(settings)
            try:
                api_url = configure_prefect(settings)
                if api_url:
                    print(f"tradewh load: runs on the Prefect server at {api_url}", flush=True)
                else:
                    print(
                        "tradewh load: starting a temporary Prefect server for this run "
                        "(`tradewh server start` keeps one running, with the run history)",
                        flush=True,
                    )
                server_started = prefect_server.start_early()  # comes up while the flow's modules import
                from flows.nightly import nightly

                server_started()
                state = nightly(lock_held=True, started_at=started.isoformat(), return_state=True)
            finally:
                fetch.wait_prefetched()
                freshness.drop_carried()
    except LoadRunning as exc:
        print(f"tradewh: {exc}", file=sys.stderr)
        return 75
    result = state.result(raise_on_failure=False)
    if not isinstance(result, dict):  # the flow raised: build or publish failed, or the run crashed
        from warehouse.errors import storage_error

        problem = storage_error(result, settings.home) if isinstance(result, BaseException) else None
        print(problem or f"tradewh load: {state.name}: {state.message}", file=sys.stderr)
        print(f"warehouse: {settings.warehouse_path} (unchanged)")
        return 74 if problem else 1
    print("\n".join(result["summary"]))
    print(f"warehouse: {settings.warehouse_path}")
    print(f"log: {result['log_file']}")
    return {"succeeded": 0, "partial": 2}.get(str(result["status"]), 1)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse import server

    if args.start_server:
        _start_server(settings, host="127.0.0.1", port=settings.server_port)
    api_url = configure_prefect(settings)
    if not api_url:
        print(
            "tradewh serve: no Prefect server to schedule on. Prefect's temporary server has no scheduler, so "
            "the nightly would never run. Start the project's server first (`tradewh server start`), run "
            "`tradewh serve --start-server`, or set PREFECT_API_URL to yours.",
            file=sys.stderr,
        )
        return 1
    if not server.healthy(api_url):
        print(f"tradewh serve: the Prefect server at {api_url} does not answer its health check", file=sys.stderr)
        return 1
    from prefect.schedules import Cron, Interval

    from flows.nightly import nightly

    if args.interval:
        schedule, when = Interval(dt.timedelta(seconds=args.interval)), f"every {args.interval} s"
    else:
        schedule, when = Cron(args.cron, timezone=args.timezone), f"on cron '{args.cron}' ({args.timezone})"
    print(f"tradewh serve: the nightly load runs {when} on the Prefect server at {api_url}; Ctrl-C to stop", flush=True)
    nightly.serve(name="tradewh-nightly", schedules=[schedule], parameters={"wait_for_lock": True})
    return 0


def _start_server(settings: Settings, *, host: str, port: int) -> None:
    from warehouse import server

    print(f"tradewh server: starting Prefect's server on {host}:{port} (log {server.server_log(settings.home)})")
    try:
        info = server.start(settings.home, host=host, port=port)
    except server.ServerError as exc:
        raise SystemExit(f"tradewh server: {exc}") from None
    print(f"tradewh server: running, pid {info.pid}, API {info.api_url}, UI {info.ui_url}")


def cmd_server(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse import server

    if args.action == "start":
        _start_server(settings, host=args.host, port=args.port or settings.server_port)
        return 0
    if args.action == "stop":
        stopped = server.stop(settings.home)
        print(f"tradewh server: stopped pid {stopped.pid}" if stopped else "tradewh server: none was running")
        return 0
    info = server.recorded(settings.home)
    if info is None:
        print(f"tradewh server: not running (start it with `tradewh server start`; data folder {settings.home})")
        return 3
    ok = server.healthy(info.api_url)
    print(f"tradewh server: pid {info.pid}, {'healthy' if ok else 'NOT answering its health check'}")
    print(f"PREFECT_API_URL={info.api_url}")
    print(f"UI: {info.ui_url}\nlog: {info.log}\nstarted: {info.started_at}")
    return 0 if ok else 1


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.sql_shell import DEFAULT_LIMIT, SqlInputError, read_query, run_sql, table_width

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
        print(f"\nlast run {latest} (`tradewh status --run {latest}` for its sources and log):")
        _print_sources(con, latest, width)
    return 0


STATUS_WIDTH = 100


def _print_rollbacks(settings: Settings, last: int, width: int) -> None:
    """The last rollbacks, done or refused, from the lake's audit (the file a rollback restores predates it)."""
    from warehouse.audit import rollback_events

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
    from warehouse.runlog import log_path

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


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.build import RollbackError, rollback
    from warehouse.lock import writer_lock

    with writer_lock(settings.home):
        try:
            run_id = rollback(settings.warehouse_path, to_run=args.to_run, lake_dir=settings.lake_dir)
        except RollbackError as exc:
            print(f"tradewh rollback: {exc}", file=sys.stderr)
            return 1
    what = f"the publish of run {run_id}" if run_id else "the previous publish"
    print(f"tradewh: {settings.warehouse_path} is {what} again; the next load rebuilds from the lake")
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.verify import verify

    problems = verify(settings)
    for problem in problems:
        print(problem)
    if not problems:
        print("tradewh verify: raw payloads, lake files and the published file are as they were written")
    return 1 if problems else 0


def _repair(settings: Settings) -> None:
    """``load --repair``: name the lake files that differ from their manifest (the load stages their sources again)
    and delete raw payloads whose bytes are not their SHA-256 (the load fetches them again)."""
    from warehouse.verify import repair_raw, verify_lake

    for problem in verify_lake(settings.lake_dir):
        print(f"tradewh load --repair: {problem}", flush=True)
    for path in repair_raw(settings.raw_dir):
        print(f"tradewh load --repair: removed {path}: its bytes are not its SHA-256; fetched anew", flush=True)


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
        written = write_report(settings.warehouse_path, out, reporter=args.reporter, partner=args.partner)
    except ReportError as exc:
        print(f"tradewh report: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {written}")
    return 0


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.docs_site import DocsError, write_docs

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
        from warehouse.errors import StorageError, storage_error

        problem = exc if isinstance(exc, StorageError) else storage_error(exc, settings.home)
        if problem is None:
            raise
        print(problem, file=sys.stderr)
        return 74


if __name__ == "__main__":
    sys.exit(main())
