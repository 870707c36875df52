"""Shared helpers to read publisher CSV text safely: bytes checks, numbers that refuse to guess, records with the
line they start on, and errors that name the source, the file, the row and the rule."""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from warehouse.common.errors import SourceError
from warehouse.common.readahead import read_in_order

# A plain decimal number, finite as a float: at most 30 digits before the point and a two-digit exponent, so
# '1e999' or a 400-digit string is text to quarantine, never an infinite value. schemas.rules uses it too.
NUMBER = r"[+-]?(\d{1,30}(\.\d*)?|\.\d+)([eE][+-]?\d{1,2})?"
_NUMBER = re.compile(f"^{NUMBER}$")


def decode_text(data: bytes, *, source_id: str, file: str) -> str:
    """Decode a CSV payload as UTF-8 (a BOM is allowed) after refusing what is not CSV text.

    Raises:
        SourceError: 'empty_file', 'gzip_not_csv', 'html_not_csv' or 'encoding'.
    """
    if not data.strip():
        raise SourceError("the file is empty", source_id=source_id, file=file, rule="empty_file")
    if data[:2] == b"\x1f\x8b":
        raise SourceError(
            "gzip bytes, not CSV text: decompress first", source_id=source_id, file=file, rule="gzip_not_csv"
        )
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        raise SourceError("an HTML/XML page, not CSV", source_id=source_id, file=file, rule="html_not_csv")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            f"bytes that are not UTF-8 at offset {exc.start} (cp1252 or latin-1?)",
            source_id=source_id,
            file=file,
            row=line,
            rule="encoding",
        ) from exc


def to_number(text: str | None) -> float:
    """A published cell as a float, or NaN when it is not a plain number.

    Thousands separators, units, 'n/a' and the like are not guessed at: they give NaN, and the caller keeps
    the text so validation quarantines the row with the value as published.
    """
    if text is None:
        return math.nan
    text = text.strip()
    return float(text) if _NUMBER.match(text) else math.nan


@dataclass(frozen=True)
class FileRef:
    """The file being read and its source, so that every error can name both.

    Attributes:
        path: the file.
        source_id: the catalogue id of the source.
    """

    path: Path
    source_id: str

    def error(self, message: str, *, rule: str, row: int | None = None) -> SourceError:
        """Build a SourceError about this file.

        Args:
            message: what is wrong; the file name is prepended.
            rule: the rule that was broken.
            row: the 1-based line number at fault, or None for the whole file.

        Returns:
            The error, ready to raise.
        """
        return SourceError(
            f"{self.path.name}: {message}", source_id=self.source_id, file=str(self.path), row=row, rule=rule
        )


@dataclass(frozen=True)
class Record:
    """One CSV record and the physical line it starts on.

    Attributes:
        line: 1-based physical line number where the record starts (a quoted field may span lines).
        cells: the record's fields, unmodified.
    """

    line: int
    cells: list[str]


