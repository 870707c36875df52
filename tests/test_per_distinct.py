"""``schemas.rules.per_distinct`` and the checks ``surely_valid`` runs on a column's distinct values: the answer for
each row is the one the test gives that row's values, and a check that compares rows still sees every row."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.comtrade import _commodity_level, _formatted, _period_matches_year, _period_of_year
from schemas.rules import PER_VALUE_CHECKS, per_distinct, surely_valid

TEXT = st.one_of(st.none(), st.sampled_from(["2011", "201103", "201113", "85", "8501", "TOTAL", "x", ""]))


def _frame(texts: list[str | None], numbers: list[int | None]) -> pd.DataFrame:
    rows = min(len(texts), len(numbers))
    return pd.DataFrame(
        {"text": pd.array(texts[:rows], dtype="str"), "number": pd.array(numbers[:rows], dtype="Int64")},
        index=pd.RangeIndex(100, 100 + rows),  # not 0..n: the answers keep the frame's index
    )


def _row_by_row(frame: pd.DataFrame) -> pd.Series:
    """A test whose answer depends on the row's values alone, and tells nulls apart: what per_distinct must give."""
    return frame["text"].fillna("<null>").str.len() * 100 + frame["number"].fillna(-1)


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, max_size=60), st.lists(st.one_of(st.none(), st.integers(0, 4)), max_size=60))
def test_each_row_gets_its_own_answer(texts: list[str | None], numbers: list[int | None]) -> None:
    frame = _frame(texts, numbers)
    calls: list[int] = []

    def test(distinct: pd.DataFrame) -> pd.Series:
        calls.append(len(distinct))
        return _row_by_row(distinct)

    got = per_distinct(frame, test)
    pd.testing.assert_series_equal(got, _row_by_row(frame), check_names=False)
    if len(frame):
        # once on each distinct row: no two rows handed to the test are equal
        assert calls == [len(frame.drop_duplicates())]
    one = per_distinct(frame[["text"]], lambda distinct: distinct["text"].isna() | (distinct["text"] == "x"))
    pd.testing.assert_series_equal(one, frame["text"].isna() | (frame["text"] == "x"), check_names=False)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["2011", "201103", "201113", "2012", "2011x"]), min_size=1, max_size=40),
    st.lists(st.sampled_from([2011, 2012]), min_size=1, max_size=40),
    st.lists(st.one_of(st.none(), st.sampled_from(["85", "8501", "TOTAL", "85A", ""])), min_size=1, max_size=40),
    st.lists(st.one_of(st.none(), st.integers(0, 6)), min_size=1, max_size=40),
)
def test_comtrade_rules_on_distinct_values_are_the_rules(
    periods: list[str], years: list[int], codes: list[str | None], levels: list[int | None]
) -> None:
    rows = min(len(periods), len(years), len(codes), len(levels))
    frame = pd.DataFrame(
        {
            "period": pd.array(periods[:rows], dtype="str"),
            "year": years[:rows],
            "commodity_code": pd.array(codes[:rows], dtype="str"),
            "aggregate_level": pd.array(levels[:rows], dtype="Int64"),
        }
    )
    pd.testing.assert_series_equal(_period_matches_year(frame), _period_of_year(frame), check_names=False)
    formatted = _formatted(frame["commodity_code"].astype(str)).fillna(False).astype(bool)
    expected = (~formatted | frame["aggregate_level"].notna()).astype(bool)
    pd.testing.assert_series_equal(_commodity_level(frame), expected, check_names=False)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["2024-01-01", "2024-1-1", "2025-06-30", ""]), min_size=1, max_size=50))
def test_a_pattern_on_distinct_values_passes_where_every_row_does(values: list[str]) -> None:
    """str_matches (in PER_VALUE_CHECKS) runs on the distinct values: a batch is surely valid only where pandera
    would pass every row."""
    assert "str_matches" in PER_VALUE_CHECKS
    schema = pa.DataFrameSchema({"vintage": pa.Column(str, pa.Check.str_matches(r"^\d{4}-\d{2}-\d{2}$"))})
    frame = pd.DataFrame({"vintage": pd.array(values, dtype="str")})
    every_row = all(len(v) == 10 for v in values)
    assert surely_valid(frame, schema) == every_row


def test_a_check_that_compares_rows_sees_every_row() -> None:
    """A check not known to look at values alone is called on the whole column: on distinct values, a repeated
    value would pass a check that forbids repeats."""
    repeats = pa.Check(lambda s: ~s.duplicated(keep=False), name="not_repeated")
    schema = pa.DataFrameSchema({"code": pa.Column(str, repeats)})
    assert surely_valid(pd.DataFrame({"code": pd.array(["a", "b"], dtype="str")}), schema)
    assert not surely_valid(pd.DataFrame({"code": pd.array(["a", "b", "a"], dtype="str")}), schema)
