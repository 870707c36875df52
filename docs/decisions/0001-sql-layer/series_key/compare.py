# ruff: noqa: E501  (measurement script: its SQL kept on one line each)
"""Every view and table of the public schemas: rows equal before/after (EXCEPT ALL both ways) on the before's columns."""

import sys

import duckdb

before, after = sys.argv[1], sys.argv[2]
schemas = sys.argv[3].split(",") if len(sys.argv) > 3 else ["staging", "core", "marts", "audit"]
VOLATILE = {
    "run_id",
    "loaded_by_run_id",
    "last_fetched_at",
    "age_hours",
    "freshness_status",
    "started_at",
    "finished_at",
    "built_at",
    "fetched_at",
    "loaded_at",
    "duration_s",
    "origin",
    "published_at",
    "inputs_sha256",
    "inputs",
}
con = duckdb.connect()
con.execute("set memory_limit='1GB'; set threads=2")
con.execute(f"attach '{before}' as b (read_only)")
con.execute(f"attach '{after}' as a (read_only)")


def objects(db):
    return {
        (s, n)
        for s, n in con.execute(
            f"select schema_name, view_name from duckdb_views() where database_name='{db}' and not internal "
            f"union all select schema_name, table_name from duckdb_tables() where database_name='{db}'"
        ).fetchall()
        if s in schemas
    }


ob, oa = objects("b"), objects("a")
print("only before:", sorted(ob - oa), "only after:", sorted(oa - ob))
bad = 0
for s, n in sorted(ob & oa):
    cb = [
        c
        for (c,) in con.execute(
            f"select column_name from duckdb_columns() where database_name='b' and schema_name='{s}' and table_name='{n}' order by column_index"
        ).fetchall()
    ]
    ca = [
        c
        for (c,) in con.execute(
            f"select column_name from duckdb_columns() where database_name='a' and schema_name='{s}' and table_name='{n}' order by column_index"
        ).fetchall()
    ]
    added = [c for c in ca if c not in cb]
    gone = [c for c in cb if c not in ca]
    cols = ", ".join(f'"{c}"' for c in cb if c in ca and c not in VOLATILE)
    skipped = [c for c in cb if c in VOLATILE]
    rows = con.execute(f"select count(*) from b.{s}.{n}").fetchone()[0]
    x = con.execute(
        f"select count(*) from (select {cols} from b.{s}.{n} except all select {cols} from a.{s}.{n})"
    ).fetchone()[0]
    y = con.execute(
        f"select count(*) from (select {cols} from a.{s}.{n} except all select {cols} from b.{s}.{n})"
    ).fetchone()[0]
    bad += bool(x or y or gone)
    print(
        f"{s}.{n}: {rows} rows, before-after {x}, after-before {y}"
        + (f", added {added}" if added else "")
        + (f", GONE {gone}" if gone else "")
        + (f", not compared {skipped}" if skipped else ""),
        flush=True,
    )
print("DIFFERENT" if bad else "ALL EQUAL")
