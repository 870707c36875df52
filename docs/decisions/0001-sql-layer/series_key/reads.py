# ruff: noqa: E501  (measurement script: its SQL kept on one line each)
"""Reads of the two series views, whole and for one reporter, on files built by each option.
usage: reads.py <rounds> name=file ...   (the files read-only; 2 threads, 1GB)"""

import os
import sys
import time

import duckdb

rounds = int(sys.argv[1])
files = dict(a.split("=", 1) for a in sys.argv[2:])
Q = {
    "trade_growth, one reporter": "select count(*), sum(value), count(previous_year_value) from marts.trade_growth where reporter = 'USA'",
    "trade_growth, every row": "select count(*), sum(value), count(previous_year_value) from marts.trade_growth",
    "trade_figure_history, one reporter": "select count(*), sum(value), count(previous_vintage_value) from marts.trade_figure_history where reporter = 'USA'",
    "trade_figure_history, every row": "select count(*), sum(value), count(previous_vintage_value) from marts.trade_figure_history",
}
cons = {k: duckdb.connect(v, read_only=True) for k, v in files.items()}
for c in cons.values():
    c.execute("set memory_limit='1GB'; set threads=2")
res, answers = {}, {}
for _r in range(rounds):
    for q, sql in Q.items():
        for w, c in cons.items():
            t = time.perf_counter()
            out = c.execute(sql).fetchall()
            took = time.perf_counter() - t
            res.setdefault((q, w), []).append(took)
            answers.setdefault(q, set()).add(str(out))
print(f"load1 at the end {os.getloadavg()[0]:.2f}")
for q in Q:
    print(f"{q}: same answer in every file: {len(answers[q]) == 1} {sorted(answers[q])[0]}")
    for w in files:
        ts = sorted(res[(q, w)])
        print(f"  {w}: median {ts[len(ts) // 2]:.3f} s (min {ts[0]:.3f}, max {ts[-1]:.3f})")
