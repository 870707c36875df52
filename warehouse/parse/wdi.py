"""Parser for the World Bank's World Development Indicators (WDI) CSV files.

Three CSV layouts are recognised from their header content (never from the file name or from column
positions), and the API v2 JSON (see ``wdi_api``):

* ``bulk_download``: the World Bank's own bulk-download file (``API_<code>_DS2_en_csv_v2_<n>.csv``): UTF-8
  BOM, a ``"Data Source"`` line, a ``"Last Updated Date"`` line, blank lines, then the wide header
  ``"Country Name","Country Code","Indicator Name","Indicator Code","1960",...,"2025",`` with a trailing
  comma on every line. Its vintage is the Last Updated Date.
* ``wide_2013``: the same wide header on line 1, without the metadata lines and the trailing comma (the
  December 2013 WDI files); one or more indicators per file.
* ``tidy``: ``Country Name,Country Code,Year,Value`` (the World Bank's per-indicator data packages,
  ``indicators/<code>/data.csv``), with ``Indicator Code`` (and ``Indicator Name``) columns or without. The
  indicator is what the file or its metadata states, never its file name: the ``Indicator Code`` column, else
  the Frictionless data package that describes the file (``worldbank.indicator`` of the resource whose ``path`` is
  the file, or of the package) -- a ``<stem>.datapackage.json`` beside it or the ``datapackage.json`` of its folder,
  carried into the raw zone with it (``Payload.metadata``). A file that states no indicator is refused
  ('no_indicator').

Every layout comes out as one row per published value, with the columns of ``COLUMNS``. Empty cells are
missing values and produce no row; cells that are not plain numbers keep their text in ``value_text`` and
get ``value`` NaN, so that validation can quarantine them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from warehouse.parse.base import ParsedFile
from warehouse.parse.csvtext import (
    FileRef,
    Record,
    check_field_count,
    decode_text,
    is_blank,
    preview,
    read_records,
    require_rows,
    to_number,
)
from warehouse.parse.wdi_api import LAYOUT as API_JSON
from warehouse.parse.wdi_api import looks_like_api_json, parse_api_json

BULK_DOWNLOAD = "bulk_download"
WIDE_2013 = "wide_2013"
TIDY = "tidy"

COLUMNS: tuple[str, ...] = (
    "country_name",
    "country_code",
    "indicator_name",
    "indicator_code",
    "year",
    "value_text",
    "value",
    "file_row",
)

WIDE_ID_COLUMNS: tuple[str, ...] = ("Country Name", "Country Code", "Indicator Name", "Indicator Code")
TIDY_COLUMNS: tuple[str, ...] = ("Country Name", "Country Code", "Year", "Value")
TIDY_INDICATOR_COLUMNS: tuple[str, ...] = ("Indicator Code", "Indicator Name")  # optional in a tidy file
DATAPACKAGE = "datapackage.json"  # a folder's Frictionless data package; <stem>.datapackage.json for one file
BULK_FIRST_CELL = "Data Source"
BULK_VINTAGE_CELL = "Last Updated Date"

EXPECTED_HEADERS = (
    f"{BULK_DOWNLOAD}: line 1 '{BULK_FIRST_CELL},...', then header '{','.join(WIDE_ID_COLUMNS)},1960,...'; "
    f"{WIDE_2013}: line 1 '{','.join(WIDE_ID_COLUMNS)},1960,...'; "
    f"{TIDY}: line 1 '{','.join(TIDY_COLUMNS)}' (and optionally {' and '.join(TIDY_INDICATOR_COLUMNS)})"
)

_YEAR_COLUMN = re.compile(r"\d{4}")
_INTEGER = re.compile(r"\d+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INDICATOR_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._]*")


@dataclass
class Columns:
    """Column-wise accumulator for the output frame."""

    country_name: list[str] = field(default_factory=list)
    country_code: list[str] = field(default_factory=list)
    indicator_name: list[str | None] = field(default_factory=list)
    indicator_code: list[str] = field(default_factory=list)
    year: list[int] = field(default_factory=list)
    value_text: list[str] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    file_row: list[int] = field(default_factory=list)

    def add(
        self,
        *,
        country_name: str,
        country_code: str,
        indicator_name: str | None,
        indicator_code: str,
        year: int,
        value_text: str,
        file_row: int,
    ) -> None:
        """Append one published value; ``value`` is derived from ``value_text``.

        Args:
            country_name: the economy's name as published, stripped.
            country_code: the economy's code as published, stripped.
            indicator_name: the indicator's name, or None when the file does not carry it.
            indicator_code: the indicator's code, upper-cased.
            year: the observation year.
            value_text: the cell exactly as published, stripped (never empty).
            file_row: 1-based physical line number of the record.
        """
        self.country_name.append(country_name)
        self.country_code.append(country_code)
        self.indicator_name.append(indicator_name)
        self.indicator_code.append(indicator_code)
        self.year.append(year)
        self.value_text.append(value_text)
        self.value.append(to_number(value_text))
        self.file_row.append(file_row)

    def to_frame(self) -> pd.DataFrame:
        """Build the output frame with explicit dtypes.

        Returns:
            A frame with the columns of ``COLUMNS``, in that order; ``indicator_name`` is an object column
            holding str or None, the other text columns are pandas ``str``.
        """
        return pd.DataFrame(
            {
                "country_name": pd.Series(self.country_name, dtype="str"),
                "country_code": pd.Series(self.country_code, dtype="str"),
                "indicator_name": pd.Series(self.indicator_name, dtype="object"),
                "indicator_code": pd.Series(self.indicator_code, dtype="str"),
                "year": pd.Series(self.year, dtype="int64"),
                "value_text": pd.Series(self.value_text, dtype="str"),
                "value": pd.Series(self.value, dtype="float64"),
                "file_row": pd.Series(self.file_row, dtype="int64"),
            },
            columns=list(COLUMNS),
        )


def parse_wdi(path: Path, *, source_id: str, metadata: Path | None = None) -> ParsedFile:
    """Parse one WDI file in any of the three CSV layouts or the API v2 JSON layout (``wdi_api``).

    Args:
        path: the CSV file.
        source_id: the catalogue id of the source, used in error messages.
        metadata: the data package that describes the file (a tidy file's indicator), when it is not beside the
            file: the raw zone keeps each payload in a folder of its own (``Payload.metadata``).

    Returns:
        The long frame (columns ``COLUMNS``), the vintage the file states (bulk_download only, else None)
        and the layout name.

    Raises:
        SourceError: the file is empty, HTML, not UTF-8, of no known layout, or malformed; rules
            'empty_file', 'html_not_csv', 'gzip_not_csv', 'encoding' (from ``decode_text``), 'no_rows',
            'csv_syntax', 'unknown_layout', 'field_count', 'year_not_integer', 'vintage_date', 'datapackage',
            'no_indicator'.
    """
    src = FileRef(Path(path), source_id)
    text = decode_text(src.path.read_bytes(), source_id=source_id, file=str(src.path))
    if looks_like_api_json(text):
        frame, vintage = parse_api_json(text, source_id=source_id, file=str(src.path))
        if vintage is not None and not is_iso_date(vintage):
            raise src.error(f"lastupdated '{vintage}' is not a YYYY-MM-DD date", rule="vintage_date")
        return ParsedFile(frame=frame, vintage=vintage, layout=API_JSON)
    records = [record for record in read_records(text, src) if not is_blank(record.cells)]
    if not records:
        raise src.error("the file holds only blank lines", rule="empty_file")

    header = [cell.strip() for cell in records[0].cells]
    if header[0] == BULK_FIRST_CELL:
        return parse_bulk_download(records, src)
    if is_wide_header(header) and header[-1] != "":
        return ParsedFile(frame=melt_wide(records[0], records[1:], src), vintage=None, layout=WIDE_2013)
    if is_tidy_header(header):
        return ParsedFile(frame=parse_tidy(records[0], records[1:], src, metadata), vintage=None, layout=TIDY)
    raise src.error(
        f"the header matches no WDI layout; expected {EXPECTED_HEADERS}; got {preview(records[0].cells)}",
        row=records[0].line,
        rule="unknown_layout",
    )


def parse_bulk_download(records: list[Record], src: FileRef) -> ParsedFile:
    """Parse a bulk-download file: metadata lines, then a wide header with a trailing empty column.

    Args:
        records: the file's non-blank records, the "Data Source" line first.
        src: the file, for error messages.

    Returns:
        The parsed file, with its Last Updated Date as vintage.

    Raises:
        SourceError: rules 'unknown_layout', 'vintage_date', and those of ``melt_wide``.
    """
    at = next((i for i, r in enumerate(records) if r.cells[0].strip() == WIDE_ID_COLUMNS[0]), None)
    if at is None or not is_wide_header([cell.strip() for cell in records[at].cells]):
        raise src.error(
            f"starts like a bulk download but has no wide header; expected {EXPECTED_HEADERS}",
            row=records[0].line,
            rule="unknown_layout",
        )
    metadata = {record.cells[0].strip(): record for record in records[:at]}
    vintage = read_vintage(metadata.get(BULK_VINTAGE_CELL), src)
    frame = melt_wide(records[at], records[at + 1 :], src)
    return ParsedFile(frame=frame, vintage=vintage, layout=BULK_DOWNLOAD)


def read_vintage(record: Record | None, src: FileRef) -> str:
    """Read the ISO date of a bulk download's "Last Updated Date" line.

    Args:
        record: the metadata record, or None when the file has none.
        src: the file, for error messages.

    Returns:
        The date as ``YYYY-MM-DD``.

    Raises:
        SourceError: rule 'vintage_date' when the line is missing or its date is not a valid ISO date.
    """
    if record is None:
        raise src.error(f"no '{BULK_VINTAGE_CELL}' line before the header", rule="vintage_date")
    stated = record.cells[1].strip() if len(record.cells) > 1 else ""
    if not is_iso_date(stated):
        raise src.error(
            f"'{BULK_VINTAGE_CELL}' is {stated!r}, not an ISO date YYYY-MM-DD",
            row=record.line,
            rule="vintage_date",
        )
    return stated


def melt_wide(header: Record, rows: list[Record], src: FileRef) -> pd.DataFrame:
    """Melt a wide file (one column per year) to one row per non-empty cell.

    Args:
        header: the header record: the four id columns and the year columns, found by name.
        rows: the data records after the header, blank lines excluded.
        src: the file, for error messages.

    Returns:
        The long frame, in file order then year-column order.

    Raises:
        SourceError: rules 'no_rows', 'field_count'.
    """
    names = [cell.strip() for cell in header.cells]
    at = {name: names.index(name) for name in WIDE_ID_COLUMNS}
    years = [(i, int(name)) for i, name in enumerate(names) if _YEAR_COLUMN.fullmatch(name)]
    require_rows(rows, src)
    out = Columns()
    for record in rows:
        check_field_count(record, len(names), src)
        cells = record.cells
        for i, year in years:
            value_text = cells[i].strip()
            if not value_text:
                continue
            out.add(
                country_name=cells[at["Country Name"]].strip(),
                country_code=cells[at["Country Code"]].strip(),
                indicator_name=cells[at["Indicator Name"]].strip() or None,
                indicator_code=cells[at["Indicator Code"]].strip().upper(),
                year=year,
                value_text=value_text,
                file_row=record.line,
            )
    return out.to_frame()


def parse_tidy(header: Record, rows: list[Record], src: FileRef, metadata: Path | None = None) -> pd.DataFrame:
    """Read a tidy file (Country Name, Country Code, Year, Value, and optionally Indicator Code and Name).

    The indicator is the ``Indicator Code`` column's, else the one the file's data package states
    (``describe_tidy``); never the file name. Empty values produce no row.

    Args:
        header: the header record.
        rows: the data records after the header, blank lines excluded.
        src: the file.
        metadata: its data package, when not beside it (see ``parse_wdi``).

    Returns:
        The long frame, in file order.

    Raises:
        SourceError: rules 'no_rows', 'field_count', 'year_not_integer', 'datapackage', 'no_indicator'.
    """
    names = [cell.strip() for cell in header.cells]
    at = {name: names.index(name) for name in (*TIDY_COLUMNS, *TIDY_INDICATOR_COLUMNS) if name in names}
    require_rows(rows, src)
    stated_code, stated_name = describe_tidy(src, metadata)
    if stated_code is None and "Indicator Code" not in at:
        raise src.error(
            f"the file states no indicator: no 'Indicator Code' column, and no data package describing it "
            f"({src.path.stem}.datapackage.json or a {DATAPACKAGE} listing it among its resources, beside it, with "
            "worldbank.indicator as the World Bank's indicators/<code>/datapackage.json has it); the file name is "
            f"not read as an indicator. To state it, write {src.path.stem}.datapackage.json beside the file: "
            '{"worldbank": {"indicator": "<the indicator code>"}}',
            row=header.line,
            rule="no_indicator",
        )
    out = Columns()
    for record in rows:
        check_field_count(record, len(names), src)
        cells = record.cells
        year_text = cells[at["Year"]].strip()
        if not _INTEGER.fullmatch(year_text):
            raise src.error(f"Year {year_text!r} is not an integer", row=record.line, rule="year_not_integer")
        value_text = cells[at["Value"]].strip()
        if not value_text:
            continue
        code, name = stated_code, stated_name
        if "Indicator Code" in at:
            code = cells[at["Indicator Code"]].strip().upper()
            if stated_code is not None and code != stated_code:
                raise src.error(
                    f"Indicator Code {code!r} differs from the {stated_code!r} its data package states",
                    row=record.line,
                    rule="no_indicator",
                )
            if "Indicator Name" in at:
                name = cells[at["Indicator Name"]].strip() or stated_name
        out.add(
            country_name=cells[at["Country Name"]].strip(),
            country_code=cells[at["Country Code"]].strip(),
            indicator_name=name,
            indicator_code=code or "",
            year=int(year_text),
            value_text=value_text,
            file_row=record.line,
        )
    return out.to_frame()


def is_tidy_header(header: list[str]) -> bool:
    """Whether a header is a tidy one: the four tidy columns, and at most the optional indicator columns, once each."""
    return (
        len(header) == len(set(header))
        and set(TIDY_COLUMNS) <= set(header)
        and set(header) <= {*TIDY_COLUMNS, *TIDY_INDICATOR_COLUMNS}
        and ("Indicator Name" not in header or "Indicator Code" in header)
    )


def datapackage_of(path: Path) -> Path | None:
    """The data package beside a file that may describe it: ``<stem>.datapackage.json``, else the folder's
    ``datapackage.json``; None when there is neither."""
    for candidate in (path.with_name(f"{path.stem}.{DATAPACKAGE}"), path.with_name(DATAPACKAGE)):
        if candidate.is_file() and candidate != path:
            return candidate
    return None


def describe_tidy(src: FileRef, metadata: Path | None = None) -> tuple[str | None, str | None]:
    """The indicator code and name a tidy file's data package states.

    The package is ``metadata`` or the one beside the file (``datapackage_of``). The resource describing the file is
    the one whose ``path`` is the file's name, else a package's only resource; its ``worldbank.indicator`` is the
    code, else the package's own ``worldbank.indicator`` when the package describes this one file; the name is the
    resource's ``worldbank.name``, else the package's ``title`` when the code is the package's.

    Args:
        src: the tidy CSV file.
        metadata: its data package, when not beside it.

    Returns:
        (code upper-cased or None, name or None); (None, None) when there is no package or it states no indicator.

    Raises:
        SourceError: rule 'datapackage' when the package is not valid UTF-8 JSON, or names an indicator that is not
            a code.
    """
    package = metadata if metadata is not None else datapackage_of(src.path)
    if package is None:
        return None, None
    ref = FileRef(package, src.source_id)
    try:
        meta = json.loads(package.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ref.error(f"not valid JSON: {err}", rule="datapackage") from err
    if not isinstance(meta, dict):
        return None, None
    resources = [r for r in meta.get("resources") or [] if isinstance(r, dict)]
    resource = next((r for r in resources if Path(str(r.get("path", ""))).name == src.path.name), None)
    own_file = package.name == f"{src.path.stem}.{DATAPACKAGE}"  # a package of this one file, whatever its paths say
    if resource is None and own_file and len(resources) <= 1:
        resource = resources[0] if resources else {}
    if resource is None:
        return None, None
    code, name = _stated(resource), _text(_worldbank(resource).get("name")) or _text(resource.get("title"))
    if code is None and len(resources) <= 1:
        code, name = _stated(meta), _text(meta.get("title"))
    if code is not None and not _INDICATOR_CODE.fullmatch(code):
        raise ref.error(f"worldbank.indicator {code!r} is not an indicator code", rule="datapackage")
    return (code.upper() if code else None), name


def _worldbank(item: dict) -> dict:
    block = item.get("worldbank")
    return block if isinstance(block, dict) else {}


def _stated(item: dict) -> str | None:
    return _text(_worldbank(item).get("indicator"))


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def is_wide_header(header: list[str]) -> bool:
    """Tell whether a header is a WDI wide header.

    Args:
        header: the stripped header cells.

    Returns:
        True when the header starts with the four id columns and every other column is a year (at least
        one), except an empty last one (the bulk download's trailing comma).
    """
    years = header[len(WIDE_ID_COLUMNS) :]
    if years and years[-1] == "":
        years = years[:-1]
    return (
        tuple(header[: len(WIDE_ID_COLUMNS)]) == WIDE_ID_COLUMNS
        and bool(years)
        and all(_YEAR_COLUMN.fullmatch(name) for name in years)
    )


def is_iso_date(text: str) -> bool:
    """Tell whether a text is a valid calendar date written ``YYYY-MM-DD``.

    Args:
        text: the text.

    Returns:
        True for a valid ISO date.
    """
    if not _ISO_DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
