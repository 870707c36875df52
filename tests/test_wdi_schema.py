"""Tests of the WDI validation rules on tiny files in the tidy and wide_2013 layouts, and a mutation fuzz."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from schemas.rules import RunContext
from tests.conftest import PROJECT_ROOT
from tests.strategies import mutations
from warehouse.common.errors import SourceError
from warehouse.common.reference import known_country_codes
from warehouse.extract.catalogue import Source, load_catalogue
from warehouse.extract.fetch import Payload
from warehouse.parse.wdi import parse_wdi
from warehouse.stage import parse_payloads, validate_source

SOURCE_ID = "wdi_current"
REFERENCE = PROJECT_ROOT / "seeds" / "reference"
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "wdi"
NAME = "Charges for the use of intellectual property, receipts (BoP, current US$)"
CONSTANT = "Charges for the use of intellectual property, receipts (BoP, constant 2015 US$)"

TIDY = """\
Country Name,Country Code,Year,Value
China,CHN,2011,743301698
Nowhere,ZZZ,2011,1000
Japan,JPN,2011,-5
India,IND,2011,n/a
Germany,DEU,2011,100
Germany,DEU,2011,200
France,FRA,1850,300
Romania,ROM,2011,400
"""

WIDE = f"""\
Country Name,Country Code,Indicator Name,Indicator Code,1850,2011
China,CHN,"{NAME}",BX.GSR.ROYL.CD,,743301698
Nowhere,ZZZ,"{NAME}",BX.GSR.ROYL.CD,,1000
Japan,JPN,"{NAME}",BX.GSR.ROYL.CD,,-5
India,IND,"{NAME}",BX.GSR.ROYL.CD,,n/a
Germany,DEU,"{NAME}",BX.GSR.ROYL.CD,,100
Germany,DEU,"{NAME}",BX.GSR.ROYL.CD,,200
France,FRA,"{NAME}",BX.GSR.ROYL.CD,300,
Brazil,BRA,"{CONSTANT}",BX.GSR.ROYL.CD,,500
Brazil,BRA,"Something unmapped (current US$)",XX.UNMAPPED.CD,,600
Romania,ROM,"{NAME}",BX.GSR.ROYL.CD,,400
"""

# the (file row, rule) pairs both layouts share; each bad line breaks exactly these rules
COMMON_QUARANTINE = [
    (3, "known_country"),
    (4, "non_negative"),
    (5, "value_is_number"),
    (6, "duplicate_key"),
    (7, "duplicate_key"),
    (8, "year_in_range"),
]


@pytest.fixture(scope="module")
def source() -> Source:
    return {s.id: s for s in load_catalogue(PROJECT_ROOT / "catalogue.toml")}[SOURCE_ID]


@pytest.fixture(scope="module")
def context(source: Source) -> RunContext:
    return RunContext(source=source, country_codes=known_country_codes(REFERENCE), reference_dir=REFERENCE)


def payload(path: Path) -> Payload:
    data = path.read_bytes()
    return Payload(SOURCE_ID, path.name, str(path), path, hashlib.sha256(data).hexdigest(), len(data))


def tidy_file(folder: Path, text: str | bytes) -> Path:
    """A tidy file of BX.GSR.ROYL.CD with the World Bank's data package beside it (which states its indicator)."""
    path = folder / "bx.gsr.royl.cd.csv"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    package = FIXTURES / "bx.gsr.royl.cd.datapackage.json"
    (folder / package.name).write_bytes(package.read_bytes())
    return path


def validate(path: Path, source: Source, context: RunContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    return validate_source(source, parse_payloads(source, [payload(path)]), context)


def rules_by_row(quarantine: pd.DataFrame) -> list[tuple[int, str]]:
    """The distinct (file row, rule) pairs of a quarantine, in its order."""
    pairs = zip(quarantine["file_row"].astype(int), quarantine["rule"], strict=True)
    return list(dict.fromkeys(pairs))


@pytest.fixture(scope="module")
def tidy(tmp_path_factory: pytest.TempPathFactory, source: Source, context: RunContext):
    path = tidy_file(tmp_path_factory.mktemp("tidy"), TIDY)
    return validate(path, source, context)


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory, source: Source, context: RunContext):
    path = tmp_path_factory.mktemp("wide") / "wdi_wide_2013.csv"
    path.write_text(WIDE, encoding="utf-8")
    assert parse_wdi(path, source_id=SOURCE_ID).layout == "wide_2013"
    return validate(path, source, context)


