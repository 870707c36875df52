"""The windows over a series or a figure: partitioned by the columns that name it, not by a hashed key.

Decision 0001 (follow-up 3) measured a ``series_key`` column: partitioning by it lets no filter on reporter,
partner, ... run below the window, so one reporter's growth read every figure. These tests hold the views to
what the columns give (each lag recomputed here by a join on the columns) and the filters to the scan.
"""

from __future__ import annotations

import json

import duckdb
import pytest


@pytest.fixture(scope="module")
def con(loaded: dict) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(loaded["warehouse"]), read_only=True)
    yield connection
    connection.close()


def test_growth_previous_year_is_that_of_the_same_series_found_by_its_columns(con) -> None:
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


def test_growth_over_the_whole_series_reads_its_last_year(con) -> None:
    """whole_series inherits series' partition and order and widens the frame: last_year is the series' last."""
    checked, differ = con.execute(
        """
        with last as (
            select source_id, vintage, reporter, partner, flow, classification, category, measure, unit,
                max(year) as last_year,
            from core.fct_trade_figure
            where unit = 'USD' and period_type = 'year'
            group by all
        )
        select count(*), count(*) filter (where growth.last_year is distinct from last.last_year)
        from marts.trade_growth as growth
        inner join last using (source_id, vintage, reporter, partner, flow, classification, category, measure, unit)
        """
    ).fetchone()
    assert checked > 1000 and differ == 0


def test_history_previous_vintage_is_that_of_the_same_figure_found_by_its_columns(con) -> None:
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


def filtered_below_a_window(con: duckdb.DuckDBPyConnection, query: str, needle: str) -> bool:
    """Whether the plan applies the filter naming ``needle`` under its WINDOW operator (before the window runs)."""
    (plan,) = json.loads(con.execute(f"explain (format json) {query}").fetchall()[0][1])

    def below(node: dict, under_window: bool) -> bool:
        under_window = under_window or "WINDOW" in node.get("name", "")
        here = under_window and needle in json.dumps(node.get("extra_info", ""))
        return here or any(below(child, under_window) for child in node.get("children", []))

    return below(plan, False)


@pytest.mark.parametrize("view", ["marts.trade_growth", "marts.trade_figure_history"])
def test_a_filter_on_a_reporter_runs_before_the_window(con, view: str) -> None:
    assert filtered_below_a_window(con, f"select * from {view} where reporter = 'CHN'", "'CHN'")


def test_a_filter_above_a_window_is_told_apart(con) -> None:
    """The plan reader sees the difference: a window partitioned by a hash keeps the filter above it."""
    query = (
        "select * from (select *, lag(value) over (partition by hash(reporter, partner, flow) order by year) as p "
        "from core.fct_trade_figure) where reporter = 'CHN'"
    )
    assert not filtered_below_a_window(con, query, "'CHN'")
