"""Parser for curated press-release figures: one row per figure as printed, with its exact quote."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from warehouse.common.errors import SourceError
from warehouse.parse.base import ParsedFile
from warehouse.parse.csvtext import decode_text, to_number

COLUMNS = (
    "figure_id", "role", "quote", "reporter", "partner", "period", "period_type", "flow", "classification",
    "category", "measure", "unit", "value_printed", "value", "scale", "comparator", "num_measure",
    "base_reporter", "base_classification", "base_category", "base_measure", "note",
)  # fmt: skip


def print_unit(printed: str) -> float:
    """The rounding unit of a number as printed: '32.16' -> 0.01, '21.4' -> 0.1, '38' -> 1, '580' -> 10.

    Trailing zeros of a whole number are not taken as significant ('10' -> 10), the usual reading of
    rounded figures in press releases. NaN when the text is not a number.
    """
    try:
        number = Decimal(printed.strip())
    except (InvalidOperation, AttributeError):
        return math.nan
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int):
        return math.nan
    if exponent < 0:
        return float(Decimal(1).scaleb(exponent))
    digits = printed.strip().lstrip("+-").split(".")[0]
    zeros = len(digits) - len(digits.rstrip("0")) if digits.strip("0") else 0
    return float(10**zeros)


def _rows(reader: Iterator[list[str]], *, source_id: str, file: str) -> Iterator[tuple[int, list[str]]]:
    """(line a record starts on, fields); a record the csv module cannot read is a SourceError."""
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SourceError(
                f"unreadable CSV: {exc}", source_id=source_id, file=file, row=start, rule="csv_syntax"
            ) from exc
        yield start, fields
        start = reader.line_num + 1


def parse_press_release(path: Path, *, source_id: str) -> ParsedFile:
    """Read a curated figures file.

    Args:
        path: the CSV file (columns as in ``COLUMNS``, by name, in any order).
        source_id: the catalogue id, for error messages.

    Returns:
        One row per figure: the file's columns as text, ``value`` and ``scale`` as floats (NaN when the text is
        not a number), ``print_unit`` and ``file_row``.

    Raises:
        SourceError: on an empty or non-CSV file, a missing column, or a row with a wrong field count.
    """
    text = decode_text(path.read_bytes(), source_id=source_id, file=path.name)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)  # an unclosed quote is an error, not EOF
    rows = _rows(reader, source_id=source_id, file=path.name)
    header = next(rows, (0, None))[1]
    if not header:
        raise SourceError("no header line", source_id=source_id, file=path.name, rule="empty_file")
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise SourceError(
            f"columns named twice: {duplicated}", source_id=source_id, file=path.name, row=1, rule="duplicate_column"
        )
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SourceError(
            f"not a press-release figures file: missing columns {missing}; expected {list(COLUMNS)}",
            source_id=source_id,
            file=path.name,
            row=1,
            rule="unknown_layout",
        )
    records: list[dict[str, object]] = []
    for line, fields in rows:
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise SourceError(
                f"{len(fields)} fields where the header has {len(header)}",
                source_id=source_id,
                file=path.name,
                row=line,
                rule="field_count",
            )
        rec: dict[str, object] = {c: fields[header.index(c)].strip() for c in COLUMNS}
        rec["value_text"] = rec["value"]
        rec["value"] = to_number(str(rec["value"]))
        rec["scale"] = to_number(str(rec["scale"]))
        rec["print_unit"] = print_unit(str(rec["value_printed"]))
        rec["file_row"] = line
        records.append(rec)
    if not records:
        raise SourceError("a header and no figures", source_id=source_id, file=path.name, rule="no_rows")
    frame = pd.DataFrame.from_records(records, columns=[*COLUMNS, "value_text", "print_unit", "file_row"])
    for column in ("value", "scale", "print_unit"):
        frame[column] = frame[column].astype("float64")
    frame["file_row"] = frame["file_row"].astype("int64")
    return ParsedFile(frame=frame, vintage=None, layout="press_release_figures")
