"""One mart query against tradewh's warehouse, or the equivalent hand-written SQL on the bare-DuckDB table
(measurement (d) of ``benchmarks/run.py``), in a fresh process, read-only.

``mart`` reads ``marts.trade_balance`` (through staging.stg_comtrade and core.fct_trade_figure, as an analyst
would); ``hand`` computes the same figures from the bare pipeline's ``comtrade`` table joined to the code list
(totals only, exports and imports summed by reporter and partner). Prints one JSON line: the query's seconds
(execute and fetch), the rows, and a checksum (row count and total of exports and imports) to show that both
return the same figures.

Usage::

    .venv/bin/python benchmarks/query.py --db home/warehouse/tradewh.duckdb --which mart
    .venv/bin/python benchmarks/query.py --db bare/bare.duckdb --which hand
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb

SOURCE_ID = "bench_comtrade"
QUERIES = {
    "mart": f"""
        select reporter, partner, sum(exports) as exports, sum(imports) as imports
        from marts.trade_balance
        where source_id = '{SOURCE_ID}'
        group by all
    """,
    "hand": """
        select r.iso3 as reporter, p.iso3 as partner,
            sum(c.value) filter (where c.flowCode = 'X') as exports,
            sum(c.value) filter (where c.flowCode = 'M') as imports
        from comtrade as c
        join codes as r on r.code = c.reporterCode
        join codes as p on p.code = c.partnerCode
        where c.partner2Code = 0 and c.customsCode = 'C00' and trim(c.motCode) = '0'
        group by all
    """,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--which", choices=sorted(QUERIES), required=True)
    args = parser.parse_args(argv)
    con = duckdb.connect(str(args.db), read_only=True)
    started = time.perf_counter()
    rows = con.execute(QUERIES[args.which]).fetchall()
    seconds = time.perf_counter() - started
    con.close()
    total = sum((e or 0.0) + (i or 0.0) for _, _, e, i in rows)
    print(json.dumps({"query_seconds": round(seconds, 4), "rows": len(rows), "total": total}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
