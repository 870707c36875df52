"""What a stored query reads with ``getvariable``, set by the build from the rows it is about to read."""

from __future__ import annotations

import duckdb

from warehouse.build.sqltext import text_literal


def multi_vintage_datasets(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The datasets whose raw table (``raw.<dataset>`` of the connection's current database) holds rows of more than
    one vintage: a superset of those whose staged figures do (staging only drops rows)."""
    tables = con.execute(
        """
        select table_name from information_schema.columns
        where table_catalog = current_database() and table_schema = 'raw' and column_name in ('source_id', 'vintage')
        group by table_name having count(*) = 2 order by table_name
        """
    ).fetchall()
    return [t for (t,) in tables if con.execute(f'select count(distinct vintage) > 1 from raw."{t}"').fetchone()[0]]


def set_plan_variables(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Set what a stored query reads with ``getvariable``, from the rows it is about to read: DuckDB binds the value
    as a constant, so the plan itself depends on it.

    ``multi_vintage_datasets`` (``core.fct_trade_figure``): only the figures of these datasets need the window that
    flags each figure's latest vintage. With none, the planner drops the window's branch, and the figures (the
    staged rows, the series pairing) are computed once instead of twice: at 100M rows of one vintage that is what
    lets the fact build on two threads within 512MB (measured: the branch pruned, 98.9 s; both, out of memory
    15-20 s in; one thread, 201.7 s). A connection where it is not set reads null: every dataset gets the window.
    """
    if reads_multi_vintage(query):
        set_multi_vintage_datasets(con, multi_vintage_datasets(con))


def reads_multi_vintage(query: str) -> bool:
    """Whether the query reads ``getvariable('multi_vintage_datasets')``."""
    return "getvariable('multi_vintage_datasets')" in query


def set_multi_vintage_datasets(con: duckdb.DuckDBPyConnection, datasets: list[str]) -> None:
    """``multi_vintage_datasets`` set to ``datasets``. A statement over one dataset's rows alone (a part of a stored
    view partitioned by dataset, ``warehouse.build.parts``) reads the list narrowed to that dataset: the planner
    does not prune the window's branch for one dataset's rows when another dataset is in the list (a filter on a
    column it cannot fold), and the fact's Comtrade part read its staging view twice and planned the window
    because the press release held two vintages."""
    literal = ", ".join(text_literal(d) for d in datasets)
    con.execute(f"set variable multi_vintage_datasets = [{literal}]::varchar[]")
