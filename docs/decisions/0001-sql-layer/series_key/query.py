# ruff: noqa: E501  (measurement script: its SQL kept on one line each)
"""Reading what partitions by a series at 10M rows: before (the columns), after (series_key stored), computed
(series_key computed when core.fct_trade_figure is read). usage: query.py <before> <after> <computed> <repeats>"""

import os
import sys
import time

import duckdb

files = {"before": sys.argv[1], "after": sys.argv[2], "computed": sys.argv[3]}
repeats = int(sys.argv[4])
COLS8 = "dataset, reporter, partner, period, flow, classification, category, measure"
GROWTH = (
    "select count(*), sum(yoy_growth_pct), sum(series_cagr_pct), count(previous_year_value) from marts.trade_growth"
)
HISTORY = "select count(*), count(previous_vintage_value), count(valid_to) from marts.trade_figure_history"
cases = (
    [(f"trade_growth [{w}]", w, GROWTH) for w in files]
    + [(f"trade_figure_history [{w}]", w, HISTORY) for w in files]
    + [
        # every figure across vintages, as trade_figure_history and is_latest_vintage do where a dataset holds several
        (
            "figure window by 8 columns [before]",
            "before",
            f"select count(*), count(p) from (select lag(value) over (partition by {COLS8} order by vintage) as p from core.fct_trade_figure)",
        ),
        (
            "figure window by series_key, period [after]",
            "after",
            "select count(*), count(p) from (select lag(value) over (partition by series_key, period order by vintage) as p from core.fct_trade_figure)",
        ),
        (
            "figure window by series_key, period [computed]",
            "computed",
            "select count(*), count(p) from (select lag(value) over (partition by series_key, period order by vintage) as p from core.fct_trade_figure)",
        ),
    ]
)
cons = {k: duckdb.connect(v, read_only=True) for k, v in files.items()}
for c in cons.values():
    c.execute("set memory_limit='1GB'; set threads=2")
results = {}
for r in range(repeats):
    for name, which, sql in cases:
        t = time.perf_counter()
        out = cons[which].execute(sql).fetchall()
        took = time.perf_counter() - t
        results.setdefault(name, []).append(took)
        print(f"round {r + 1} {name}: {took:.2f} s {out} load1 {os.getloadavg()[0]:.2f}", flush=True)
for name, ts in results.items():
    print(f"MEDIAN {name}: {sorted(ts)[len(ts) // 2]:.2f} s of {[f'{t:.2f}' for t in ts]}")