def read_records(text: str, src: FileRef) -> Iterator[Record]:
    """Split CSV text into records, each with the physical line it starts on.

    Lines end at ``\\n``, ``\\r\\n`` or ``\\r``; a quoted field spanning lines makes its record span them.

    Args:
        text: the decoded file content.
        src: the file, for error messages.

    Yields:
        One Record per CSV record, blank lines included (as empty cell lists).

    Raises:
        SourceError: rule 'csv_syntax' when the csv module cannot read a record.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)  # an unclosed quote is an error, not EOF
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise src.error(f"unreadable CSV: {err}", row=start, rule="csv_syntax") from err
        yield Record(line=start, cells=cells)
        start = reader.line_num + 1


def require_rows(rows: list[Record], src: FileRef) -> None:
    """Fail when a file has a header but no data lines.

    Args:
        rows: the data records after the header, blank lines excluded.
        src: the file, for error messages.

    Raises:
        SourceError: rule 'no_rows'.
    """
    if not rows:
        raise src.error("a header but no data rows", rule="no_rows")


def check_field_count(record: Record, expected: int, src: FileRef) -> None:
    """Fail when a data record has a different number of fields than the header.

    Args:
        record: the data record.
        expected: the number of header fields.
        src: the file, for error messages.

    Raises:
        SourceError: rule 'field_count', naming the record's line.
    """
    if len(record.cells) != expected:
        raise src.error(
            f"line {record.line} has {len(record.cells)} fields, the header has {expected}",
            row=record.line,
            rule="field_count",
        )


def is_blank(cells: list[str]) -> bool:
    """Tell whether a record is a blank line.

    Args:
        cells: the record's fields.

    Returns:
        True for an empty line (no field, or a single field of whitespace).
    """
    return not cells or (len(cells) == 1 and not cells[0].strip())


def preview(cells: list[str], limit: int = 120) -> str:
    """Show the start of a record in an error message.

    Args:
        cells: the record's fields.
        limit: the most characters shown.

    Returns:
        The record, re-joined with commas, cut at ``limit`` and quoted.
    """
    joined = ",".join(cells)
    return repr(joined if len(joined) <= limit else joined[:limit] + "...")


_BLANK_LINE = re.compile(rb"(?:^|\n)[ \t]*\r?\n")


def _quoting_is_strict(lines: bytes, quotes: list[int]) -> bool:
    """Whether every line holding a quote reads under the strict record reader (no stray quote)."""
    starts = sorted({lines.rfind(b"\n", 0, q) + 1 for q in quotes})
    ends = [lines.find(b"\n", start) for start in starts]
    quoted = [lines[start : end if end != -1 else len(lines)] for start, end in zip(starts, ends, strict=True)]
    try:
        for _ in csv.reader((line.decode("utf-8") for line in quoted), strict=True):
            pass
    except csv.Error:
        return False
    return True


_FIELD_STARTS = np.array([0x2C, 0x0A], dtype=np.uint8)  # a quoted field opens after a comma or a newline
_FIELD_ENDS = np.array([0x2C, 0x0A, 0x0D], dtype=np.uint8)  # and closes before a comma or the line's end


def _simply_quoted(buffer: np.ndarray, opens: np.ndarray, closes: np.ndarray) -> bool:
    """Whether every quoted field is ``"..."`` with no quote inside, opening a field and closing it: such lines
    read under the strict record reader (the vectorised fast path of ``_quoting_is_strict``; anything else, an
    escaped quote ``""`` among them, is left to it)."""
    opened = (opens == 0) | np.isin(buffer[np.maximum(opens - 1, 0)], _FIELD_STARTS)
    after = closes + 1
    closed = (after >= len(buffer)) | np.isin(buffer[np.minimum(after, len(buffer) - 1)], _FIELD_ENDS)
    return bool(opened.all() and closed.all())


_BLANK_STARTS = np.array([0x0A, 0x0D, 0x20, 0x09], dtype=np.uint8)  # newline, carriage return, space, tab
# Measured on the 2 GB benchmark file, one process per size (a machine busier than usual), peak RSS and wall time of
# scan_lines by chunk size: 1 MiB 51 MiB 4.5 s, 2 MiB 53 MiB 3.0 s, 8 MiB 68 MiB 2.7 s, 16 MiB 85 MiB 2.8 s, 32 MiB
# 118 MiB 3.9 s. (Before the buffers were reused, each chunk's copies came from glibc's heap below 16 MiB and left
# it fragmented: 343-1,763 MiB at 1-8 MiB chunks.)
SCAN_CHUNK = 16 << 20


def one_record_per_line(path: Path, chunk_size: int = SCAN_CHUNK) -> bool:
    """Whether every record of a CSV file is one physical line of UTF-8 text (see ``scan_lines``)."""
    return scan_lines(path, chunk_size).one_record_per_line


@dataclass(frozen=True)
class LineScan:
    """What one pass over a CSV file's bytes found.

    Attributes:
        one_record_per_line: every record is one physical line of UTF-8 text.
        plain_ascii: every byte is ASCII and none is a control character Python's ``str.strip`` takes for
            whitespace but Arrow's ``ascii_trim_whitespace`` does not (0x1c-0x1f): vectorised strip and
            regular expressions then read cells exactly as Python's string methods do.
    """

    one_record_per_line: bool
    plain_ascii: bool


def scan_lines(
    path: Path,
    chunk_size: int = SCAN_CHUNK,
    *,
    min_line_length: int = 0,
    progress: Callable[[int, bool], bool] | None = None,
    pace: Callable[[int], None] | None = None,
) -> LineScan:
    """Tell, in one streaming pass over the bytes, whether every record of a CSV file is one physical line of
    UTF-8 text, and whether the text is plain ASCII.

    One record per line holds when the bytes are UTF-8, no line is blank or longer than the record reader's
    field limit, no line ends in a lone carriage return, every line holds an even number of double quotes (a
    quoted field that spans lines leaves an odd count on the line it starts on) and every line with quotes
    reads under the strict record reader. A fast columnar reader may then number record ``i`` (0-based, after
    a one-line header) as line ``i + 2``, exactly as the record-by-record reader would.

    The bytes are read into one buffer, reused (the partial line at a chunk's end moved to its front), and the
    per-byte masks into another: no chunk-sized object is made per chunk (each is a fresh mapping whose pages
    fault in), and UTF-8 is checked on the non-ASCII bytes alone (``_valid_utf8``). Measured on the benchmark's
    2 GB file, 16 MiB chunks (three passes, interleaved): 19.1 ms per chunk against 37.5 ms.

    Args:
        path: the CSV file.
        chunk_size: bytes read at a time (memory stays bounded by it).
        min_line_length: a shorter line cannot hold a record of the expected width (e.g. the header's
            number of delimiters), so the record reader must say what it is (a blank record, or an error).
        progress: called after each chunk whose lines all passed, with the number of physical lines checked so
            far (the header's included) and whether they were all plain ASCII; returning False stops the scan
            (its answer is then "no"). The checks are line by line, so those lines are one record each
            whatever the rest of the file holds.
        pace: called before each read with the bytes read so far; it may wait (``ScanAhead`` keeps the scan
            near the reader it runs ahead of).

    Returns:
        What was found; ``one_record_per_line`` False means the file must be read record by record.
    """
    no = LineScan(one_record_per_line=False, plain_ascii=False)
    limit = csv.field_size_limit()
    carried, plain, checked, consumed = 0, True, 0, 0
    with open(path, "rb", buffering=0) as fh:
        read_in_order(fh)  # ahead of the parser, over a copy the page cache may not hold whole
        # a chunk and the partial line before it; a smaller file is read in one chunk of its size (and one more
        # byte: a file that grows meanwhile is read on, a chunk at a time)
        chunk_size = min(chunk_size, os.fstat(fh.fileno()).st_size + 1)
        data = bytearray(chunk_size + min(limit, chunk_size) + 1)
        marks = np.empty(len(data), dtype=np.bool_)  # a per-byte mask, one at a time
        while True:
            if carried > limit:
                return no  # a line longer than the record reader's field limit: let it refuse the field
            if carried + chunk_size > len(data):  # a line longer than the buffer holds beside a chunk
                data = data[:carried] + bytearray(chunk_size + carried + 1)  # room for the line twice: grown rarely
                marks = np.empty(len(data), dtype=np.bool_)
            if pace is not None:
                pace(consumed)
            read = _read_into(fh, memoryview(data)[carried : carried + chunk_size])
            consumed += read
            end = carried + read
            cut = end if not read else data.rfind(b"\n", 0, end) + 1  # at the end: the last line, unfinished
            if not cut:
                if not read:
                    return LineScan(one_record_per_line=True, plain_ascii=plain)
                carried = end
                continue
            lines = memoryview(data)[:cut]
            if not read and not bytes(lines).strip(b" \t\r"):
                return no  # a last line of only blanks: the record reader drops it
            verdict = _check_lines(data, lines, marks[:cut], min_line_length, limit, plain)
            if verdict is None:
                return no
            newlines, plain = verdict
            if not read:
                return LineScan(one_record_per_line=True, plain_ascii=plain)
            checked += newlines
            if progress is not None and not progress(checked, plain):
                return no
            carried = end - cut
            data[:carried] = data[cut:end]  # the partial line to the front: same length, the buffer not resized


def _read_into(fh: io.RawIOBase, view: memoryview) -> int:
    """Fill ``view`` from ``fh`` up to its end or the file's: bytes read (0 at the end of the file)."""
    total = 0
    while total < len(view):
        n = fh.readinto(view[total:])
        if not n:
            break
        total += n
    return total


def _check_lines(
    data: bytearray, lines: memoryview, marks: np.ndarray, min_line_length: int, limit: int, plain: bool
) -> tuple[int, bool] | None:
    """``scan_lines``' checks of whole lines (``lines``, the first bytes of ``data``; the last may lack its
    newline at the file's end): (newlines, still plain ASCII), or None when a line is not one record."""
    size = len(lines)
    buffer = np.frombuffer(lines, dtype=np.uint8)
    newlines = np.flatnonzero(np.equal(buffer, 0x0A, out=marks))
    lengths = np.diff(newlines, prepend=-1) - 1
    if newlines[-1:].tolist() != [size - 1]:  # the file's last line, without a newline
        lengths = np.append(lengths, size - 1 - (newlines[-1] if len(newlines) else -1))
    if lengths.max() > limit or lengths.min() < min_line_length:
        return None
    line_starts = buffer[newlines[newlines < size - 1] + 1]
    # a line starting with a blank may be blank: look closer
    blank_like = lines[0] in _BLANK_STARTS or np.isin(line_starts, _BLANK_STARTS).any()
    if blank_like and _BLANK_LINE.search(lines):
        return None
    if data.find(b"\r", 0, size) != -1 and data.count(b"\r", 0, size) != data.count(b"\r\n", 0, size):
        return None
    if not data.isascii():  # the buffer past the lines too: when it is ASCII, so are they
        high = np.flatnonzero(np.greater_equal(buffer, 0x80, out=marks))
        if len(high):
            plain = False
            if not _valid_utf8(buffer, high):
                return None
    if plain and any(data.find(c, 0, size) != -1 for c in _UNSTRIPPED):
        plain = False
    if data.find(b'"', 0, size) != -1:
        quotes = np.flatnonzero(np.equal(buffer, 0x22, out=marks))
        # quotes pair up in order; a line holds an even number of them iff no pair straddles a newline
        if len(quotes) % 2:
            return None
        opens, closes = quotes[::2], quotes[1::2]
        if (np.searchsorted(newlines, opens) != np.searchsorted(newlines, closes)).any():
            return None
        if not _simply_quoted(buffer, opens, closes) and not _quoting_is_strict(bytes(lines), quotes.tolist()):
            return None
    return len(newlines), plain


# control characters Python's str.strip takes for whitespace and Arrow's ascii_trim_whitespace does not
_UNSTRIPPED = (b"\x1c", b"\x1d", b"\x1e", b"\x1f")


def _valid_utf8(buffer: np.ndarray, high: np.ndarray) -> bool:
    """Whether bytes are UTF-8, from their non-ASCII bytes (``high``, their positions): an ASCII byte is a
    character of its own and never part of another's sequence, so the bytes are UTF-8 iff each run of non-ASCII
    bytes between two ASCII ones is; the runs are decoded together, a newline between any two."""
    breaks = np.flatnonzero(np.diff(high) != 1) + 1
    runs = np.insert(buffer[high], breaks, 0x0A)
    try:
        runs.tobytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
