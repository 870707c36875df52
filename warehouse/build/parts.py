"""A stored view's rows kept in one table per value of a column (``-- partitioned: <column> in <cte>``), and the
columns that hold one value in all of a part's rows declared generated constants of that part (``-- constants:``).

DuckDB writes a text column at 0.3-0.45 s per ten million rows whether it holds one value or many (measured on the
stored fact: its 31 columns, 11.2M rows, 8.7 s to write, of which 4.9 s for the 19 columns that hold one value
in all of a Comtrade download's rows, or none). Declared ``generated always as (cast('<value>' as <type>))
virtual``, as ``warehouse.build.raw_tables`` declares a raw table's, a value lives once in the part's definition
and costs nothing to write; queries read the same values (``select *``, filters, joins). Readers see one relation:
``store.<schema>__<view>`` is the view over the parts (``union all``), and the file's public view reads it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import duckdb

from warehouse.build.models import (
    _LAST_SELECT,
    PART,
    STORE,
    BuildError,
    Header,
    Stored,
    cte_body,
    prune_ctes,
    stored_table,
)
from warehouse.build.raw_tables import table_definition
from warehouse.build.sqltext import ident, text_literal
from warehouse.build.variables import set_plan_variables

log = logging.getLogger(__name__)

_NOT_ONE_VALUED = "tradewh: a column stored once in its part holds another value"


def part_table(path: Path, value: str | None) -> str:
    """The table holding the stored rows of ``path`` whose partitioning column (``-- partitioned:``) is ``value``:
    ``store."<schema>__<view>__part__<value>"`` (``__part__`` alone for the nulls)."""
    return f"{STORE}.{ident(stored_table(path).split('.', 1)[1] + PART + (value or ''))}"


def parts(con: duckdb.DuckDBPyConnection, table: str, database: str | None = None) -> list[str]:
    """The parts of a partitioned stored table (``store.<name>``) in ``database`` (the current one when None), by
    name, each ``store."<name>__part__<value>"``."""
    name = table.split(".", 1)[1]
    rows = con.execute(
        "select table_name from duckdb_tables() where database_name = coalesce(?, current_database()) "
        "and schema_name = ? and starts_with(table_name, ?) order by table_name",
        [database, STORE, name + PART],
    ).fetchall()
    return [f"{STORE}.{ident(t)}" for (t,) in rows]


def union_of_parts(con: duckdb.DuckDBPyConnection, table: str, columns: list[tuple[str, str]]) -> None:
    """``table`` (``store.<name>``) made again as the view over its parts in the current database; with none, a
    part with no rows is created first (the view keeps its columns)."""
    found = parts(con, table)
    if not found:
        empty = f"{STORE}.{ident(table.split('.', 1)[1] + PART)}"
        con.execute(table_definition(empty, columns, {}))
        con.execute(f"comment on table {empty} is {text_literal(f'Stored rows of {table}: none (-- partitioned)')}")
        found = [empty]
    _drop_stored(con, table)
    con.execute(f"create view {table} as " + "\nunion all\n".join(f"select * from {p}" for p in found))


def _drop_stored(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop ``store.<name>``, a table (before it was partitioned) or a view (over its parts), if it exists."""
    kinds = con.execute(
        "select 'table' from duckdb_tables() where database_name = current_database() and schema_name = ? "
        "and table_name = ? union all select 'view' from duckdb_views() where database_name = current_database() "
        "and schema_name = ? and view_name = ?",
        [STORE, table.split(".", 1)[1]] * 2,
    ).fetchall()
    for (kind,) in kinds:
        con.execute(f"drop {kind} {table}")


