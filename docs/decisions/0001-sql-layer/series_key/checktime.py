# ruff: noqa: E501  (measurement script: its SQL kept on one line each)
"""The collision check on the 10M fact: one grouping of every key vs only the keys that repeat."""

import os
import sys
import time

import duckdb

SERIES_COLUMNS = ("dataset", "reporter", "partner", "flow", "classification", "category", "measure", "unit")


def series_key_collisions(con):
    """Only the rows whose key repeats are grouped with their columns (the check c54d2c2 shipped, then dropped)."""
    mixed = " or ".join(f"min({c}) <> max({c}) or count({c}) not in (0, count(*))" for c in SERIES_COLUMNS)
    repeated = "select series_key from core.fct_trade_figure group by all having count(*) > 1"
    shared = f"select series_key from core.fct_trade_figure semi join ({repeated}) using (series_key) group by all having {mixed}"
    return con.execute(f"select count(*) from ({shared})").fetchone()[0] and [1] or []


con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("set memory_limit='512MB'; set threads=2; set temp_directory='/tmp/S/measure/tmp'")
for _r in range(2):
    t = time.perf_counter()
    f = series_key_collisions(con)
    print(
        f"two-step check: {time.perf_counter() - t:.2f} s, {len(f)} failures, load1 {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    names = ", ".join(SERIES_COLUMNS)
    mixed = " or ".join(f"min({c}) <> max({c}) or count({c}) not in (0, count(*))" for c in SERIES_COLUMNS)
    t = time.perf_counter()
    n = con.execute(
        f"select count(*) from (select series_key from core.fct_trade_figure group by all having {mixed})"
    ).fetchone()
    print(f"one-grouping check: {time.perf_counter() - t:.2f} s, {n}, load1 {os.getloadavg()[0]:.2f}", flush=True)
    t = time.perf_counter()
    n = con.execute(
        f"select count(distinct series_key), count(distinct ({names})) from core.fct_trade_figure"
    ).fetchone()
    print(f"count distinct both: {time.perf_counter() - t:.2f} s, {n}", flush=True)
