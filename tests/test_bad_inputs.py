"""A corpus of bad inputs, each driven through the public path and asserted.

Every case goes ``fetch.store_payload`` -> ``ingest.parse_payloads`` -> ``ingest.validate_source`` with the project's
own catalogue entries and reference lists, and ends in exactly one of three outcomes:

* PARSE: the input is odd but legitimate and must load; ``why`` says why that is right, and the exact parsed
  values are asserted.
* ERROR: the file is refused as a whole: a ``SourceError`` whose rule, file and row are asserted and whose
  message names the source, the file, the row and the rule; nothing is returned (nothing half-loaded).
* QUARANTINE: some rows break a rule; each is quarantined (file_row, column_name, rule, value), the others are
  valid, and valid and quarantined rows together account for every data line that carries a value.

A case that shows a bug in the project is a strict xfail whose reason starts with 'bug:'; its expectation is
the behaviour the project should have. Most variants are made here from the project's own fixtures; the few
that read better as files are in ``tests/fixtures/bad_inputs/`` (see its README). The end of the file holds
property tests: a mutated small valid file gives a parse or a SourceError, never another exception.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from schemas.rules import QUARANTINE_COLUMNS, RunContext
from tests.conftest import FIXTURES, PROJECT_ROOT
from warehouse.common.errors import SourceError
from warehouse.common.reference import known_country_codes
from warehouse.extract.catalogue import Source, load_catalogue
from warehouse.extract.fetch import Payload, store_payload
from warehouse.stage import parse_payloads, validate_source

REFERENCE = PROJECT_ROOT / "seeds" / "reference"
BAD = FIXTURES / "bad_inputs"

PRESS = "mofcom_2012_technology_trade"  # dataset press_release
WDI_2013 = "wdi_2013"  # dataset wdi
WDI = "wdi_current"  # dataset wdi
COMTRADE = "comtrade_chn_usa_hs8542"  # dataset comtrade

FIGURES = "figures.csv"
TIDY_NAME = "bx.gsr.royl.cd.csv"  # a tidy WDI file, its indicator stated by its data package (with_package)
TIDY_NAMES = {TIDY_NAME: "BX.GSR.ROYL.CD", "bm.gsr.royl.cd.csv": "BM.GSR.ROYL.CD"}  # tidy files, their indicator
BULK_NAME = "API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv"
WIDE_NAME = "WDI_2013_extract.csv"
PLUS_NAME = "plus_api_CHN_M_USA_HS8542.csv"
JSON_NAME = "getFinalData.json"

ANY = "*"  # the rule of an expected SourceError, in a bug case where the project has no rule for it yet
MB_100 = 100 * 1024 * 1024
SERVICE_EXPORTS = '"Service exports (BoP, current US$)",BX.GSR.NFSV.CD'


# --- helpers to make variants of the project's fixtures ---------------------------------------------------------


def fixture(rel: str) -> bytes:
    """A file of tests/fixtures, as bytes."""
    return (FIXTURES / rel).read_bytes()


def csv_rows(data: bytes) -> list[list[str]]:
    """The records of a UTF-8 CSV payload."""
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def to_csv(rows: list[list[str]], *, delimiter: str = ",") -> bytes:
    """Records written back as CSV (minimal quoting, LF line ends)."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def with_cells(rel: str, edits: dict[int, dict[str, str]], *, append: tuple[int, ...] = ()) -> Callable[[], bytes]:
    """The fixture with some cells replaced, by file line and column name; ``append`` repeats lines at the end.

    The fixtures used here have one record per line, so a record's index is its file line - 1.
    """

    def build() -> bytes:
        rows = csv_rows(fixture(rel))
        header = rows[0]
        for line, cells in edits.items():
            for column, text in cells.items():
                rows[line - 1][header.index(column)] = text
        return to_csv(rows + [list(rows[line - 1]) for line in append])

    return build


def with_columns(rel: str, arrange: Callable[[list[str]], list[str]]) -> Callable[[], bytes]:
    """The fixture with every record rearranged the same way (columns reordered, added or dropped)."""
    return lambda: to_csv([arrange(row) for row in csv_rows(fixture(rel))])


def drop_column(rel: str, column: str) -> Callable[[], bytes]:
    def build() -> bytes:
        rows = csv_rows(fixture(rel))
        at = rows[0].index(column)
        return to_csv([row[:at] + row[at + 1 :] for row in rows])

    return build


def replaced(rel: str, old: bytes, new: bytes) -> Callable[[], bytes]:
    """The fixture with the first occurrence of ``old`` replaced (which must be there)."""

    def build() -> bytes:
        data = fixture(rel)
        assert old in data, old
        return data.replace(old, new, 1)

    return build


def cut_after(rel: str, marker: bytes) -> Callable[[], bytes]:
    """The fixture cut right after the first occurrence of ``marker``: a last line that stops mid-field."""

    def build() -> bytes:
        data = fixture(rel)
        return data[: data.index(marker) + len(marker)]

    return build


def lines_of(rel: str, keep: slice) -> Callable[[], bytes]:
    return lambda: b"".join(fixture(rel).splitlines(keepends=True)[keep])


def unclosed_note_on_line_3() -> bytes:
    """good.csv whose line 3 ends in a note that opens a quote; line 4 is printed without quotes to close it."""
    lines = with_cells("press_release/good.csv", {4: {"quote": "Exports mainly include computer software"}})()
    first, second, third, fourth = lines.splitlines(keepends=True)
    assert b'"' not in fourth
    return first + second + third.rstrip(b"\n") + b'"unclosed\n' + fourth


def tidy(*lines: str) -> Callable[[], bytes]:
    """A tidy WDI file (Country Name, Country Code, Year, Value) with these data lines, from line 2."""
    return lambda: ("Country Name,Country Code,Year,Value\n" + "".join(f"{line}\n" for line in lines)).encode()


def wide(header_years: str, *lines: str) -> Callable[[], bytes]:
    """A wide_2013 WDI file with these year columns and data lines, from line 2."""
    head = f"Country Name,Country Code,Indicator Name,Indicator Code,{header_years}\n"
    return lambda: (head + "".join(f"{line}\n" for line in lines)).encode()


def plus_json(edit: Callable[[dict], None]) -> Callable[[], bytes]:
    """The current-API JSON fixture after an edit of its parsed document."""

    def build() -> bytes:
        document = json.loads(fixture("comtrade/plus_api.json"))
        edit(document)
        return json.dumps(document, indent=1).encode()

    return build


def set_record(index: int, **cells: object) -> Callable[[dict], None]:
    def edit(document: dict) -> None:
        document["data"][index].update(cells)

    return edit


# --- the cases ---------------------------------------------------------------------------------------------------

Row = tuple[int, str, str, str]  # quarantine: (file_row, column_name, rule, value)


