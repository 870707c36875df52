"""Tests of the WDI parser: the three layouts, missing and text values, file-level errors, the real files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from warehouse.common.errors import SourceError
from warehouse.parse.wdi import COLUMNS, parse_wdi

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "wdi"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
WORLDBANK = SHARED / "worldbank"
needs_shared = pytest.mark.skipif(
    not WORLDBANK.is_dir(), reason=f"shared World Bank files not found at {WORLDBANK} (CI provides them)"
)


def rows(path: Path) -> list[tuple]:
    """Parse a file and return its rows as tuples (country code, indicator code, year, value text, file row)."""
    frame = parse_wdi(path, source_id="test").frame
    return list(
        zip(frame.country_code, frame.indicator_code, frame.year, frame.value_text, frame.file_row, strict=True)
    )


def value(frame, country: str, indicator: str, year: int) -> float:
    """Return the one value of a country, indicator and year."""
    hit = frame[(frame.country_code == country) & (frame.indicator_code == indicator) & (frame.year == year)]
    assert len(hit) == 1, hit
    return float(hit.value.iloc[0])


# --- layouts -------------------------------------------------------------------------------------------------


def test_bulk_download_rows_and_vintage() -> None:
    parsed = parse_wdi(FIXTURES / "bulk_download.csv", source_id="test")
    assert (parsed.layout, parsed.vintage) == ("bulk_download", "2026-02-24")
    assert rows(FIXTURES / "bulk_download.csv") == [
        ("CHN", "BX.GSR.CCIS.CD", 2010, "10400000000", 6),
        ("CHN", "BX.GSR.CCIS.CD", 2011, "13908433591", 6),
        ("WLD", "BX.GSR.CCIS.CD", 2010, "6.5E+11", 8),
        ("WLD", "BX.GSR.CCIS.CD", 2011, "7.1E+11", 8),
        ("WLD", "BX.GSR.CCIS.CD", 2012, "730000000000", 8),
    ]


def test_bulk_download_values_and_names() -> None:
    frame = parse_wdi(FIXTURES / "bulk_download.csv", source_id="test").frame
    assert frame.value.tolist() == [10400000000.0, 13908433591.0, 6.5e11, 7.1e11, 7.3e11]
    assert set(frame.indicator_name) == {"ICT service exports (BoP, current US$)"}
    assert frame.country_name.tolist()[:2] == ["China", "China"]


def test_wide_2013_rows() -> None:
    parsed = parse_wdi(FIXTURES / "wide_2013.csv", source_id="test")
    assert (parsed.layout, parsed.vintage) == ("wide_2013", None)
    assert rows(FIXTURES / "wide_2013.csv") == [
        ("CHN", "BX.GSR.NFSV.CD", 2010, "171521000000", 2),
        ("CHN", "BX.GSR.NFSV.CD", 2011, "184763043712.73", 2),
        ("CHN", "BX.GSR.NFSV.CD", 2012, "201584000000", 2),
        ("CHN", "BX.GSR.ROYL.CD", 2011, "743301698.0", 4),
        ("CHN", "BX.GSR.ROYL.CD", 2012, "1044000000", 4),
    ]


def test_wide_2013_keeps_indicator_names_per_row() -> None:
    frame = parse_wdi(FIXTURES / "wide_2013.csv", source_id="test").frame
    assert frame.indicator_name.tolist()[2:4] == [
        "Service exports (BoP, current US$)",
        "Charges for the use of intellectual property, receipts (BoP, current US$)",
    ]


def test_quoted_field_spanning_lines_keeps_physical_line_numbers() -> None:
    frame = parse_wdi(FIXTURES / "wide_2013_multiline.csv", source_id="test").frame
    assert frame.file_row.tolist() == [2, 4]
    assert frame.indicator_name.iloc[0] == "High-technology exports\n(current US$)"


def test_tidy_rows_take_their_indicator_from_the_datapackage_beside() -> None:
    parsed = parse_wdi(FIXTURES / "bx.gsr.royl.cd.csv", source_id="test")
    assert (parsed.layout, parsed.vintage) == ("tidy", None)
    assert rows(FIXTURES / "bx.gsr.royl.cd.csv") == [
        ("CHN", "BX.GSR.ROYL.CD", 2010, "830469374", 2),
        ("CHN", "BX.GSR.ROYL.CD", 2011, "743301698", 3),
        ("USA", "BX.GSR.ROYL.CD", 2011, "1.2E+11", 5),
    ]
    title = json.loads((FIXTURES / "bx.gsr.royl.cd.datapackage.json").read_text())["title"]
    assert parsed.frame.indicator_name.tolist() == [title] * 3


def test_tidy_takes_indicator_name_from_datapackage() -> None:
    frame = parse_wdi(FIXTURES / "tx.val.tech.cd.csv", source_id="test").frame
    assert set(frame.indicator_code) == {"TX.VAL.TECH.CD"}
    assert set(frame.indicator_name) == {"High-technology exports (current US$)"}
    assert frame.value.tolist() == [540460754934.0, 115000000000.0, 2.1e12]


def test_columns_and_dtypes() -> None:
    frame = parse_wdi(FIXTURES / "wide_2013.csv", source_id="test").frame
    assert tuple(frame.columns) == COLUMNS
    dtypes = frame.dtypes.astype(str)
    assert (dtypes["year"], dtypes["file_row"], dtypes["value"]) == ("int64", "int64", "float64")


# --- missing and text values ---------------------------------------------------------------------------------


def test_empty_cells_produce_no_row() -> None:
    assert "KOR" not in set(parse_wdi(FIXTURES / "wide_2013.csv", source_id="test").frame.country_code)
    assert "KOR" not in set(parse_wdi(FIXTURES / "bulk_download.csv", source_id="test").frame.country_code)
    assert "KOR" not in set(parse_wdi(FIXTURES / "bx.gsr.royl.cd.csv", source_id="test").frame.country_code)


def test_text_values_give_nan_and_keep_their_text() -> None:
    frame = parse_wdi(FIXTURES / "text_values.csv", source_id="test").frame
    keys = zip(frame.country_code, frame.year, strict=True)
    got = dict(zip(keys, zip(frame.value_text, frame.value, strict=True), strict=True))
    assert got.keys() == {("CHN", 2010), ("CHN", 2011), ("CHN", 2012), ("JPN", 2010), ("JPN", 2011)}
    assert got[("CHN", 2010)][0] == "n/a" and math.isnan(got[("CHN", 2010)][1])
    assert got[("CHN", 2012)][0] == "1,234" and math.isnan(got[("CHN", 2012)][1])
    assert got[("JPN", 2011)][0] == ".." and math.isnan(got[("JPN", 2011)][1])


def test_scientific_notation_is_a_number() -> None:
    frame = parse_wdi(FIXTURES / "text_values.csv", source_id="test").frame
    hit = frame[(frame.country_code == "CHN") & (frame.year == 2011)]
    assert (hit.value_text.iloc[0], hit.value.iloc[0]) == ("1.5E+11", 1.5e11)


def test_value_text_is_stripped() -> None:
    frame = parse_wdi(FIXTURES / "text_values.csv", source_id="test").frame
    hit = frame[(frame.country_code == "JPN") & (frame.year == 2010)]
    assert (hit.value_text.iloc[0], hit.value.iloc[0]) == ("42", 42.0)


# --- errors --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rule", "row"),
    [
        ("empty.csv", "empty_file", None),
        ("header_only.csv", "no_rows", None),
        ("unknown_semicolon.csv", "unknown_layout", 1),
        ("html_page.csv", "html_not_csv", None),
        ("not_utf8.csv", "encoding", 2),
        ("field_count.csv", "field_count", 3),
        ("year_text.csv", "year_not_integer", 3),
        ("bad_vintage.csv", "vintage_date", 3),
    ],
)
def test_bad_file_raises_source_error(name: str, rule: str, row: int | None) -> None:
    with pytest.raises(SourceError) as caught:
        parse_wdi(FIXTURES / name, source_id="wdi_test")
    err = caught.value
    assert (err.rule, err.row, err.source_id) == (rule, row, "wdi_test")
    assert name in str(err) and err.file == str(FIXTURES / name)


def test_unknown_layout_message_lists_expected_headers() -> None:
    with pytest.raises(SourceError) as caught:
        parse_wdi(FIXTURES / "unknown_semicolon.csv", source_id="test")
    message = str(caught.value)
    assert "Data Source" in message
    assert "Country Name,Country Code,Indicator Name,Indicator Code" in message
    assert "Country Name,Country Code,Year,Value" in message


# --- the real files ------------------------------------------------------------------------------------------

# Every data file; the country metadata file of the bulk download is not a data layout (tested below).
REAL_FILES = sorted(p for p in WORLDBANK.glob("*/*.csv") if not p.name.startswith("Metadata_"))
BULK = WORLDBANK / "wdi-download" / "API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv"


def upstream_package(folder: Path, path: Path) -> Path | None:
    """For a shared tidy file renamed ``<code>.csv`` without its data package: the package the World Bank publishes
    beside ``indicators/<code>/data.csv`` (PROVENANCE.md), reduced to the indicator it states; None for the others."""
    if path.parent.name != "wdi-tidy" or path.with_name(f"{path.stem}.datapackage.json").exists():
        return None
    package = folder / f"{path.stem}.datapackage.json"
    package.write_text(json.dumps({"name": path.stem, "worldbank": {"indicator": path.stem}}))
    return package


@needs_shared
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_real_file_parses(path: Path, tmp_path: Path) -> None:
    parsed = parse_wdi(path, source_id="worldbank", metadata=upstream_package(tmp_path, path))
    if parsed.layout == "tidy":
        assert set(parsed.frame.indicator_code) == {path.stem.upper()}
    assert len(parsed.frame) > 1000
    assert parsed.frame.value.notna().all()


@needs_shared
def test_real_file_count() -> None:
    assert len(REAL_FILES) == 16


@needs_shared
def test_real_country_metadata_file_is_not_a_data_layout() -> None:
    metadata = WORLDBANK / "wdi-download" / "Metadata_Country_API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv"
    with pytest.raises(SourceError) as caught:
        parse_wdi(metadata, source_id="worldbank")
    assert caught.value.rule == "unknown_layout"


@needs_shared
def test_real_2013_china_services_trade_2011() -> None:
    exports = parse_wdi(WORLDBANK / "wdi-2013" / "BX.GSR.NFSV.CD_WDI.csv", source_id="wb").frame
    imports = parse_wdi(WORLDBANK / "wdi-2013" / "BM.GSR.NFSV.CD_WDI.csv", source_id="wb").frame
    assert round(value(exports, "CHN", "BX.GSR.NFSV.CD", 2011) / 1e9, 2) == 184.76
    assert round(value(imports, "CHN", "BM.GSR.NFSV.CD", 2011) / 1e9, 2) == 238.91


@needs_shared
def test_real_china_ip_receipts_2011_same_in_both_vintages(tmp_path: Path) -> None:
    old = parse_wdi(WORLDBANK / "wdi-2013" / "BX.GSR.ROYL.CD_WDI.csv", source_id="wb").frame
    path = WORLDBANK / "wdi-tidy" / "bx.gsr.royl.cd.csv"
    tidy = parse_wdi(path, source_id="wb", metadata=upstream_package(tmp_path, path)).frame
    assert round(value(old, "CHN", "BX.GSR.ROYL.CD", 2011) / 1e9, 3) == 0.743
    assert round(value(tidy, "CHN", "BX.GSR.ROYL.CD", 2011) / 1e9, 3) == 0.743


@needs_shared
def test_real_china_ict_exports_2011_differ_between_vintages() -> None:
    old = parse_wdi(WORLDBANK / "wdi-2013" / "BX.GSR.CCIS.CD_WDI.csv", source_id="wb").frame
    bulk = parse_wdi(BULK, source_id="wb").frame
    assert round(value(old, "CHN", "BX.GSR.CCIS.CD", 2011) / 1e9, 1) == 60.7
    assert round(value(bulk, "CHN", "BX.GSR.CCIS.CD", 2011) / 1e9, 3) == 13.908


@needs_shared
def test_real_bulk_download_vintage_and_layout() -> None:
    parsed = parse_wdi(BULK, source_id="wb")
    assert (parsed.layout, parsed.vintage) == ("bulk_download", "2026-02-24")


@needs_shared
def test_real_bulk_download_file_rows_point_at_the_printed_line() -> None:
    frame = parse_wdi(BULK, source_id="wb").frame
    china_row = int(frame.file_row[frame.country_code == "CHN"].iloc[0])
    assert BULK.read_text(encoding="utf-8-sig").splitlines()[china_row - 1].startswith('"China","CHN",')
