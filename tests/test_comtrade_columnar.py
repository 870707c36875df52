"""The columnar reader of big Comtrade CSV files (``batches_comtrade``) against the record reader (``parse_comtrade``).

The record reader is the definition: for every file, the batches put together must be the same frame (rows,
values, dtypes, line numbers) or the same error. Files are the shipped seeds and fixtures, generated files,
and random edits of them that hit the reader's hard cases (quotes, blank lines, carriage returns, short lines).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from benchmarks.generate import HEADER
from warehouse.common.errors import SourceError
from warehouse.parse.base import ReadAgain
from warehouse.parse.comtrade import parse_comtrade
from warehouse.parse.comtrade_columnar import FileCommodities, _commodities, batches_comtrade
from warehouse.parse.csvtext import one_record_per_line

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "comtrade"
FILES = sorted([*FIXTURES.glob("*.csv"), *FIXTURES.glob("*.json"), *(ROOT / "seeds").glob("comtrade_*/*.csv")])


def outcome(read) -> tuple[pd.DataFrame | None, str | None]:  # noqa: ANN001 (a callable)
    try:
        return read(), None
    except SourceError as err:
        return None, str(err)


def read_ahead(path: Path, batch_rows: int, scan_chunk: int | None = None) -> pd.DataFrame:
    """What ``stage_source`` makes of the read-ahead path: the batches, or on ``ReadAgain`` a second read's."""

    def read() -> list[pd.DataFrame]:
        batches = batches_comtrade(path, source_id="t", batch_rows=batch_rows, read_ahead=True, scan_chunk=scan_chunk)
        return [b.frame for b in batches]

    try:
        frames = read()
    except ReadAgain:
        frames = read()
    return pd.concat(frames, ignore_index=True)


def both(path: Path, batch_rows: int, scan_chunk: int | None = None) -> tuple[tuple, tuple, tuple]:
    def columnar() -> pd.DataFrame:
        frames = [b.frame for b in batches_comtrade(path, source_id="t", batch_rows=batch_rows, scan_chunk=scan_chunk)]
        return pd.concat(frames, ignore_index=True)

    return (
        outcome(columnar),
        outcome(lambda: read_ahead(path, batch_rows, scan_chunk)),
        outcome(lambda: parse_comtrade(path, source_id="t").frame),
    )


def assert_same(path: Path, batch_rows: int, scan_chunk: int | None = None) -> None:
    (fast, fast_error), (ahead, ahead_error), (exact, exact_error) = both(path, batch_rows, scan_chunk)
    assert fast_error == exact_error
    assert ahead_error == exact_error
    if exact is not None:
        pd.testing.assert_frame_equal(fast, exact)
        pd.testing.assert_frame_equal(ahead, exact)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("batch_rows", [pytest.param(1, marks=pytest.mark.slow), 4, 500_000])
def test_the_columnar_reader_gives_what_the_record_reader_gives(path: Path, batch_rows: int) -> None:
    assert_same(path, batch_rows)


def test_a_big_plain_file_is_read_columnwise_in_batches(tmp_path: Path) -> None:
    """The generated benchmark file: one record per line, so it takes the columnar path, in several batches."""
    from benchmarks.generate import generate

    path = tmp_path / "gen.csv"
    generate(3000, path)
    assert one_record_per_line(path)
    batches = list(batches_comtrade(path, source_id="t", batch_rows=1000))
    assert len(batches) == 3
    assert [b.frame["file_row"].iloc[0] for b in batches] == [2, 1002, 2002]
    assert_same(path, 1000)


