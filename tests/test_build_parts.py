"""A stored view kept in one table per value of a column (``-- partitioned: <column> in <cte>``), its one-valued
columns declared generated constants of each part (``-- constants:``): what readers see is what one table held.

Driven through ``create_object``, the build's own entry point, on a real DuckDB file; no Prefect."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import duckdb
import pytest

from warehouse.build.models import BuildError, create_object, read_header, view_of_stored

FIGURES = """
create table raw.figures as select * from (values
    ('comtrade', 'src_a', '2024-01-01', 'USD', 'CHN', 1.0),
    ('comtrade', 'src_a', '2024-01-01', 'USD', 'USA', 2.0),
    ('comtrade', 'src_a', '2024-01-01', 'USD', 'DEU', 3.0),
    ('wdi', 'src_w', '2013-04-01', 'USD', 'CHN', 10.0),
    ('wdi', 'src_w', '2014-04-01', 'percent', 'CHN', 11.0)
) as t(dataset, source_id, vintage, unit, reporter, value)
"""


def _file(
    tmp_path: Path, body: str, *, constants: str = "source_id, vintage, unit", partitioned: str = "dataset"
) -> Path:
    path = tmp_path / "sql" / "core" / "fct_toy.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "-- grain: one row per dataset x reporter\n"
        "-- materialized: table\n"
        "-- incremental: source_id\n"
        f"-- partitioned: {partitioned} in figures\n"
        f"-- constants: {constants}\n"
        "create or replace view core.fct_toy as\n"
        "with\n\n"
        "figures as (\n    select * from raw.figures\n),\n\n"
        f"final as (\n{body}\n)\n\n"
        "select * from final;\n"
        "comment on view core.fct_toy is 'Toy figures';\n"
    )
    return path


@pytest.fixture
def con(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as connection:
        for schema in ("raw", "core", "store"):
            connection.execute(f"create schema {schema}")
        connection.execute(FIGURES)
        yield connection


def _generated(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        "select table_name, column_name from information_schema.columns where table_schema = 'store' "
        "and is_generated = 'ALWAYS' order by table_name, ordinal_position"
    ).fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return found


def test_each_part_stores_once_the_columns_that_hold_one_value_in_it(con, tmp_path):
    path = _file(tmp_path, "    select * from figures")
    create_object(con, path)
    assert _generated(con) == {
        "core__fct_toy__part__comtrade": ["dataset", "source_id", "vintage", "unit"],
        "core__fct_toy__part__wdi": ["dataset", "source_id"],  # two vintages, two units: stored in each row
    }
    rows = con.execute("select * from core.fct_toy order by all").fetchall()
    assert rows == con.execute("select * from raw.figures order by all").fetchall()  # what one table held
    assert con.execute("describe core.fct_toy").fetchall() == con.execute("describe raw.figures").fetchall()
    assert con.execute("select count(*) from core.fct_toy where unit = 'percent'").fetchone() == (1,)
    assert con.execute("select comment from duckdb_views() where view_name = 'fct_toy'").fetchone() == ("Toy figures",)
    assert view_of_stored('store."core__fct_toy__part__wdi"') == "core.fct_toy"


def test_the_view_over_the_parts_reads_the_part_of_the_most_rows_first(con, tmp_path):
    """A grouping over the view reads the parts in the view's order, and DuckDB sizes its partitions from the first
    input (a small part first ran the balance mart out of memory at 10M rows): the largest part comes first, whatever
    its name; parts of as many rows by name."""
    con.execute("insert into raw.figures select 'wdi', 'src_w', '2014-04-01', 'USD', 'C' || i, i from range(5) t(i)")
    create_object(con, _file(tmp_path, "    select * from figures"))
    view = con.execute("select sql from duckdb_views() where schema_name = 'store' and view_name = 'core__fct_toy'")
    order = re.findall(r"FROM store\.\"?core__fct_toy__part__(\w+)", view.fetchone()[0])
    assert order == ["wdi", "comtrade"]  # 7 rows, then 3
    more = "select 'comtrade', 'src_a', '2024-01-01', 'USD', 'X' || i, i from range(9) t(i)"
    con.execute(f"insert into raw.figures {more}")
    create_object(con, _file(tmp_path, "    select * from figures"))
    view = con.execute("select sql from duckdb_views() where schema_name = 'store' and view_name = 'core__fct_toy'")
    order = re.findall(r"FROM store\.\"?core__fct_toy__part__(\w+)", view.fetchone()[0])
    assert order == ["comtrade", "wdi"]  # 12 rows, then 7


def test_a_second_column_splits_each_value_of_the_first(con, tmp_path):
    """Partitioned by dataset and unit: the WDI rows in two parts, one a unit, each with its one vintage kept once
    (in one table, two vintages: stored in every row)."""
    path = _file(tmp_path, "    select * from figures", constants="source_id, vintage", partitioned="dataset, unit")
    create_object(con, path)
    assert _generated(con) == {
        "core__fct_toy__part__comtrade__USD": ["dataset", "source_id", "vintage", "unit"],
        "core__fct_toy__part__wdi__USD": ["dataset", "source_id", "vintage", "unit"],
        "core__fct_toy__part__wdi__percent": ["dataset", "source_id", "vintage", "unit"],
    }
    assert (
        con.execute("select * from core.fct_toy order by all").fetchall()
        == con.execute("select * from raw.figures order by all").fetchall()
    )
    comment = con.execute("select comment from duckdb_tables() where table_name = 'core__fct_toy__part__wdi__USD'")
    assert comment.fetchone() == (
        "Stored rows of core.fct_toy whose dataset is wdi and unit is USD (-- partitioned: dataset, unit)",
    )


def test_a_value_whose_rows_pass_a_window_is_one_part(con, tmp_path):
    """A window over a dataset's rows keeps a filter on unit above it: two parts of WDI would each compute it over
    every WDI row. The plan says so, and WDI is one part (Comtrade, one unit, is split as before)."""
    body = "    select *, row_number() over (partition by dataset order by vintage, unit) as nth from figures"
    path = _file(tmp_path, body, constants="source_id, vintage", partitioned="dataset, unit")
    create_object(con, path)
    assert _generated(con) == {
        "core__fct_toy__part__comtrade__USD": ["dataset", "source_id", "vintage", "unit"],
        "core__fct_toy__part__wdi": ["dataset", "source_id"],  # two vintages and two units in its rows
    }
    expected = con.execute(f"select * from ({body}) order by all".replace("figures", "raw.figures")).fetchall()
    assert con.execute("select * from core.fct_toy order by all").fetchall() == expected
    assert con.execute("select unit, nth from core.fct_toy where dataset = 'wdi' order by nth").fetchall() == [
        ("USD", 1),
        ("percent", 2),
    ]


def test_a_part_of_one_dataset_reads_the_multi_vintage_list_narrowed_to_it(con, tmp_path):
    """The planner keeps the fact's window branch for a part when any dataset is in the list; narrowed to the
    part's dataset, a dataset of one vintage plans no window, and one of several is one part."""
    con.execute("create table raw.comtrade as select 'c' as source_id, '2024-01-01' as vintage")
    pair = "select * from (values ('w', '2013-04-01'), ('w', '2014-04-01')) t(source_id, vintage)"
    con.execute(f"create table raw.wdi as {pair}")
    body = (
        "    select * from figures where not list_contains(getvariable('multi_vintage_datasets'), dataset)\n"
        "    union all\n"
        "    select * replace (max(vintage) over (partition by dataset) as vintage) from figures\n"
        "    where list_contains(getvariable('multi_vintage_datasets'), dataset)"
    )
    path = _file(tmp_path, body, constants="source_id, vintage", partitioned="dataset, unit")
    create_object(con, path)
    assert set(_generated(con)) == {"core__fct_toy__part__comtrade__USD", "core__fct_toy__part__wdi"}
    assert con.execute("select distinct vintage from core.fct_toy where dataset = 'wdi'").fetchall() == [
        ("2014-04-01",)
    ]
    assert con.execute("select count(*) from core.fct_toy").fetchone() == (5,)
    listed = con.execute("select getvariable('multi_vintage_datasets')").fetchone()
    assert listed == (["figures", "wdi"],)  # as the build set it: not the last part's list


