"""Parser for SDMX-CSV files (dataset ``sdmx_csv``): one row per observation, every column read by name.

SDMX-CSV (version 1) puts one observation per line: the structure columns (``STRUCTURE``, ``STRUCTURE_ID``, and
``STRUCTURE_NAME``, ``ACTION`` when present), then the dimensions in the structure's order (``TIME_PERIOD`` among
them), ``OBS_VALUE``, then the attributes (``OBS_STATUS``, ``UNIT_MULT``, ...). Three flavours of the family are
recognised from the header (never from the file name or from column positions):

* ``data360``: the World Bank's Data360 (``STRUCTURE,STRUCTURE_ID,ACTION,FREQ,FREQ_LABEL,REF_AREA,
  REF_AREA_LABEL,INDICATOR,INDICATOR_LABEL,...``): every code column ``X`` is followed by its label ``X_LABEL``.
* ``oecd_labels``: OECD Data Explorer's "with labels" download (``STRUCTURE,STRUCTURE_ID,STRUCTURE_NAME,ACTION,
  REF_AREA,Reference area,...``): a code column is followed by a label column named after the concept in
  English (``Reference area``, ``Measure``), so a header that is not an SDMX id is the label of the column
  before it.
* ``codes_only``: codes only, every header an SDMX id (``STRUCTURE,STRUCTURE_ID,STRUCTURE_NAME,ACTION,REF_AREA,
  ...,TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MULT,...``).

Every row of the file becomes a row of the frame (columns ``COLUMNS``); nothing is filtered. ``obs_value`` is the
value as published, ``value`` is scaled by ``10 ** unit_mult``. An empty ``OBS_VALUE`` (SDMX's way of printing a
missing observation, flagged by ``OBS_STATUS``) is kept as an empty text with NaN values; validation decides.
The indicator is the ``INDICATOR`` column, else ``MEASURE``. ``other_dims`` holds, as JSON with sorted keys, the
codes of every other dimension (``FREQ``, ``SEX``, ``AGE``, ``COMP_BREAKDOWN_1``, ...), so that a breakdown is
never mistaken for a total.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
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

DATA360 = "data360"
OECD_LABELS = "oecd_labels"
CODES_ONLY = "codes_only"

COLUMNS: tuple[str, ...] = (
    "structure_id",
    "ref_area",
    "ref_area_label",
    "indicator",
    "indicator_label",
    "unit_measure",
    "time_period",
    "year",
    "obs_value_text",
    "obs_value",
    "unit_mult",
    "value",
    "obs_status",
    "other_dims",
    "file_row",
)

REQUIRED: tuple[str, ...] = ("STRUCTURE", "STRUCTURE_ID", "TIME_PERIOD", "OBS_VALUE")
STRUCTURE_COLUMNS = frozenset({"STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION"})
INDICATOR_COLUMNS: tuple[str, ...] = ("INDICATOR", "MEASURE")
# attributes some publishers print among the dimensions: never a dimension, whatever their position
ATTRIBUTES = frozenset({"UNIT_MULT", "DECIMALS", "BASE_PER", "CONF_STATUS", "TIME_FORMAT", "UNIT_TYPE", "AGG_METHOD"})
# columns with an output column of their own, so not in other_dims
OWN_COLUMNS = frozenset({"REF_AREA", "UNIT_MEASURE", "TIME_PERIOD"})
DELETE_ACTION = "D"
MAX_UNIT_MULT = 24  # no plausible scale lies beyond 10^24 (and 10.0 ** 400 would overflow)

EXPECTED = (
    f"an SDMX-CSV header with the columns {', '.join(REQUIRED)} (and REF_AREA, INDICATOR or MEASURE), e.g. "
    "'STRUCTURE,STRUCTURE_ID,STRUCTURE_NAME,ACTION,REF_AREA,...,TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MULT,...'"
)

_SDMX_ID = re.compile(r"[A-Z][A-Z0-9_]*")
_YEAR = re.compile(r"(\d{4})(-.+)?")
_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class Header:
    """Where each code column is and where its label is, if the flavour prints one.

    Attributes:
        layout: the flavour recognised.
        codes: code column name -> index.
        labels: code column name -> index of its label column.
        dimensions: the code columns that go into ``other_dims``, in file order.
        width: the number of header fields.
    """

    layout: str
    codes: dict[str, int]
    labels: dict[str, int]
    dimensions: tuple[str, ...]
    width: int

    def code(self, cells: list[str], name: str) -> str | None:
        """The stripped cell of a code column, or None when the file has no such column."""
        at = self.codes.get(name)
        return None if at is None else cells[at].strip()

    def label(self, cells: list[str], name: str) -> str | None:
        """The stripped label of a code column, or None when there is none (column absent or cell empty)."""
        at = self.labels.get(name)
        return (cells[at].strip() or None) if at is not None else None


def parse_sdmx_csv(path: Path, *, source_id: str) -> ParsedFile:
    """Parse one SDMX-CSV file in any of the three flavours.

    Args:
        path: the CSV file.
        source_id: the catalogue id of the source, used in error messages.

    Returns:
        One row per observation (columns ``COLUMNS``), vintage None (SDMX-CSV states no release date) and the
        flavour's name.

    Raises:
        SourceError: rules 'empty_file', 'html_not_csv', 'gzip_not_csv', 'encoding' (from ``decode_text``),
            'csv_syntax', 'unknown_layout', 'missing_column', 'duplicate_column', 'no_rows', 'field_count',
            'unit_mult_not_integer', 'unit_mult_out_of_range', 'delete_action'.
    """
    src = FileRef(Path(path), source_id)
    text = decode_text(src.path.read_bytes(), source_id=source_id, file=str(src.path))
    records = [record for record in read_records(text, src) if not is_blank(record.cells)]
    if not records:
        raise src.error("the file holds only blank lines", rule="empty_file")
    header = read_header(records[0], src)
    rows = records[1:]
    require_rows(rows, src)
    return ParsedFile(frame=read_rows(header, rows, src), vintage=None, layout=header.layout)


def read_header(record: Record, src: FileRef) -> Header:
    """Recognise the flavour from the header and locate every column by name.

    Args:
        record: the header record.
        src: the file, for error messages.

    Returns:
        The header's map.

    Raises:
        SourceError: 'unknown_layout' (a required column is missing), 'missing_column' (no REF_AREA, or neither
            INDICATOR nor MEASURE), 'duplicate_column' (a code column printed twice).
    """
    names = [cell.strip() for cell in record.cells]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise src.error(
            f"not SDMX-CSV: no column {', '.join(missing)}; expected {EXPECTED}; got {preview(record.cells)}",
            row=record.line,
            rule="unknown_layout",
        )
    is_label = label_test(names)
    label_at = [i for i in range(len(names)) if is_label(i)]
    layout = CODES_ONLY if not label_at else OECD_LABELS
    if any(names[i].endswith("_LABEL") for i in label_at):
        layout = DATA360
    codes: dict[str, int] = {}
    labels: dict[str, int] = {}
    for i, name in enumerate(names):
        if is_label(i):
            owner = name.removesuffix("_LABEL") if name.endswith("_LABEL") else names[i - 1]
            labels[owner] = i
            continue
        if name in codes:
            raise src.error(f"column {name!r} appears twice", row=record.line, rule="duplicate_column")
        codes[name] = i
    if "REF_AREA" not in codes or not any(name in codes for name in INDICATOR_COLUMNS):
        raise src.error(
            "an SDMX-CSV header without REF_AREA, or without INDICATOR or MEASURE; "
            f"tradewh reads an area and an indicator per observation; got {preview(record.cells)}",
            row=record.line,
            rule="missing_column",
        )
    indicator = indicator_column(codes)
    first_dimension = max(codes[name] for name in STRUCTURE_COLUMNS if name in codes) + 1
    dimensions = tuple(
        name
        for name, at in codes.items()
        if first_dimension <= at < codes["OBS_VALUE"]
        and name not in OWN_COLUMNS | {indicator} | ATTRIBUTES
        and not name.startswith("OBS_")
    )
    return Header(layout=layout, codes=codes, labels=labels, dimensions=dimensions, width=len(names))


def label_test(names: list[str]) -> Callable[[int], bool]:
    """A test telling whether the header field at an index is a label column rather than a code column.

    A Data360 label is ``X_LABEL`` after a code column ``X``; an OECD label is any header that is not an SDMX
    id (upper-case letters, digits and '_'), the label of the column before it.
    """

    def is_label(i: int) -> bool:
        name = names[i]
        if name.endswith("_LABEL") and name.removesuffix("_LABEL") in names[:i]:
            return True
        return i > 0 and not _SDMX_ID.fullmatch(name) and bool(_SDMX_ID.fullmatch(names[i - 1]))

    return is_label


def indicator_column(codes: dict[str, int]) -> str:
    """The column that names the indicator: INDICATOR (Data360), else MEASURE (OECD)."""
    return next(name for name in INDICATOR_COLUMNS if name in codes)


def read_rows(header: Header, rows: list[Record], src: FileRef) -> pd.DataFrame:
    """Read every data record into the output frame.

    Args:
        header: the header's map.
        rows: the data records, blank lines excluded.
        src: the file, for error messages.

    Returns:
        The frame, in file order.

    Raises:
        SourceError: 'field_count', 'unit_mult_not_integer', 'unit_mult_out_of_range', 'delete_action'.
    """
    indicator = indicator_column(header.codes)
    out: dict[str, list[object]] = {name: [] for name in COLUMNS}
    for record in rows:
        check_field_count(record, header.width, src)
        cells = record.cells
        if header.code(cells, "ACTION") == DELETE_ACTION:
            raise src.error(
                "ACTION 'D' (delete) rows are instructions to remove data, not observations; "
                "load a full snapshot (ACTION 'I')",
                row=record.line,
                rule="delete_action",
            )
        time_period = header.code(cells, "TIME_PERIOD") or ""
        obs_value_text = header.code(cells, "OBS_VALUE") or ""
        unit_mult = read_unit_mult(header.code(cells, "UNIT_MULT"), record, src)
        obs_value = to_number(obs_value_text)
        year = _YEAR.fullmatch(time_period)
        out["structure_id"].append(header.code(cells, "STRUCTURE_ID") or "")
        out["ref_area"].append(header.code(cells, "REF_AREA") or "")
        out["ref_area_label"].append(header.label(cells, "REF_AREA"))
        out["indicator"].append(header.code(cells, indicator) or "")
        out["indicator_label"].append(header.label(cells, indicator))
        out["unit_measure"].append(header.code(cells, "UNIT_MEASURE") or None)
        out["time_period"].append(time_period)
        out["year"].append(int(year.group(1)) if year else -1)
        out["obs_value_text"].append(obs_value_text)
        out["obs_value"].append(obs_value)
        out["unit_mult"].append(unit_mult)
        out["value"].append(obs_value * 10.0**unit_mult)
        out["obs_status"].append(header.code(cells, "OBS_STATUS") or None)
        dims = {name: header.code(cells, name) for name in header.dimensions}
        out["other_dims"].append(json.dumps(dims, sort_keys=True, ensure_ascii=False))
        out["file_row"].append(record.line)
    return to_frame(out)


def read_unit_mult(text: str | None, record: Record, src: FileRef) -> int:
    """The power of ten the observation is printed in: 0 when the column is absent or the cell empty.

    Raises:
        SourceError: 'unit_mult_not_integer' when the cell is not an integer, 'unit_mult_out_of_range' when it
            is beyond +-MAX_UNIT_MULT (a wrong scale would load a figure off by orders of magnitude, so the file
            is refused rather than guessed at).
    """
    if not text:
        return 0
    if not _INTEGER.fullmatch(text):
        raise src.error(f"UNIT_MULT {text!r} is not an integer", row=record.line, rule="unit_mult_not_integer")
    if abs(int(text)) > MAX_UNIT_MULT:
        raise src.error(
            f"UNIT_MULT {text} is not a power of ten any publisher prints (at most {MAX_UNIT_MULT} either way)",
            row=record.line,
            rule="unit_mult_out_of_range",
        )
    return int(text)


def to_frame(out: dict[str, list[object]]) -> pd.DataFrame:
    """Build the output frame with explicit dtypes: nullable text as object (str or None)."""
    nullable = {"ref_area_label", "indicator_label", "unit_measure", "obs_status"}
    dtypes = {"year": "int64", "unit_mult": "int64", "file_row": "int64", "obs_value": "float64", "value": "float64"}
    return pd.DataFrame(
        {
            name: pd.Series(out[name], dtype="object" if name in nullable else dtypes.get(name, "str"))
            for name in COLUMNS
        },
        columns=list(COLUMNS),
    )