def spanning_late(tmp_path: Path, rows: int = 40, at: int = 30) -> Path:
    """A generated file of ``rows`` records whose record ``at`` has a quoted description over two lines."""
    from benchmarks.generate import generate

    path = tmp_path / "late.csv"
    generate(rows, path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = next(csv.reader([lines[at]]))
    cells[HEADER.index("cmdDesc")] = "Goods,\nover two lines"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    lines[at] = out.getvalue()
    path.write_text("".join(lines), encoding="utf-8")
    return path


def wider_late(tmp_path: Path, rows: int = 40, at: int = 30) -> Path:
    """A generated file of ``rows`` records whose records from ``at`` on end with a separator (an empty field past
    the header's width, which the record reader drops): every record one line, not every line the header's width."""
    from benchmarks.generate import generate

    path = tmp_path / "wider.csv"
    generate(rows, path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[at:] = [line.replace("\n", ",\n") for line in lines[at:]]
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("batch_rows", [5, 1000])
def test_a_line_wider_than_the_header_late_in_the_file_reads_as_the_record_reader_reads_it(
    tmp_path: Path, batch_rows: int
) -> None:
    """Arrow's CSV reader refuses a line wider than the header where the record reader drops the empty field past
    it: the columnar reader hands the file to the record reader (before any batch) or says to read it again (after
    some, with read-ahead), and both give the record reader's rows (found by the fuzz test below)."""
    path = wider_late(tmp_path)
    assert one_record_per_line(path)
    assert_same(path, batch_rows, scan_chunk=64)
    assert len(parse_comtrade(path, source_id="t").frame) == 40


def test_reading_ahead_hands_out_checked_lines_then_asks_to_read_again(tmp_path: Path) -> None:
    """The scan checks 64-byte chunks: the first batches are handed out before it meets the record over two
    lines; the batch holding it is not, ReadAgain says the rest is void, and a second read is exact."""
    path = spanning_late(tmp_path)
    assert not one_record_per_line(path)
    handed_out = []
    with pytest.raises(ReadAgain):
        for batch in batches_comtrade(path, source_id="t", batch_rows=5, read_ahead=True, scan_chunk=64):
            handed_out.append(batch.frame)
    assert handed_out and len(handed_out) < 6  # some batches, none holding line 31
    assert pd.concat(handed_out)["file_row"].max() < 31
    again = batches_comtrade(path, source_id="t", read_ahead=True, scan_chunk=64)
    pd.testing.assert_frame_equal(
        pd.concat([b.frame for b in again], ignore_index=True), parse_comtrade(path, source_id="t").frame
    )
    assert_same(path, 5, scan_chunk=64)


def test_reading_ahead_a_clean_file_gives_the_batches_of_the_scanned_path(tmp_path: Path) -> None:
    from benchmarks.generate import generate

    path = tmp_path / "gen.csv"
    generate(500, path)
    ahead = [b.frame for b in batches_comtrade(path, source_id="t", batch_rows=64, read_ahead=True, scan_chunk=256)]
    scanned_first = [b.frame for b in batches_comtrade(path, source_id="t", batch_rows=64, scan_chunk=256)]
    assert len(ahead) == len(scanned_first) == 8
    for a, b in zip(ahead, scanned_first, strict=True):
        pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        (b"a,b\n1,2\n", True),
        (b"a,b\n1,2", True),
        (b'a,b\n"x,y",2\n"say ""hi""",3\n', True),
        (b'a,b\n"x\ny",2\n', False),  # a record over two lines
        (b"a,b\n\n1,2\n", False),  # a blank line
        (b"a,b\n   \n1,2\n", False),  # a line of spaces
        (b"a,b\n1,2\n  ", False),  # a last line of spaces
        (b"a,b\r\n1,2\r\n", True),
        (b"a,b\r1,2\r", False),  # old Mac line ends
        (b"a,b\n\xe9,2\n", False),  # not UTF-8
        (b"a,b\n\xc3\xa9,2\n", True),
    ],
)
def test_one_record_per_line(tmp_path: Path, text: bytes, plain: bool) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(text)
    assert one_record_per_line(path, chunk_size=4) is plain
    assert one_record_per_line(path) is plain


EDITABLE = [p for p in FILES if p.suffix == ".csv" and p.stat().st_size < 20_000 and p.name != "not_utf8.csv"]
EDITS = list(',;"\n\r \t\x0b\x0c\x1c\x1f\u00a0é٣')


@st.composite
def edited(draw: st.DrawFn) -> bytes:
    """A shipped Comtrade CSV after one to four edits, each at the start, the end or inside a line."""
    text = draw(st.sampled_from(EDITABLE)).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "duplicate_line", "blank_line", "truncate"]))
        lines = text.splitlines(keepends=True)
        if kind == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(EDITS)) * draw(st.integers(1, 3)) + text[at:]
        elif kind == "delete" and text:
            at = draw(st.integers(0, len(text) - 1))
            text = text[:at] + text[at + 1 :]
        elif kind == "duplicate_line" and lines:
            at = draw(st.integers(0, len(lines) - 1))
            text = "".join([*lines[: at + 1], *lines[at:]])
        elif kind == "blank_line" and lines:
            at = draw(st.integers(0, len(lines)))
            text = "".join([*lines[:at], draw(st.sampled_from(["\n", " \n", "\r\n"])), *lines[at:]])
        elif kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
    return text.encode("utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=edited(), batch_rows=st.sampled_from([1, 3, 1000]))
def test_an_edited_file_reads_the_same_both_ways(tmp_path: Path, data: bytes, batch_rows: int) -> None:
    path = tmp_path / "edited.csv"
    path.write_bytes(data)
    assert_same(path, batch_rows, scan_chunk=512)  # the read-ahead path hands out batches before the scan ends


@pytest.mark.parametrize("tail", ['""\n', '""', '"  "\n', "x\n", "C,A\n"])
def test_a_short_line_goes_to_the_record_reader(tmp_path: Path, tail: str) -> None:
    """A line too short for the layout's width is a blank record or a field-count error: the record reader says."""
    path = tmp_path / "short.csv"
    path.write_text((FIXTURES / "plus_api.csv").read_text() + tail)
    assert_same(path, 2)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='ab,"\n\r', min_size=1, max_size=40))