def test_a_column_the_cte_shows_one_valued_but_the_query_does_not_is_stored_in_each_row(con, tmp_path, caplog):
    """The first pass reads the CTE; the query after it may change a value: every row is checked as it is stored,
    and a part that breaks its constants is stored again with every column in its rows."""
    path = _file(
        tmp_path,
        "    select * replace (case when reporter = 'USA' then '2025-01-01' else vintage end as vintage)\n"
        "    from figures",
    )
    with caplog.at_level(logging.WARNING):
        create_object(con, path)
    assert "core__fct_toy__part__comtrade" in caplog.text and "stored whole" in caplog.text
    assert "core__fct_toy__part__comtrade" not in _generated(con)
    assert con.execute(
        "select reporter, vintage from core.fct_toy where dataset = 'comtrade' order by 1"
    ).fetchall() == [
        ("CHN", "2024-01-01"),
        ("DEU", "2024-01-01"),
        ("USA", "2025-01-01"),
    ]


def test_storing_again_replaces_every_part(con, tmp_path):
    path = _file(tmp_path, "    select * from figures")
    create_object(con, path)
    con.execute("delete from raw.figures where dataset = 'wdi'")
    create_object(con, path)
    tables = con.execute("select table_name from duckdb_tables() where schema_name = 'store'").fetchall()
    assert tables == [("core__fct_toy__part__comtrade",)]  # the wdi part went with its rows
    con.execute("delete from raw.figures")
    create_object(con, path)
    assert con.execute("select count(*) from core.fct_toy").fetchone() == (0,)
    assert con.execute("describe core.fct_toy").fetchall() == con.execute("describe raw.figures").fetchall()


