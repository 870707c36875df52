"""Same rows? Every public view (core.*, marts.*, audit.source_freshness) of a builder-made warehouse against
other files: row count and a multiset fingerprint (sum of the rows' hashes) for each view, and EXCEPT ALL both
ways for the views named with --except-all.

Usage: compare.py <builder's file> <other file>... [--except-all marts.trade_balance marts.goods_composition]"""

import argparse

import duckdb

parser = argparse.ArgumentParser()
parser.add_argument("base")
parser.add_argument("others", nargs="+")
parser.add_argument("--except-all", nargs="*", default=["marts.trade_balance", "marts.goods_composition"])
parser.add_argument("--skip", nargs="*", default=[])
args = parser.parse_args()
con = duckdb.connect(
    config={"memory_limit": "3GB", "preserve_insertion_order": False, "temp_directory": "/tmp/sqllayer/home/tmp"}
)
con.execute(f"attach '{args.base}' as a (read_only)")
names = ["a"]
for n, other in enumerate(args.others):
    con.execute(f"attach '{other}' as b{n} (read_only)")
    names.append(f"b{n}")
views = con.execute(
    "select schema_name || '.' || view_name from duckdb_views() where database_name = 'a' and not internal "
    "and schema_name in ('core', 'marts', 'audit') order by all"
).fetchall()
bad = 0
for (view,) in views:
    if view in args.skip:
        continue
    cols_a = [r[0] for r in con.execute(f"describe a.{view}").fetchall()]
    cols = ", ".join(f'"{c}"' for c in cols_a if c != "age_hours")  # age_hours is against now(): differs per read
    line = f"{view:38s}"
    for db in names:
        same_cols = [r[0] for r in con.execute(f"describe {db}.{view}").fetchall()] == cols_a
        n, fp = con.execute(
            f"select count(*), sum(hash({cols})::hugeint) from (select {cols} from {db}.{view})"
        ).fetchone()
        if db == "a":
            base = (n, fp)
            line += f" rows {n:>10,}"
        else:
            ok = (n, fp) == base and same_cols
            bad += not ok
            line += f" | {db}: {'same' if ok else f'DIFFERS ({n:,} rows, columns {same_cols})'}"
            if view in args.except_all:
                ab = con.execute(
                    f"select count(*) from (select {cols} from a.{view} except all select {cols} from {db}.{view})"
                ).fetchone()[0]
                ba = con.execute(
                    f"select count(*) from (select {cols} from {db}.{view} except all select {cols} from a.{view})"
                ).fetchone()[0]
                bad += bool(ab or ba)
                line += f", EXCEPT ALL a-b {ab} b-a {ba}"
    print(line, flush=True)
print("ALL SAME" if not bad else f"{bad} difference(s)")