def test_simple_quoting_is_strict_quoting(text: str) -> None:
    # the vectorised fast path may only say yes where the strict record reader reads every quoted line
    import numpy as np

    from warehouse.parse.csvtext import _quoting_is_strict, _simply_quoted

    data = text.encode()
    buffer = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(buffer == 0x22)
    if (
        len(quotes) == 0
        or len(quotes) % 2
        or any(data.find(b"\n", a, b) != -1 for a, b in zip(quotes[::2], quotes[1::2], strict=True))
        or data.count(b"\r") != data.count(b"\r\n")  # a lone carriage return: scan_lines refuses it first
    ):
        return
    if _simply_quoted(buffer, quotes[::2], quotes[1::2]):
        assert _quoting_is_strict(data, quotes.tolist())


def test_simple_quoting_fast_path_cases() -> None:
    import numpy as np

    from warehouse.parse.csvtext import _simply_quoted

    def simple(data: bytes) -> bool:
        buffer = np.frombuffer(data, dtype=np.uint8)
        quotes = np.flatnonzero(buffer == 0x22)
        return _simply_quoted(buffer, quotes[::2], quotes[1::2])

    assert simple(b'1,"Korea, Rep.",2\n"a",""\n')
    assert not simple(b'1,"a""b",2\n')  # an escaped quote: the record reader decides
    assert not simple(b'1,a"b",2\n')  # a quote inside an unquoted field
    assert not simple(b'1,"a"b,2\n')  # text after the closing quote


# what strips or reads differently in Python and Arrow (0x1c-0x1f, NEL, no-break space, a non-ASCII digit), and
# what numbers are made of
CELL_CHARACTERS = st.one_of(
    st.sampled_from(" \t\x1c\x1f\x85\xa0\u0663\u00e90123456789.eE+-"),
    st.characters(max_codepoint=0x7F),
    st.characters(max_codepoint=0x2FF),
)


@settings(max_examples=300, deadline=None)
@example(cells=["1", "\x1c2.5 "], start=0, drop=0)  # ASCII, yet Python strips what Arrow's ASCII strip keeps
@example(cells=["5.", ".5", "+5", "", "-0", "00012"], start=0, drop=0)  # read by Arrow's cast
@example(cells=["1-2", "3"], start=0, drop=0)  # refused by the cast: the expression reads the column
@example(cells=["1" * 31, "2"], start=0, drop=0)  # more integer digits than NUMBER takes
@example(cells=["1" * 30, "-" + "1" * 29], start=0, drop=0)
@example(cells=["1e100", "2"], start=0, drop=0)  # an exponent of three digits: not NUMBER, yet a float to Arrow
@example(cells=["inf", "nan", "1"], start=0, drop=0)
@given(
    st.lists(st.text(alphabet=CELL_CHARACTERS, max_size=6), min_size=1, max_size=8),
    st.integers(0, 3),
    st.integers(0, 3),
)
def test_plain_cells_are_those_python_and_arrow_read_alike(cells: list[str], start: int, drop: int) -> None:
    # the byte-wise check of a column (sliced, as a batch is) against its definition, and what it promises:
    # Arrow's strip and the number pattern give what str.strip and to_number give
    import math

    import pyarrow as pa

    from warehouse.parse.comtrade_columnar import _numbers, _plain, _stripped
    from warehouse.parse.csvtext import to_number

    whole = pa.array([*cells, "é", "\x1d"], type=pa.string())
    values = whole.slice(min(start, len(cells)), max(len(cells) - start - drop, 0))  # never the last two
    plain = all(c.isascii() and not any("\x1c" <= ch <= "\x1f" for ch in c) for c in values.to_pylist())
    assert _plain(values) is plain
    stripped = _stripped(pa.chunked_array([values]), plain=False)
    assert stripped.to_pylist() == [c.strip() for c in values.to_pylist()]
    numbers = _numbers(stripped, plain=False).to_pylist()
    expected = [to_number(c) for c in values.to_pylist()]
    assert [None if math.isnan(e) else e for e in expected] == numbers


TRIPLE_CELLS = st.tuples(
    st.sampled_from(["H6", "HS", "S4", "h6", "", "X\x1f"]),
    st.sampled_from(["01", "1", "8542", "854231", "TOTAL", "total", "99", "12a", "", "\x1f", "1\x1f2"]),
    st.sampled_from(["", "0", "2", "4", "6", "x", "\x1f"]),
)


@settings(max_examples=100, deadline=None)
@given(batches=st.lists(st.lists(TRIPLE_CELLS, max_size=30), min_size=1, max_size=4))
def test_a_files_commodities_are_read_as_each_batch_reads_them(batches: list[list[tuple[str, str, str]]]) -> None:
    """``FileCommodities`` (each triple read once per file, batches mapped by Arrow) gives, batch after batch, what
    ``_commodities`` gives each batch alone, whether or not a cell holds its separator."""
    commodities = FileCommodities()
    for batch in batches:
        columns = [pa.array([row[i] for row in batch], type=pa.string()) for i in range(3)]
        codes, levels = commodities(*columns)
        expected_codes, expected_levels = _commodities(*columns)
        assert codes.to_pylist() == expected_codes.to_pylist()
        assert levels.to_pylist() == expected_levels.to_pylist()