def store_parts(con: duckdb.DuckDBPyConnection, path: Path, stored: Stored, header: Header) -> dict[str, list[str]]:
    """Store a ``-- partitioned: <column> in <cte>`` file's rows, one table per value of the column
    (``part_table``), and ``stored.table`` as the view over them (``union all``): readers see one relation.

    The values, and for each the ``-- constants:`` columns that hold one value in all its rows, come from a first
    pass over the CTE (one grouping by the column: each candidate's count, and the least and greatest hash of its
    values; the CTE comes before the costly part of the query). A part declares such a column a generated
    constant, the value kept once in its definition: writing a text column costs 0.3-0.45 s per ten million rows,
    the same whether it holds one value or many (measured on the stored fact, 11.2M rows). Every row stored is
    checked against the constants while it is written: one that differs (two values of one hash; a row of the
    query that the CTE did not hold) stops that part's statement, and the part is stored again without constants.

    Returns:
        Each part -> the columns it stores once.
    """
    column, cte = header.partitioned, header.partitioned_from
    assert column is not None and cte is not None
    for part in parts(con, stored.table):
        con.execute(f"drop table {part}")
    _drop_stored(con, stored.table)
    set_plan_variables(con, stored.query)
    columns = [(name, kind) for name, kind, *_ in con.execute(f"describe {stored.query}").fetchall()]
    kinds = dict(columns)
    candidates = [c for c in header.constants if c in kinds and c != column]
    measured = ", ".join(
        f"count({ident(c)}), min(hash({ident(c)})), max(hash({ident(c)})), cast(any_value({ident(c)}) as varchar)"
        for c in candidates
    )
    if cte_body(stored.query, cte) is None or not _LAST_SELECT.search(stored.query):
        raise BuildError(f"{path}: `-- partitioned: {column} in {cte}` needs a CTE `{cte} as (...)`")
    first = prune_ctes(
        _LAST_SELECT.sub(
            f"select cast({ident(column)} as varchar), count(*){', ' + measured if measured else ''} "
            f"from {cte} group by all",
            stored.query,
        )
    )
    set_plan_variables(con, first)
    began = time.monotonic()
    found = con.execute(first).fetchall()
    log.info("%s: %d part(s) by %s, found in %.1f s", stored.table, len(found), column, time.monotonic() - began)
    order = f"\norder by {', '.join(header.order_by)}" if header.order_by else ""
    done: dict[str, list[str]] = {}
    for value, rows, *stats in sorted(found, key=lambda r: (r[0] is None, r[0] or "")):
        began = time.monotonic()
        constants: dict[str, str | None] = {column: value}
        for i, name in enumerate(candidates):
            count, least, greatest, text = stats[4 * i : 4 * i + 4]
            if count == 0:
                constants[name] = None
            elif count == rows and least == greatest:
                constants[name] = text
        part = part_table(path, value)
        where = f"{ident(column)} is null" if value is None else f"{ident(column)} = {text_literal(value)}"
        kept = ", ".join(ident(c) for c, _ in columns if c not in constants)
        differs = " or ".join(
            f"{ident(c)} is distinct from cast({text_literal(v)} as {kinds[c]})" for c, v in constants.items()
        )
        con.execute(table_definition(part, columns, constants))
        try:
            con.execute(
                f"insert into {part} ({kept}) select {kept} from (\n{stored.query}\n) where {where} "
                f"and (case when {differs} then error({text_literal(_NOT_ONE_VALUED)}) end) is null{order}"
            )
        except duckdb.Error as exc:
            if _NOT_ONE_VALUED not in str(exc):
                raise
            log.warning("%s: a column stored once holds another value; the part stored whole", part)
            con.execute(f"drop table {part}")
            constants = {}
            everything = ", ".join(ident(c) for c, _ in columns)
            con.execute(table_definition(part, columns, {}))
            con.execute(
                f"insert into {part} ({everything}) select {everything} from (\n{stored.query}\n) where {where}{order}"
            )
        said = f"Stored rows of {path.parent.name}.{path.stem} whose {column} is {value} (-- partitioned: {column})"
        con.execute(f"comment on table {part} is {text_literal(said)}")
        done[part] = sorted(constants)
        took = time.monotonic() - began
        log.info("%s: %s rows, %d column(s) stored once (%.1f s)", part, f"{rows:,}", len(constants), took)
    union_of_parts(con, stored.table, columns)
    return done
