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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from warehouse.parsers.base import ParsedFile, ReadAgain
from warehouse.parsers.csvtext import (
    NUMBER,
    FileRef,
    ScanAhead,
    decode_text,
    failed_scan,
    is_blank,
    preview,
    read_records,
    to_number,
)

LEGACY_API = "legacy_api"
LEGACY_BULK = "legacy_bulk"
PLUS_API_CSV = "plus_api_csv"
PLUS_API_JSON = "plus_api_json"

COLUMNS: tuple[str, ...] = (
    "layout",
    "classification",
    "classification_version",
    "year",
    "period",
    "reporter_code",
    "partner_code",
    "partner2_code",
    "flow_code",
    "customs_code",
    "mot_code",
    "commodity_code",
    "aggregate_level",
    "is_leaf",
    "qty_unit_code",
    "qty",
    "netweight_kg",
    "value_text",
    "value",
    "flag",
    "file_row",
)

# Each layout: output field -> the publisher's column. Fields a layout lacks take their default (see Row).
LEGACY_API_COLUMNS: dict[str, str] = {
    "classification": "Classification",
    "year": "Year",
    "period": "Period",
    "is_leaf": "Is Leaf Code",
    "flow_code": "Trade Flow Code",
    "reporter_code": "Reporter Code",
    "partner_code": "Partner Code",
    "partner2_code": "2nd Partner Code",
    "customs_code": "Customs Proc. Code",
    "mot_code": "Mode of Transport Code",
    "commodity_code": "Commodity Code",
    "qty_unit_code": "Qty Unit Code",
    "qty": "Qty",
    "netweight_kg": "Netweight (kg)",
    "value": "Trade Value (US$)",
    "flag": "Flag",
}
LEGACY_BULK_COLUMNS: dict[str, str] = {
    "year": "Year",
    "reporter_code": "Reporter Code",
    "flow_code": "Trade Flow Code",
    "partner_code": "Partner Code",
    "classification": "Classification",
    "commodity_code": "Commodity Code",
    "qty_unit_code": "Quantity Unit Code",
    "qty": "Supplementary Quantity",
    "netweight_kg": "Netweight (kg)",
    "value": "Value",
    "flag": "Estimation Code",
}
LEGACY_BULK_OPTIONAL = {"period": "Period"}  # monthly bulk files carry it; annual ones do not (period = year)
PLUS_API_COLUMNS: dict[str, str] = {
    "classification": "classificationCode",
    "year": "refYear",
    "period": "period",
    "reporter_code": "reporterCode",
    "flow_code": "flowCode",
    "partner_code": "partnerCode",
    "partner2_code": "partner2Code",
    "commodity_code": "cmdCode",
    "is_leaf": "isLeaf",
    "customs_code": "customsCode",
    "mot_code": "motCode",
    "qty_unit_code": "qtyUnitCode",
    "qty": "qty",
    "netweight_kg": "netWgt",
    "value": "primaryValue",
    "flag": "legacyEstimationFlag",
}

# The column that tells each CSV layout apart
SIGNATURES: tuple[tuple[str, str], ...] = (
    (LEGACY_API, "Trade Value (US$)"),
    (PLUS_API_CSV, "primaryValue"),
    (LEGACY_BULK, "Estimation Code"),
)
LAYOUT_COLUMNS: dict[str, dict[str, str]] = {
    LEGACY_API: LEGACY_API_COLUMNS,
    LEGACY_BULK: LEGACY_BULK_COLUMNS,
    PLUS_API_CSV: PLUS_API_COLUMNS,
    PLUS_API_JSON: PLUS_API_COLUMNS,
}

EXPECTED_LAYOUTS = (
    f"{LEGACY_API}: a CSV header with '{LEGACY_API_COLUMNS['value']}' and "
    f"{', '.join(repr(c) for c in LEGACY_API_COLUMNS.values())}; "
    f"{LEGACY_BULK}: a CSV header with '{LEGACY_BULK_COLUMNS['flag']}' and "
    f"{', '.join(repr(c) for c in LEGACY_BULK_COLUMNS.values())}; "
    f"{PLUS_API_CSV}: a CSV header with '{PLUS_API_COLUMNS['value']}' and "
    f"{', '.join(repr(c) for c in PLUS_API_COLUMNS.values())}; "
    f'{PLUS_API_JSON}: a JSON object {{"count": N, "data": [{{...the {PLUS_API_CSV} keys...}}]}}'
)

