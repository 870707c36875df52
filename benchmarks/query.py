"""A mart query against tradewh's warehouse, or the equivalent hand-written SQL on the bare-DuckDB table
(measurements (d) and (d2) of ``benchmarks/run.py``), in a fresh process, read-only.

Two questions (``--query``), each asked of the mart (``--which mart``) and by hand (``--which hand``):

``balance`` (d)
    Exports and imports by reporter and partner, summed over the HS6 codes. ``mart`` reads
    ``marts.trade_balance`` (through staging.stg_comtrade and core.fct_trade_figure, as an analyst would);
    ``hand`` computes the same figures from the bare pipeline's ``comtrade`` table joined to the code list
    (totals only: no breakdown by second partner, customs procedure or mode of transport). Only the HS6 rows
    are summed: a file that also holds chapter and TOTAL rows would otherwise count its trade three times.
    The rows (a few ten thousand) are fetched; the checksum (row count, total of exports and imports) is
    computed here.
``composition`` (d2)
    What each reporter x partner x flow is made of: every HS chapter with its section, the chapter's value,
    the section's and the total's sums, the published TOTAL beside them, and the three shares. ``mart`` is
    ``select * from marts.goods_composition`` for the benchmark's source; ``hand`` is the same computation on
    the bare table: the chapter rows (``aggrLevel`` 2, totals only) joined to the code list and to the
    ``commodities`` table (chapter -> section and names), window sums by section and by flow, the TOTAL row
    joined beside. Both are reduced IN SQL to one checksum row (row count, the sum of every numeric column,
    the count of named codes and sections, and the largest gap between the sum of the chapters and the
    published TOTAL), so neither side pays for fetching millions of rows into Python; every column of the
    composition is used by the checksum, so the optimiser can drop none of the work.

Prints one JSON line: the query's seconds (execute and fetch), ``rows``, ``total`` and ``checksum`` (every
figure the two sides must agree on).

Usage::

    .venv/bin/python benchmarks/query.py --db home/warehouse/tradewh.duckdb --which mart [--query composition]
    .venv/bin/python benchmarks/query.py --db bare/bare.duckdb --which hand [--query composition]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

SOURCE_ID = "bench_comtrade"

BALANCE = {
    "mart": f"""
        select reporter, partner, sum(exports) as exports, sum(imports) as imports
        from marts.trade_balance
        where source_id = '{SOURCE_ID}' and length(category) = 6
        group by all
    """,
    "hand": """
        select r.iso3 as reporter, p.iso3 as partner,
            sum(c.value) filter (where c.flowCode = 'X') as exports,
            sum(c.value) filter (where c.flowCode = 'M') as imports
        from comtrade as c
        join codes as r on r.code = c.reporterCode
        join codes as p on p.code = c.partnerCode
        where c.partner2Code = 0 and c.customsCode = 'C00' and trim(c.motCode) = '0' and c.aggrLevel = 6
        group by all
    """,
}

COMPOSITION = {
    "mart": f"""
        select * from marts.goods_composition
        where source_id = '{SOURCE_ID}'
    """,
    "hand": """
        with

        totals_only as (
            select
                r.iso3 as reporter, p.iso3 as partner, c.period, c.flowCode as flow,
                c.classificationCode as classification, c.cmdCode as code, c.aggrLevel, c.value,
            from comtrade as c
            join codes as r on r.code = c.reporterCode
            join codes as p on p.code = c.partnerCode
            where c.partner2Code = 0 and c.customsCode = 'C00' and trim(c.motCode) = '0'
        ),

        chapters as (
            select
                *,
                case when classification like 'H%' then 'HS' when classification like 'S%' then 'SITC' end as family,
            from totals_only
            where aggrLevel = 2
        ),

        published_totals as (
            select reporter, partner, period, flow, classification, value as published_total_usd,
            from totals_only
            where code = 'TOTAL'
        ),

        placed as (
            select chapters.*, k.name as code_name, k.section, s.name as section_name,
            from chapters
            left join commodities as k
                on k.family = chapters.family and k.code = chapters.code and k.level in ('chapter', 'division')
            left join commodities as s
                on s.family = chapters.family and s.code = k.section and s.level = 'section'
        ),

        summed as (
            select
                *,
                sum(value) over (partition by reporter, partner, period, flow, classification, section)
                    as section_value_usd,
                sum(value) over (partition by reporter, partner, period, flow, classification) as total_value_usd,
            from placed
        )

        select
            summed.reporter, summed.partner, summed.period, summed.flow, summed.classification, summed.section,
            summed.section_name, summed.code, summed.code_name,
            summed.value as value_usd,
            summed.section_value_usd,
            summed.total_value_usd,
            published_totals.published_total_usd,
            100 * summed.value / nullif(summed.section_value_usd, 0) as share_of_section_pct,
            100 * summed.section_value_usd / nullif(summed.total_value_usd, 0) as section_share_of_total_pct,
            100 * summed.value / nullif(summed.total_value_usd, 0) as share_of_total_pct,
        from summed
        left join published_totals using (reporter, partner, period, flow, classification)
    """,
}

# the composition, reduced to the figures both sides must agree on (in SQL: no fetch of millions of rows)
COMPOSITION_CHECKSUM = """
    select
        count(*) as rows,
        sum(value_usd) as total,
        sum(section_value_usd) as section_value_usd,
        sum(total_value_usd) as total_value_usd,
        sum(published_total_usd) as published_total_usd,
        sum(share_of_section_pct) as share_of_section_pct,
        sum(section_share_of_total_pct) as section_share_of_total_pct,
        sum(share_of_total_pct) as share_of_total_pct,
        count(section) as codes_with_section,
        count(code_name) as named_codes,
        count(section_name) as named_sections,
        count(published_total_usd) as rows_with_published_total,
        max(abs(total_value_usd - published_total_usd) / nullif(published_total_usd, 0))
            as largest_gap_to_published_total,
    from ({query})
"""


def sql(query: str, which: str) -> str:
    """The SQL that ``--query``/``--which`` run."""
    if query == "balance":
        return BALANCE[which]
    return COMPOSITION_CHECKSUM.format(query=COMPOSITION[which])


def run(con: duckdb.DuckDBPyConnection, query: str, which: str) -> dict[str, Any]:
    """Run the query; return its seconds (execute and fetch) and the figures to compare."""
    started = time.perf_counter()
    cursor = con.execute(sql(query, which))
    rows = cursor.fetchall()
    seconds = time.perf_counter() - started
    if query == "balance":
        total = sum((e or 0.0) + (i or 0.0) for _, _, e, i in rows)
        checksum: dict[str, Any] = {"rows": len(rows), "total": total}
    else:
        names = [d[0] for d in cursor.description]
        checksum = dict(zip(names, rows[0], strict=True))
    return {"query_seconds": round(seconds, 4), "rows": checksum["rows"], "total": checksum["total"],
            "checksum": checksum}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--which", choices=("mart", "hand"), required=True)
    parser.add_argument("--query", choices=("balance", "composition"), default="balance")
    args = parser.parse_args(argv)
    con = duckdb.connect(str(args.db), read_only=True)
    result = run(con, args.query, args.which)
    con.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