def test_a_partitioned_header_names_a_column_of_a_cte(tmp_path):
    path = _file(tmp_path, "    select * from figures")
    path.write_text(path.read_text().replace("-- partitioned: dataset in figures", "-- partitioned: dataset"))
    with pytest.raises(BuildError, match=r"partitioned: <column>, \.\.\. in <cte>"):
        read_header(path)
    path.write_text(path.read_text().replace("-- partitioned: dataset\n", ""))
    with pytest.raises(BuildError, match="constants: a, b"):
        read_header(path)


def test_an_incremental_night_refuses_a_part_holding_sources_kept_and_computed_again(tmp_path):
    """A night that built on the published file replaces whole parts: one holding a source computed again beside one
    kept cannot be replaced, so the night is refused (and the flow builds in full)."""
    from warehouse.build.incremental import _replace_parts

    with duckdb.connect() as con:  # the scratch catalogue is the connection's own in-memory one
        con.execute(f"attach '{tmp_path / 'wh.duckdb'}' as wh")
        for database in ("memory", "wh"):
            con.execute(f"create schema {database}.store")
        part = 'store."core__fct_toy__part__comtrade"'
        con.execute(f"create table wh.{part} as select * from (values ('a', 1), ('b', 2)) t(source_id, v)")
        con.execute(f"create table memory.{part} as select * from (values ('a', 3)) t(source_id, v)")
        with pytest.raises(BuildError, match="sources computed again and of sources kept"):
            _replace_parts(con, "store.core__fct_toy", "source_id", ["a"])
        _replace_parts(con, "store.core__fct_toy", "source_id", ["a", "b"])  # every source of the part: replaced
        assert con.execute("select * from wh.store.core__fct_toy").fetchall() == [("a", 3)]


def _mart(tmp_path: Path, where: str, *, partitioned: bool = False) -> Path:
    """A stored mart grouping the toy fact's figures (``where``), read through its stored view over the parts;
    ``partitioned``: itself stored one table per unit."""
    path = tmp_path / "sql" / "marts" / "toy_totals.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "-- grain: one row per dataset x unit\n"
        "-- materialized: table\n"
        + ("-- partitioned: unit in figures\n" if partitioned else "")
        + "create or replace view marts.toy_totals as\n"
        "with\n\n"
        f"figures as (\n    select * from store.core__fct_toy where {where}\n),\n\n"
        "final as (\n    select dataset, unit, sum(value) as total from figures\n"
        "    group by dataset, unit\n)\n\n"
        "select * from final;\n"
    )
    return path


def _view_sql(con: duckdb.DuckDBPyConnection, database: str = "wh") -> str:
    """The view over the parts, as DuckDB keeps it, and its comment."""
    found = con.execute(
        "select sql || ' -- ' || coalesce(comment, '(none)') from duckdb_views() where database_name = ? "
        "and schema_name = 'store' and view_name = 'core__fct_toy'",
        [database],
    )
    return found.fetchone()[0]


def test_a_statement_over_the_parts_reads_through_the_view_only_the_parts_its_plan_reads(con, tmp_path, caplog):
    """A part DuckDB proves empty for a statement by its statistics (its values 1-3 against ``value > 5``) becomes an
    EMPTY_RESULT inside the union, whose statistics are then unknown: while the statement runs, the view over
    the parts is the union of the parts the plan reads; afterwards, what it was. The rows are the same."""
    from warehouse.build.parts import live_parts

    create_object(con, _file(tmp_path, "    select * from figures", constants="source_id, vintage, unit"))
    before = _view_sql(con)
    assert "part__comtrade" in before and "part__wdi" in before and "-- Stored rows of core.fct_toy" in before
    statement = "select dataset, sum(value) from store.core__fct_toy where value > 5 group by dataset"
    assert "EMPTY_RESULT" in con.execute(f"explain {statement}").fetchall()[0][1].upper().replace(" ", "_")
    with live_parts(con, statement) as left_out:
        assert left_out == ['store."core__fct_toy__part__comtrade"']
        during = _view_sql(con)
        assert "part__wdi" in during and "part__comtrade" not in during
        assert con.execute(statement).fetchall() == [("wdi", 21.0)]
        assert "EMPTY_RESULT" not in con.execute(f"explain {statement}").fetchall()[0][1].upper().replace(" ", "_")
    assert _view_sql(con) == before
    with live_parts(con, "select count(*) from store.core__fct_toy") as left_out:  # every part read: as it was
        assert left_out == [] and _view_sql(con) == before

    con.execute("create schema marts")
    for partitioned in (False, True):  # one statement; or the pass finding the parts, then one a part
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="warehouse.build.parts"):
            create_object(con, _mart(tmp_path, "value > 5", partitioned=partitioned))
        left_out = [r.getMessage() for r in caplog.records if "left out of its views" in r.getMessage()]
        assert len(left_out) == (2 if partitioned else 1)  # partitioned: the pass finding the parts, USD's part
        assert all("core__fct_toy__part__comtrade" in m for m in left_out)
        assert con.execute("select * from marts.toy_totals order by all").fetchall() == [
            ("wdi", "USD", 10.0),
            ("wdi", "percent", 11.0),
        ]
        assert _view_sql(con) == before