@dataclass(frozen=True)
class Case:
    """One bad input and the one outcome it must have.

    Attributes:
        id: the test id.
        source_id: the catalogue entry the payload belongs to.
        name: the payload's file name.
        data: builds the payload's bytes (lazily: some are 100 MB).
        why: why the outcome is the right one.
        error: (rule, row) of the SourceError, for a file-level error.
        quarantine: the quarantine rows expected, for row-level problems.
        valid: the exact values of the valid rows, column by column, in file order.
        lines: the file lines that carry a value: valid and quarantined rows cover exactly these.
        same_as: (name, fixture) of a payload whose valid rows must equal this one's (but for file name and hash).
        before: (name, fixture) payloads of the same source read before this one.
        bug: when set, the case is a strict xfail with this reason.
    """

    id: str
    source_id: str
    name: str
    data: Callable[[], bytes]
    why: str
    error: tuple[str, int | None] | None = None
    quarantine: tuple[Row, ...] = ()
    valid: dict[str, list[object]] | None = None
    lines: tuple[int, ...] = ()
    same_as: tuple[str, str] | None = None
    before: tuple[tuple[str, str], ...] = ()
    bug: str | None = None

    @property
    def kind(self) -> str:
        return "error" if self.error else "quarantine" if self.quarantine else "parse"


