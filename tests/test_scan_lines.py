"""The line scan that lets a columnar reader number records exactly (``csvtext.scan_lines``), against the way it
was written before its buffers were reused: the same answer and the same progress, chunk by chunk, on any bytes."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from warehouse.parse import csvtext
from warehouse.parse.csvtext import (
    _BLANK_LINE,
    _BLANK_STARTS,
    LineScan,
    _quoting_is_strict,
    _simply_quoted,
    _valid_utf8,
    scan_lines,
)


def reference_scan(
    path: Path,
    chunk_size: int,
    *,
    min_line_length: int = 0,
    progress: Callable[[int, bool], bool] | None = None,
) -> LineScan:
    """``scan_lines`` as it was before its buffers were reused (0b701575^): one new object per chunk and step."""
    carry, plain, checked = b"", True, 0
    no = LineScan(one_record_per_line=False, plain_ascii=False)
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(chunk_size)
            data = carry + chunk
            if not chunk:
                lines = data  # the last line, without a newline at the end
            else:
                cut = data.rfind(b"\n") + 1
                lines, carry = data[:cut], data[cut:]
            if not lines:
                if not chunk:
                    return LineScan(one_record_per_line=True, plain_ascii=plain)
                continue
            if not chunk and not lines.strip(b" \t\r"):
                return no  # a last line of only blanks: the record reader drops it
            buffer = np.frombuffer(lines, dtype=np.uint8)
            newlines = np.flatnonzero(buffer == 0x0A)
            lengths = np.diff(newlines, prepend=-1) - 1
            if not chunk and newlines[-1:].tolist() != [len(buffer) - 1]:
                lengths = np.append(lengths, len(buffer) - 1 - (newlines[-1] if len(newlines) else -1))
            if lengths.max() > csv.field_size_limit():
                return no  # a line longer than the record reader's field limit: let it refuse the field
            if lengths.min() < min_line_length:
                return no
            line_starts = buffer[newlines[newlines < len(buffer) - 1] + 1]
            # a line starting with a blank may be blank: look closer
            blank_like = lines[0] in _BLANK_STARTS or np.isin(line_starts, _BLANK_STARTS).any()
            if blank_like and _BLANK_LINE.search(lines):
                return no
            if b"\r" in lines and lines.count(b"\r") != lines.count(b"\r\n"):
                return no
            if not lines.isascii():
                plain = False
                try:
                    lines.decode("utf-8")
                except UnicodeDecodeError:
                    return no
            elif plain and ((buffer >= 0x1C) & (buffer <= 0x1F)).any():
                plain = False
            if b'"' in lines:
                quotes = np.flatnonzero(buffer == 0x22)
                # quotes pair up in order; a line holds an even number of them iff no pair straddles a newline
                if len(quotes) % 2:
                    return no
                opens, closes = quotes[::2], quotes[1::2]
                if (np.searchsorted(newlines, opens) != np.searchsorted(newlines, closes)).any():
                    return no
                if not _simply_quoted(buffer, opens, closes) and not _quoting_is_strict(lines, quotes.tolist()):
                    return no
            if not chunk:
                return LineScan(one_record_per_line=True, plain_ascii=plain)
            checked += len(newlines)
            if progress is not None and not progress(checked, plain):
                return no


TOKENS = [
    b"a", b"1", b"xyz", b",", b",,", b'"', b'""', b'"q,r"', b"\n", b"\r\n", b"\r", b" ", b"\t", b"\x1c", b"\x1f",
    "é".encode(), "٣".encode(), "\U0001f600".encode(), b"\xe9", b"\xc3", b"\xa9", b"\xed\xa0\x80", b"\xc0\xaf",
    b"\xf0\x9f", b"\x80", b"a" * 40,
]


def _both(path: Path, chunk_size: int, min_line_length: int, stop_after: int | None) -> tuple[object, object]:
    def recorder(calls: list) -> Callable[[int, bool], bool]:
        def progress(lines: int, plain: bool) -> bool:
            calls.append((lines, plain))
            return stop_after is None or len(calls) < stop_after

        return progress

    new_calls, old_calls = [], []
    new = scan_lines(path, chunk_size, min_line_length=min_line_length, progress=recorder(new_calls))
    old = reference_scan(path, chunk_size, min_line_length=min_line_length, progress=recorder(old_calls))
    return (new, new_calls), (old, old_calls)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(st.sampled_from(TOKENS), max_size=60),
    chunk_size=st.integers(1, 48),
    min_line_length=st.integers(0, 4),
    stop_after=st.none() | st.integers(1, 3),
)
@example(parts=[b"a,b\n", b"\xc3", b"\n", b"\xa9\n"], chunk_size=4, min_line_length=0, stop_after=None)
@example(parts=[b"a" * 40, b"\n", b"b" * 40], chunk_size=3, min_line_length=0, stop_after=None)
def test_the_scan_says_what_it_said_before_on_any_bytes(
    tmp_path: Path, parts: list[bytes], chunk_size: int, min_line_length: int, stop_after: int | None
) -> None:
    """Any bytes (quotes, blank lines, lone carriage returns, control characters, valid and broken UTF-8 split
    across chunks and lines), any chunk size and minimum length: the same answer, and the progress reported
    after the same chunks with the same line counts, including when the caller stops it."""
    path = tmp_path / "f.csv"
    path.write_bytes(b"".join(parts))
    new, old = _both(path, chunk_size, min_line_length, stop_after)
    assert new == old


@pytest.mark.parametrize("chunk_size", [1, 5, 64, csvtext.SCAN_CHUNK])
def test_lines_longer_than_the_field_limit_or_the_buffer(tmp_path: Path, chunk_size: int) -> None:
    """A line longer than the record reader's field limit is refused, wherever the chunks cut it; a line longer
    than a chunk and within the limit grows the buffer and is read as before."""
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(50)
        for text in [b"a,b\n" + b"x" * 51 + b"\n1,2\n", b"a,b\n" + b"x" * 50 + b"\n1,2\n", b"x" * 49, b"y" * 60]:
            path = tmp_path / "long.csv"
            path.write_bytes(text)
            new, old = _both(path, chunk_size, 0, None)
            assert new == old
    finally:
        csv.field_size_limit(limit)
    path = tmp_path / "wide.csv"
    path.write_bytes(b"h\n" + b"v" * 1000 + b"\n" + b"w" * 3000)
    new, old = _both(path, 7, 0, None)
    assert new == old
    assert new[0] == LineScan(one_record_per_line=True, plain_ascii=True)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        (b"plain", True),
        ("Côte d'Ivoire, Curaçao".encode(), True),
        ("é".encode() + b"," + "٣".encode(), True),
        (b"\xe9", False),  # Latin-1
        (b"\xc3,\xa9", False),  # a character cut by an ASCII byte: the two runs are checked apart
        (b"\xc0\xaf", False),  # overlong
        (b"\xed\xa0\x80", False),  # a surrogate
        (b"ok \xf0\x9f\x98", False),  # cut at the end
        ("\U0001f600".encode() * 3, True),
    ],
)
def test_utf8_is_checked_on_the_non_ascii_bytes_alone(text: bytes, valid: bool) -> None:
    buffer = np.frombuffer(text, dtype=np.uint8)
    high = np.flatnonzero(buffer >= 0x80)
    assert _valid_utf8(buffer, high) is valid
    try:
        text.decode("utf-8")
        decodes = True
    except UnicodeDecodeError:
        decodes = False
    assert decodes is valid


def test_the_benchmark_layout_scans_as_before(tmp_path: Path) -> None:
    """A Comtrade file of the benchmark's generator (non-ASCII names, quoted cells), 16 MiB and small chunks."""
    from benchmarks.generate import generate

    path = tmp_path / "comtrade.csv"
    generate(20_000, path)
    header = path.open("rb").readline().count(b",")
    for chunk_size in (csvtext.SCAN_CHUNK, 65_536, 1_000):
        new, old = _both(path, chunk_size, header, None)
        assert new == old
    assert new[0].one_record_per_line
