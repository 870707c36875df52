"""The DuckLake target's commands, run in the lake environment (``make lake-env``):

    .venv-lake/bin/python -m warehouse.ducklake publish      # the published warehouse file -> one lake snapshot
    .venv-lake/bin/python -m warehouse.ducklake history      # the snapshots, each with its run id
    .venv-lake/bin/python -m warehouse.ducklake rollback --to 20261205T005911-69158d

The lake is ``--catalog`` (``TRADEWH_LAKE_CATALOG``; default a SQLite file ``<TRADEWH_HOME>/ducklake/catalog.sqlite``)
and ``--data-path`` (``TRADEWH_LAKE_DATA``; default ``<TRADEWH_HOME>/ducklake/data/``). A Postgres catalog is
``postgres:dbname=tradewh host=127.0.0.1 port=5432 user=...`` (its password from ``PGPASSWORD``, never here).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb

from warehouse.common.settings import load_settings
from warehouse.ducklake.connect import LakeUnavailable, connect, target_from
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    lake = settings.home / "ducklake"
    catalog = args.catalog or os.environ.get("TRADEWH_LAKE_CATALOG") or str(lake / "catalog.sqlite")
    data_path = args.data_path or os.environ.get("TRADEWH_LAKE_DATA") or str(lake / "data")
    target = target_from(catalog, data_path)
    sqlite = Path(target.catalog.removeprefix("sqlite:")) if target.catalog.startswith("sqlite:") else None
    if sqlite is not None and args.command != "publish" and not sqlite.exists():
        print(f"tradewh lake: no lake at {sqlite}: publish into it first (publish), or give --catalog", file=sys.stderr)
        return 1
    try:
        if args.command == "publish":
            warehouse = args.warehouse or settings.warehouse_path
            if not warehouse.is_file():
                print(f"tradewh lake: no warehouse file at {warehouse}: run `tradewh load` first", file=sys.stderr)
                return 1
            if sqlite is not None:
                sqlite.parent.mkdir(parents=True, exist_ok=True)
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


if __name__ == "__main__":
    sys.exit(main())