# Comtrade's classification codes -> the classification and its version. 'HS' and 'ST' are the legacy API's
# "as reported" codes: the version is the one each reporter used, which the code does not say.
CLASSIFICATION_VERSIONS: dict[str, str] = {
    "H0": "HS1992",
    "H1": "HS1996",
    "H2": "HS2002",
    "H3": "HS2007",
    "H4": "HS2012",
    "H5": "HS2017",
    "H6": "HS2022",
    "HS": "HS",
    "S1": "SITC1",
    "S2": "SITC2",
    "S3": "SITC3",
    "S4": "SITC4",
    "ST": "SITC",
    "BEC": "BEC",
    "B4": "BEC4",
    "B5": "BEC5",
}

# The current API's flow letters -> the legacy trade flow codes
PLUS_FLOWS: dict[str, int] = {"M": 1, "X": 2, "RX": 3, "RM": 4}

TOTAL_CODE = "TOTAL"
DEFAULT_CUSTOMS = "C00"  # all customs procedures
DEFAULT_MOT = "0"  # all modes of transport
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

BATCH_ROWS = 200_000


def batches_comtrade(
    path: Path, *, source_id: str, batch_rows: int = BATCH_ROWS, read_ahead: bool = False
) -> Iterator[ParsedFile]:
    """Parse one UN Comtrade file in batches of about ``batch_rows`` rows, with memory bounded by the batch.

    A CSV file whose records are one per line (``scan_lines``) and whose header names a known layout is read
    by Arrow's CSV reader, text only and only the columns the layout maps, and mapped column-wise; the rows,
    values, dtypes and line numbers are exactly those ``parse_comtrade`` gives (tests compare both). Anything
    else (JSON, a record spanning lines, a blank line, a header of no layout, a BOM) goes through
    ``parse_comtrade`` as one batch, which also raises the precise error for a malformed file.

    Args:
        path: the CSV or JSON file.
        source_id: the catalogue id of the source, used in error messages.
        batch_rows: rows per batch (the last one may be smaller).
        read_ahead: parse while the file is scanned (``ScanAhead``), handing out each batch once its lines are
            checked, instead of scanning the whole file first. Should a later line turn out not to be one
            record, the batches handed out are void: ``ReadAgain`` is raised, and reading the file again
            takes the record reader from the start (the scan's answer is kept).

    Yields:
        ParsedFile batches in file order, each with the columns of ``COLUMNS``.

    Raises:
        SourceError: as ``parse_comtrade``.
        ReadAgain: with ``read_ahead``, as said.
    """
    src = FileRef(Path(path), source_id)
    plan = _columnar_plan(src, read_ahead=read_ahead)
    if plan is None:
        yield parse_comtrade(path, source_id=source_id)
        return
    layout, header, wanted, scan = plan
    first_line, pending, pending_rows, yielded, refused = 2, [], 0, False, None
    try:
        reader = pa_csv.open_csv(
            src.path,
            read_options=pa_csv.ReadOptions(block_size=1 << 20, skip_rows=1, column_names=header),
            parse_options=pa_csv.ParseOptions(newlines_in_values=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                include_columns=wanted,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            pending.append(batch)
            pending_rows += batch.num_rows
            while pending_rows >= batch_rows and (plain := scan.lines_checked(first_line + batch_rows - 1)) is not None:
                table = pa.Table.from_batches(pending)
                head, rest = table.slice(0, batch_rows), table.slice(batch_rows)
                frame = _columnar_frame(layout, head, first_line, src, plain)
                yield ParsedFile(frame=frame, vintage=None, layout=layout)
                first_line, yielded = first_line + batch_rows, True
                pending, pending_rows = rest.to_batches(), rest.num_rows
            if pending_rows >= batch_rows:
                break  # a line of the next batch is not one record: the record reader must read the file
    except pa.ArrowInvalid as err:  # a line with too many/few fields, bytes that are not UTF-8
        refused = err
    except BaseException:  # the consumer stopped early (GeneratorExit) or an error: the scan is not needed
        scan.stop()
        raise
    found = scan.result()
    if not found.one_record_per_line:
        if yielded:
            raise ReadAgain(f"{src.path.name}: a record spans lines after line {first_line - 1}")
        yield parse_comtrade(path, source_id=source_id)
        return
    if refused is not None:  # one record per line, and still refused: the exact error
        parse_comtrade(path, source_id=source_id)
        raise src.error(f"the CSV reader refused the file: {refused}", rule="csv_syntax") from refused
    if pending_rows:
        table = pa.Table.from_batches(pending)
        plain = found.plain_ascii
        yield ParsedFile(frame=_columnar_frame(layout, table, first_line, src, plain), vintage=None, layout=layout)
    elif not yielded:
        yield parse_comtrade(path, source_id=source_id)  # a header and no rows: the exact error


def _columnar_plan(src: FileRef, *, read_ahead: bool = False) -> tuple[str, list[str], list[str], ScanAhead] | None:
    """(layout, header, columns to read, the scan of its lines) when the file may be read column-wise, else None.

    Without ``read_ahead`` the scan has ended, and said every record is one line; with it, it runs on.
    """
    with open(src.path, "rb") as fh:
        first = fh.readline()
    if first.startswith((b"\xef\xbb\xbf", b"{", b"[")) or not first.endswith(b"\n"):
        return None
    try:
        header = [cell.strip() for cell in next(csv.reader([first.decode("utf-8").rstrip("\r\n")]))]
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None
    layout = next((name for name, column in SIGNATURES if column in header), None)
    if layout is None or len(set(header)) != len(header):
        return None
    columns = dict(LAYOUT_COLUMNS[layout])
    if layout == LEGACY_BULK:
        columns.update({k: v for k, v in LEGACY_BULK_OPTIONAL.items() if v in header})
    if any(column not in header for column in columns.values()):
        return None
    if failed_scan(src.path):
        return None
    # a record has a comma between any two fields: a shorter line is for the record reader to judge
    scan = ScanAhead(src.path, min_line_length=len(header) - 1)
    if not read_ahead and not scan.result().one_record_per_line:
        return None
    return layout, header, sorted(set(columns.values()), key=header.index), scan


def _exact(values: pa.Array, function: Callable[[str], object], type_: pa.DataType) -> pa.Array:
    """``function`` applied once per distinct value, then spread by index (codes repeat: exact and cheap); one
    hash pass (dictionary encoding) finds both the distinct values and each cell's index."""
    encoded = pc.dictionary_encode(values)
    mapped = pa.array([function(v) for v in encoded.dictionary.to_pylist()], type=type_)
    return pc.take(mapped, encoded.indices)


def _cell_offsets(values: pa.Array) -> np.ndarray:
    """A string array's cell boundaries in its data buffer (``len(values) + 1`` offsets), without a copy."""
    offsets_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    return np.frombuffer(values.buffers()[1], dtype=offsets_type)[values.offset : values.offset + len(values) + 1]


def _cell_bytes(values: pa.Array, offsets: np.ndarray | None = None) -> np.ndarray:
    """The bytes of a string array's cells (its slice of the data buffer), without a copy."""
    data = values.buffers()[2] if len(values) else None
    if data is None:
        return np.zeros(0, dtype=np.uint8)
    bounds = _cell_offsets(values) if offsets is None else offsets
    return np.frombuffer(data, dtype=np.uint8)[bounds[0] : bounds[-1]]


def _plain_bytes(cells: np.ndarray) -> bool:
    """Whether these bytes are plain ASCII (``LineScan.plain_ascii``: none over 0x7f, none of 0x1c-0x1f), where
    Arrow's ASCII strip, regular expressions and casts read cells exactly as Python's string methods do."""
    if not len(cells):
        return True
    if cells.max() >= 0x80:
        return False
    return bool(cells.min() > 0x20) or not ((cells >= 0x1C) & (cells <= 0x1F)).any()


def _plain(values: pa.Array) -> bool:
    """Whether every cell is plain ASCII, read off the cells' bytes (a file whose other columns hold names like
    "Côte d'Ivoire" is not plain, yet its codes and numbers are)."""
    return _plain_bytes(_cell_bytes(values))


def _stripped(values: pa.ChunkedArray, plain: bool) -> pa.Array:
    """Cells stripped as ``str.strip`` does: as they are when every byte is printable ASCII other than a space
    (nothing to strip), vectorised for a plain ASCII file or column, by Python for anything else."""
    values = values.combine_chunks()
    cells = _cell_bytes(values)
    if not len(cells) or (cells.max() < 0x80 and cells.min() > 0x20):
        return values
    if plain or _plain_bytes(cells):
        return pc.ascii_trim_whitespace(values)
    return pa.array([None if v is None else v.strip() for v in values.to_pylist()], type=pa.string())


def _numbers(text: pa.Array, plain: bool) -> pa.Array:
    """Stripped cells as float64, null when not a plain number, exactly as ``to_number`` reads them."""
    if not plain and not _plain(text):
        return pa.array([to_number(t) for t in text.to_pylist()], type=pa.float64(), from_pandas=True)
    decimals = _decimals(text)
    if decimals is not None:
        return decimals
    number = pc.match_substring_regex(text, f"^{NUMBER}$")
    return pc.cast(pc.if_else(number, text, pa.scalar(None, pa.string())), pa.float64())


_DECIMAL_BYTES = np.zeros(256, dtype=bool)
_DECIMAL_BYTES[list(b"0123456789.+-")] = True
_DECIMAL_WIDTH = 30  # NUMBER's integer digits at most: a cell no longer cannot have more


def _decimals(text: pa.Array) -> pa.Array | None:
    """The column as float64 by Arrow's cast, when that is what ``NUMBER`` gives: every cell empty (null) or
    at most 30 bytes of digits, '.', '+' and '-' (no exponent, no 'inf' or 'nan': what NUMBER limits), and the
    cast accepts every such cell (it refuses '1-2', '.', '-', '1.2.3'; it reads '5.', '.5', '+5' as NUMBER does).
    None when not: the regular expression decides cell by cell. Three times faster than the expression."""
    if len(text) == 0 or text.null_count:
        return None
    offsets = _cell_offsets(text)
    if np.diff(offsets).max() > _DECIMAL_WIDTH or not _DECIMAL_BYTES[_cell_bytes(text, offsets)].all():
        return None
    try:
        return pc.cast(pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text), pa.float64())
    except pa.ArrowInvalid:
        return None


def _columnar_frame(layout: str, table: pa.Table, first_line: int, src: FileRef, plain: bool) -> pd.DataFrame:
    """One batch of publisher columns (text) mapped to ``COLUMNS``, as ``to_row`` maps each record."""
    columns = dict(LAYOUT_COLUMNS[layout])
    if layout == LEGACY_BULK:
        columns.update({k: v for k, v in LEGACY_BULK_OPTIONAL.items() if v in table.column_names})
    n = table.num_rows
    cache: dict[str, pa.Array] = {}
    empty = pa.scalar("", pa.string())

    def cell(name: str) -> pa.Array:
        column = columns.get(name)
        if column is None:
            return pa.array([""] * n, type=pa.string())
        if column not in cache:
            cache[column] = _stripped(table.column(column), plain)
        return cache[column]

    def defaulted(name: str, default: str) -> pa.Array:
        values = cell(name)
        return pc.if_else(pc.equal(values, empty), pa.scalar(default, pa.string()), values)

    year_text = cell("year")
    year_ok = _exact(year_text, lambda t: bool(_INTEGER.fullmatch(t)), pa.bool_())
    if not pc.all(year_ok).as_py():
        bad = int(np.flatnonzero(~year_ok.to_numpy(zero_copy_only=False))[0])
        raise src.error(
            f"year {year_text[bad].as_py()!r} is not an integer", row=first_line + bad, rule="year_not_integer"
        )
    classification = cell("classification")
    commodity_code = cell("commodity_code")
    value_text = cell("value")
    period = cell("period")
    arrays = {
        "layout": pa.array([layout] * n, type=pa.string()),
        "classification": classification,
        "classification_version": _exact(
            classification, lambda c: CLASSIFICATION_VERSIONS.get(c.upper(), ""), pa.string()
        ),
        "year": _exact(year_text, int, pa.int64()),
        "period": pc.if_else(pc.equal(period, empty), year_text, period),
        "reporter_code": _exact(cell("reporter_code"), to_int, pa.int64()),
        "partner_code": _exact(cell("partner_code"), to_int, pa.int64()),
        "partner2_code": _exact(defaulted("partner2_code", str(DEFAULT_PARTNER2)), to_int, pa.int64()),
        "flow_code": _exact(cell("flow_code"), flow_code, pa.int64()),
        "customs_code": defaulted("customs_code", DEFAULT_CUSTOMS),
        "mot_code": defaulted("mot_code", DEFAULT_MOT),
        "commodity_code": commodity_code,
        "aggregate_level": _exact(commodity_code, aggregate_level, pa.int64()),
        "is_leaf": _exact(cell("is_leaf"), to_bool, pa.bool_()),
        "qty_unit_code": cell("qty_unit_code"),
        "qty": _numbers(cell("qty"), plain),
        "netweight_kg": _numbers(cell("netweight_kg"), plain),
        "value_text": value_text,
        "value": _numbers(value_text, plain),
        "flag": cell("flag"),
        "file_row": pa.array(np.arange(first_line, first_line + n, dtype="int64")),
    }
    return _to_pandas(pa.table(arrays))


_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """The batch with ``Columns.to_frame``'s dtypes: nullable Int64/boolean, float64 NaN, Arrow-backed str."""
    frame = table.to_pandas(types_mapper=_PANDAS_TYPES.get)
    return frame.astype({"year": "int64", "file_row": "int64"})[list(COLUMNS)]
