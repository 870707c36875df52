"""Parser for OECD Main Science and Technology Indicators (MSTI) pivoted by R (dataset ``oecd_msti``).

Not OECD's own layout: a user's R ``spread()`` + ``write.csv()`` of the MSTI download, one row per year and
variable, one column per country *name*::

    "","YEAR","MSTI_VAR","MSTI.Variables","Unit","PowerCode","Germany","United Kingdom",...
    "1",2011,"AFA_NC","R&D expenditure of ...","National currency","Millions",13238.604,8873,...,NA,562.2

The first column (R's row names, header ``""``) is ignored; the others are found by name. The frame has one row
per printed value (columns ``COLUMNS``): ``NA`` and empty cells are missing values and produce no row (missing
is not zero). ``value`` is the printed number times the scale its ``PowerCode`` names (Millions 1e6, Thousands
1e3, Units 1); a value that is not a plain number, or a PowerCode that is not one of those, gives NaN and keeps
the text, so that validation refuses the row with what was printed.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from warehouse.parse.base import ParsedFile
from warehouse.parse.csvtext import (
    FileRef,
    check_field_count,
    decode_text,
    is_blank,
    preview,
    read_records,
    require_rows,
    to_number,
)

LAYOUT = "r_wide_by_country"

COLUMNS: tuple[str, ...] = (
    "year",
    "msti_var",
    "description",
    "unit",
    "power_code",
    "country_name",
    "value_text",
    "value",
    "file_row",
)

ID_COLUMNS: tuple[str, ...] = ("YEAR", "MSTI_VAR", "MSTI.Variables", "Unit", "PowerCode")
ROW_INDEX = ""  # R's write.csv names its row-name column ""
POWER_CODES: dict[str, float] = {"Millions": 1e6, "Thousands": 1e3, "Units": 1.0}
MISSING = frozenset({"", "NA"})

EXPECTED = f"a header '\"\",{','.join(ID_COLUMNS)},<country name>,...' (R write.csv of the MSTI download)"

_INTEGER = re.compile(r"\d{4}")


def parse_oecd_msti(path: Path, *, source_id: str) -> ParsedFile:
    """Parse the R-pivoted MSTI file into one row per country and value.

    Args:
        path: the CSV file.
        source_id: the catalogue id of the source, used in error messages.

    Returns:
        The long frame (columns ``COLUMNS``), in file order then country-column order; vintage None (the file
        states none); the layout name.

    Raises:
        SourceError: rules 'empty_file', 'html_not_csv', 'gzip_not_csv', 'encoding' (from ``decode_text``),
            'csv_syntax', 'unknown_layout', 'duplicate_column', 'no_rows', 'field_count', 'year_not_integer'.
    """
    src = FileRef(Path(path), source_id)
    text = decode_text(src.path.read_bytes(), source_id=source_id, file=str(src.path))
    records = [record for record in read_records(text, src) if not is_blank(record.cells)]
    if not records:
        raise src.error("the file holds only blank lines", rule="empty_file")
    header = records[0]
    names = [cell.strip() for cell in header.cells]
    missing = [name for name in ID_COLUMNS if name not in names]
    if missing:
        raise src.error(
            f"no column {', '.join(missing)}; expected {EXPECTED}; got {preview(header.cells)}",
            row=header.line,
            rule="unknown_layout",
        )
    named = [name for i, name in enumerate(names) if not (i == 0 and name == ROW_INDEX)]
    repeated = sorted({name for name in named if name and named.count(name) > 1})
    if repeated:
        raise src.error(f"columns appear twice: {repeated}", row=header.line, rule="duplicate_column")
    at = {name: names.index(name) for name in ID_COLUMNS}
    countries = [
        (i, name) for i, name in enumerate(names) if name not in ID_COLUMNS and not (i == 0 and name == ROW_INDEX)
    ]
    if not countries or any(name == "" for _, name in countries):
        raise src.error(
            f"every column after the id columns must name a country; expected {EXPECTED}; got {preview(header.cells)}",
            row=header.line,
            rule="unknown_layout",
        )
    rows = records[1:]
    require_rows(rows, src)

    out: dict[str, list[object]] = {name: [] for name in COLUMNS}
    for record in rows:
        check_field_count(record, len(names), src)
        cells = [cell.strip() for cell in record.cells]
        year_text = cells[at["YEAR"]]
        if not _INTEGER.fullmatch(year_text):
            raise src.error(f"YEAR {year_text!r} is not a year", row=record.line, rule="year_not_integer")
        power_code = cells[at["PowerCode"]]
        scale = POWER_CODES.get(power_code, math.nan)
        for i, country in countries:
            value_text = cells[i]
            if value_text in MISSING:
                continue
            out["year"].append(int(year_text))
            out["msti_var"].append(cells[at["MSTI_VAR"]])
            out["description"].append(cells[at["MSTI.Variables"]])
            out["unit"].append(cells[at["Unit"]])
            out["power_code"].append(power_code)
            out["country_name"].append(country)
            out["value_text"].append(value_text)
            out["value"].append(to_number(value_text) * scale)
            out["file_row"].append(record.line)
    dtypes = {"year": "int64", "value": "float64", "file_row": "int64"}
    return ParsedFile(
        frame=pd.DataFrame({n: pd.Series(out[n], dtype=dtypes.get(n, "str")) for n in COLUMNS}, columns=list(COLUMNS)),
        vintage=None,
        layout=LAYOUT,
    )