# --- tidy ------------------------------------------------------------------------------------------------------


def test_tidy_quarantine_rows_and_rules(tidy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = tidy
    assert rules_by_row(quarantine) == COMMON_QUARANTINE


def test_tidy_valid_rows_are_the_good_one_and_the_alias(tidy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    valid, _ = tidy
    assert list(zip(valid["country_code"], valid["year"], valid["file_row"], strict=True)) == [
        ("CHN", 2011, 2),
        ("ROM", 2011, 9),
    ]
    assert valid["indicator_code"].unique().tolist() == ["BX.GSR.ROYL.CD"]
    assert valid["value"].tolist() == [743301698.0, 400.0]


def test_tidy_quarantine_blames_the_column_and_value(tidy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = tidy
    single = quarantine[quarantine["rule"] != "duplicate_key"]
    values = single["value"]
    assert list(zip(single["file_row"], single["column_name"], values, strict=True)) == [
        (3, "country_code", "ZZZ"),
        (4, "value", "-5.0"),
        (5, "value_text", "n/a"),
        (8, "year", "1850"),
    ]


def test_tidy_duplicate_key_names_the_key_columns(tidy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = tidy
    dup = quarantine[(quarantine["rule"] == "duplicate_key") & (quarantine["file_row"] == 6)]
    assert dict(zip(dup["column_name"], dup["value"], strict=True)) == {
        "country_code, indicator_code, year, vintage": "DEU, BX.GSR.ROYL.CD, 2011, 2026-02-24",
    }


def test_no_quarantined_row_is_valid(tidy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    valid, quarantine = tidy
    assert set(valid["file_row"]) & set(quarantine["file_row"]) == set()


def test_a_duplicated_row_appears_once_per_rule(tidy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = tidy
    assert quarantine.groupby(["file_row", "rule"]).size().max() == 1


def test_quarantine_shows_a_text_value_as_published(tidy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = tidy
    assert quarantine.loc[quarantine["rule"] == "value_is_number", "value"].tolist() == ["n/a"]


def test_old_code_rom_is_a_known_country(context: RunContext) -> None:
    assert "ROM" in context.country_codes
    assert "ZZZ" not in context.country_codes


# --- wide_2013 -------------------------------------------------------------------------------------------------


def test_wide_quarantine_rows_and_rules(wide: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = wide
    assert rules_by_row(quarantine) == [
        *COMMON_QUARANTINE,
        (9, "unit_matches_indicator"),
        (10, "known_indicator"),
    ]


def test_wide_valid_rows_are_the_good_one_and_the_alias(wide: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    valid, _ = wide
    assert list(zip(valid["country_code"], valid["year"], valid["file_row"], strict=True)) == [
        ("CHN", 2011, 2),
        ("ROM", 2011, 11),
    ]


def test_wide_indicator_rules_blame_name_and_code(wide: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = wide
    rows = quarantine[quarantine["file_row"] >= 9]
    assert list(zip(rows["column_name"], rows["value"], strict=True)) == [
        ("indicator_name", CONSTANT),
        ("indicator_code", "XX.UNMAPPED.CD"),
    ]


def test_wide_rows_take_the_catalogue_vintage(wide: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    valid, _ = wide
    assert set(valid["vintage"]) == {"2026-02-24"}


# --- fuzz ------------------------------------------------------------------------------------------------------

SMALL_TIDY = """\
Country Name,Country Code,Year,Value
China,CHN,2010,830469374
"Korea, Rep.",KOR,2011,1.2E+11
United States,USA,2011,5
"""


def test_fuzz_mutation_strategy_keeps_the_original_valid(tmp_path: Path, source: Source, context: RunContext) -> None:
    path = tidy_file(tmp_path, SMALL_TIDY)
    valid, quarantine = validate(path, source, context)
    assert (len(valid), len(quarantine)) == (3, 0)


@pytest.mark.fuzz
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutations(SMALL_TIDY))
def test_mutated_tidy_file_raises_only_source_error(
    tmp_path: Path, source: Source, context: RunContext, text: str
) -> None:
    path = tidy_file(tmp_path, text.encode("utf-8"))
    try:
        parse_wdi(path, source_id=SOURCE_ID)
        valid, quarantine = validate(path, source, context)
    except SourceError:
        return
    assert set(valid["file_row"]) & set(quarantine["file_row"]) == set()
