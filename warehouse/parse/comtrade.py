"""Parser for UN Comtrade trade records, in the layout families UN Comtrade has served them in.

The layout is recognised from the content (never from the file name), and every column is found by its header
name (never by position); a family's columns that only some years' files have are optional
(``warehouse.parse.comtrade_layouts``):

* ``legacy_api``: the legacy comtrade.un.org API / website CSV, human headings: the 35-column form
  (``Classification,Year,Period,Period Desc.,Aggregate Level,Is Leaf Code,Trade Flow Code,...,
  Trade Value (US$),CIF Trade Value (US$),FOB Trade Value (US$),Flag``) and the older 22-column one without
  the second partner, customs procedure and mode of transport (every row is their total: 0, 'C00', '0').
* ``legacy_api_machine``: the same API's CSV with machine-readable headings (``pfCode,yr,period,...,
  TradeValue,CIFValue,FOBValue,estCode``), and ``legacy_api_json``: its JSON response, ``{"validation":
  {...}, "dataset": [{...the same keys...}]}``.
* ``legacy_bulk``: the legacy bulk download, codes only (``Year,Reporter Code,Trade Flow Code,Partner Code,
  Classification,Commodity Code,Quantity Unit Code,Supplementary Quantity,Netweight (kg),Value,
  Estimation Code``). It has no second partner, customs procedure, mode of transport or level column.
* ``plus_api_csv``: the current API (getFinalData) as CSV, 47 columns (``typeCode,freqCode,refPeriodId,refYear,
  ...,cmdCode,...,customsCode,mosCode,motCode,...,primaryValue,legacyEstimationFlag,isReported,isAggregate``).
  Flows are letters (M, X, RX, RM).
* ``plus_api_json``: the same API's JSON response, ``{"count": N, "data": [{...the same keys...}, ...]}``.

A JSON record's ``file_row`` is its index in the list + 1; its numbers are read as their literal JSON text, so
``value_text`` is what was published. A header that matches no family is refused with the nearest family and
the columns it lacks.

Every layout comes out as one row per published record, in the columns of ``COLUMNS``. Everything is read as
text, so commodity codes keep their leading zeros ('00', '010619'); a code that lost them in a spreadsheet gets
them back where the publisher's level says so (``commodity_level``), and the code as published is kept beside it
(``commodity_code_published``). Codes are stripped ('0 ' -> '0'). A flow outside 1-4 (or a flow letter that is
not M, X, RX, RM: ``flow_code`` null), a value that is not a plain number (``value`` NaN, ``value_text`` as
published) and a code whose level nothing tells (``aggregate_level`` null) are kept for validation to
quarantine, not raised.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from warehouse.common.errors import SourceError
from warehouse.parse.base import ParsedFile
from warehouse.parse.comtrade_layouts import (
    CLASSIFICATION_VERSIONS,
    COLUMNS,
    CSV_LAYOUTS,
    DEFAULT_CUSTOMS,
    DEFAULT_MOT,
    EXPECTED_LAYOUTS,
    LAYOUTS,
    LEGACY_API_JSON,
    PLUS_API_JSON,
    PLUS_FLOWS,
    Layout,
    commodity_level,
    match_header,
    nearest_layout,
)
from warehouse.parse.csvtext import (
    FileRef,
    decode_text,
    is_blank,
    preview,
    read_records,
    to_number,
)

DEFAULT_PARTNER2 = 0  # no second partner

_INTEGER = re.compile(r"[+-]?\d{1,9}")  # codes and years; longer digit strings are no code (and overflow int64)
_TRUE = {"1", "true"}
_FALSE = {"0", "false"}


@dataclass(frozen=True)
class Record:
    """One record and where it is in the file.

    Attributes:
        line: 1-based physical line number where a CSV record starts; for JSON, the index in ``data`` + 1.
        cells: the record's fields by publisher column name, as text (JSON null is '').
    """

    line: int
    cells: Mapping[str, str]


@dataclass
class Columns:
    """Column-wise accumulator for the output frame."""

    values: dict[str, list[object]] = field(default_factory=lambda: {name: [] for name in COLUMNS})

    def add(self, row: dict[str, object]) -> None:
        """Append one output row (a value for every name of ``COLUMNS``)."""
        for name in COLUMNS:
            self.values[name].append(row[name])

    def to_frame(self) -> pd.DataFrame:
        """Build the output frame with explicit dtypes.

        Returns:
            A frame with the columns of ``COLUMNS`` in that order: codes that are numbers as nullable ``Int64``
            (null when the cell is not an integer), ``is_leaf`` nullable ``boolean``, quantities and value
            ``float64`` (NaN when empty or not a number), ``year`` and ``file_row`` ``int64``, text as ``str``.
        """
        v = self.values
        return pd.DataFrame(
            {
                "layout": pd.Series(v["layout"], dtype="str"),
                "classification": pd.Series(v["classification"], dtype="str"),
                "classification_version": pd.Series(v["classification_version"], dtype="str"),
                "year": pd.Series(v["year"], dtype="int64"),
                "period": pd.Series(v["period"], dtype="str"),
                "reporter_code": pd.Series(v["reporter_code"], dtype="Int64"),
                "partner_code": pd.Series(v["partner_code"], dtype="Int64"),
                "partner2_code": pd.Series(v["partner2_code"], dtype="Int64"),
                "flow_code": pd.Series(v["flow_code"], dtype="Int64"),
                "customs_code": pd.Series(v["customs_code"], dtype="str"),
                "mot_code": pd.Series(v["mot_code"], dtype="str"),
                "commodity_code": pd.Series(v["commodity_code"], dtype="str"),
                "commodity_code_published": pd.Series(v["commodity_code_published"], dtype="str"),
                "aggregate_level": pd.Series(v["aggregate_level"], dtype="Int64"),
                "is_leaf": pd.Series(v["is_leaf"], dtype="boolean"),
                "qty_unit_code": pd.Series(v["qty_unit_code"], dtype="str"),
                "qty": pd.Series(v["qty"], dtype="float64"),
                "netweight_kg": pd.Series(v["netweight_kg"], dtype="float64"),
                "value_text": pd.Series(v["value_text"], dtype="str"),
                "value": pd.Series(v["value"], dtype="float64"),
                "flag": pd.Series(v["flag"], dtype="str"),
                "file_row": pd.Series(v["file_row"], dtype="int64"),
            },
            columns=list(COLUMNS),
        )


def parse_comtrade(path: Path, *, source_id: str, origin: str | None = None) -> ParsedFile:
    """Parse one UN Comtrade file in any of its layout families.

    Args:
        path: the CSV or JSON file.
        source_id: the catalogue id of the source, used in error messages.
        origin: the path or URL the user gave for the file (``Payload.origin``), named in error messages
            beside ``path`` (which may be a raw-zone copy).

    Returns:
        The frame (columns ``COLUMNS``), no vintage (no Comtrade layout states its release date) and the
        layout name.

    Raises:
        SourceError: the file is empty, HTML, not UTF-8, of no known layout, or malformed; rules
            'empty_file', 'html_not_csv', 'gzip_not_csv', 'encoding' (from ``decode_text``), 'unknown_layout',
            'missing_column', 'duplicate_column', 'no_rows', 'csv_syntax', 'field_count', 'json_syntax',
            'row_count', 'field_too_large', 'year_not_integer'.
    """
    src = FileRef(Path(path), source_id)
    try:
        text = decode_text(src.path.read_bytes(), source_id=source_id, file=str(src.path))
        if text.lstrip().startswith(("{", "[")):
            layout, records = json_records(text, src)
        else:
            layout, records = csv_layout_records(text, src)
        out = Columns()
        for record in records:
            out.add(to_row(layout, record, src))
    except SourceError as err:
        raise with_origin(err, origin) from err.__cause__
    return ParsedFile(frame=out.to_frame(), vintage=None, layout=layout.name)


def with_origin(err: SourceError, origin: str | None) -> SourceError:
    """The error naming the file as the user gave it (``Payload.origin``), and the copy that was read.

    Args:
        err: the error about the file read.
        origin: the user's path or URL, or None.

    Returns:
        ``err`` itself when there is no origin or it is the file read; else the same error with ``file`` the
        origin and the copy named in the message.
    """
    if not origin or origin == err.file:
        return err
    return SourceError(
        f"{err.detail} (read from the copy {err.file})", source_id=err.source_id, file=origin, row=err.row,
        rule=err.rule,
    )  # fmt: skip


# --- reading the records ---------------------------------------------------------------------------------------


def header_layout(header: list[str], src: FileRef, *, row: int) -> Layout:
    """The layout family a CSV header names, every column of it found by name.

    Args:
        header: the header's column names, stripped.
        src: the file, for error messages.
        row: the header's line.

    Returns:
        The layout.

    Raises:
        SourceError: rule 'duplicate_column' (a column named twice), 'missing_column' (the header holds a
            layout's telling value column but lacks others: they are named), 'unknown_layout' (naming the
            nearest layout and the columns it lacks, and every layout).
    """
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise src.error(f"columns named twice: {duplicated}", row=row, rule="duplicate_column")
    layout = match_header(header)
    if layout is not None:
        return layout
    signed = [layout for layout in CSV_LAYOUTS if layout.signature in header]
    nearest, missing = nearest_layout(header, signed or CSV_LAYOUTS)
    if signed:
        raise src.error(
            f"looks like {nearest.name} ({nearest.title}) but has no column {', '.join(map(repr, missing))}",
            row=row,
            rule="missing_column",
        )
    nearest_text = (
        f"the nearest is {nearest.name} ({nearest.title}), which lacks {', '.join(map(repr, missing))}"
        if len(missing) < len(nearest.required)
        else "it holds no column of any layout"
    )
    raise src.error(
        f"the header matches no UN Comtrade layout; {nearest_text}{delimiter_hint(header)}; "
        f"expected one of: {EXPECTED_LAYOUTS}; got {preview(header)}",
        row=row,
        rule="unknown_layout",
    )


def delimiter_hint(header: list[str]) -> str:
    """A hint when the header is one field holding another delimiter (';' or a tab): '' otherwise."""
    if len(header) == 1:
        for name, delimiter in (("';'", ";"), ("a tab", "\t"), ("'|'", "|")):
            if delimiter in header[0]:
                return f" (the header is one field holding {name}: UN Comtrade's CSV files are comma-delimited)"
    return ""


def csv_layout_records(text: str, src: FileRef) -> tuple[Layout, list[Record]]:
    """Recognise a CSV layout from its header and read its data records.

    Args:
        text: the decoded file content.
        src: the file, for error messages.

    Returns:
        The layout and the data records (blank lines dropped), each keyed by header name.

    Raises:
        SourceError: rules 'empty_file', 'unknown_layout', 'missing_column', 'duplicate_column', 'no_rows',
            'csv_syntax', 'field_count'.
    """
    rows = [
        (line, cells) for line, cells in ((r.line, r.cells) for r in read_records(text, src)) if not is_blank(cells)
    ]
    if not rows:
        raise src.error("the file holds only blank lines", rule="empty_file")
    header_line, header_cells = rows[0]
    header = [cell.strip() for cell in header_cells]
    layout = header_layout(header, src, row=header_line)
    if len(rows) == 1:
        raise src.error("a header but no data rows", rule="no_rows")
    records = []
    for line, cells in rows[1:]:
        if len(cells) == len(header) + 1 and cells[-1] == "":
            cells = cells[:-1]  # a separator after the last field, as Comtrade+ CSV files end their data rows
        if len(cells) != len(header):
            raise src.error(
                f"line {line} has {len(cells)} fields, the header has {len(header)}", row=line, rule="field_count"
            )
        records.append(Record(line=line, cells=dict(zip(header, cells, strict=True))))
    return layout, records


# The JSON responses: the key holding the records -> the layout, and where the response states their number
JSON_LAYOUTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "data": (PLUS_API_JSON, ("count",)),
    "dataset": (LEGACY_API_JSON, ("validation", "count", "value")),
}


def json_records(text: str, src: FileRef) -> tuple[Layout, list[Record]]:
    """Read an API's JSON response: the current API's ``{"count": N, "data": [{...}, ...]}`` or the legacy
    API's ``{"validation": {"count": {"value": N, ...}, ...}, "dataset": [{...}, ...]}``.

    Numbers are kept as their literal JSON text; null is ''; true/false are 'True'/'False' (as in the CSV).

    Args:
        text: the decoded file content.
        src: the file, for error messages.

    Returns:
        The layout, and one record per element of the list, numbered from 1.

    Raises:
        SourceError: rules 'json_syntax', 'unknown_layout', 'no_rows', 'row_count', 'missing_column',
            'field_too_large'.
    """
    try:
        document = json.loads(text, parse_float=str, parse_int=str)
    except json.JSONDecodeError as err:
        raise src.error(f"not valid JSON: {err}", row=None, rule="json_syntax") from err
    key = next((k for k in JSON_LAYOUTS if isinstance(document, dict) and isinstance(document.get(k), list)), None)
    if key is None:
        keys = sorted(document)[:8] if isinstance(document, dict) else type(document).__name__
        raise src.error(
            f"JSON that is not a Comtrade API response (keys {keys}); expected one of: {EXPECTED_LAYOUTS}",
            rule="unknown_layout",
        )
    name, count_path = JSON_LAYOUTS[key]
    layout, data = LAYOUTS[name], document[key]
    if not data:
        raise src.error("a JSON response with no data records", rule="no_rows")
    count: object = document
    for step in count_path:
        count = count.get(step) if isinstance(count, dict) else None
    if isinstance(count, str) and _INTEGER.fullmatch(count) and int(count) != len(data):
        raise src.error(f"{'.'.join(count_path)!r} is {count} but {key!r} holds {len(data)} records", rule="row_count")
    records = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise src.error(f"data record {index + 1} is not a JSON object", row=index + 1, rule="json_syntax")
        cells = {str(k): json_text(value) for k, value in item.items()}
        oversized = [k for k, value in cells.items() if len(value) > csv.field_size_limit()]
        if oversized:  # the same limit the CSV layouts have: no publisher field is that long
            raise src.error(
                f"field(s) {oversized} longer than {csv.field_size_limit()} characters",
                row=index + 1,
                rule="field_too_large",
            )
        missing = layout.missing(list(cells))
        if missing:
            raise src.error(
                f"looks like {layout.name} ({layout.title}) but has no column {', '.join(map(repr, missing))}",
                row=index + 1,
                rule="missing_column",
            )
        records.append(Record(line=index + 1, cells=cells))
    return layout, records


def json_text(value: object) -> str:
    """A JSON value as the text a CSV cell would hold.

    Args:
        value: a value from ``json.loads`` with numbers parsed as strings.

    Returns:
        '' for null, 'True'/'False' for booleans, the text itself for strings and numbers, compact JSON for
        arrays and objects.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


