"""Tests of the press-release figures: the parser, the quotes against the article, and the validation rules."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pandas as pd
import pytest

from schemas.rules import QUARANTINE_COLUMNS, RunContext
from tests.conftest import FIXTURES, PROJECT_ROOT
from warehouse.common.errors import SourceError
from warehouse.common.reference import known_country_codes
from warehouse.extract.catalogue import Source, load_catalogue
from warehouse.extract.fetch import Payload
from warehouse.parse.press_release import COLUMNS, parse_press_release, print_unit
from warehouse.stage import parse_payloads, validate_source

SOURCE_ID = "mofcom_2012_technology_trade"
SEED = PROJECT_ROOT / "seeds" / SOURCE_ID / "figures.csv"
HERE = FIXTURES / "press_release"
REFERENCE = PROJECT_ROOT / "seeds" / "reference"
ARTICLE = PROJECT_ROOT.parent / "shared" / "sources" / "china-daily-2012-12-07-technology-trade-deficit.txt"


# --- the parser ------------------------------------------------------------------------------------------------


def test_seed_parses_to_15_rows_with_file_rows_2_to_16() -> None:
    frame = parse_press_release(SEED, source_id=SOURCE_ID).frame
    assert frame["file_row"].tolist() == list(range(2, 17))


def test_seed_figure_ids_in_file_order() -> None:
    frame = parse_press_release(SEED, source_id=SOURCE_ID).frame
    assert frame["figure_id"].tolist()[:3] == [
        "imports_2011_headline",
        "imports_growth_2011_headline",
        "balance_2011_approx",
    ]
    assert frame["figure_id"].tolist()[-1] == "goods_growth_target_2012"


def test_parser_columns_and_layout() -> None:
    parsed = parse_press_release(SEED, source_id=SOURCE_ID)
    assert list(parsed.frame.columns) == [*COLUMNS, "value_text", "print_unit", "file_row"]
    assert (parsed.layout, parsed.vintage) == ("press_release_figures", None)


def test_parser_values_and_scales_are_numbers() -> None:
    frame = parse_press_release(SEED, source_id=SOURCE_ID).frame.set_index("figure_id")
    assert frame.loc["balance_2011_approx", ["value", "scale", "print_unit"]].tolist() == [-10.0, 1e9, 10.0]
    assert frame.loc["exports_2006", ["value", "scale", "print_unit"]].tolist() == [580.0, 1e6, 10.0]


@pytest.mark.parametrize(
    ("printed", "unit"),
    [("32.16", 0.01), ("21.4", 0.1), ("38", 1.0), ("580", 10.0), ("10", 10.0), ("0.5", 0.1)],
)
def test_print_unit(printed: str, unit: float) -> None:
    assert print_unit(printed) == pytest.approx(unit, rel=1e-12)


def test_print_unit_of_text_is_nan() -> None:
    assert pd.isna(print_unit("n/a"))


@pytest.mark.parametrize(
    ("name", "rule", "row"),
    [
        ("missing_column.csv", "unknown_layout", 1),
        ("field_count.csv", "field_count", 3),
        ("header_only.csv", "no_rows", None),
        ("page.html", "html_not_csv", None),
    ],
)
def test_bad_file_raises_source_error_naming_the_file(name: str, rule: str, row: int | None) -> None:
    with pytest.raises(SourceError) as info:
        parse_press_release(HERE / name, source_id=SOURCE_ID)
    assert (info.value.rule, info.value.row, info.value.file, info.value.source_id) == (rule, row, name, SOURCE_ID)
    assert name in str(info.value)


def test_missing_column_message_names_the_column() -> None:
    with pytest.raises(SourceError, match=r"missing columns \['quote'\]"):
        parse_press_release(HERE / "missing_column.csv", source_id=SOURCE_ID)


def test_columns_are_found_by_name_in_any_order(tmp_path: Path) -> None:
    with SEED.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    target = tmp_path / "reversed.csv"
    with target.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([list(reversed(r)) for r in rows])
    frame = parse_press_release(target, source_id=SOURCE_ID).frame
    expected = parse_press_release(SEED, source_id=SOURCE_ID).frame
    pd.testing.assert_frame_equal(frame, expected)


def test_field_over_the_csv_limit_is_a_source_error(tmp_path: Path) -> None:
    lines = (HERE / "good.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    huge = tmp_path / "huge_quote.csv"
    huge.write_text(lines[0] + lines[1].replace("China's", "China's" + "x" * 200_000, 1), encoding="utf-8")
    with pytest.raises(SourceError) as info:
        parse_press_release(huge, source_id=SOURCE_ID)
    assert info.value.file == "huge_quote.csv"


# --- the quotes ------------------------------------------------------------------------------------------------


def test_every_quote_appears_verbatim_in_the_article() -> None:
    if not ARTICLE.is_file():
        pytest.skip(f"the source article is not at {ARTICLE} (the shared sources folder provides it)")
    article = ARTICLE.read_text(encoding="utf-8")
    quotes = parse_press_release(SEED, source_id=SOURCE_ID).frame.set_index("figure_id")["quote"]
    assert [fid for fid, quote in quotes.items() if quote not in article] == []


# --- validation ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source() -> Source:
    return {s.id: s for s in load_catalogue(PROJECT_ROOT / "catalogue.toml")}[SOURCE_ID]


@pytest.fixture(scope="module")
def context(source: Source) -> RunContext:
    return RunContext(source=source, country_codes=known_country_codes(REFERENCE), reference_dir=REFERENCE)


def payload(path: Path) -> Payload:
    data = path.read_bytes()
    return Payload(SOURCE_ID, path.name, str(path), path, hashlib.sha256(data).hexdigest(), len(data))


def validate(path: Path, source: Source, context: RunContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    return validate_source(source, parse_payloads(source, [payload(path)]), context)


def test_seed_has_no_quarantine_rows(source: Source, context: RunContext) -> None:
    valid, quarantine = validate(SEED, source, context)
    assert (len(valid), len(quarantine)) == (15, 0)


def test_good_fixture_is_all_valid(source: Source, context: RunContext) -> None:
    valid, quarantine = validate(HERE / "good.csv", source, context)
    assert valid["figure_id"].tolist() == ["total_2011", "total_2006", "software_share_exports_2011"]
    assert quarantine.empty


def test_valid_rows_carry_provenance(source: Source, context: RunContext) -> None:
    valid, _ = validate(HERE / "good.csv", source, context)
    digest = hashlib.sha256((HERE / "good.csv").read_bytes()).hexdigest()
    assert set(zip(valid["source_id"], valid["vintage"], valid["file_name"], valid["file_sha256"], strict=True)) == {
        (SOURCE_ID, "2012-12-07", "good.csv", digest)
    }


@pytest.fixture(scope="module")
def bad_rows(source: Source, context: RunContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    return validate(HERE / "bad_rows.csv", source, context)


def test_bad_rows_quarantine_names_row_rule_and_column(bad_rows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = bad_rows
    assert list(zip(quarantine["file_row"], quarantine["rule"], quarantine["column_name"], strict=True)) == [
        (5, "non_negative", "value"),
        (6, "known_country", "reporter"),
        (7, "duplicate_key", "figure_id"),
        (8, "duplicate_key", "figure_id"),
        (9, "unit_matches_catalogue", "unit"),
        (10, "value_is_number", "value_text"),
        (10, "value_matches_print", "value"),  # NaN matches no printed figure either
        (11, "value_matches_print", "value"),
    ]


def test_bad_rows_quarantine_values(bad_rows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = bad_rows
    assert quarantine["value"].tolist() == [
        "-21.4",
        "XXX",
        "imports_2011",
        "imports_2011_again",
        "EUR",
        "n/a",  # value_is_number: the text as published
        "",  # value_matches_print: no number to compare
        "581.0",
    ]


def test_bad_rows_quarantine_provenance(bad_rows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = bad_rows
    digest = hashlib.sha256((HERE / "bad_rows.csv").read_bytes()).hexdigest()
    assert list(quarantine.columns) == QUARANTINE_COLUMNS
    assert set(zip(quarantine["source_id"], quarantine["file_name"], quarantine["file_sha256"], strict=True)) == {
        (SOURCE_ID, "bad_rows.csv", digest)
    }


def test_bad_rows_good_rows_are_valid(bad_rows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    valid, _ = bad_rows
    assert valid["file_row"].tolist() == [2, 3, 4]


def test_no_quarantined_row_is_valid(bad_rows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    valid, quarantine = bad_rows
    assert set(valid["file_row"]) & set(quarantine["file_row"]) == set()
    assert len(valid) + quarantine["file_row"].nunique() == 10  # every data line of the file is in one of the two


def test_quarantine_shows_a_text_value_as_published(bad_rows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = bad_rows
    assert quarantine.loc[quarantine["rule"] == "value_is_number", "value"].tolist() == ["n/a"]


def test_restatement_may_repeat_a_figure_key(tmp_path: Path, source: Source, context: RunContext) -> None:
    lines = (HERE / "good.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    again = lines[1].replace("total_2011,figure,", "total_2011_headline,restatement,", 1)
    target = tmp_path / "restated.csv"
    target.write_text("".join([*lines, again]), encoding="utf-8")
    valid, quarantine = validate(target, source, context)
    assert (len(valid), len(quarantine)) == (4, 0)


def test_duplicate_key_spans_files_of_one_vintage(tmp_path: Path, source: Source, context: RunContext) -> None:
    lines = (HERE / "good.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    other = tmp_path / "other.csv"
    other.write_text(lines[0] + lines[1].replace("total_2011,", "total_2011_copy,", 1), encoding="utf-8")
    frame = parse_payloads(source, [payload(HERE / "good.csv"), payload(other)])
    _, quarantine = validate_source(source, frame, context)
    assert list(zip(quarantine["file_name"], quarantine["file_row"], quarantine["rule"], strict=True)) == [
        ("good.csv", 2, "duplicate_key"),
        ("other.csv", 2, "duplicate_key"),
    ]
