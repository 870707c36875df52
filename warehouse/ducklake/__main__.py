"""The DuckLake target's commands, run in the lake environment (``make lake-env``):

    .venv-lake/bin/python -m warehouse.ducklake publish      # the published warehouse file -> one lake snapshot
    .venv-lake/bin/python -m warehouse.ducklake history      # the snapshots, each with its run id
    .venv-lake/bin/python -m warehouse.ducklake rollback --to 20261205T005911-69158d
    .venv-lake/bin/python -m warehouse.ducklake cli-init --out lake.sql   # then: .venv-lake/bin/duckdb -init lake.sql
    .venv-lake/bin/python -m warehouse.ducklake maintain --dry-run      # what the weekly maintenance would do

The lake is ``--catalog`` (``TRADEWH_LAKE_CATALOG``; default a SQLite file ``<TRADEWH_HOME>/ducklake/catalog.sqlite``)
and ``--data-path`` (``TRADEWH_LAKE_DATA``; default ``<TRADEWH_HOME>/ducklake/data/``). A Postgres catalog is
``postgres:dbname=tradewh host=127.0.0.1 port=5432 user=...`` (its password from ``PGPASSWORD``, never here).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb

from warehouse.common.settings import load_settings
from warehouse.ducklake.connect import LakeTarget, LakeUnavailable, configured_target, connect
from warehouse.ducklake.publish import LakePublishError, history, publish_to_lake, rollback_lake


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m warehouse.ducklake",
        description="Publish the warehouse into a DuckLake, list its snapshots, roll back to a run.",
        epilog="example: .venv-lake/bin/python -m warehouse.ducklake history",
    )
    parser.add_argument("--catalog", default=None, help="ducklake catalog (default: TRADEWH_LAKE_CATALOG)")
    parser.add_argument("--data-path", default=None, help="the lake's data folder (default: TRADEWH_LAKE_DATA)")
    sub = parser.add_subparsers(dest="command", required=True)
    publish = sub.add_parser("publish", help="publish a built warehouse file as one snapshot (commit message: run id)")
    publish.add_argument("--warehouse", type=Path, default=None, help="the DuckDB file (default: the published one)")
    publish.add_argument("--run-id", default=None, help="the commit message (default: the file's build run)")
    sub.add_parser("history", help="the snapshots tradewh committed, oldest first")
    rollback = sub.add_parser("rollback", help="publish an earlier run's snapshot again, as a new snapshot")
    rollback.add_argument("--to", required=True, metavar="RUN_ID", help="the run to put back")
    sql = sub.add_parser("sql", help="run a read-only query on the lake (optionally as of a snapshot)")
    sql.add_argument("query")
    sql.add_argument("--snapshot", type=int, default=None, help="read as of this snapshot id")
    _add_reader_and_maintenance_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    target = configured_target(settings, catalog=args.catalog, data_path=args.data_path)
    sqlite = Path(target.catalog.removeprefix("sqlite:")) if target.catalog.startswith("sqlite:") else None
    if sqlite is not None and args.command != "publish" and not sqlite.exists():
        print(f"tradewh lake: no lake at {sqlite}: publish into it first (publish), or give --catalog", file=sys.stderr)
        return 1
    if args.command in READER_AND_MAINTENANCE:
        return _run_reader_or_maintenance(args, target)
    try:
        if args.command == "publish":
            warehouse = args.warehouse or settings.warehouse_path
            if not warehouse.is_file():
                print(f"tradewh lake: no warehouse file at {warehouse}: run `tradewh load` first", file=sys.stderr)
                return 1
            configured_target(settings, catalog=args.catalog, data_path=args.data_path, create=True)  # its folders
            snapshot = publish_to_lake(warehouse, target, run_id=args.run_id)
            print(f"published snapshot {snapshot} to {target.catalog}")
        elif args.command == "history":
            for s in history(target):
                what = f"rollback to {s.extra.get('to_run')}" if s.kind == "rollback" else "publish"
                print(f"{s.snapshot_id:>6}  {s.committed_at:%Y-%m-%d %H:%M:%S%z}  {s.run_id}  {what}")
        elif args.command == "rollback":
            snapshot = rollback_lake(target, args.to)
            print(f"rolled back to run {args.to}: snapshot {snapshot}")
        else:
            con = connect(target, read_only=True, snapshot=args.snapshot)
            try:
                cursor = con.execute(args.query)
                print("\t".join(d[0] for d in cursor.description))
                for row in cursor.fetchall():
                    print("\t".join("" if v is None else str(v) for v in row))
            finally:
                con.close()
    except (LakeUnavailable, LakePublishError, duckdb.Error) as exc:
        print(f"tradewh lake: {exc}", file=sys.stderr)
        return 1
    return 0


READER_AND_MAINTENANCE = ("cli-init", "bi-uri", "maintain")


def _add_reader_and_maintenance_commands(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser(
        "cli-init", help="the DuckDB CLI's init file that opens the lake read-only",
        epilog="example: .venv-lake/bin/python -m warehouse.ducklake cli-init --out lake.sql && "
        ".venv-lake/bin/duckdb -init lake.sql -cmd .safe_mode",
    )  # fmt: skip
    init.add_argument("--snapshot", type=int, default=None, help="pin the reads to this snapshot id")
    init.add_argument("--out", type=Path, default=None, help="write the file here (default: print it)")
    uri = sub.add_parser(
        "bi-uri", help="install the extensions for a BI tool and print its SQLAlchemy URI of the lake",
        epilog="example: .venv-lake/bin/python -m warehouse.ducklake bi-uri --extensions ~/.tradewh/duckdb-ext",
    )  # fmt: skip
    uri.add_argument("--extensions", type=Path, required=True, help="the DuckDB extension folder to install into")
    maintain = sub.add_parser(
        "maintain", help="expire old snapshots (never the latest publishes), merge small files, delete old files",
        epilog="example: .venv-lake/bin/python -m warehouse.ducklake maintain --older-than-days 30 --keep 7 --dry-run",
    )  # fmt: skip
    maintain.add_argument("--older-than-days", type=float, default=30, help="expire snapshots older (default 30)")
    maintain.add_argument("--keep", type=int, default=7, help="never expire the latest K publishes (default 7)")
    maintain.add_argument(
        "--files-older-than-hours", type=float, default=24,
        help="delete unreferenced files only this much older (default 24: longer than any publish or read)",
    )  # fmt: skip
    maintain.add_argument("--dry-run", action="store_true", help="only say what would be expired and deleted")


def _run_reader_or_maintenance(args: argparse.Namespace, target: LakeTarget) -> int:
    from warehouse.ducklake.maintenance import maintain
    from warehouse.ducklake.readers import bi_uri, cli_init, install_extensions

    try:
        if args.command == "cli-init":
            text = cli_init(target, snapshot=args.snapshot)
            if args.out is None:
                print(text, end="")
            else:
                args.out.write_text(text)
                print(f"wrote {args.out}: open the lake with .venv-lake/bin/duckdb -init {args.out} -cmd .safe_mode")
        elif args.command == "bi-uri":
            install_extensions(args.extensions.expanduser().resolve())
            print(bi_uri(target, args.extensions.expanduser().resolve()))
        else:
            report = maintain(
                target, older_than_days=args.older_than_days, keep=args.keep,
                files_older_than_hours=args.files_older_than_hours, dry_run=args.dry_run,
            )  # fmt: skip
            print(report.summary())
    except (LakeUnavailable, duckdb.Error, OSError) as exc:
        print(f"tradewh lake: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