ERRORS: list[Case] = [
    # encodings, delimiters, not CSV at all
    Case(
        "wdi_tidy_cp1252",
        WDI,
        TIDY_NAME,
        lambda: (BAD / "tidy_cote_divoire_cp1252.csv").read_bytes(),
        "'Côte d'Ivoire' saved as cp1252 (0xF4 for ô) is not UTF-8: guessing the code page would risk mojibake",
        error=("encoding", 3),
    ),
    Case(
        "comtrade_cp1252",
        COMTRADE,
        PLUS_NAME,
        lambda: with_cells("comtrade/plus_api.csv", {3: {"partnerDesc": "Côte d'Ivoire"}})().decode().encode("cp1252"),
        "a cp1252 byte in line 3 of a Comtrade file: refused, naming the line, not decoded by guess",
        error=("encoding", 3),
    ),
    Case(
        "press_release_semicolon_delimiter",
        PRESS,
        FIGURES,
        lambda: to_csv(csv_rows(fixture("press_release/good.csv")), delimiter=";"),
        "';' is not the delimiter of the layout: the header is one field, so every named column is missing",
        error=("unknown_layout", 1),
    ),
    Case(
        "comtrade_tab_delimiter",
        COMTRADE,
        PLUS_NAME,
        lambda: to_csv(csv_rows(fixture("comtrade/plus_api.csv")), delimiter="\t"),
        "tab-separated: the header has no 'primaryValue' column (nor any other layout's), so no layout is guessed",
        error=("unknown_layout", 1),
    ),
    Case(
        "wdi_tidy_tab_delimiter",
        WDI,
        TIDY_NAME,
        lambda: to_csv(csv_rows(fixture("wdi/bx.gsr.royl.cd.csv")), delimiter="\t"),
        "tab-separated: the header is not 'Country Name,Country Code,Year,Value'",
        error=("unknown_layout", 1),
    ),
    Case(
        "press_release_html_error_page",
        PRESS,
        FIGURES,
        lambda: (BAD / "error_page_503.html").read_bytes(),
        "a server's 503 page saved under the CSV name is no figures file",
        error=("html_not_csv", None),
    ),
    Case(
        "wdi_xml_api_error",
        WDI,
        BULK_NAME,
        lambda: (BAD / "wdi_api_error.xml").read_bytes(),
        "the World Bank API's XML error message instead of the CSV",
        error=("html_not_csv", None),
    ),
    Case(
        "wdi_gzip_unannounced",
        WDI,
        BULK_NAME,
        lambda: gzip.compress(fixture("wdi/bulk_download.csv"), mtime=0),
        "gzip bytes under a .csv name (no Content-Encoding said so): refused with the advice to decompress",
        error=("gzip_not_csv", None),
    ),
    Case(
        "wdi_zip_archive",
        WDI,
        BULK_NAME,
        lambda: (BAD / "API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.zip").read_bytes(),
        "the World Bank's zip (bulk_download.csv deflated) served as the CSV: its local header holds a CRC byte "
        "0x95 at offset 15, not UTF-8. Refused, though the hint 'cp1252 or latin-1?' is misleading for a zip",
        error=("encoding", 1),
    ),
    # empty and nearly empty
    Case(
        "press_release_empty_0_bytes",
        PRESS,
        FIGURES,
        lambda: b"",
        "0 bytes: a failed download, not a release with no figures",
        error=("empty_file", None),
    ),
    Case(
        "wdi_whitespace_only",
        WDI,
        TIDY_NAME,
        lambda: b"  \r\n\t\n \n",
        "blanks and line ends only: as empty as 0 bytes",
        error=("empty_file", None),
    ),
    Case(
        "comtrade_whitespace_only",
        COMTRADE,
        JSON_NAME,
        lambda: b"\n\n   \n",
        "blanks only, under a JSON name: still an empty file",
        error=("empty_file", None),
    ),
    Case(
        "wdi_bulk_header_only",
        WDI,
        BULK_NAME,
        lines_of("wdi/bulk_download.csv", slice(0, 5)),
        "the metadata lines and the header, no economy: a cut download, not an empty series",
        error=("no_rows", None),
    ),
    Case(
        "comtrade_header_only",
        COMTRADE,
        PLUS_NAME,
        lines_of("comtrade/plus_api.csv", slice(0, 1)),
        "a header and no record: the API answered nothing",
        error=("no_rows", None),
    ),
    # truncated
    Case(
        "press_release_truncated_in_quoted_field",
        PRESS,
        FIGURES,
        cut_after("press_release/good.csv", b"which accounted"),
        "the last line stops inside its quoted 'quote' field: the file ends inside a quoted field, which is no "
        "CSV (the comtrade and wdi cases below cut an unquoted field: 'field_count')",
        error=("csv_syntax", 4),
    ),
    Case(
        "comtrade_truncated_mid_field",
        COMTRADE,
        PLUS_NAME,
        cut_after("comtrade/plus_api.csv", b"45343.1"),
        "the last line stops in its 'qty' field: 32 fields where the header has 47",
        error=("field_count", 6),
    ),
    Case(
        "wdi_wide_truncated_mid_field",
        WDI_2013,
        WIDE_NAME,
        cut_after("wdi/wide_2013.csv", b"743301"),
        "the last line stops in its 2011 value: 6 fields where the header has 8",
        error=("field_count", 4),
    ),
    Case(
        "wdi_tidy_unclosed_quote",
        WDI,
        TIDY_NAME,
        tidy("China,CHN,2010,830469374", 'China,CHN,2011,"743301698', "Japan,JPN,2011,5", "India,IND,2011,6"),
        "a quote opened in the last column of line 3 and never closed: the CSV ends inside a quoted field",
        error=("csv_syntax", 3),
    ),
    Case(
        "comtrade_unclosed_quote",
        COMTRADE,
        PLUS_NAME,
        replaced("comtrade/plus_api.csv", b",2,False,True\n", b',2,False,"True\n'),
        "a quote opened in the last column (isAggregate) of line 3 and never closed",
        error=("csv_syntax", 3),
    ),
    Case(
        "press_release_unclosed_quote",
        PRESS,
        FIGURES,
        unclosed_note_on_line_3,
        "a quote opened in the last column (note) of line 3 and never closed",
        error=("csv_syntax", 3),
    ),
    # sizes
    Case(
        "press_release_100mb_field",
        PRESS,
        FIGURES,
        replaced("press_release/good.csv", b"China's technology", b"China's " + b"x" * MB_100),
        "a 100 MB quote is no quote: over the csv module's field limit (131072), refused as unreadable CSV",
        error=("csv_syntax", 2),
    ),
    Case(
        "wdi_100mb_field",
        WDI,
        TIDY_NAME,
        lambda: b"Country Name,Country Code,Year,Value\nChina,CHN,2011," + b"1" * MB_100 + b"\n",
        "a 100 MB unquoted number: over the field limit, a SourceError (not a MemoryError, not a csv.Error)",
        error=("csv_syntax", 2),
    ),
    Case(
        "comtrade_100mb_field",
        COMTRADE,
        PLUS_NAME,
        replaced("comtrade/plus_api.csv", b",8542,", b',"' + b"8" * MB_100 + b'",'),
        "a 100 MB quoted commodity code: over the field limit",
        error=("csv_syntax", 2),
    ),
    Case(
        "comtrade_json_100mb_field",
        COMTRADE,
        JSON_NAME,
        plus_json(set_record(0, cmdCode="8" * MB_100)),
        "a 100 MB commodity code in the JSON: as absurd as in the CSV, it must be refused the same way",
        error=("field_too_large", 1),
    ),
    Case(
        "wdi_line_of_a_million_fields",
        WDI,
        TIDY_NAME,
        lambda: b"Country Name,Country Code,Year,Value\nChina,CHN,2011,5\n" + b",".join([b"1"] * 1_000_000) + b"\n",
        "a line of 1,000,000 fields where the header has 4",
        error=("field_count", 3),
    ),
    Case(
        "comtrade_line_of_a_million_fields",
        COMTRADE,
        PLUS_NAME,
        lambda: fixture("comtrade/plus_api.csv") + b",".join([b"0"] * 1_000_000) + b"\n",
        "a line of 1,000,000 fields where the header has 47",
        error=("field_count", 7),
    ),
    # headers
    Case(
        "press_release_duplicated_column",
        PRESS,
        FIGURES,
        with_columns("press_release/good.csv", lambda row: [*row, "unit" if row[0] == "figure_id" else "EUR"]),
        "two 'unit' columns (USD, then EUR): which one is the unit cannot be told, so the file is refused",
        error=("duplicate_column", 1),
    ),
    Case(
        "comtrade_duplicated_column",
        COMTRADE,
        PLUS_NAME,
        with_columns("comtrade/plus_api.csv", lambda row: [*row, "primaryValue" if row[0] == "typeCode" else "1"]),
        "two 'primaryValue' columns: which one is the value cannot be told, so the file is refused",
        error=("duplicate_column", 1),
    ),
    Case(
        "wdi_wide_id_columns_reordered",
        WDI_2013,
        WIDE_NAME,
        lambda: (
            f"Country Code,Country Name,Indicator Name,Indicator Code,2010,2011\nCHN,China,{SERVICE_EXPORTS},1,2\n"
        ).encode(),
        "WDI recognises its wide layouts by the four id columns in the publisher's order; another order is no "
        "WDI layout, so it is refused rather than guessed (year columns, by contrast, are read by name)",
        error=("unknown_layout", 1),
    ),
    Case(
        "wdi_wide_extra_column",
        WDI_2013,
        WIDE_NAME,
        wide("2010,2011,Note", f"China,CHN,{SERVICE_EXPORTS},1,2,checked"),
        "an unknown 'Note' column among the years: every column after the ids must be a year, so it is refused",
        error=("unknown_layout", 1),
    ),
    Case(
        "press_release_missing_column",
        PRESS,
        FIGURES,
        drop_column("press_release/good.csv", "unit"),
        "no 'unit' column: the figures cannot be checked against the catalogue",
        error=("unknown_layout", 1),
    ),
    Case(
        "comtrade_missing_column",
        COMTRADE,
        PLUS_NAME,
        drop_column("comtrade/plus_api.csv", "cmdCode"),
        "a plus_api file (it has primaryValue) without cmdCode",
        error=("missing_column", 1),
    ),
    Case(
        "wdi_tidy_missing_column",
        WDI,
        TIDY_NAME,
        lambda: b"Country Name,Country Code,Value\nChina,CHN,743301698\n",
        "a tidy file without its Year column",
        error=("unknown_layout", 1),
    ),
    Case(
        "comtrade_value_column_in_thousands",
        COMTRADE,
        "legacy_api.csv",
        replaced("comtrade/legacy_api.csv", b"Trade Value (US$)", b"Trade Value (1000 US$)"),
        "a Comtrade row carries no unit (every value is a customs value in US$, so the unit_matches_catalogue rule "
        "checks a constant); the unit is in the legacy header, and a header in thousands is no known layout",
        error=("unknown_layout", 1),
    ),
    Case(
        "wdi_bulk_last_updated_dd_mm_yyyy",
        WDI,
        BULK_NAME,
        replaced("wdi/bulk_download.csv", b'"2026-02-24"', b'"24/02/2026"'),
        "the vintage is read from 'Last Updated Date'; '24/02/2026' is no ISO date and is not guessed",
        error=("vintage_date", 3),
    ),
    # JSON
    Case(
        "comtrade_json_truncated",
        COMTRADE,
        JSON_NAME,
        lambda: fixture("comtrade/plus_api.json")[:1500],
        "a response cut in the middle of its second record: not valid JSON, nothing of it is kept",
        error=("json_syntax", None),
    ),
    Case(
        "comtrade_json_html_page",
        COMTRADE,
        JSON_NAME,
        lambda: (BAD / "comtrade_rate_limited.json").read_bytes(),
        "the API's 429 HTML page saved as .json",
        error=("html_not_csv", None),
    ),
    Case(
        "comtrade_json_count_zero",
        COMTRADE,
        JSON_NAME,
        lambda: (BAD / "comtrade_count_zero.json").read_bytes(),
        "{'count': 0, 'data': []}: the API found nothing; the source fails as a whole (rule no_rows) so that "
        "a query that returns nothing never replaces figures loaded before",
        error=("no_rows", None),
    ),
    # one bad payload fails its source: nothing of the good one is returned
    Case(
        "wdi_good_payload_then_bad_payload",
        WDI,
        "bm.gsr.royl.cd.csv",
        lambda: b"Country Name,Country Code,Year,Value\nChina,CHN,2011\n",
        "the first payload of the source is good, the second has a line of 3 fields: the source fails whole",
        error=("field_count", 2),
        before=((TIDY_NAME, "wdi/bx.gsr.royl.cd.csv"),),
    ),
]