# --- one record to one row -------------------------------------------------------------------------------------


def to_row(layout: Layout, record: Record, src: FileRef) -> dict[str, object]:
    """Map one record to the output columns.

    Args:
        layout: the layout of the file.
        record: the record, keyed by publisher column name.
        src: the file, for error messages.

    Returns:
        A value for every name of ``COLUMNS``.

    Raises:
        SourceError: rule 'year_not_integer'.
    """
    columns = layout.columns(list(record.cells))

    def cell(name: str) -> str:
        column = columns.get(name)
        return record.cells[column].strip() if column is not None else ""

    year_text = cell("year")
    if not _INTEGER.fullmatch(year_text):
        raise src.error(f"year {year_text!r} is not an integer", row=record.line, rule="year_not_integer")
    classification = cell("classification")
    published_code = cell("commodity_code")
    commodity_code, level = commodity_level(classification, published_code, cell("aggregate_level"))
    value_text = cell("value")
    return {
        "layout": layout.name,
        "classification": classification,
        "classification_version": CLASSIFICATION_VERSIONS.get(classification.upper(), ""),
        "year": int(year_text),
        "period": cell("period") or year_text,
        "reporter_code": to_int(cell("reporter_code")),
        "partner_code": to_int(cell("partner_code")),
        "partner2_code": to_int(cell("partner2_code") or str(DEFAULT_PARTNER2)),
        "flow_code": flow_code(cell("flow_code")),
        "customs_code": cell("customs_code") or DEFAULT_CUSTOMS,
        "mot_code": cell("mot_code") or DEFAULT_MOT,
        "commodity_code": commodity_code,
        "commodity_code_published": published_code,
        "aggregate_level": level,
        "is_leaf": to_bool(cell("is_leaf")),
        "qty_unit_code": cell("qty_unit_code"),
        "qty": to_number(cell("qty")),
        "netweight_kg": to_number(cell("netweight_kg")),
        "value_text": value_text,
        "value": to_number(value_text),
        "flag": cell("flag"),
        "file_row": record.line,
    }


def to_int(text: str) -> int | None:
    """A code as an integer, or None when the cell is empty or not an integer (validation quarantines it)."""
    return int(text) if _INTEGER.fullmatch(text) else None


def flow_code(text: str) -> int | None:
    """The trade flow as the legacy code: 1 import, 2 export, 3 re-export, 4 re-import.

    Args:
        text: the published flow, a legacy code ('1') or a current API letter ('M', 'X', 'RX', 'RM').

    Returns:
        The code as published when it is an integer (even outside 1-4: validation quarantines it), the code of
        a known letter, or None for anything else.
    """
    if text.upper() in PLUS_FLOWS:
        return PLUS_FLOWS[text.upper()]
    return to_int(text)


def to_bool(text: str) -> bool | None:
    """A published flag ('1'/'0', 'True'/'False') as a boolean, or None when empty or anything else."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


# --- the columnar path: big CSV files in batches ---------------------------------------------------------------
