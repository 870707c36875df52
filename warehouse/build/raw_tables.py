"""A raw table from its lake files, each text column that holds one value in every row stored once.

Every row of a lake file carries its provenance (``source_id``, ``vintage``, ``file_name``, ``file_sha256``) and
often columns a layout fixes (``layout``, ``flag``, ``customs_code``): the same text in every row. DuckDB stores
such a column like any other, each value appended, scanned back and compressed: 57 ms per column per million rows
(11 such columns of the benchmark's Comtrade file: 0.4 s of the 0.94 s its million-row raw table took). Declared
``generated always as ('<value>') virtual``, the value lives once in the table's definition and costs nothing to
write (the same table: 0.55 s); a query reads the same values (``select *``, filters, joins).

Which columns qualify is read from the Parquet footers alone: a text column whose every row group, in every file,
has exact statistics with no nulls and its minimum equal to its maximum, all the same value (or only nulls in
every row group). A file without statistics, a column missing from a file, a value longer than the writer's
statistics, a column that is a number in one file and text in another: the column is stored as before.
"""

from __future__ import annotations

import duckdb

TEXT = "VARCHAR"


def _quoted(name: str) -> str:  # as warehouse.build.checks.ident, which imports pandera: not on a build's path
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str | None) -> str:
    return "null" if value is None else "'" + value.replace("'", "''") + "'"


def columns(con: duckdb.DuckDBPyConnection, files: list[str]) -> list[tuple[str, str]]:
    """(name, type) of the files read together by name, as ``read_parquet(..., union_by_name = true)`` gives them."""
    described = con.execute("describe select * from read_parquet(?, union_by_name = true)", [files]).fetchall()
    return [(row[0], row[1]) for row in described]


def constant_text(
    con: duckdb.DuckDBPyConnection, files: list[str], described: list[tuple[str, str]] | None = None
) -> dict[str, str | None]:
    """Text column -> the one value it holds in every row of ``files`` (None: null in every row), by the files'
    Parquet statistics; a column is left out unless every row group of every file with rows proves it.
    ``described``: the files' ``columns``, when the caller has read them."""
    text = [name for name, kind in (described or columns(con, files)) if kind == TEXT]
    if not text:
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
            -- a statistic missing is no proof (bool_and skips nulls: each row group's test is made false first);
            -- text in every file (a number's statistic is rendered, not the text a cast to VARCHAR would give)
            bool_and(coalesce(
                type = 'BYTE_ARRAY' and stats_null_count = 0 and min_is_exact and max_is_exact
                    and stats_min_value = stats_max_value,
                false
            )) as one_value,
            count(distinct stats_min_value) as values,
            any_value(stats_min_value) as value,
            bool_and(coalesce(stats_null_count = row_group_num_rows, false)) as only_nulls,
        from groups
        where path_in_schema in (select unnest(?))
        group by path_in_schema
        """,
        [files, text],
    ).fetchall()
    constant: dict[str, str | None] = {}
    for name, in_every_file, one_value, values, value, only_nulls in rows:
        if not in_every_file:
            continue
        if one_value and values == 1:
            constant[name] = value
        elif only_nulls:
            constant[name] = None
    return constant


def create_raw_table(con: duckdb.DuckDBPyConnection, table: str, files: list[str]) -> dict[str, str | None]:
    """``table`` holding every row of ``files`` (read by name), its one-valued text columns declared as generated
    constants (``constant_text``); returns them."""
    described = columns(con, files)
    constant = constant_text(con, files, described)
    definition = ", ".join(
        f"{_quoted(name)} {kind} generated always as (cast({_literal(constant[name])} as {kind})) virtual"
        if name in constant
        else f"{_quoted(name)} {kind}"
        for name, kind in described
    )
    con.execute(f"create table {table} ({definition})")
    insert_rows(con, table, files, constant, described)
    return constant


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    files: list[str],
    constant: dict[str, str | None],
    described: list[tuple[str, str]] | None = None,
) -> None:
    """Every row of ``files`` into ``table`` (read by name), but the columns ``constant`` declares; ``described``:
    the files' ``columns``, when the caller has read them."""
    stored = ", ".join(_quoted(name) for name, _ in (described or columns(con, files)) if name not in constant)
    con.execute(f"insert into {table} ({stored}) select {stored} from read_parquet(?, union_by_name = true)", [files])


def generated_constants(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str | None] | None:
    """The generated constant columns of ``table`` (``catalog.schema.name``) and their values; None when the table
    has no row to read them from."""
    catalog, schema, name = table.split(".")
    generated = [
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns where table_catalog = ? and table_schema = ? "
            "and table_name = ? and is_generated = 'ALWAYS' order by ordinal_position",
            [catalog, schema, name],
        ).fetchall()
    ]
    if not generated:
        return {}
    first = con.execute(f"select {', '.join(_quoted(g) for g in generated)} from {table} limit 1").fetchone()
    return None if first is None else dict(zip(generated, first, strict=True))