QUARANTINES: list[Case] = [
    Case(
        "press_release_nul_in_reporter",
        PRESS,
        FIGURES,
        replaced("press_release/good.csv", b"CHN,WLD,2006", b"CHN\x00,WLD,2006"),
        "a NUL byte glued to a country code: the text is kept as published and is no known country",
        quarantine=((3, "reporter", "known_country", "CHN\x00"),),
        valid={"file_row": [2, 4]},
        lines=(2, 3, 4),
    ),
    Case(
        "comtrade_nul_in_value",
        COMTRADE,
        PLUS_NAME,
        replaced("comtrade/plus_api.csv", b",11369627000.0,2,", b",113696\x0027000.0,2,"),
        "a NUL byte inside a number: not a plain number, kept as text and quarantined",
        quarantine=((3, "value_text", "value_is_number", "113696\x0027000.0"),),
        valid={"file_row": [2, 4, 5, 6]},
        lines=(2, 3, 4, 5, 6),
    ),
    Case(
        "wdi_thousands_separators",
        WDI,
        TIDY_NAME,
        tidy("China,CHN,2010,830469374", 'China,CHN,2011,"1,234,567"'),
        "'1,234,567' could be 1234567 or 1.234567 (a European decimal comma): the parser does not guess",
        quarantine=((3, "value_text", "value_is_number", "1,234,567"),),
        valid={"file_row": [2], "value": [830469374.0]},
        lines=(2, 3),
    ),
    Case(
        "comtrade_thousands_separators",
        COMTRADE,
        PLUS_NAME,
        with_cells("comtrade/plus_api.csv", {2: {"primaryValue": "6,368,050,147"}}),
        "a value with thousands separators is not guessed at",
        quarantine=((2, "value_text", "value_is_number", "6,368,050,147"),),
        valid={"file_row": [3, 4, 5, 6]},
        lines=(2, 3, 4, 5, 6),
    ),
    Case(
        "wdi_duplicated_key",
        WDI,
        TIDY_NAME,
        tidy("China,CHN,2010,830469374", "China,CHN,2011,743301698", "China,CHN,2011,743301699"),
        "two values for China 2011: neither can be preferred, both are quarantined",
        quarantine=(
            (
                3,
                "country_code, indicator_code, year, vintage",
                "duplicate_key",
                "CHN, BX.GSR.ROYL.CD, 2011, 2026-02-24",
            ),
            (
                4,
                "country_code, indicator_code, year, vintage",
                "duplicate_key",
                "CHN, BX.GSR.ROYL.CD, 2011, 2026-02-24",
            ),
        ),
        valid={"file_row": [2], "value": [830469374.0]},
        lines=(2, 3, 4),
    ),
    Case(
        "comtrade_duplicated_key",
        COMTRADE,
        PLUS_NAME,
        with_cells("comtrade/plus_api.csv", {}, append=(2,)),
        "line 2 repeated as line 7: the same record twice would double-count",
        quarantine=tuple(
            (
                line,
                "classification_version, year, period, reporter_code, partner_code, partner2_code, flow_code, "
                "customs_code, mot_code, commodity_code, vintage",
                "duplicate_key",
                "HS2007, 2011, 2011, 156, 842, 0, 1, C00, 0, 8542, 2025-01-01",
            )
            for line in (2, 7)
        ),
        valid={"file_row": [3, 4, 5, 6]},
        lines=(2, 3, 4, 5, 6, 7),
    ),
    Case(
        "press_release_duplicated_key",
        PRESS,
        FIGURES,
        with_cells("press_release/good.csv", {3: {"period": "2011", "figure_id": "total_2011_again"}}),
        "two figures (not restatements) for the same reporter, period, flow, category and measure",
        quarantine=(
            (2, "figure_id", "duplicate_key", "total_2011"),
            (3, "figure_id", "duplicate_key", "total_2011_again"),
        ),
        valid={"file_row": [4]},
        lines=(2, 3, 4),
    ),
    Case(
        "press_release_negative_value",
        PRESS,
        FIGURES,
        with_cells("press_release/good.csv", {3: {"value": "-22.61"}}),
        "a total trade value cannot be negative (only balances and growth rates are signed)",
        quarantine=((3, "value", "non_negative", "-22.61"),),
        valid={"file_row": [2, 4], "value": [53.56, 89.2]},
        lines=(2, 3, 4),
    ),
    Case(
        "comtrade_negative_value",
        COMTRADE,
        PLUS_NAME,
        with_cells("comtrade/plus_api.csv", {4: {"primaryValue": "-4499808855.0"}}),
        "an import value cannot be negative",
        quarantine=((4, "value", "non_negative", "-4499808855.0"),),
        valid={"file_row": [2, 3, 5, 6]},
        lines=(2, 3, 4, 5, 6),
    ),
    Case(
        "wdi_negative_value",
        WDI,
        TIDY_NAME,
        tidy("China,CHN,2010,830469374", "Japan,JPN,2011,-5"),
        "IP-charge receipts cannot be negative",
        quarantine=((3, "value", "non_negative", "-5.0"),),
        valid={"file_row": [2]},
        lines=(2, 3),
    ),
    Case(
        "wdi_unknown_country_code",
        WDI,
        TIDY_NAME,
        tidy("China,CHN,2010,830469374", "Nowhere,XYZ,2011,1000"),
        "XYZ is in no reference list (neither a current code nor a publisher's alias)",
        quarantine=((3, "country_code", "known_country", "XYZ"),),
        valid={"file_row": [2]},
        lines=(2, 3),
    ),
    Case(
        "press_release_unknown_country_code",
        PRESS,
        FIGURES,
        with_cells("press_release/good.csv", {2: {"partner": "XYZ"}}),
        "XYZ is no known partner",
        quarantine=((2, "partner", "known_country", "XYZ"),),
        valid={"file_row": [3, 4]},
        lines=(2, 3, 4),
    ),
    Case(
        "comtrade_unknown_partner_code",
        COMTRADE,
        PLUS_NAME,
        with_cells("comtrade/plus_api.csv", {2: {"partnerCode": "999"}}),
        "M49 code 999 is in no Comtrade code list",
        quarantine=((2, "partner_code", "known_partner", "999"),),
        valid={"file_row": [3, 4, 5, 6]},
        lines=(2, 3, 4, 5, 6),
    ),
    Case(
        "wdi_years_out_of_range",
        WDI,
        TIDY_NAME,
        tidy("China,CHN,1850,5", "China,CHN,2500,6", "China,CHN,2010,830469374"),
        "WDI starts in 1960, and 2500 has not happened",
        quarantine=((2, "year", "year_in_range", "1850"), (3, "year", "year_in_range", "2500")),
        valid={"file_row": [4]},
        lines=(2, 3, 4),
    ),
    Case(
        "comtrade_years_out_of_range",
        COMTRADE,
        PLUS_NAME,
        with_cells(
            "comtrade/plus_api.csv",
            {2: {"refYear": "1850", "period": "1850"}, 3: {"refYear": "2500", "period": "2500"}},
        ),
        "UN Comtrade starts in 1962, and 2500 has not happened",
        quarantine=((2, "year", "year_in_range", "1850"), (3, "year", "year_in_range", "2500")),
        valid={"file_row": [4, 5, 6]},
        lines=(2, 3, 4, 5, 6),
    ),
    Case(
        "press_release_periods_out_of_range",
        PRESS,
        FIGURES,
        with_cells("press_release/good.csv", {2: {"period": "1850"}, 3: {"period": "2500"}}),
        "a technology-trade figure for 1850 or 2500 in a release of 2012-12-07 is a typo, refused like the "
        "years of wdi (1960-2100) and comtrade (1962-2100)",
        quarantine=((2, "period", "year_in_range", "1850"), (3, "period", "year_in_range", "2500")),
        valid={"file_row": [4]},
        lines=(2, 3, 4),
    ),
    Case(
        "wdi_text_in_numeric_column",
        WDI,
        TIDY_NAME,
        tidy(
            "China,CHN,2001,n/a",
            "China,CHN,2002,..",
            "China,CHN,2003,-",
            "China,CHN,2004,",
            "China,CHN,2010,830469374",
        ),
        "'n/a', '..' and '-' are kept as published and quarantined; an empty cell is WDI's missing value and "
        "makes no row (line 5 carries no value)",
        quarantine=(
            (2, "value_text", "value_is_number", "n/a"),
            (3, "value_text", "value_is_number", ".."),
            (4, "value_text", "value_is_number", "-"),
        ),
        valid={"file_row": [6], "value": [830469374.0]},
        lines=(2, 3, 4, 6),
    ),
    Case(
        "comtrade_text_in_numeric_column",
        COMTRADE,
        PLUS_NAME,
        with_cells(
            "comtrade/plus_api.csv",
            {2: {"primaryValue": "n/a"}, 3: {"primaryValue": ".."}, 4: {"primaryValue": "-"}, 5: {"primaryValue": ""}},
        ),
        "a Comtrade record without a number is quarantined, '' included (a record is published for its value)",
        quarantine=(
            (2, "value_text", "value_is_number", "n/a"),
            (3, "value_text", "value_is_number", ".."),
            (4, "value_text", "value_is_number", "-"),
            (5, "value_text", "value_is_number", ""),
        ),
        valid={"file_row": [6], "value": [1.2e9]},
        lines=(2, 3, 4, 5, 6),
    ),
    Case(
        "press_release_text_in_value",
        PRESS,
        FIGURES,
        with_cells("press_release/good.csv", {2: {"value": "n/a"}, 3: {"value": ".."}, 4: {"value": "-"}}),
        "a figure whose value is no number breaks value_is_number; with no number it is neither non-negative nor "
        "equal to the printed figure, and each broken rule is its own quarantine row",
        quarantine=tuple(
            (line, column, rule, value)
            for line, text in ((2, "n/a"), (3, ".."), (4, "-"))
            for column, rule, value in (
                ("value_text", "value_is_number", text),
                ("value", "non_negative", ""),
                ("value", "value_matches_print", ""),
            )
        ),
        valid={"file_row": []},
        lines=(2, 3, 4),
    ),
    Case(
        "press_release_empty_value",
        PRESS,
        FIGURES,
        with_cells("press_release/good.csv", {3: {"value": ""}}),
        "a figure row is there for its value: an empty one is quarantined (value shown as '')",
        quarantine=(
            (3, "value_text", "value_is_number", ""),
            (3, "value", "non_negative", ""),
            (3, "value", "value_matches_print", ""),
        ),
        valid={"file_row": [2, 4]},
        lines=(2, 3, 4),
    ),
    Case(
        "wdi_indicator_name_in_constant_dollars",
        WDI_2013,
        WIDE_NAME,
        wide(
            "2010,2011",
            'China,CHN,"Service exports (BoP, constant 2015 US$)",BX.GSR.NFSV.CD,1,2',
            'China,CHN,"Service imports (BoP, current US$)",BM.GSR.NFSV.CD,3,4',
        ),
        "BX.GSR.NFSV.CD is a current-US$ series; a name in constant 2015 US$ contradicts it: both year cells of "
        "line 2 are quarantined (a wide line gives one row per year, so the same quarantine row appears twice)",
        quarantine=tuple(
            (2, "indicator_name", "unit_matches_indicator", "Service exports (BoP, constant 2015 US$)")
            for _ in range(2)
        ),
        valid={"file_row": [3, 3], "year": [2010, 2011], "value": [3.0, 4.0]},
        lines=(2, 3),
    ),
    Case(
        "press_release_unit_eur",
        PRESS,
        FIGURES,
        with_cells("press_release/good.csv", {3: {"unit": "EUR"}}),
        "the catalogue declares technology_contract_value in USD only",
        quarantine=((3, "unit", "unit_matches_catalogue", "EUR"),),
        valid={"file_row": [2, 4]},
        lines=(2, 3, 4),
    ),
    Case(
        "press_release_scale_1e3_undeclared",
        PRESS,
        FIGURES,
        with_cells("press_release/good.csv", {3: {"scale": "1e3"}}),
        "the catalogue declares scales 1e6 and 1e9 for technology_contract_value; the rule blames the unit "
        "column, so the quarantine shows 'USD', not the offending 1e3",
        quarantine=((3, "unit", "unit_matches_catalogue", "USD"),),
        valid={"file_row": [2, 4]},
        lines=(2, 3, 4),
    ),
    Case(
        "comtrade_flow_code_7",
        COMTRADE,
        "legacy_api.csv",
        with_cells("comtrade/legacy_api.csv", {3: {"Trade Flow Code": "7"}}),
        "trade flows are 1-4 (import, export, re-export, re-import); 7 is kept as published and quarantined",
        quarantine=((3, "flow_code", "known_flow", "7"),),
        valid={"file_row": [2, 4, 5, 6]},
        lines=(2, 3, 4, 5, 6),
    ),
    Case(
        "comtrade_json_flow_code_7",
        COMTRADE,
        JSON_NAME,
        plus_json(set_record(1, flowCode=7)),
        "the same in the JSON, where the record number stands for the line",
        quarantine=((2, "flow_code", "known_flow", "7"),),
        valid={"file_row": [1, 3]},
        lines=(1, 2, 3),
    ),
    Case(
        "wdi_duplicated_year_column",
        WDI_2013,
        WIDE_NAME,
        wide("2010,2011,2011", f"China,CHN,{SERVICE_EXPORTS},1,2,3"),
        "two '2011' columns give China 2011 two values: both are quarantined as duplicates, 2010 loads",
        quarantine=tuple(
            (2, "country_code, indicator_code, year, vintage", "duplicate_key", "CHN, BX.GSR.NFSV.CD, 2011, 2013-12-01")
            for _ in range(2)
        ),
        valid={"file_row": [2], "year": [2010], "value": [1.0]},
        lines=(2,),
    ),
    Case(
        "wdi_value_overflows_to_infinity",
        WDI,
        TIDY_NAME,
        tidy("China,CHN,2010,830469374", "China,CHN,2011,1e999"),
        "'1e999' has the form of a number but no float holds it: kept as text and quarantined, never loaded "
        "as infinity",
        quarantine=((3, "value_text", "value_is_number", "1e999"),),
        valid={"file_row": [2]},
        lines=(2, 3),
    ),
    Case(
        "comtrade_value_overflows_to_infinity",
        COMTRADE,
        PLUS_NAME,
        with_cells("comtrade/plus_api.csv", {2: {"primaryValue": "1e999"}}),
        "'1e999' is no finite customs value: quarantined as published",
        quarantine=((2, "value_text", "value_is_number", "1e999"),),
        valid={"file_row": [3, 4, 5, 6]},
        lines=(2, 3, 4, 5, 6),
    ),
]

