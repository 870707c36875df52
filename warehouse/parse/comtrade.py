"""Parser for UN Comtrade trade records, in the four layouts UN Comtrade has served them in.

The layout is recognised from the content (never from the file name), and every column is found by its header
name (never by position):

* ``legacy_api``: the legacy comtrade.un.org API / website CSV, 35 columns (``Classification,Year,Period,
  Period Desc.,Aggregate Level,Is Leaf Code,Trade Flow Code,...,Trade Value (US$),CIF Trade Value (US$),
  FOB Trade Value (US$),Flag``). Recognised by its ``Trade Value (US$)`` column.
* ``legacy_bulk``: the legacy bulk download, codes only (``Year,Reporter Code,Trade Flow Code,Partner Code,
  Classification,Commodity Code,Quantity Unit Code,Supplementary Quantity,Netweight (kg),Value,
  Estimation Code``). Recognised by its ``Estimation Code`` column. It has no second partner, customs procedure
  or mode of transport: those are the totals (0, 'C00', '0').
* ``plus_api_csv``: the current API (getFinalData) as CSV, 47 columns (``typeCode,freqCode,refPeriodId,refYear,
  ...,cmdCode,...,customsCode,mosCode,motCode,...,primaryValue,legacyEstimationFlag,isReported,isAggregate``).
  Recognised by its ``primaryValue`` column. Flows are letters (M, X, RX, RM).
* ``plus_api_json``: the same API's JSON response, ``{"count": N, "data": [{...the same keys...}, ...]}``;
  a record's ``file_row`` is its index in ``data`` + 1. Numbers are read as the literal text of the JSON, so
  ``value_text`` is what was published.

Every layout comes out as one row per published record, in the columns of ``COLUMNS``. Everything is read as
text, so commodity codes keep their leading zeros ('00', '010619'). Codes are stripped ('0 ' -> '0'). A flow
outside 1-4 (or a flow letter that is not M, X, RX, RM: ``flow_code`` null) and a value that is not a plain
number (``value`` NaN, ``value_text`` as published) are kept for validation to quarantine, not raised.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from warehouse.parse.base import ParsedFile
from warehouse.parse.comtrade_layouts import (
    CLASSIFICATION_VERSIONS,
    COLUMNS,
    DEFAULT_CUSTOMS,
    DEFAULT_MOT,
    EXPECTED_LAYOUTS,
    LAYOUT_COLUMNS,
    LEGACY_BULK,
    LEGACY_BULK_OPTIONAL,
    PLUS_API_JSON,
    PLUS_FLOWS,
    SIGNATURES,
    TOTAL_CODE,
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


def parse_comtrade(path: Path, *, source_id: str) -> ParsedFile:
    """Parse one UN Comtrade file in any of the four layouts.

    Args:
        path: the CSV or JSON file.
        source_id: the catalogue id of the source, used in error messages.

    Returns:
        The frame (columns ``COLUMNS``), no vintage (no Comtrade layout states its release date) and the
        layout name.

    Raises:
        SourceError: the file is empty, HTML, not UTF-8, of no known layout, or malformed; rules
            'empty_file', 'html_not_csv', 'gzip_not_csv', 'encoding' (from ``decode_text``), 'unknown_layout',
            'missing_column', 'no_rows', 'csv_syntax', 'field_count', 'json_syntax', 'row_count',
            'year_not_integer'.
    """
    src = FileRef(Path(path), source_id)
    text = decode_text(src.path.read_bytes(), source_id=source_id, file=str(src.path))
    if text.lstrip().startswith(("{", "[")):
        layout, records = PLUS_API_JSON, json_records(text, src)
    else:
        layout, records = csv_layout_records(text, src)
    out = Columns()
    for record in records:
        out.add(to_row(layout, record, src))
    return ParsedFile(frame=out.to_frame(), vintage=None, layout=layout)


# --- reading the records ---------------------------------------------------------------------------------------


def csv_layout_records(text: str, src: FileRef) -> tuple[str, list[Record]]:
    """Recognise a CSV layout from its header and read its data records.

    Args:
        text: the decoded file content.
        src: the file, for error messages.

    Returns:
        The layout name and the data records (blank lines dropped), each keyed by header name.

    Raises:
        SourceError: rules 'empty_file', 'unknown_layout', 'missing_column', 'no_rows', 'csv_syntax',
            'field_count'.
    """
    rows = [
        (line, cells) for line, cells in ((r.line, r.cells) for r in read_records(text, src)) if not is_blank(cells)
    ]
    if not rows:
        raise src.error("the file holds only blank lines", rule="empty_file")
    header_line, header_cells = rows[0]
    header = [cell.strip() for cell in header_cells]
    layout = next((name for name, column in SIGNATURES if column in header), None)
    if layout is None:
        raise src.error(
            f"the header matches no UN Comtrade layout; expected {EXPECTED_LAYOUTS}; got {preview(header_cells)}",
            row=header_line,
            rule="unknown_layout",
        )
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise src.error(f"columns named twice: {duplicated}", row=header_line, rule="duplicate_column")
    require_columns(layout, header, src, row=header_line)
    if len(rows) == 1:
        raise src.error("a header but no data rows", rule="no_rows")
    records = []
    for line, cells in rows[1:]:
        if len(cells) != len(header):
            raise src.error(
                f"line {line} has {len(cells)} fields, the header has {len(header)}", row=line, rule="field_count"
            )
        records.append(Record(line=line, cells=dict(zip(header, cells, strict=True))))
    return layout, records


def json_records(text: str, src: FileRef) -> list[Record]:
    """Read the current API's JSON response: ``{"count": N, "data": [{...}, ...]}``.

    Numbers are kept as their literal JSON text; null is ''; true/false are 'True'/'False' (as in the CSV).

    Args:
        text: the decoded file content.
        src: the file, for error messages.

    Returns:
        One record per element of ``data``, numbered from 1.

    Raises:
        SourceError: rules 'json_syntax', 'unknown_layout', 'no_rows', 'row_count', 'missing_column'.
    """
    try:
        document = json.loads(text, parse_float=str, parse_int=str)
    except json.JSONDecodeError as err:
        raise src.error(f"not valid JSON: {err}", row=None, rule="json_syntax") from err
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        keys = sorted(document)[:8] if isinstance(document, dict) else type(document).__name__
        raise src.error(
            f"JSON that is not a Comtrade API response (keys {keys}); expected {EXPECTED_LAYOUTS}",
            rule="unknown_layout",
        )
    if not data:
        raise src.error("a JSON response with no data records", rule="no_rows")
    count = document.get("count")
    if isinstance(count, str) and _INTEGER.fullmatch(count) and int(count) != len(data):
        raise src.error(f"'count' is {count} but 'data' holds {len(data)} records", rule="row_count")
    records = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise src.error(f"data record {index + 1} is not a JSON object", row=index + 1, rule="json_syntax")
        cells = {str(key): json_text(value) for key, value in item.items()}
        oversized = [key for key, value in cells.items() if len(value) > csv.field_size_limit()]
        if oversized:  # the same limit the CSV layouts have: no publisher field is that long
            raise src.error(
                f"field(s) {oversized} longer than {csv.field_size_limit()} characters",
                row=index + 1,
                rule="field_too_large",
            )
        require_columns(PLUS_API_JSON, list(cells), src, row=index + 1)
        records.append(Record(line=index + 1, cells=cells))
    return records


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


def require_columns(layout: str, names: list[str], src: FileRef, *, row: int) -> None:
    """Fail when a recognised layout lacks columns the parser reads.

    Args:
        layout: the layout recognised.
        names: the header names (JSON: the record's keys).
        src: the file, for error messages.
        row: the header line (JSON: the record number).

    Raises:
        SourceError: rule 'missing_column', naming every missing column.
    """
    missing = [column for column in LAYOUT_COLUMNS[layout].values() if column not in names]
    if missing:
        raise src.error(
            f"looks like {layout} but has no column {', '.join(map(repr, missing))}", row=row, rule="missing_column"
        )


# --- one record to one row -------------------------------------------------------------------------------------


def to_row(layout: str, record: Record, src: FileRef) -> dict[str, object]:
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
    columns = dict(LAYOUT_COLUMNS[layout])
    if layout == LEGACY_BULK:
        columns.update({k: v for k, v in LEGACY_BULK_OPTIONAL.items() if v in record.cells})

    def cell(name: str) -> str:
        column = columns.get(name)
        return record.cells[column].strip() if column is not None else ""

    year_text = cell("year")
    if not _INTEGER.fullmatch(year_text):
        raise src.error(f"year {year_text!r} is not an integer", row=record.line, rule="year_not_integer")
    classification = cell("classification")
    commodity_code = cell("commodity_code")
    value_text = cell("value")
    return {
        "layout": layout,
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
        "aggregate_level": aggregate_level(commodity_code),
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


def aggregate_level(code: str) -> int | None:
    """The aggregation level of a commodity code: its number of digits, 0 for 'TOTAL', None otherwise."""
    if code.upper() == TOTAL_CODE:
        return 0
    return len(code) if code.isdigit() else None


def to_bool(text: str) -> bool | None:
    """A published flag ('1'/'0', 'True'/'False') as a boolean, or None when empty or anything else."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


# --- the columnar path: big CSV files in batches ---------------------------------------------------------------
