"""Building and publishing the warehouse file: the conformed figure's rules, atomic swap, the schedule."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import duckdb
import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandera.errors import SchemaErrors
from pandera.typing import Series

from schemas.trade_figure import TradeFigure
from tests.conftest import PROJECT_ROOT
from warehouse.build.builder import (
    CHECK_MEMORY_SHARE,
    build_warehouse,
    check_trade_figures,
    memory_share,
    size_bytes,
)
from warehouse.build.checks import UntranslatableRule, check_relation, translate
from warehouse.build.ctes import cte_body, cte_reads, prune_ctes
from warehouse.build.models import (
    BuildError,
    Header,
    create_object,
    file_references,
    read_header,
    stored_statements,
    view_without_comments,
)
from warehouse.common.settings import load_settings
from warehouse.extract.catalogue import Source
from warehouse.lake.audit import over_threshold
from warehouse.publish import publish
from warehouse.publish.debris import clear_debris

SEEDS = PROJECT_ROOT / "seeds"
TOY_SOURCE = Source(
    id="toy", dataset="press_release", publisher="p", title="t", licence="l", attribution="a", location_kind="seed",
    location="toy.csv", vintage="2024-01-01",
)  # fmt: skip


GOOD = {
    "source_id": "'wdi_2013'", "dataset": "'wdi'", "vintage": "'2013-12-01'", "reporter": "'CHN'",
    "partner": "'WLD'", "period": "'2011'", "period_type": "'year'", "year": "2011", "flow": "'export'",
    "classification": "'bop'", "category": "'services'", "measure": "'bop_value'", "unit": "'USD'",
    "value": "1.0", "is_derived": "false", "derivation": "cast(null as varchar)", "is_latest_vintage": "true",
    "file_name": "'wdi.csv'", "file_row": "7",
}  # fmt: skip


def _fact(con: duckdb.DuckDBPyConnection, *rows: dict[str, str], drop: str = "") -> None:
    """core.fct_trade_figure as a table of the given rows: the good figure with some columns replaced (SQL)."""
    con.execute("create schema if not exists core")
    selects = [
        "select " + ", ".join(f"{sql} as {name}" for name, sql in {**GOOD, **row}.items() if name != drop)
        for row in rows
    ]
    con.execute("create table core.fct_trade_figure as " + " union all ".join(selects))


def test_conformed_figure_passes_its_rules():
    with duckdb.connect() as con:
        _fact(con, {}, {"flow": "'import'"}, {"flow": "'balance'", "value": "-3.0"})
        check_trade_figures(con)


NOT_NULL = [name for name, column in TradeFigure.to_schema().columns.items() if not column.nullable]
BROKEN = [
    *(({name: f"case when false then {GOOD[name]} end"}, "not_nullable", name) for name in NOT_NULL),
    ({"value": "'nan'::double"}, "not_nullable", "value"),  # NaN is missing, as in pandas
    ({"vintage": "'2013-12'"}, "str_matches", "vintage"),
    ({"period": "'2011-1'"}, "str_matches", "period"),
    ({"period_type": "'decade'"}, "isin", "period_type"),
    ({"year": "1899"}, "greater_than_or_equal_to(1900)", "year"),
    ({"year": "2101"}, "less_than_or_equal_to(2100)", "year"),
    ({"year": "'twenty eleven'"}, "coerce_dtype('int64')", "year"),
    ({"flow": "'barter'"}, "isin", "flow"),
    ({"unit": "'EUR'"}, "isin", "unit"),
    ({"is_derived": "true"}, "derived_has_formula", "is_derived"),
    ({"value": "-1.0"}, "money_not_negative", "value"),
]


@pytest.mark.parametrize(("row", "rule", "column"), BROKEN, ids=[f"{r}-{c}-{i}" for i, (_, r, c) in enumerate(BROKEN)])
def test_conformed_figure_breaking_a_rule_refuses_the_build(row, rule, column):
    with duckdb.connect() as con:
        _fact(con, {}, {"source_id": "'bad_source'", "file_row": "42", **row})
        with pytest.raises(BuildError, match=re.escape(rule)) as refused:
            check_trade_figures(con)
    message = str(refused.value)
    [line] = [line for line in message.splitlines() if line.startswith(f"- {rule}")]
    assert re.search(rf"\(columns? [^)]*\b{column}\b", line) and "1 row(s)" in line  # rule, column, how many
    example = message.splitlines()[message.splitlines().index(line) + 1]  # the row, its value and where it is from
    assert f"{column}=" in example and "file_name='wdi.csv'" in example and "file_row=42" in example
    assert column == "source_id" or "source_id='bad_source'" in example


def test_duplicate_figures_refuse_the_build_with_both_rows():
    with duckdb.connect() as con:
        _fact(con, {"file_row": "7"}, {"file_row": "8"}, {"flow": "'import'"})
        with pytest.raises(BuildError, match="multiple_fields_uniqueness") as refused:
            check_trade_figures(con)
    message = str(refused.value)
    assert "2 row(s)" in message and "file_row=7" in message and "file_row=8" in message


def test_a_missing_column_refuses_the_build():
    with duckdb.connect() as con:
        _fact(con, {}, drop="unit")
        with pytest.raises(BuildError, match="column_in_dataframe: column unit is missing"):
            check_trade_figures(con)


def test_every_rule_of_the_model_is_tested_to_fail():
    with duckdb.connect() as con:
        _fact(con, {})
        columns = {n: t for n, t, *_ in con.execute("describe core.fct_trade_figure").fetchall()}
    rules, _ = translate(TradeFigure, {**columns, "year": "VARCHAR"})  # a text year adds the coerce rule
    tested = {(rule, column) for _, rule, column in BROKEN} | {("multiple_fields_uniqueness", "source_id")}
    untested = [
        (r.rule, r.columns)
        for r in rules
        if not any(r.rule.startswith(rule) and column in r.columns for rule, column in tested)
    ]
    assert untested == []


def test_an_error_lists_at_most_twenty_example_rows():
    with duckdb.connect() as con:
        _fact(con, *({"unit": "'EUR'", "category": f"'c{i}'"} for i in range(25)))
        with pytest.raises(BuildError) as refused:
            check_trade_figures(con)
    message = str(refused.value)
    assert "25 row(s), first 20:" in message
    assert message.count("unit='EUR'") == 20


class _Checked(pa.DataFrameModel):
    code: Series[str] = pa.Field(str_matches=r"^\d{2}", str_length={"min_value": 2, "max_value": 6})
    share: Series[float] = pa.Field(in_range={"min_value": 0, "max_value": 100}, nullable=True)


def test_built_in_checks_mean_what_pandera_means():
    frame = pd.DataFrame({"code": ["85", "8542x", "x85", "8"], "share": [50.0, None, 101.0, float("nan")]})
    with duckdb.connect() as con:
        con.register("frame", frame)
        failures = check_relation(con, "frame", _Checked, provenance=())
    found = {(f.rule.rule, v) for f in failures for row in f.examples for v in [next(iter(row.values()))]}
    with pytest.raises(SchemaErrors) as by_pandera:
        _Checked.validate(frame, lazy=True)
    expected = {(c, v) for c, v in by_pandera.value.failure_cases[["check", "failure_case"]].itertuples(index=False)}
    assert found == expected  # str_matches anchors at the start only (re.match); nulls and NaN skip the checks


class _Opaque(pa.DataFrameModel):
    code: Series[str] = pa.Field(unique_values_eq=["85"])


class _OpaqueFrameCheck(pa.DataFrameModel):
    code: Series[str]

    @pa.dataframe_check
    def looks_right(cls, df: pd.DataFrame) -> Series[bool]:
        return df["code"].str.len() == 2


@pytest.mark.parametrize("model", [_Opaque, _OpaqueFrameCheck])
def test_a_rule_without_sql_is_refused_not_skipped(model):
    with duckdb.connect() as con:
        con.execute("create table t as select '85' as code")
        with pytest.raises(UntranslatableRule, match="unique_values_eq|looks_right"):
            check_relation(con, "t", model)


def _toy_sql(folder: Path, materialized: str, order: str = "") -> Path:
    (folder / "core").mkdir(parents=True, exist_ok=True)
    path = folder / "core" / "dim_toy.sql"
    path.write_text(
        "-- grain: one row per toy\n"
        f"-- materialized: {materialized}\n"
        + (f"-- order by: {order}\n" if order else "")
        + "create or replace view core.dim_toy as\nwith\n\nfinal as (\n"
        "    select 4 - i as toy_id, i % 2 as kind, from range(4) as toys(i)\n)\n\n"
        "select * from final;\n\n"
        "comment on view core.dim_toy is 'Toys';\ncomment on column core.dim_toy.toy_id is 'Toy id';\n"
        "comment on column core.dim_toy.kind is 'Kind';\n"
    )
    return folder


def test_a_materialized_file_is_stored_once_behind_its_documented_view(tmp_path):
    sql_dir = _toy_sql(tmp_path / "sql", "table", order="kind, toy_id")
    target = tmp_path / "wh.duckdb"
    settings = []

    def check(con: duckdb.DuckDBPyConnection) -> None:
        settings.extend(
            con.execute(
                "select current_setting('memory_limit'), current_setting('temp_directory'), "
                "current_setting('preserve_insertion_order')"
            ).fetchall()
        )

    build_warehouse(
        target, lake_dir=tmp_path / "lake", seeds_dir=SEEDS, sql_dir=sql_dir, catalogue=[TOY_SOURCE],
        storage_version="v1.2.0", check=check, memory_limit="300MB", temp_dir=tmp_path / "home" / "tmp",
    )  # fmt: skip
    assert settings == [("286.1 MiB", str(tmp_path / "home" / "tmp"), False)]
    assert (tmp_path / "home" / "tmp").is_dir()
    with duckdb.connect(str(target), read_only=True) as con:
        view = con.execute("select sql, comment from duckdb_views() where view_name = 'dim_toy'").fetchall()
        stored = con.execute("select schema_name from duckdb_tables() where table_name = 'core__dim_toy'").fetchall()
        columns = con.execute(
            "select column_name, comment from duckdb_columns() where table_name = 'dim_toy' and schema_name = 'core'"
        ).fetchall()
        rows = con.execute("select kind, toy_id from store.core__dim_toy order by rowid").fetchall()
    assert [(comment, "store.core__dim_toy" in sql) for sql, comment in view] == [("Toys", True)]
    assert stored == [("store",)]
    assert columns == [("toy_id", "Toy id"), ("kind", "Kind")]
    assert rows == [(0, 2), (0, 4), (1, 1), (1, 3)]  # stored in the order the header asks


@pytest.mark.parametrize("materialized", ["view", "table"])
def test_a_file_that_fails_under_autocommit_leaves_no_view_and_no_open_transaction(tmp_path, materialized):
    """``create_object(autocommit=True)`` runs a file's view and comments in one transaction: a comment naming a
    column the view does not have rolls the view back with it, and the connection goes on committing on its own."""
    path = _toy_sql(tmp_path / "sql", materialized) / "core" / "dim_toy.sql"
    path.write_text(path.read_text() + "comment on column core.dim_toy.no_such_column is 'x';\n")
    con = duckdb.connect()
    con.execute("create schema core; create schema store")
    with pytest.raises(duckdb.Error, match="no_such_column"):
        create_object(con, path, autocommit=True)
    assert con.execute("select count(*) from duckdb_views() where view_name = 'dim_toy'").fetchone() == (0,)
    con.execute("begin")  # refused ("within a transaction") had the error left its transaction open
    con.execute("rollback")


def test_an_unknown_materialization_is_refused(tmp_path):
    sql_dir = _toy_sql(tmp_path / "sql", "incremental")
    with pytest.raises(BuildError, match="materialized must be one of view, table, not 'incremental'"):
        read_header(sql_dir / "core" / "dim_toy.sql")
    assert read_header(_toy_sql(tmp_path / "plain", "view") / "core" / "dim_toy.sql").materialized == "view"


@pytest.mark.parametrize(("materialized", "order"), [("view", "toy_id"), ("table", "toy_id; drop table x")])
def test_an_order_is_column_names_of_a_stored_table(tmp_path, materialized, order):
    path = _toy_sql(tmp_path / "sql", materialized, order=order) / "core" / "dim_toy.sql"
    with pytest.raises(BuildError, match="order by: a, b` takes column names"):
        read_header(path)


def _header_of(tmp_path: Path, header: str) -> Header:
    path = tmp_path / "core" / "dim_toy.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "create or replace view core.dim_toy as select 1 as toy_id;\n")
    return read_header(path)


def test_the_header_is_read_once_into_its_settings_grain_and_prose(tmp_path):
    header = _header_of(
        tmp_path,
        "-- grain: one row per toy x colour,\n-- placed in its box: the parent toy\n"
        "-- Mirror flows: prose, with a colon after two words.\n--   by product: an indented line of prose\n"
        "-- date d: `where valid_from <= d`; see https://example.org/toys\n"
        "-- materialized: table\n-- stored: counted\n-- order by: kind, toy_id\n",
    )
    assert header == Header(
        grain="one row per toy x colour, placed in its box: the parent toy",
        prose="Mirror flows: prose, with a colon after two words. by product: an indented line of prose "
        "date d: `where valid_from <= d`; see https://example.org/toys",
        materialized="table",
        stored="counted",
        order_by=("kind", "toy_id"),
    )
    assert _header_of(tmp_path, "-- grain: one row per toy\n") == Header(grain="one row per toy")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("-- materialised: table\n", "unknown header setting `-- materialised:`"),
        ("-- grain: one row per toy\n-- order_by: toy_id\n", "unknown header setting `-- order_by:`"),
        ("-- note: a lower-case word and a colon read as a setting\n", "unknown header setting `-- note:`"),
        ("-- materialized: table\n-- materialized: view\n", "`-- materialized:` is set twice"),
        ("-- materialized: table please\n", "not 'table please'"),
    ],
)
def test_a_header_setting_that_is_unknown_twice_or_malformed_is_refused_with_the_file(tmp_path, header, message):
    with pytest.raises(BuildError, match=re.escape(message)) as refused:
        _header_of(tmp_path, header)
    assert str(refused.value).startswith(str(tmp_path / "core" / "dim_toy.sql") + ": ")


STORED_CTE_SQL = """-- grain: one row per toy
-- materialized: table
-- stored: counted
create or replace view core.dim_toy as
with

