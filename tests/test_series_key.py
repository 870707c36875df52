"""The series key: one 64-bit number for a series, computed once in core.fct_trade_figure.

A hash merges two series that share it, so the build proves none do (``series_key_collisions``). The views that
partition by it must give what partitioning by the columns it stands for gives: computed here from the columns.
"""

from __future__ import annotations

import duckdb
import pytest

from warehouse.build.checks import SERIES_COLUMNS, describe_failures, series_key_collisions

COLUMNS = ", ".join(SERIES_COLUMNS)


def figures(rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    """An in-memory relation ``figures`` with a key and the series columns."""
    con = duckdb.connect()
    types = ", ".join(f"{c} varchar" for c in SERIES_COLUMNS)
    con.execute(f"create table figures (series_key ubigint, {types}, period varchar)")
    con.executemany(f"insert into figures values ({', '.join('?' * (len(SERIES_COLUMNS) + 2))})", rows)
    return con


SERIES = ("wdi", "CHN", "WLD", "export", "bop", "services", "bop_value", "USD")


def test_one_key_a_series_over_its_periods_and_vintages_is_no_collision() -> None:
    con = figures([(1, *SERIES, "2010"), (1, *SERIES, "2011"), (2, *SERIES[:3], "import", *SERIES[4:], "2010")])
    assert series_key_collisions(con, "figures") == []


@pytest.mark.parametrize("column", range(len(SERIES_COLUMNS)))
def test_two_series_sharing_a_key_are_found_whichever_column_tells_them_apart(column: int) -> None:
    other = list(SERIES)
    other[column] = "other"
    con = figures([(7, *SERIES, "2010"), (7, *other, "2011"), (8, *SERIES, "2012")])
    (failure,) = series_key_collisions(con, "figures")
    assert failure.rule.rule == "series_key_unique" and failure.rows == 1
    assert sorted(row[SERIES_COLUMNS[column]] for row in failure.examples) == sorted([SERIES[column], "other"])
    assert "series_key_unique" in describe_failures([failure])


def test_a_null_beside_a_value_under_one_key_is_a_collision() -> None:
    """min and max skip nulls: a key over a null and a value in one column still names two series."""
    with_null = (*SERIES[:5], None, *SERIES[6:])
    con = figures([(3, *SERIES, "2010"), (3, *with_null, "2011")])
    assert [f.rows for f in series_key_collisions(con, "figures")] == [1]
    assert series_key_collisions(figures([(3, *with_null, "2010"), (3, *with_null, "2011")]), "figures") == []


# --- the built warehouse (the shipped seeds) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def con(loaded: dict) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(loaded["warehouse"]), read_only=True)
    yield connection
    connection.close()


def test_the_key_is_the_hash_of_its_columns_and_names_one_series(con) -> None:
    wrong, keys, series = con.execute(
        f"select count(*) filter (where series_key <> hash({COLUMNS})), count(distinct series_key), "
        f"count(distinct ({COLUMNS})) from core.fct_trade_figure"
    ).fetchone()
    assert wrong == 0 and keys == series > 100
    assert series_key_collisions(con) == []


def test_growth_previous_year_is_that_of_the_same_series_found_by_its_columns(con) -> None:
    """trade_growth's lag over (source, vintage, series_key) against a join on the nine columns."""
    checked, differ = con.execute(
        """
        select count(*), count(*) filter (where growth.previous_year_value is distinct from round(previous.value, 2))
        from marts.trade_growth as growth
        left join core.fct_trade_figure as previous
            on previous.source_id = growth.source_id and previous.vintage = growth.vintage
            and previous.reporter = growth.reporter and previous.partner = growth.partner
            and previous.flow = growth.flow and previous.classification = growth.classification
            and previous.category = growth.category and previous.measure = growth.measure
            and previous.unit = growth.unit and previous.period_type = 'year' and previous.year = growth.year - 1
        """
    ).fetchone()
    assert checked > 1000 and differ == 0


def test_history_previous_vintage_is_that_of_the_same_figure_found_by_its_columns(con) -> None:
    """trade_figure_history's lag over (series_key, period) by vintage against the columns, where vintages differ."""
    checked, differ = con.execute(
        """
        with figures as (select * from core.fct_trade_figure),
        previous as (
            select later.source_id, later.vintage, later.reporter, later.partner, later.period, later.flow,
                later.classification, later.category, later.measure, arg_max(earlier.value, earlier.vintage) as value,
            from figures as later
            inner join figures as earlier
                on earlier.dataset = later.dataset and earlier.reporter = later.reporter
                and earlier.partner = later.partner and earlier.period = later.period and earlier.flow = later.flow
                and earlier.classification = later.classification and earlier.category = later.category
                and earlier.measure = later.measure and earlier.vintage < later.vintage
            group by all
        )
        select count(*), count(*) filter (where history.previous_vintage_value is distinct from previous.value)
        from marts.trade_figure_history as history
        inner join previous
            using (source_id, vintage, reporter, partner, period, flow, classification, category, measure)
        """
    ).fetchone()
    assert checked > 100 and differ == 0
