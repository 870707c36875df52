"""UN Comtrade's layout families, not files: the older website export (22 columns), the same export through a
spreadsheet (codes without their leading zeros, values written as ``5.26E+11``), the legacy API's
machine-headed CSV and JSON, a bulk file that lost its zeros with no level column to restore them; headers that
match no family, refused with the nearest one and what it lacks.

The fixtures are test data written by hand in the publisher's documented layouts (tests/fixtures/comtrade/
README.md says from where); every expected figure is read from the fixture's own text here, never typed in.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import warehouse.build.builder as build
from schemas.rules import RunContext
from tests.conftest import FIXTURES, PROJECT_ROOT
from warehouse.common.errors import SourceError
from warehouse.common.reference import known_country_codes
from warehouse.extract.catalogue import MeasureSpec, Source
from warehouse.extract.fetch import Payload
from warehouse.parse.comtrade import COLUMNS, parse_comtrade
from warehouse.parse.comtrade_columnar import batches_comtrade
from warehouse.parse.comtrade_layouts import commodity_level
from warehouse.stage import parse_payloads, validate_source, write_lake

HERE = FIXTURES / "comtrade"
SEEDS = PROJECT_ROOT / "seeds"
REFERENCE = SEEDS / "reference"
STAGING_SQL = PROJECT_ROOT / "sql" / "staging" / "stg_comtrade.sql"
SPREADSHEET = HERE / "legacy_website_spreadsheet.csv"


def source(source_id: str = "comtrade_families") -> Source:
    return Source(
        id=source_id,
        dataset="comtrade",
        publisher="United Nations Statistics Division (UN Comtrade)",
        title="test fixtures in the legacy layout families",
        licence="UN Comtrade terms of use",
        attribution="United Nations Statistics Division, UN Comtrade database",
        location_kind="seed",
        location="fixtures",
        vintage="2024-06-30",
        measures=(MeasureSpec(measure="customs_value", unit="USD", currency="USD", scales=(1.0,)),),
    )


def payload(src: Source, path: Path) -> Payload:
    data = path.read_bytes()
    return Payload(src.id, path.name, str(path), path, hashlib.sha256(data).hexdigest(), len(data))


def validate(*paths: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    src = source()
    context = RunContext(source=src, country_codes=known_country_codes(REFERENCE), reference_dir=REFERENCE)
    return validate_source(src, parse_payloads(src, [payload(src, p) for p in paths]), context)


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# --- each family is recognised by its header, and read cell for cell ------------------------------------------


@pytest.mark.parametrize(
    ("name", "layout", "code", "value"),
    [
        ("legacy_website.csv", "legacy_api", "Commodity Code", "Trade Value (US$)"),
        ("legacy_website_spreadsheet.csv", "legacy_api", "Commodity Code", "Trade Value (US$)"),
        ("legacy_api_machine.csv", "legacy_api_machine", "cmdCode", "TradeValue"),
        ("legacy_bulk_unpadded.csv", "legacy_bulk", "Commodity Code", "Value"),
    ],
)
def test_csv_family_is_read_by_header_names(name: str, layout: str, code: str, value: str) -> None:
    parsed = parse_comtrade(HERE / name, source_id="test")
    rows = csv_rows(HERE / name)
    assert parsed.layout == layout and tuple(parsed.frame.columns) == COLUMNS
    assert parsed.frame["commodity_code_published"].tolist() == [r[code] for r in rows]
    assert parsed.frame["value_text"].tolist() == [r[value] for r in rows]
    assert parsed.frame["value"].tolist() == [float(r[value]) for r in rows]  # '5.26E+11' is a number


def test_the_legacy_api_json_response() -> None:
    document = json.loads((HERE / "legacy_api.json").read_text(encoding="utf-8"))
    parsed = parse_comtrade(HERE / "legacy_api.json", source_id="test")
    frame = parsed.frame
    assert parsed.layout == "legacy_api_json"
    assert frame["file_row"].tolist() == list(range(1, len(document["dataset"]) + 1))
    assert frame["commodity_code"].tolist() == [r["cmdCode"] for r in document["dataset"]]
    assert frame["aggregate_level"].tolist() == [r["aggrLevel"] for r in document["dataset"]]
    assert frame["value"].tolist() == [float(r["TradeValue"]) for r in document["dataset"]]
    assert frame["reporter_code"].tolist() == [r["rtCode"] for r in document["dataset"]]
    assert frame[["partner2_code", "customs_code", "mot_code"]].drop_duplicates().values.tolist() == [[0, "C00", "0"]]


def test_the_22_column_export_is_the_total_over_partner2_customs_and_transport() -> None:
    frame = parse_comtrade(HERE / "legacy_website.csv", source_id="test").frame
    assert frame[["partner2_code", "customs_code", "mot_code"]].drop_duplicates().values.tolist() == [[0, "C00", "0"]]
    rows = csv_rows(HERE / "legacy_website.csv")
    assert frame["aggregate_level"].tolist() == [int(r["Aggregate Level"]) for r in rows]  # SITC has level 1


def test_column_types_come_from_the_layout_not_the_rows() -> None:
    """The spreadsheet file's quantities and weights are all empty: their columns are typed as every file's."""
    empty = parse_comtrade(SPREADSHEET, source_id="test").frame
    full = parse_comtrade(HERE / "legacy_api_machine.csv", source_id="test").frame
    assert empty["qty"].isna().all() and empty["netweight_kg"].isna().all()
    assert empty.dtypes.to_dict() == full.dtypes.to_dict()
    batches = list(batches_comtrade(SPREADSHEET, source_id="test", batch_rows=1))
    assert {str(b.frame.dtypes.to_dict()) for b in batches} == {str(empty.dtypes.to_dict())}


# --- codes read by their meaning --------------------------------------------------------------------------------


def test_spreadsheet_chapters_get_their_leading_zero_back() -> None:
    rows = csv_rows(SPREADSHEET)
    frame = parse_comtrade(SPREADSHEET, source_id="test").frame
    chapters = frame[frame["aggregate_level"] == 2]
    published = [r["Commodity Code"] for r in rows if r["Aggregate Level"] == "2"]
    assert chapters["commodity_code"].tolist() == [c.zfill(2) for c in published]
    assert {"01", "09"} <= set(chapters["commodity_code"]) and not (chapters["commodity_code"].str.len() == 1).any()


@pytest.mark.parametrize(
    ("classification", "code", "level", "expected"),
    [
        ("H3", "1", "2", ("01", 2)),  # a chapter that lost its zero, restored by the level
        ("H3", "101", "4", ("0101", 4)),
        ("H3", "10619", "6", ("010619", 6)),
        ("H3", "1", "", ("1", None)),  # nothing says which level: HS has no 1-digit level
        ("H3", "1", "1", ("1", None)),  # a level HS does not have
        ("H3", "0101", "2", ("0101", None)),  # longer than its level
        ("H3", "85", "x", ("85", None)),  # a level that is no number
        ("H3", "85", "", ("85", 2)),
        ("S3", "0", "1", ("0", 1)),  # SITC's section
        ("S3", "1", "2", ("01", 2)),
        ("S3", "1", "", ("1", 1)),
        ("B5", "11", "", ("11", 2)),  # BEC: its levels are the code's length, never padded
        ("B5", "1", "2", ("1", None)),
        ("H3", "TOTAL", "0", ("TOTAL", 0)),
        ("H3", "85.42", "4", ("85.42", None)),
    ],
)
def test_commodity_level(classification: str, code: str, level: str, expected: tuple[str, int | None]) -> None:
    assert commodity_level(classification, code, level) == expected


def test_unpadded_codes_without_a_level_column_are_quarantined_by_name() -> None:
    valid, quarantine = validate(HERE / "legacy_bulk_unpadded.csv")
    rows = csv_rows(HERE / "legacy_bulk_unpadded.csv")
    codes = [(line, r["Commodity Code"]) for line, r in enumerate(rows, start=2)]
    odd = [(line, code) for line, code in codes if code.isdigit() and len(code) % 2]  # HS has no such level
    assert sorted(zip(quarantine["file_row"], quarantine["value"], strict=True)) == odd
    assert set(quarantine["rule"]) == {"commodity_level"}
    assert set(quarantine["column_name"]) == {"commodity_code_published"}
    assert sorted(valid["commodity_code"]) == sorted(code for line, code in codes if (line, code) not in odd)


def test_historical_reporter_381_is_known() -> None:
    valid, quarantine = validate(HERE / "legacy_website.csv")
    assert quarantine.empty, quarantine.to_string()
    assert set(valid["reporter_code"]) == {381}


# --- the chapters and totals, through the marts ------------------------------------------------------------------


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse built (without Prefect) from the spreadsheet fixture alone, with every view of sql/."""
    tmp = tmp_path_factory.mktemp("families")
    src = source()
    valid, quarantine = validate(SPREADSHEET)
    assert quarantine.empty, quarantine.to_string()
    write_lake(src, valid, [payload(src, SPREADSHEET)], tmp / "lake", run_id="test")
    sql_dir = tmp / "sql"
    shutil.copytree(PROJECT_ROOT / "sql", sql_dir)
    target = tmp / "tradewh.duckdb"
    build.build_warehouse(
        target, lake_dir=tmp / "lake", seeds_dir=SEEDS, sql_dir=sql_dir, catalogue=[src], storage_version="v1.2.0"
    )
    return target


