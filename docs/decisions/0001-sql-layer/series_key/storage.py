"""Storage of a series key at 10M rows: the fact copied without a key, with a 64-bit hash, with a text key."""

import os
import sys
import time

import duckdb

SRC = sys.argv[1]
OUT = "/tmp/S/measure"
KEY_COLS = "dataset, reporter, partner, flow, classification, category, measure, unit"
variants = {
    "plain": "select * from src.core.fct_trade_figure",
    "hash": f"select *, hash({KEY_COLS}) as series_key from src.core.fct_trade_figure",
    "text": f"select *, concat_ws('|', {KEY_COLS}) as series_key from src.core.fct_trade_figure",
}
for name, query in variants.items():
    path = f"{OUT}/fct_{name}.duckdb"
    for p in (path, path + ".wal"):
        if os.path.exists(p):
            os.remove(p)
    con = duckdb.connect(path)
    con.execute("set memory_limit='512MB'; set threads=2; set preserve_insertion_order=true")
    con.execute(f"attach '{SRC}' as src (read_only)")
    t = time.perf_counter()
    con.execute(f"create table fct as {query}")
    con.execute("checkpoint")
    took = time.perf_counter() - t
    n = con.execute("select count(*) from fct").fetchone()[0]
    con.close()
    print(f"{name}: rows {n}, create+checkpoint {took:.1f} s, file {os.path.getsize(path) / 2**20:.1f} MiB", flush=True)
con = duckdb.connect(f"{OUT}/fct_text.duckdb", read_only=True)
print(
    "distinct series:",
    con.execute(
        f"select count(distinct series_key), count(distinct ({KEY_COLS})), avg(length(series_key)) from fct"
    ).fetchone(),
)
