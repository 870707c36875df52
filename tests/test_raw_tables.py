"""A raw table's one-valued text, integer and boolean columns are stored once (``warehouse.build.raw_tables``):
the rows read back are the lake files' rows, whatever the statistics say or do not say."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse.build import raw_tables


def _write(path: Path, columns: dict[str, list[object]], **options: object) -> str:
    """The columns as a Parquet file of two-row row groups; a column of text or nulls typed as text."""
    arrays = {
        name: pa.array(values, pa.string()) if all(v is None or isinstance(v, str) for v in values) else values
        for name, values in columns.items()
    }
    pq.write_table(pa.table(arrays), path, row_group_size=2, **options)
    return str(path)


def _generated(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_name = ? and is_generated = 'ALWAYS'",
            [table],
        ).fetchall()
    }


def _same_rows(con: duckdb.DuckDBPyConnection, table: str, files: list[str]) -> bool:
    lake = "(select * from read_parquet(?, union_by_name = true))"
    return con.execute(
        f"select (select count(*) from (from {table} except all from {lake})) "
        f"+ (select count(*) from (from {lake} except all from {table}))",
        [files, files],
    ).fetchone() == (0,)


@pytest.fixture
def con():
    with duckdb.connect() as connection:
        connection.execute("create schema raw")
        yield connection


def test_columns_with_one_value_in_every_row_are_generated_and_read_back_unchanged(tmp_path, con):
    def lake_file(name: str, sha: str, periods: list[str], values: list[float | None]) -> str:
        rows = len(periods)
        fixed = {"source_id": "s1", "file_sha256": sha, "flag": "0", "note": None, "quote": 'it\'s "so"'}
        return _write(
            tmp_path / name, {**{c: [v] * rows for c, v in fixed.items()}, "period": periods, "value": values}
        )

    first = lake_file("a.parquet", "aa", ["2011", "2011", "2012", "2011", "2011"], [1.0, 2.0, None, 4.0, 5.0])
    second = lake_file("b.parquet", "bb", ["2013"] * 3, [6.0, 7.0, 8.0])
    files = [first, second]
    declared = raw_tables.create_raw_table(con, "raw.t", files)
    # one value in every row of both files: stored once; a value that differs between the files: stored per row
    assert declared == {"source_id": "s1", "flag": "0", "note": None, "quote": 'it\'s "so"'}
    assert _generated(con, "t") == set(declared)
    assert raw_tables.columns(con, files) == [tuple(r[:2]) for r in con.execute("describe raw.t").fetchall()]
    assert _same_rows(con, "raw.t", files)
    assert con.execute("select count(*) from raw.t where source_id = 's1' and note is null").fetchone() == (8,)
    assert raw_tables.generated_constants(con, "memory.raw.t") == declared


@pytest.mark.parametrize(
    "columns, options",
    [
        ({"flag": ["0"] * 4}, {"write_statistics": False}),  # no statistics: nothing proves the value
        ({"flag": ["0", "0", None, "0"]}, {}),  # a null among the values
        ({"flag": ["x" * 5000] * 4}, {}),  # longer than Arrow writes statistics for
        ({"flag": ["0", "0", "x" * 5000, "x" * 5000]}, {}),  # one row group proven, the other not
        ({"flag": ["0", "0", "0", "1"]}, {}),  # one value in each row group, not the same in both
    ],
    ids=["no statistics", "a null", "a long value", "one row group without statistics", "two values"],
)
def test_a_column_the_statistics_do_not_prove_is_stored(tmp_path, con, columns, options):
    files = [_write(tmp_path / "a.parquet", {**columns, "row": [1, 2, 3, 4]}, **options)]
    assert raw_tables.create_raw_table(con, "raw.t", files) == {}
    assert _generated(con, "t") == set()
    assert _same_rows(con, "raw.t", files)


def test_a_column_missing_from_one_file_is_stored(tmp_path, con):
    files = [
        _write(tmp_path / "a.parquet", {"flag": ["0", "0"], "row": [1, 2]}),
        _write(tmp_path / "b.parquet", {"row": [3, 4]}),  # read by name: flag is null in its rows
    ]
    assert raw_tables.create_raw_table(con, "raw.t", files) == {}
    assert _same_rows(con, "raw.t", files)
    assert con.execute("select count(flag) from raw.t").fetchone() == (2,)


def test_a_column_of_numbers_in_one_file_and_text_in_another_is_stored(tmp_path, con):
    files = [
        _write(tmp_path / "a.parquet", {"code": [0.1, 0.1], "row": [1, 2]}),
        _write(tmp_path / "b.parquet", {"code": ["0.1", "0.1"], "row": [3, 4]}),
    ]
    assert raw_tables.columns(con, files)[0] == ("code", "VARCHAR")
    assert raw_tables.create_raw_table(con, "raw.t", files) == {}
    assert _same_rows(con, "raw.t", files)


def test_an_empty_table_has_no_constants_to_read(con):
    con.execute("create table raw.e (flag varchar generated always as ('0') virtual, row bigint)")
    assert raw_tables.generated_constants(con, "memory.raw.e") is None
    con.execute("create table raw.plain (row bigint)")
    assert raw_tables.generated_constants(con, "memory.raw.plain") == {}


@pytest.mark.parametrize(
    "value", ["a\x00b", "line\nbreak", "--not a comment", "$$dollar$$", "é\u2028\\n", "';drop table x;--"]
)
def test_a_value_stored_once_reads_back_as_written(tmp_path, con, value):
    """The value goes into the table's definition as a SQL literal: whatever it holds, it reads back the same."""
    files = [_write(tmp_path / "a.parquet", {"flag": [value] * 3, "row": [1, 2, 3]})]
    assert raw_tables.create_raw_table(con, "raw.t", files) == {"flag": value}
    assert con.execute("select distinct flag from raw.t").fetchall() == [(value,)]
    assert _same_rows(con, "raw.t", files)