toys as (
    -- a comment naming unused_later and a ')' that is not code
    select i as toy_id, i % 2 as kind, from range(4) as toys(i)
),

counted as (
    select toy_id, kind, count(*) over (partition by kind) as toys_of_kind, ')' as paren,
    from toys
),

unused_later as (
    select 1 as one
),

labels as (
    select * from (values (0, 'even'), (1, 'odd')) as labels(kind, label)
),

final as (
    select counted.toy_id, labels.label, counted.toys_of_kind, 100.0 / counted.toys_of_kind as share_pct,
    from counted
    inner join labels on labels.kind = counted.kind
)

select * from final;

comment on column core.dim_toy.label is 'Even or odd';
"""


def test_a_stored_cte_is_stored_and_the_rest_of_the_query_runs_when_the_view_is_read(tmp_path):
    (tmp_path / "sql" / "core").mkdir(parents=True)
    (tmp_path / "sql" / "core" / "dim_toy.sql").write_text(STORED_CTE_SQL)
    target = tmp_path / "wh.duckdb"
    build_warehouse(
        target, lake_dir=tmp_path / "lake", seeds_dir=SEEDS, sql_dir=tmp_path / "sql", catalogue=[TOY_SOURCE],
        storage_version="v1.2.0", memory_limit="300MB", temp_dir=tmp_path / "tmp",
    )  # fmt: skip
    with duckdb.connect(str(target), read_only=True) as con:
        stored = [c for c, *_ in con.execute("describe store.core__dim_toy").fetchall()]
        rows = con.execute("select * from core.dim_toy order by toy_id").fetchall()
        sql = con.execute("select sql from duckdb_views() where view_name = 'dim_toy'").fetchall()[0][0]
        comment = con.execute(
            "select comment from duckdb_columns() where table_name = 'dim_toy' and column_name = 'label'"
            " and schema_name = 'core'"
        ).fetchall()
    assert stored == ["toy_id", "kind", "toys_of_kind", "paren"]  # the CTE's columns only
    assert rows == [(0, "even", 2, 50.0), (1, "odd", 2, 50.0), (2, "even", 2, 50.0), (3, "odd", 2, 50.0)]
    assert "store.core__dim_toy" in sql and "labels" in sql
    assert "toys" not in sql.replace("toys_of_kind", "") and "unused_later" not in sql  # nothing reads them
    assert comment == [("Even or odd",)]


@pytest.mark.parametrize(
    ("header", "query", "message"),
    [
        ("-- materialized: table\n-- stored: missing\n", "", "needs a CTE `missing as"),
        ("-- materialized: table\n-- stored: counted\n", "select * from final;", "ending in `select \\* from final`"),
        ("-- stored: counted\n", "", "with `-- materialized: table`"),
        ("-- materialized: table\n-- stored: counted; drop table x\n", "", "names a CTE of the query"),
    ],
)
def test_a_stored_cte_that_cannot_be_found_is_refused(tmp_path, header, query, message):
    text = STORED_CTE_SQL.replace("-- materialized: table\n-- stored: counted\n", header)
    if query:
        text = text.replace(query, "select toy_id from final;")
    path = tmp_path / "core" / "dim_toy.sql"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with duckdb.connect() as con, pytest.raises(BuildError, match=message):
        con.execute("create schema core; create schema store")
        create_object(con, path)


def test_a_prepared_cte_is_computed_alone_into_a_temporary_table_the_stored_query_reads(tmp_path):
    path = tmp_path / "sql" / "core" / "dim_toy.sql"
    path.parent.mkdir(parents=True)
    path.write_text(STORED_CTE_SQL)
    plain = stored_statements(path)
    path.write_text(STORED_CTE_SQL.replace("-- stored: counted\n", "-- stored: counted\n-- prepared: toys\n"))
    assert read_header(path).prepared == ("toys",)
    prepared = stored_statements(path)
    table = "temp.main.prepared__core__dim_toy__toys"
    (alone,) = prepared.prepared
    assert re.search(f"^create or replace temp table {table} as", alone, re.M) and alone.endswith("select * from toys")
    assert "counted as" not in alone and "labels" not in alone  # what the CTE does not read is not computed
    assert f"select * from {table}" in prepared.create_table and "range(4)" not in prepared.create_table
    assert prepared.view.replace("-- prepared: toys\n", "") == plain.view and prepared.dropped == (
        f"drop table if exists {table}",
    )
    with duckdb.connect() as con:
        con.execute("create schema core; create schema store")
        create_object(con, path, autocommit=True)
        rows = con.execute("select * from core.dim_toy order by toy_id").fetchall()
        left = con.execute("select count(*) from duckdb_tables() where table_name like 'prepared%'").fetchone()[0]
        path.write_text(STORED_CTE_SQL)
        create_object(con, path, autocommit=True)
        assert rows == con.execute("select * from core.dim_toy order by toy_id").fetchall()
    assert rows == [(0, "even", 2, 50.0), (1, "odd", 2, 50.0), (2, "even", 2, 50.0), (3, "odd", 2, 50.0)]
    assert left == 0  # dropped once the rows are stored: the file never holds it


def test_a_plan_cte_is_set_as_a_variable_once_the_prepared_ctes_it_reads_are_computed(tmp_path):
    path = tmp_path / "sql" / "core" / "dim_toy.sql"
    path.parent.mkdir(parents=True)
    planned = (
        STORED_CTE_SQL.replace(
            "-- stored: counted\n", "-- stored: counted\n-- prepared: toys\n-- plan: many_toys, odd_first\n"
        )
        .replace(
            "counted as (",
            "many_toys as (\n    select count(*) > 3 from toys\n),\n\nodd_first as (\n    select 1 as kind\n),\n\n"
            "counted as (",
        )
        .replace(
            "    from toys\n),\n\nunused",
            "    from toys\n    where coalesce(getvariable('many_toys'), false) or kind = getvariable('odd_first')\n"
            "),\n\nunused",
        )
    )
    path.write_text(planned)
    assert read_header(path).plan == ("many_toys", "odd_first")
    stored = stored_statements(path)
    table = "temp.main.prepared__core__dim_toy__toys"
    first, toys, many = stored.prepared  # a plan reading no prepared CTE comes first, one reading one after it
    assert first.startswith("set variable odd_first = (") and first.endswith("select * from odd_first\n)")
    assert re.search(f"^create or replace temp table {table} as", toys, re.M)
    assert many.startswith("set variable many_toys = (") and f"select * from {table}" in many and "range(4)" not in many
    reset = {"reset variable many_toys", "reset variable odd_first"}
    assert set(stored.dropped) == {f"drop table if exists {table}", *reset}
    with duckdb.connect() as con:
        con.execute("create schema core; create schema store")
        create_object(con, path, autocommit=True)
        every = con.execute("select toy_id from core.dim_toy order by toy_id").fetchall()
        unset = con.execute("select getvariable('many_toys'), getvariable('odd_first')").fetchone()
        path.write_text(planned.replace("count(*) > 3", "count(*) > 4"))
        create_object(con, path, autocommit=True)
        odd = con.execute("select toy_id from core.dim_toy order by toy_id").fetchall()
        view = con.execute("select sql from duckdb_views() where view_name = 'dim_toy'").fetchone()[0]
    assert every == [(0,), (1,), (2,), (3,)] and odd == [(1,), (3,)]  # four toys: more than 3, not more than 4
    assert unset == (None, None)  # reset once the rows are stored
    assert "many_toys" not in view  # the public view reads the stored rows
    path.write_text(planned.replace("-- plan: many_toys, odd_first", "-- plan: missing"))
    with pytest.raises(BuildError, match="`-- plan: missing` needs a CTE `missing as"):
        stored_statements(path)
    path.write_text(planned.replace("-- materialized: table\n-- stored: counted\n-- prepared: toys\n", ""))
    with pytest.raises(BuildError, match="`-- plan: <cte>, <cte>` names CTEs of the query, with"):
        read_header(path)


def test_a_prepared_cte_is_dropped_when_the_stored_query_fails_and_a_missing_one_is_refused(tmp_path):
    path = tmp_path / "core" / "dim_toy.sql"
    path.parent.mkdir(parents=True)
    failing = STORED_CTE_SQL.replace("-- stored: counted\n", "-- stored: counted\n-- prepared: toys\n")
    path.write_text(failing.replace("')' as paren", "error('no paren') as paren"))
    with duckdb.connect() as con:
        con.execute("create schema core; create schema store")
        with pytest.raises(duckdb.Error, match="no paren"):
            create_object(con, path, autocommit=True)
        assert con.execute("select count(*) from duckdb_tables() where table_name like 'prepared%'").fetchone() == (0,)
        path.write_text(failing.replace("-- prepared: toys", "-- prepared: missing"))
        with pytest.raises(BuildError, match="needs a CTE `missing as"):
            create_object(con, path)
    path.write_text(failing.replace("-- materialized: table\n-- stored: counted\n", ""))
    with pytest.raises(BuildError, match="`-- prepared: <cte>, <cte>` names CTEs of the query, with"):
        read_header(path)


def test_cte_bodies_skip_parentheses_in_strings_and_comments():
    sql = (
        "with\n\na as (\n    -- (\n    select ')' as x, \"(\" as y /* ) */\n),\n\n"
        "final as (select * from a)\n\nselect * from final"
    )
    start, end = cte_body(sql, "a")
    assert sql[start] == "(" and sql[end - 1] == ")" and sql[end:].startswith(",\n\nfinal")
    assert cte_body(sql, "b") is None
    unread = sql.replace("select * from a", "select 2 as b")
    assert prune_ctes(unread) == "with\n\nfinal as (select 2 as b)\n\nselect * from final"
    assert prune_ctes(sql) == sql
    assert prune_ctes("select 1") == "select 1"
    # the last CTE unread: the comma after the one before it goes with it
    assert prune_ctes(sql.replace("select * from final", "select * from a")) == (
        "with\n\na as (\n    -- (\n    select ')' as x, \"(\" as y /* ) */\n)\n\nselect * from a"
    )


def test_a_cte_reads_the_ctes_its_body_names_as_whole_words():
    sql = (
        "with\n\na as (select 1 as x),\n\nab as (select x as a_x from a),\n\n"
        "b as (select 'a' as s, ab.a_x as ab_x from ab),\n\nfinal as (select * from b, a)\n\nselect * from final"
    )
    # `ab` names neither `a` nor `b`; `a_x`, `ab_x` and the string 'a' name nothing
    assert cte_reads(sql) == {"a": set(), "ab": {"a"}, "b": {"ab"}, "final": {"a", "b"}}


def test_the_statements_of_a_file_follow_its_text(tmp_path):
    # worked out once per text (warehouse.build.statements): a file edited between two calls is read again
    path = tmp_path / "marts" / "x.sql"
    path.parent.mkdir()
    head = "-- grain: one row\n-- materialized: table\n"
    path.write_text(head + "create or replace view marts.x as select 1 as a;\ncomment on view marts.x is 'one';\n")
    first = stored_statements(path)
    assert "select 1 as a" in first.create_table and any("is 'one'" in other for other in first.others)
    path.write_text(head.replace("table", "view") + "create or replace view marts.x as select 2 as a from raw.y;\n")
    assert read_header(path).materialized == "view"
    assert file_references(path) == {"raw.y"}
    path.write_text(head + "create or replace view marts.x as select 3 as a from raw.z;\n")
    third = stored_statements(path)
    assert "select 3 as a" in third.create_table and not any("is 'one'" in other for other in third.others)
    assert file_references(path) == {"raw.z"}


def test_a_view_made_for_the_build_alone_leaves_its_comments_out(tmp_path):
    path = tmp_path / "marts" / "x.sql"
    path.parent.mkdir()
    path.write_text(
        "-- grain: one row\ncreate or replace view marts.x as\nselect 'comment on; x' as a -- comment on\n;\n"
        "comment on view marts.x is 'described';\ncomment on column marts.x.a is 'a';\n"
    )
    assert (
        view_without_comments(path) == "create or replace view marts.x as\nselect 'comment on; x' as a -- comment on\n"
    )
    stored = tmp_path / "marts" / "y.sql"
    stored.write_text(
        "-- grain: one row\n-- materialized: table\ncreate or replace view marts.y as select 1 as b;\n"
        "comment on view marts.y is 'described';\n"
    )
    with duckdb.connect() as con:
        for schema in ("marts", "store"):
            con.execute(f"create schema {schema}")
        for comments in (False, True):
            for file in (path, stored):
                create_object(con, file, comments=comments)
            described = con.execute(
                "select view_name, comment from duckdb_views() where schema_name = 'marts' order by 1"
            ).fetchall()
            assert described == [("x", "described" if comments else None), ("y", "described" if comments else None)]
            assert con.execute("select * from marts.x, marts.y").fetchall() == [("comment on; x", 1)]


def test_memory_limit_and_spill_folder_come_from_the_settings(tmp_path):
    settings = load_settings({"TRADEWH_HOME": str(tmp_path), "TRADEWH_DUCKDB_MEMORY_LIMIT": "300MB"})
    assert (settings.duckdb_memory_limit, settings.duckdb_temp_dir) == ("300MB", tmp_path / "tmp")
    assert load_settings({"TRADEWH_HOME": str(tmp_path)}).duckdb_memory_limit == "512MB"
    staging = load_settings({"TRADEWH_HOME": str(tmp_path), "TRADEWH_DUCKDB_STAGING_MEMORY_LIMIT": "200MB"})
    assert staging.duckdb_config == {"memory_limit": "200MB", "temp_directory": str(tmp_path / "tmp")}
    assert load_settings({"TRADEWH_HOME": str(tmp_path)}).duckdb_config["memory_limit"] == "256MB"


def test_spill_files_of_a_killed_build_are_cleared(tmp_path):
    spill = tmp_path / "tmp"
    spill.mkdir()
    (spill / "duckdb_temp_4242_0_storage_DEFAULT-0.tmp").write_bytes(b"x")
    (spill / "duckdb_temp_4242_0_owner").write_bytes(b"")
    (spill / "notes.txt").write_text("not DuckDB's")
    assert sorted(p.name for p in clear_debris(tmp_path)) == [
        "duckdb_temp_4242_0_owner", "duckdb_temp_4242_0_storage_DEFAULT-0.tmp",
    ]  # fmt: skip
    assert [p.name for p in spill.iterdir()] == ["notes.txt"]


def test_publish_swaps_and_keeps_the_previous(tmp_path):
    final = tmp_path / "tradewh.duckdb"
    first, second = tmp_path / "a.building", tmp_path / "b.building"
    first.write_bytes(b"first")
    second.write_bytes(b"second")
    assert publish(first, final) is None
    previous = publish(second, final)
    assert final.read_bytes() == b"second"
    assert previous is not None and previous.read_bytes() == b"first"
    assert not first.exists() and not second.exists()


def test_a_third_publish_discards_the_oldest_file_in_a_thread_and_debris_clears_what_a_kill_left(tmp_path):
    final = tmp_path / "warehouse" / "tradewh.duckdb"
    final.parent.mkdir()
    for text in ("first", "second", "third"):
        built = final.with_name(f".{text}.building")
        built.write_text(text)
        publish(built, final)
    for thread in threading.enumerate():
        if thread.name == "tradewh-discard":
            thread.join()
    assert sorted(p.name for p in final.parent.iterdir()) == ["tradewh.duckdb", "tradewh.duckdb.previous"]
    assert (final.read_text(), final.with_name("tradewh.duckdb.previous").read_text()) == ("third", "second")

    left = final.with_name(".tradewh.duckdb.previous.4242-1-7.discarded")  # the process died before its thread ran
    left.write_text("first")
    assert clear_debris(tmp_path) == [left]
    assert not left.exists()


def test_discard_renames_at_once_and_unlinks_in_its_thread(tmp_path):
    from warehouse.publish.swap import discard

    doomed = tmp_path / "big.duckdb"
    doomed.write_bytes(b"x" * 1024)
    thread = discard(doomed)
    assert not doomed.exists()  # renamed before discard returned
    thread.join()
    assert list(tmp_path.iterdir()) == []


def test_reject_threshold():
    assert over_threshold(100, 5, 0.05) is None
    assert "6 of 100 rows rejected (6.0%), above the threshold of 5%" in over_threshold(100, 6, 0.05)


@settings(max_examples=200, deadline=None)
@pytest.mark.fuzz
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["a", "b", None]), st.sampled_from([1, 2, None]), st.sampled_from(["x", "", None])),
        max_size=40,
    )
)
def test_duplicated_rows_counts_what_a_plain_group_by_counts(rows):
    """The hash pre-grouping counts the rows sharing their key exactly as pandas does, nulls equal to nulls."""
    from warehouse.build.checks import _duplicated_rows

    frame = pd.DataFrame(rows, columns=["a", "b", "c"], dtype=object)
    with duckdb.connect() as con:
        con.execute("create table t (a varchar, b bigint, c varchar)")
        if rows:
            con.executemany("insert into t values (?, ?, ?)", [list(r) for r in rows])
        assert _duplicated_rows(con, "t", ("a", "b", "c")) == int(frame.duplicated(keep=False).sum())


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512MB", 512_000_000), ("488.2 MiB", int(488.2 * 2**20)), ("1.5 GiB", 3 * 2**29), ("2048 bytes", 2048),
     ("1kb", 1000), ("-1", None), ("unlimited", None), ("", None)],
)  # fmt: skip
def test_size_bytes_reads_duckdbs_sizes(text: str, expected: int | None) -> None:
    assert size_bytes(text) == expected


def test_memory_share_lowers_the_limit_for_the_block_and_sets_it_back() -> None:
    con = duckdb.connect(config={"memory_limit": "512MB"})
    before = size_bytes(con.execute("select current_setting('memory_limit')").fetchone()[0])
    with memory_share(con, 0.75):
        during = size_bytes(con.execute("select current_setting('memory_limit')").fetchone()[0])
        assert during == pytest.approx(0.75 * before, rel=1e-3)
    after = size_bytes(con.execute("select current_setting('memory_limit')").fetchone()[0])
    assert after == pytest.approx(before, rel=1e-3)
    with pytest.raises(duckdb.Error), memory_share(con, 0.5):
        con.execute("select * from no_such_table")
    assert size_bytes(con.execute("select current_setting('memory_limit')").fetchone()[0]) == pytest.approx(
        before, rel=1e-3
    )  # set back when the block fails too


def test_the_fact_is_checked_under_a_share_of_the_builds_memory_limit() -> None:
    # a figure that breaks a rule, its source id read from the limit in force when the check reads the row: the
    # refusal's example row shows the limit the check ran under
    with duckdb.connect(config={"memory_limit": "400MB"}) as con:
        _fact(con, {"vintage": "'2013-12'"})
        con.execute("alter table core.fct_trade_figure rename to figures")
        con.execute(
            "create view core.fct_trade_figure as "
            "select * replace (current_setting('memory_limit') as source_id) from figures"
        )
        with pytest.raises(BuildError, match="str_matches") as refused:
            check_trade_figures(con)
        [during] = set(re.findall(r"source_id='([^']*)'", str(refused.value)))
        assert size_bytes(during) == pytest.approx(CHECK_MEMORY_SHARE * 400e6, rel=2e-3)
        after = con.execute("select current_setting('memory_limit')").fetchone()[0]
        assert size_bytes(after) == pytest.approx(400e6, rel=2e-3)  # set back after the refusal


def test_memory_share_leaves_a_locked_configuration_as_it_is() -> None:
    # a rollback checks its candidate on a locked-down connection (warehouse.common.readonly): the check runs there
    with duckdb.connect(config={"memory_limit": "300MB"}) as con:
        con.execute("set lock_configuration = true")
        with memory_share(con, 0.5):
            during = con.execute("select current_setting('memory_limit')").fetchone()[0]
        assert size_bytes(during) == pytest.approx(300e6, rel=2e-3)
        assert size_bytes(con.execute("select current_setting('memory_limit')").fetchone()[0]) == pytest.approx(
            300e6, rel=2e-3
        )