PARSES: list[Case] = [
    Case(
        "press_release_utf8_bom",
        PRESS,
        FIGURES,
        lambda: b"\xef\xbb\xbf" + fixture("press_release/good.csv"),
        "a UTF-8 BOM is how Excel saves UTF-8: it is dropped, so the first column is still 'figure_id'",
        valid={"figure_id": ["total_2011", "total_2006", "software_share_exports_2011"], "value": [53.56, 22.61, 89.2]},
        lines=(2, 3, 4),
        same_as=(FIGURES, "press_release/good.csv"),
    ),
    Case(
        "wdi_tidy_utf8_bom",
        WDI,
        TIDY_NAME,
        lambda: b"\xef\xbb\xbf" + fixture("wdi/bx.gsr.royl.cd.csv"),
        "with the BOM dropped the header is exactly the tidy one",
        valid={"country_code": ["CHN", "CHN", "USA"], "value": [830469374.0, 743301698.0, 1.2e11]},
        lines=(2, 3, 5),
        same_as=(TIDY_NAME, "wdi/bx.gsr.royl.cd.csv"),
    ),
    Case(
        "press_release_cr_only_line_ends",
        PRESS,
        FIGURES,
        lambda: fixture("press_release/good.csv").replace(b"\n", b"\r"),
        "CR alone is the classic Mac line end; the csv module reads it as a line end and counts lines by it",
        valid={"file_row": [2, 3, 4], "value": [53.56, 22.61, 89.2]},
        lines=(2, 3, 4),
        same_as=(FIGURES, "press_release/good.csv"),
    ),
    Case(
        "wdi_bulk_cr_only_line_ends",
        WDI,
        BULK_NAME,
        lambda: fixture("wdi/bulk_download.csv").replace(b"\n", b"\r"),
        "the blank metadata lines count as lines with CR too, so the rows stay 6 and 8 and the vintage is read",
        valid={"file_row": [6, 6, 8, 8, 8], "vintage": ["2026-02-24"] * 5},
        lines=(6, 8),
        same_as=(BULK_NAME, "wdi/bulk_download.csv"),
    ),
    Case(
        "comtrade_crlf_line_ends",
        COMTRADE,
        PLUS_NAME,
        lambda: fixture("comtrade/plus_api.csv").replace(b"\n", b"\r\n"),
        "CRLF is the CSV standard's own line end (RFC 4180)",
        valid={
            "file_row": [2, 3, 4, 5, 6],
            "value": [6368050147.0, 11369627000.0, 4499808855.0, 6869818145.0, 1.2e9],
        },
        lines=(2, 3, 4, 5, 6),
        same_as=(PLUS_NAME, "comtrade/plus_api.csv"),
    ),
    Case(
        "wdi_bulk_crlf_line_ends",
        WDI,
        BULK_NAME,
        lambda: fixture("wdi/bulk_download.csv").replace(b"\n", b"\r\n"),
        "the World Bank's own files use CRLF",
        valid={"file_row": [6, 6, 8, 8, 8], "value": [1.04e10, 13908433591.0, 6.5e11, 7.1e11, 7.3e11]},
        lines=(6, 8),
        same_as=(BULK_NAME, "wdi/bulk_download.csv"),
    ),
    Case(
        "wdi_e_notation",
        WDI,
        TIDY_NAME,
        tidy("China,CHN,2010,1.2345678901E+11", "World,WLD,2011,6.5E+11", "Japan,JPN,2011,2.5e-1"),
        "E notation is how the World Bank prints large values; it is a plain number and parses to the exact float",
        valid={"value_text": ["1.2345678901E+11", "6.5E+11", "2.5e-1"], "value": [123456789010.0, 6.5e11, 0.25]},
        lines=(2, 3, 4),
    ),
    Case(
        "comtrade_e_notation",
        COMTRADE,
        PLUS_NAME,
        with_cells("comtrade/plus_api.csv", {2: {"primaryValue": "6.368050147E+9"}}),
        "the current API prints some values as '1.2E+9'; both parse to the exact float",
        valid={"file_row": [2, 3, 4, 5, 6], "value": [6368050147.0, 11369627000.0, 4499808855.0, 6869818145.0, 1.2e9]},
        lines=(2, 3, 4, 5, 6),
    ),
    Case(
        "press_release_columns_reordered",
        PRESS,
        FIGURES,
        with_columns("press_release/good.csv", lambda row: list(reversed(row))),
        "columns are found by name: the same file with its columns reversed parses identically",
        valid={"figure_id": ["total_2011", "total_2006", "software_share_exports_2011"]},
        lines=(2, 3, 4),
        same_as=(FIGURES, "press_release/good.csv"),
    ),
    Case(
        "comtrade_columns_reordered",
        COMTRADE,
        PLUS_NAME,
        with_columns("comtrade/plus_api.csv", lambda row: list(reversed(row))),
        "Comtrade columns are found by name too",
        valid={"file_row": [2, 3, 4, 5, 6]},
        lines=(2, 3, 4, 5, 6),
        same_as=(PLUS_NAME, "comtrade/plus_api.csv"),
    ),
    Case(
        "wdi_wide_year_columns_reordered",
        WDI_2013,
        WIDE_NAME,
        wide("2011,2010", f"China,CHN,{SERVICE_EXPORTS},184763043712.73,171521000000"),
        "year columns are read by their header, not their position",
        valid={"year": [2011, 2010], "value": [184763043712.73, 171521000000.0]},
        lines=(2,),
    ),
    Case(
        "press_release_extra_column",
        PRESS,
        FIGURES,
        with_columns("press_release/good.csv", lambda row: [*row, "checked_by" if row[0] == "figure_id" else "ab"]),
        "an unknown extra column is ignored: it is not in the parsed frame and the figures are unchanged",
        valid={"figure_id": ["total_2011", "total_2006", "software_share_exports_2011"]},
        lines=(2, 3, 4),
        same_as=(FIGURES, "press_release/good.csv"),
    ),
    Case(
        "comtrade_extra_column",
        COMTRADE,
        PLUS_NAME,
        with_columns("comtrade/plus_api.csv", lambda row: [*row, "newApiField" if row[0] == "typeCode" else "x"]),
        "the API adds fields over time: an unknown column is ignored",
        valid={"file_row": [2, 3, 4, 5, 6]},
        lines=(2, 3, 4, 5, 6),
        same_as=(PLUS_NAME, "comtrade/plus_api.csv"),
    ),
    Case(
        "comtrade_commodity_code_leading_zero",
        COMTRADE,
        PLUS_NAME,
        with_cells("comtrade/plus_api.csv", {3: {"cmdCode": "085420", "refYear": "2011", "period": "2011"}}),
        "commodity codes are text: '085420' keeps its zero and is another code than '8542' (6 digits, not 4), so "
        "neither is read as the other and the two records are not duplicates (an HS code of 5 digits is no level "
        "of HS: rule commodity_level, tests/test_comtrade_layout_families.py)",
        valid={
            "file_row": [2, 3, 4, 5, 6],
            "commodity_code": ["8542", "085420", "8542", "8542", "8542"],
            "aggregate_level": [4, 6, 4, 4, 4],
        },
        lines=(2, 3, 4, 5, 6),
    ),
    Case(
        "press_release_quote_spanning_two_lines",
        PRESS,
        FIGURES,
        replaced(
            "press_release/good.csv",
            b"total_2006,figure,\"China's technology",
            b"total_2006,figure,\"China's\ntechnology",
        ),
        "a quoted field may hold a line break (RFC 4180); the record starts on line 3, so the figure is at "
        "line 3 and the next one at line 5, as the wdi and comtrade parsers number them",
        valid={"file_row": [2, 3, 5]},
        lines=(2, 3, 5),
    ),
]