def test_numbers_and_booleans_with_one_value_are_generated_and_read_back_unchanged(tmp_path, con):
    """A file of one year and no second partner: its integer and boolean columns of one value are stored once,
    typed as the lake files type them; the columns whose values differ are stored per row."""
    rows = 5
    table = pa.table(
        {
            "year": pa.array([2023] * rows, pa.int64()),
            "level": pa.array([6] * rows, pa.int32()),
            "small": pa.array([-3] * rows, pa.int8()),
            "big": pa.array([2**63 - 1] * rows, pa.int64()),
            "unsigned": pa.array([2**64 - 1] * rows, pa.uint64()),
            "is_leaf": pa.array([True] * rows),
            "is_other": pa.array([False] * rows),
            "empty": pa.array([None] * rows, pa.int64()),
            "partner": pa.array([4, 8, 4, 8, 4], pa.int64()),
            "row": pa.array(range(rows), pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=2)
    files = [str(tmp_path / "a.parquet")]
    declared = raw_tables.create_raw_table(con, "raw.t", files)
    assert declared == {
        "year": "2023", "level": "6", "small": "-3", "big": str(2**63 - 1), "unsigned": str(2**64 - 1),
        "is_leaf": "true", "is_other": "false", "empty": None,
    }  # fmt: skip
    assert _generated(con, "t") == set(declared)
    assert raw_tables.columns(con, files) == [tuple(r[:2]) for r in con.execute("describe raw.t").fetchall()]
    assert _same_rows(con, "raw.t", files)
    assert con.execute("select year + 1, level * 2, is_leaf and not is_other from raw.t limit 1").fetchone() == (
        2024, 12, True
    )
    assert raw_tables.generated_constants(con, "memory.raw.t") == declared


@pytest.mark.parametrize(
    "arrays",
    [
        [pa.array([0.1] * 4), pa.array([0.1] * 4)],  # a float: its statistic is not proof of its text
        [pa.array([-0.0] * 4), pa.array([-0.0] * 4)],
        [pa.array([1, 1, 1, 1], pa.int32()), pa.array([1, 1, 1, 1], pa.int64())],  # two Parquet types
        [pa.array([1, 1, 1, 1], pa.int64()), pa.array([1, 1, 2, 2], pa.int64())],  # two values
        [pa.array([1, 1, 1, 1], pa.int64()), pa.array([1, 1, None, 1], pa.int64())],  # a null
        [pa.array([19000] * 4, pa.date32()), pa.array([19000] * 4, pa.date32())],  # a date
        [pa.array(["1.5"] * 4).cast(pa.decimal128(4, 1))] * 2,  # a decimal
    ],
    ids=["float", "negative zero", "int32 and int64", "two values", "a null", "date", "decimal"],
)
def test_a_number_the_statistics_do_not_prove_is_stored(tmp_path, con, arrays):
    files = []
    for i, array in enumerate(arrays):
        pq.write_table(pa.table({"x": array, "row": pa.array(range(4))}), tmp_path / f"{i}.parquet", row_group_size=2)
        files.append(str(tmp_path / f"{i}.parquet"))
    assert raw_tables.create_raw_table(con, "raw.t", files) == {}
    assert _generated(con, "t") == set()
    assert _same_rows(con, "raw.t", files)
