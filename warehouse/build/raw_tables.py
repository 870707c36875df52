"""A raw table from its lake files, each column that holds one value in every row stored once.

Every row of a lake file carries its provenance (``source_id``, ``vintage``, ``file_name``, ``file_sha256``) and
often columns a layout fixes (``layout``, ``flag``, ``customs_code``): the same text in every row; a file of one
year and no second partner has the same number in every row too (Comtrade's ``year``, ``partner2_code``; an HS6
download's ``aggregate_level`` and ``is_leaf``). DuckDB stores such a column like any other, each value appended,
scanned back and compressed: 57 ms per text column per million rows (11 such columns of the benchmark's Comtrade
file: 0.4 s of the 0.94 s its million-row raw table took), 24 ms per BIGINT column. Declared
``generated always as (cast('<value>' as <type>)) virtual``, the value lives once in the table's definition and
costs nothing to write (the same table: 0.55 s); a query reads the same values (``select *``, filters, joins).

Which columns qualify is read from the Parquet footers alone: a text, integer or boolean column whose every row
group, in every file, has exact statistics with no nulls and its minimum equal to its maximum, all the same value
(or only nulls in every row group), of one Parquet type in every file; a number's value is kept only if it reads
back as the text its statistics give. A file without statistics, a column missing from a file, a value longer
than the writer's statistics, a column that is a number in one file and text in another, a float, a decimal or a
date: the column is stored as before.
"""

from __future__ import annotations

import duckdb

from warehouse.build.sqltext import ident, text_literal

TEXT = "VARCHAR"
# the DuckDB types a value stored once may have, and the Parquet types it may be stored as (no floats: their
# statistics are not the text a cast gives back for every value, -0.0 and NaN among them)
ONCE = {
    TEXT: ("BYTE_ARRAY",),
    "BOOLEAN": ("BOOLEAN",),
    **{kind: ("INT32", "INT64") for kind in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT")},
    **{kind: ("INT32", "INT64") for kind in ("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")},
}


def columns(con: duckdb.DuckDBPyConnection, files: list[str]) -> list[tuple[str, str]]:
    """(name, type) of the files read together by name, as ``read_parquet(..., union_by_name = true)`` gives them."""
    described = con.execute("describe select * from read_parquet(?, union_by_name = true)", [files]).fetchall()
    return [(row[0], row[1]) for row in described]


def constant_values(
    con: duckdb.DuckDBPyConnection, files: list[str], described: list[tuple[str, str]] | None = None
) -> dict[str, str | None]:
    """Column -> the one value it holds in every row of ``files``, as text (None: null in every row), by the files'
    Parquet statistics, for the text, integer and boolean columns (``ONCE``); a column is left out unless every
    row group of every file with rows proves it. ``described``: the files' ``columns``, when the caller has read
    them."""
    kinds = {name: kind for name, kind in (described or columns(con, files)) if kind in ONCE}
    if not kinds:
        return {}
    rows = con.execute(
        """
        with groups as (
            select * from parquet_metadata(?) where row_group_num_rows > 0
        ),
        files_with_rows as (
            select count(distinct file_name) as n from groups
        )
        select
            path_in_schema,
            count(distinct file_name) = (select n from files_with_rows) as in_every_file,
            -- a statistic missing is no proof (bool_and skips nulls: each row group's test is made false first)
            bool_and(coalesce(
                stats_null_count = 0 and min_is_exact and max_is_exact and stats_min_value = stats_max_value,
                false
            )) as one_value,
            count(distinct stats_min_value) as values,
            any_value(stats_min_value) as value,
            bool_and(coalesce(stats_null_count = row_group_num_rows, false)) as only_nulls,
            -- one Parquet type in every file: text in one and a number in another is read as text, not the
            -- text the number's statistic renders
            list_distinct(list(type)) as types,
        from groups
        where path_in_schema in (select unnest(?))
        group by path_in_schema
        """,
        [files, list(kinds)],
    ).fetchall()
    constant: dict[str, str | None] = {}
    for name, in_every_file, one_value, values, value, only_nulls, types in rows:
        if not in_every_file or len(types) != 1 or types[0] not in ONCE[kinds[name]]:
            continue
        if one_value and values == 1 and _reads_back(con, value, kinds[name]):
            constant[name] = value
        elif only_nulls:
            constant[name] = None
    return constant


def _reads_back(con: duckdb.DuckDBPyConnection, value: str, kind: str) -> bool:
    """Whether ``value`` cast to ``kind`` reads back as the same text (always, for text)."""
    if kind == TEXT:
        return True
    back = con.execute(f"select cast(try_cast(? as {kind}) as varchar)", [value]).fetchone()
    return back is not None and back[0] == value


def create_raw_table(con: duckdb.DuckDBPyConnection, table: str, files: list[str]) -> dict[str, str | None]:
    """``table`` holding every row of ``files`` (read by name), its one-valued columns declared as generated
    constants (``constant_values``); returns them."""
    described = columns(con, files)
    constant = constant_values(con, files, described)
    con.execute(table_definition(table, described, constant))
    insert_rows(con, table, files, constant, described)
    return constant


def table_definition(table: str, described: list[tuple[str, str]], constant: dict[str, str | None]) -> str:
    """``create table`` with ``described`` (name, type) in order, those in ``constant`` declared generated constants
    of the value given as text (also the parts of a partitioned stored view, ``warehouse.build.parts``)."""
    listed = ", ".join(
        f"{ident(name)} {kind} generated always as (cast({text_literal(constant[name])} as {kind})) virtual"
        if name in constant
        else f"{ident(name)} {kind}"
        for name, kind in described
    )
    return f"create table {table} ({listed})"


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    files: list[str],
    constant: dict[str, str | None],
    described: list[tuple[str, str]] | None = None,
) -> None:
    """Every row of ``files`` into ``table`` (read by name), but the columns ``constant`` declares; ``described``:
    the files' ``columns``, when the caller has read them."""
    stored = ", ".join(ident(name) for name, _ in (described or columns(con, files)) if name not in constant)
    con.execute(f"insert into {table} ({stored}) select {stored} from read_parquet(?, union_by_name = true)", [files])


def table_columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, name: str) -> list[tuple[str, str, bool]]:
    """(name, type, whether generated) of each column of a table, in order."""
    return con.execute(
        "select column_name, data_type, is_generated = 'ALWAYS' from information_schema.columns "
        "where table_catalog = ? and table_schema = ? and table_name = ? order by ordinal_position",
        [catalog, schema, name],
    ).fetchall()


def first_values(con: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> dict[str, str | None] | None:
    """``names``' values in the first row of ``table``, as text; None when it has no row."""
    first = con.execute(f"select {', '.join(f'cast({ident(n)} as varchar)' for n in names)} from {table} limit 1")
    row = first.fetchone()
    return None if row is None else dict(zip(names, row, strict=True))


def generated_constants(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str | None] | None:
    """The generated constant columns of ``table`` (``catalog.schema.name``) and their values as text (as
    ``constant_values`` gives them); None when the table has no row to read them from."""
    catalog, schema, name = table.split(".")
    generated = [column for column, _, is_generated in table_columns(con, catalog, schema, name) if is_generated]
    return first_values(con, table, generated) if generated else {}