def test_a_view_that_is_not_the_union_of_its_parts_here_is_left_alone(con, tmp_path):
    """Only a view over the parts of the database in use is narrowed: one reading another database's parts of the
    same names (an incremental night's scratch catalogue reads the published file's), or not every part, is not."""
    from warehouse.build.parts import live_parts

    create_object(con, _file(tmp_path, "    select * from figures", constants="source_id, vintage, unit"))
    con.execute(f"attach '{tmp_path / 'other.duckdb'}' as other")
    con.execute("create schema other.store")
    for part in ("comtrade", "wdi"):
        con.execute(f'create table other.store."core__fct_toy__part__{part}" as select 1 as unused')
    con.execute(
        'create view other.store.core__fct_toy as select * from wh.store."core__fct_toy__part__comtrade" '
        'union all select * from wh.store."core__fct_toy__part__wdi"'
    )
    con.execute("use other")
    statement = "select sum(value) from store.core__fct_toy where value > 5"
    before = _view_sql(con, "other")
    with live_parts(con, statement) as left_out:
        assert left_out == [] and _view_sql(con, "other") == before
        assert con.execute(statement).fetchall() == [(21.0,)]
    con.execute("use wh")
    con.execute('create or replace view store.core__fct_toy as select * from store."core__fct_toy__part__wdi"')
    with live_parts(con, statement) as left_out:
        assert left_out == []


def test_the_balance_mart_pairs_series_bucket_by_bucket_with_the_same_rows(loaded, tmp_path):
    """The balance mart's pairs are stored one table per dataset and bucket of series (a hash of the series' key),
    so that no one statement groups every pair (at 100M rows that ran out of memory). On the loaded warehouse, with
    a bucket per 3 figures to pair instead of per 10M: several buckets, and the same rows as in one."""
    from warehouse.build.parts import parts

    copy = tmp_path / "wh.duckdb"
    copy.write_bytes(Path(loaded["warehouse"]).read_bytes())
    path = Path(__file__).resolve().parents[1] / "sql" / "marts" / "trade_balance_vintages.sql"
    with duckdb.connect(str(copy)) as con:
        con.execute("create temp table before_rows as select * from marts.trade_balance_vintages")
        whole = parts(con, "store.marts__trade_balance_vintages")
        assert whole and all(p.endswith('__0"') for p in whole)  # one bucket each
        one_each = {p.split("__part__")[1].rsplit("__", 1)[0] for p in whole}
        con.execute("set variable pair_bucket_figures = 3")
        create_object(con, path)
        bucketed = parts(con, "store.marts__trade_balance_vintages")
        buckets = {p.split("__part__")[1].rstrip('"') for p in bucketed}
        assert {b.rsplit("__", 1)[0] for b in buckets} == one_each  # the same datasets
        assert len(buckets) > 2 * len(one_each)  # each in several buckets
        con.execute("create temp table after as select * from marts.trade_balance_vintages")
        for a, b in (("after", "before_rows"), ("before_rows", "after")):
            assert con.execute(f"select count(*) from (from {a} except all from {b})").fetchone() == (0,)
        assert "bucket" not in {c for c, *_ in con.execute("describe marts.trade_balance_vintages").fetchall()}
        view = con.execute("select sql from duckdb_views() where view_name = 'trade_balance_vintages'").fetchone()[0]
        assert "pair_buckets" not in view and "hash(" not in view  # the public view reads the stored pairs only
        series = con.execute(  # a series lies in one bucket: no two rows of one key
            "select count(*) from (select source_id, vintage, reporter, partner, period, classification, category, "
            "measure, unit from marts.trade_balance_vintages group by all having count(*) > 1)"
        ).fetchone()
        assert series == (0,)