def test_goods_composition_holds_every_chapter_and_the_files_total(warehouse_file: Path) -> None:
    rows = csv_rows(SPREADSHEET)
    chapters = {
        r["Commodity Code"].zfill(2): float(r["Trade Value (US$)"]) for r in rows if r["Aggregate Level"] == "2"
    }
    (published,) = [float(r["Trade Value (US$)"]) for r in rows if r["Commodity Code"] == "TOTAL"]
    with duckdb.connect(str(warehouse_file), read_only=True) as con:
        mart = con.execute(
            "select code, value_usd, total_value_usd, published_total_usd from marts.goods_composition "
            "where reporter = 'CHN' and partner = 'WLD' and period = '2011' and flow = 'export'"
        ).df()
    assert dict(zip(mart["code"], mart["value_usd"], strict=True)) == chapters
    assert mart["total_value_usd"].tolist() == [pytest.approx(sum(chapters.values()))] * len(chapters)
    assert set(mart["published_total_usd"]) == {published}
    assert sum(chapters.values()) == pytest.approx(published, rel=5e-3)  # the file rounds to 3 figures


# --- headers of no family ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rule", "words"),
    [
        (
            "nearest_bulk.csv",
            "unknown_layout",
            "the nearest is legacy_bulk (the legacy bulk download (codes only)), which lacks 'Estimation Code'",
        ),  # fmt: skip
        ("missing_column.csv", "missing_column", "looks like legacy_api"),
        ("semicolon.csv", "unknown_layout", "the header is one field holding ';'"),
    ],
)
def test_a_header_of_no_family_names_the_nearest_and_what_it_lacks(name: str, rule: str, words: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_comtrade(HERE / name, source_id="comtrade_test")
    assert (caught.value.rule, caught.value.row, caught.value.source_id) == (rule, 1, "comtrade_test")
    assert words in str(caught.value)


def test_errors_name_the_path_the_user_gave(tmp_path: Path) -> None:
    copy = tmp_path / "raw" / "0123abcd" / "nearest_bulk.csv"
    copy.parent.mkdir(parents=True)
    copy.write_bytes((HERE / "nearest_bulk.csv").read_bytes())
    for read in (
        lambda: parse_comtrade(copy, source_id="t", origin="~/downloads/india_china.csv"),
        lambda: list(batches_comtrade(copy, source_id="t", origin="~/downloads/india_china.csv")),
    ):
        with pytest.raises(SourceError) as caught:
            read()
        assert caught.value.file == "~/downloads/india_china.csv"
        assert str(copy) in str(caught.value) and caught.value.rule == "unknown_layout"
