# ruff: noqa: E501  (a measurement script of ADR 0001: long SQL and report lines)
"""marts.trade_concentration: hhi and largest_share are unrounded sums/ratios of doubles computed when the view is
read (parallel sums: the last bits vary between two reads of the same file), so compare it by its key with a
tolerance: rows without a partner, hhi or largest_share more than 1e-9 apart, other columns different."""

import sys

import duckdb

con = duckdb.connect(config={"memory_limit": "3GB", "temp_directory": "/tmp/sqllayer/home/tmp"})
for n, path in enumerate(sys.argv[1:]):
    con.execute(f"attach '{path}' as f{n} (read_only)")
key = ["source_id", "reporter", "flow", "period", "classification", "across", "partner", "category", "code_length"]
other = ["period_start", "period_end", "items_count", "total_value_usd", "largest_item"]
on = " and ".join(f"a.{k} is not distinct from b.{k}" for k in key)
for n in range(len(sys.argv) - 1):
    row = con.execute(f"""
        select count(*) filter (where a.source_id is null or b.source_id is null) as unmatched,
               count(*) filter (where abs(a.hhi - b.hhi) > 1e-9 or abs(a.largest_share - b.largest_share) > 1e-9) as far,
               count(*) filter (where a.hhi <> b.hhi) as hhi_bits_differ,
               {", ".join(f"count(*) filter (where a.{c} is distinct from b.{c}) as {c}_differs" for c in other)}
        from f0.marts.trade_concentration as a full join f{n}.marts.trade_concentration as b on {on}""").fetchone()
    print(
        f"f0 vs {sys.argv[n + 1]}: unmatched {row[0]}, hhi/largest_share > 1e-9 apart {row[1]}, hhi not bit-equal {row[2]}, "
        + ", ".join(f"{c} {v}" for c, v in zip(other, row[3:], strict=False)),
        flush=True,
    )