CASES = ERRORS + QUARANTINES + PARSES


def params(kind: str) -> list:
    return [
        pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=f"bug: {c.bug}")] if c.bug else [])
        for c in CASES
        if c.kind == kind
    ]


# --- running a case through the public path ---------------------------------------------------------------------


@cache
def catalogue() -> dict[str, Source]:
    return {s.id: s for s in load_catalogue(PROJECT_ROOT / "catalogue.toml")}


@cache
def country_codes() -> frozenset[str]:
    return known_country_codes(REFERENCE)


def context(source: Source) -> RunContext:
    return RunContext(source=source, country_codes=country_codes(), reference_dir=REFERENCE)


def load(
    source_id: str, payloads: list[tuple[str, Callable[[], bytes]]], raw_dir: Path
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Store the payloads (built one at a time, no copy kept), parse and validate them.

    Returns:
        (parsed frame, valid rows, quarantine rows).
    """
    source = catalogue()[source_id]
    stored = [store_payload(build(), name, raw_dir, source_id, f"test:{name}") for name, build in payloads]
    stored = [with_package(p, raw_dir) if p.name in TIDY_NAMES else p for p in stored]
    frame = parse_payloads(source, stored)
    valid, quarantine = validate_source(source, frame, context(source))
    return frame, valid, quarantine


def with_package(payload: Payload, raw_dir: Path) -> Payload:
    """A tidy file with a data package stating its indicator (as the World Bank's ``datapackage.json`` beside each
    ``indicators/<code>/data.csv`` does), kept in the raw zone as ``fetch_source`` keeps one (``Payload.metadata``)."""
    name = payload.name.removesuffix(".csv") + ".datapackage.json"
    text = json.dumps({"worldbank": {"indicator": TIDY_NAMES[payload.name]}}).encode()
    package = store_payload(text, name, raw_dir, payload.source_id, f"test:{name}")
    return replace(payload, metadata=package.raw_path)


def load_case(case: Case, raw_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    before = [(name, lambda rel=rel: fixture(rel)) for name, rel in case.before]
    return load(case.source_id, [*before, (case.name, case.data)], raw_dir)


def load_error(case: Case, raw_dir: Path) -> SourceError:
    """The SourceError loading the case raises (the test fails if it loads), without its tracebacks.

    The tracebacks hold the parser's frames, whose locals hold the payload (100 MB in some cases); dropping them
    frees it now rather than at the next garbage collection.
    """
    try:
        loaded = load_case(case, raw_dir)
    except SourceError as raised:
        cause: BaseException | None = raised
        while cause is not None:
            cause.__traceback__ = None
            cause = cause.__cause__ or cause.__context__
        return raised
    summary = f"no SourceError: {len(loaded[0])} rows parsed, {len(loaded[1])} valid. {case.why}"
    del loaded  # the rows may hold 100 MB: not kept alive by the failure's traceback
    pytest.fail(summary)


def assert_valid_values(case: Case, valid: pd.DataFrame) -> None:
    for column, values in (case.valid or {}).items():
        assert valid[column].tolist() == values, (case.why, column)


def assert_every_line_accounted(case: Case, frame: pd.DataFrame, valid: pd.DataFrame, q: pd.DataFrame) -> None:
    """Valid and quarantined rows cover every line that carries a value, and every parsed row is in one of them."""
    mine = frame[frame["file_name"] == case.name]
    covered = set(valid["file_row"]) | set(q["file_row"])
    assert sorted(covered) == list(case.lines), case.why
    assert set(mine["file_row"]) == covered
    assert len(valid) <= len(mine)
    if case.kind == "parse":
        assert len(valid) == len(mine)  # nothing dropped on the way


# --- the three outcomes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", params("error"))
def test_file_level_error(case: Case, tmp_path: Path) -> None:
    rule, row = case.error
    error = load_error(case, tmp_path)  # nothing half-loaded: no frame, valid or quarantine rows come back
    assert (error.source_id, Path(error.file).name, error.row) == (case.source_id, case.name, row), case.why
    if rule != ANY:
        assert error.rule == rule, case.why
    message = str(error)
    where = "whole file" if row is None else f"row {row}"
    for part in (f"[{case.source_id}]", case.name, where, f"rule '{error.rule}'"):
        assert part in message, (part, message[:300])


@pytest.mark.parametrize("case", params("quarantine"))
def test_row_level_quarantine(case: Case, tmp_path: Path) -> None:
    frame, valid, quarantine = load_case(case, tmp_path)
    got = sorted(
        zip(quarantine["file_row"], quarantine["column_name"], quarantine["rule"], quarantine["value"], strict=True)
    )
    assert got == sorted(case.quarantine), case.why
    assert list(quarantine.columns) == QUARANTINE_COLUMNS
    assert set(zip(quarantine["source_id"], quarantine["file_name"], strict=True)) == {(case.source_id, case.name)}
    assert_valid_values(case, valid)
    assert_every_line_accounted(case, frame, valid, quarantine)


@pytest.mark.parametrize("case", params("parse"))
def test_correct_parse(case: Case, tmp_path: Path) -> None:
    frame, valid, quarantine = load_case(case, tmp_path)
    assert quarantine.empty, quarantine[["file_row", "column_name", "rule", "value"]].to_string()
    assert_valid_values(case, valid)
    assert_every_line_accounted(case, frame, valid, quarantine)
    if case.same_as:
        name, rel = case.same_as
        _, expected, _ = load(case.source_id, [(name, lambda: fixture(rel))], tmp_path / "baseline")
        provenance = ["file_name", "file_sha256"]
        pd.testing.assert_frame_equal(valid.drop(columns=provenance), expected.drop(columns=provenance))


def test_corpus_size_and_spread() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 35
    datasets = {catalogue()[c.source_id].dataset for c in CASES}
    assert datasets == {"press_release", "wdi", "comtrade"}


# --- property tests: a mutated small valid file parses or raises SourceError, nothing else ---------------------

TOKENS = [b",", b";", b'"', b"\n", b"\r", b"<", b"{", b"}", b"\x00", "é".encode(), b"\xff"]

BASES = [
    pytest.param(PRESS, FIGURES, "press_release/good.csv", id="press_release"),
    pytest.param(WDI, BULK_NAME, "wdi/bulk_download.csv", id="wdi_bulk_download"),
    pytest.param(WDI_2013, WIDE_NAME, "wdi/wide_2013.csv", id="wdi_wide_2013"),
    pytest.param(WDI, TIDY_NAME, "wdi/bx.gsr.royl.cd.csv", id="wdi_tidy"),
    pytest.param(COMTRADE, "legacy_api.csv", "comtrade/legacy_api.csv", id="comtrade_legacy_api"),
    pytest.param(COMTRADE, "legacy_bulk.csv", "comtrade/legacy_bulk.csv", id="comtrade_legacy_bulk"),
    pytest.param(COMTRADE, PLUS_NAME, "comtrade/plus_api.csv", id="comtrade_plus_api_csv"),
    pytest.param(COMTRADE, JSON_NAME, "comtrade/plus_api.json", id="comtrade_plus_api_json"),
]


Edit = tuple[str, bool, int, int]  # (kind, anywhere, position in millionths, token index or length)
KINDS = ["delete", "insert", "replace", "duplicate_line", "drop_line", "truncate"]


@st.composite
def edits(draw: st.DrawFn) -> list[Edit]:
    """One to four edits; three in four stay after the header line, so that most files still reach validation."""
    edit = st.tuples(
        st.sampled_from(KINDS),
        st.sampled_from([False, False, False, True]),
        st.integers(0, 999_999),
        st.integers(0, len(TOKENS) * 3 - 1),
    )
    return draw(st.lists(edit, min_size=1, max_size=4))


def mutate(data: bytes, steps: list[Edit]) -> bytes:
    """Apply the edits: delete 1-8 bytes, insert or overwrite with 1-3 tokens, duplicate or drop a line, cut."""
    for kind, anywhere, where, n in steps:
        lines = data.splitlines(keepends=True)
        first = 0 if anywhere or len(lines) < 2 else 1  # the first line that may change
        start = len(lines[0]) if first else 0
        at = start + where * (len(data) - start) // 1_000_000
        line = first + where * (len(lines) - first) // 1_000_000
        token = TOKENS[n % len(TOKENS)] * (n // len(TOKENS) + 1)
        if kind == "delete":
            data = data[:at] + data[at + 1 + n % 8 :]
        elif kind == "insert":
            data = data[:at] + token + data[at:]
        elif kind == "replace":
            data = data[:at] + token + data[at + len(token) :]
        elif kind == "duplicate_line" and line < len(lines):
            data = b"".join([*lines[: line + 1], *lines[line:]])
        elif kind == "drop_line" and line < len(lines):
            data = b"".join([*lines[:line], *lines[line + 1 :]])
        elif kind == "truncate":
            data = data[:at]
    return data


@pytest.mark.parametrize(("source_id", "name", "rel"), BASES)
def test_unmutated_base_is_fully_valid(source_id: str, name: str, rel: str, tmp_path: Path) -> None:
    frame, valid, quarantine = load(source_id, [(name, lambda: fixture(rel))], tmp_path)
    assert (len(valid), len(quarantine)) == (len(frame), 0)


@pytest.mark.parametrize(("source_id", "name", "rel"), BASES)
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@pytest.mark.fuzz
@given(steps=edits())
def test_mutated_file_parses_or_raises_source_error(
    source_id: str, name: str, rel: str, steps: list[Edit], tmp_path: Path
) -> None:
    data = mutate(fixture(rel), steps)
    try:
        frame, valid, quarantine = load(source_id, [(name, lambda: data)], tmp_path / "raw")
    except SourceError as error:  # the only exception allowed, and it names the source, the file and a rule
        assert (error.source_id, Path(error.file).name) == (source_id, name)
        assert error.rule and f"rule '{error.rule}'" in str(error)
        event(f"SourceError {error.rule}")
        return
    event("parsed" if quarantine.empty else "parsed with quarantine rows")
    assert list(quarantine.columns) == QUARANTINE_COLUMNS
    assert set(frame["file_row"]) == set(valid["file_row"]) | set(quarantine["file_row"])
    assert len(valid) <= len(frame)
