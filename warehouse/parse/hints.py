"""Hints for the usual mistakes in a file a person saved: read from its first kilobytes when it was refused.

A file that went through a spreadsheet or a locale's CSV export often differs from the publisher's in a way the
parsers do not guess at (they refuse it, naming the rule): a ``;`` delimiter, a decimal comma, thousands
separators, an encoding other than UTF-8, or a title above the header row. ``file_hints`` names what it sees, so
the message says how to fix the file, not only that its layout is unknown.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

HEAD_BYTES = 64 * 1024  # the first KBs are enough to see the delimiter, the numbers and the header
MAX_LINES = 40

DELIMITERS = {",": "','", ";": "';'", "\t": "a tab", "|": "'|'"}
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")  # 12,5 (a ';' or tab file's decimal comma)
# 1,234,567 / 1.234.567 / 1 234 567 (two groups at least), or 1.234,5 / 1,234.5 (the other mark for decimals): one
# group alone (1.234) may as well be a decimal
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:([,. \u00a0'])\d{3})(?:(?:\1\d{3})+(?:(?!\1)[.,]\d+)?|(?!\1)[.,]\d+)$")
_NUMBERISH = re.compile(r"^[+-]?[\d.,' \u00a0]+(?:[eE][+-]?\d+)?$")


def _decode(data: bytes) -> tuple[str, str | None]:
    """The head as text and, when it is not UTF-8, a hint naming the encoding it looks like."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), (
            "the file is UTF-16 (it starts with a UTF-16 byte order mark): save it as UTF-8 (CSV UTF-8)"
        )
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3:  # a character cut by the end of the head, not a wrong encoding
            return data[: exc.start].decode("utf-8-sig", errors="replace"), None
        line = data[: exc.start].count(b"\n") + 1
        text = data.decode("cp1252", errors="replace")
        snippet = " ".join(text[max(exc.start - 12, 0) : exc.start + 8].split())
        return text, (
            f"the file is not UTF-8: byte 0x{data[exc.start]:02X} on line {line} ('{snippet}' read as cp1252/"
            "latin-1); save it as UTF-8 (in a spreadsheet: CSV UTF-8), or re-encode it: "
            "iconv -f cp1252 -t utf-8 FILE > FILE.utf8.csv"
        )


def _delimiter(lines: list[str]) -> str:
    """The character that splits the lines most evenly into the most fields."""
    best, best_score = ",", 0.0
    for candidate in DELIMITERS:
        counts = [line.count(candidate) for line in lines if line.strip()]
        if not counts:
            continue
        common, times = Counter(counts).most_common(1)[0]
        score = common * times / len(counts)
        if common and score > best_score:
            best, best_score = candidate, score
    return best


def _rows(lines: list[str], delimiter: str) -> list[list[str]]:
    try:
        return [[cell.strip() for cell in row] for row in csv.reader(lines, delimiter=delimiter)]
    except csv.Error:
        return [[cell.strip() for cell in line.split(delimiter)] for line in lines]


def _number_hints(rows: list[list[str]], delimiter: str) -> list[str]:
    hints = []
    cells = [cell for row in rows[1:] for cell in row if cell]
    decimal_comma = [c for c in cells if delimiter != "," and _DECIMAL_COMMA.match(c)]
    thousands = [c for c in cells if _THOUSANDS.match(c) and not (delimiter != "," and _DECIMAL_COMMA.match(c))]
    if decimal_comma:
        hints.append(
            f"numbers are written with a decimal comma (e.g. '{decimal_comma[0]}'): the publisher's files use a "
            "decimal point (12.5)"
        )
    if thousands:
        hints.append(
            f"numbers carry thousands separators (e.g. '{thousands[0]}'): the publisher's files print plain digits "
            "(1234567.5); export the numbers without separators"
        )
    return hints


def _header_line(rows: list[list[str]]) -> int | None:
    """The 1-based line of the header when it is not the first line: the first row with as many fields as most
    rows have and no number in it, after a first row that has fewer."""
    widths = [len([c for c in row if c]) for row in rows]
    filled = [w for w in widths if w > 1]
    if not filled or len(rows) < 3:
        return None
    usual = Counter(filled).most_common(1)[0][0]
    if widths[0] >= usual:
        return None
    for number, row in enumerate(rows, start=1):
        cells = [c for c in row if c]
        if len(cells) >= usual and not any(_NUMBERISH.match(c) for c in cells[: max(usual - 1, 1)]):
            return number if number > 1 else None
    return None


def file_hints(path: Path, head_bytes: int = HEAD_BYTES) -> list[str]:
    """What looks like a usual mistake in a text file, from its first ``head_bytes``; [] when nothing does.

    Args:
        path: the file (a raw payload).
        head_bytes: how much of it to read.

    Returns:
        One sentence per hint: a ';' or tab delimiter, a decimal comma, thousands separators, an encoding that is
        not UTF-8, a header row that is not on the first line.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(head_bytes)
    except OSError:
        return []
    if not data.strip() or data.lstrip()[:1] in (b"{", b"[", b"<"):
        return []  # empty, JSON or markup: the parser's own message says it
    text, encoding_hint = _decode(data)
    hints = [encoding_hint] if encoding_hint else []
    lines = text.splitlines()
    if len(data) == head_bytes and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut by the end of the head
    lines = lines[:MAX_LINES]
    delimiter = _delimiter(lines)
    if delimiter != ",":
        hints.append(
            f"the fields are separated by {DELIMITERS[delimiter]}, not by commas: save the file as CSV with a comma "
            "delimiter (the publisher's layout)"
        )
    rows = _rows(lines, delimiter)
    header = _header_line(rows)
    if header:
        shown = delimiter.join(rows[0])[:60]
        hints.append(
            f"the header row seems to be line {header}, not line 1 (line 1 is '{shown}'): remove the lines above "
            "the header"
        )
    hints += _number_hints(rows[(header or 1) - 1 :], delimiter)
    return hints


def hint_text(path: Path) -> str:
    """``file_hints`` as one clause to append to an error message ('' when there is none)."""
    hints = file_hints(path)
    return f" Hint: {'; '.join(hints)}." if hints else ""
